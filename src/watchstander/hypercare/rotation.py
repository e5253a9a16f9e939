"""The hypercare 24/7 on-call rotation, generated from the people available.

The aiwg flow's roster step asks for "24/7 On-Call Rotation ({duration} days): primary
on-call schedule (8-hour shifts or daily rotation), backup on-call contacts", and then
checks "On-call rotation: 24/7 coverage confirmed?". `generate` builds such a schedule:

* **Tiling.** Shifts of `shift_hours` (which must divide 24) run back to back from `start`
  for `days` days, in elapsed (UTC) time: no holes, no overlaps, the last one ends exactly
  at start + days. Shifts are instants, so a daylight-saving change never makes one 7 or 9
  hours long; it changes which members' local working hours a shift falls in.
* **Follow the sun.** The primary is, where possible, a member whose local time (their IANA
  time zone, via zoneinfo, so DST is applied per date) lies within `working_hours` for the
  whole shift: local start at or after the first hour, local end at or before the second,
  on the same local day. Among those the fewest primary shifts so far wins, then the name,
  so the load spreads evenly and the result is deterministic.
* **Off hours.** If nobody is in working hours, the least-loaded member takes it and the
  shift is marked `off_hours`.
* **Backup.** A different member: one in working hours if there is one (an awake backup),
  then the fewest backup shifts so far, then the name. With one member there is no backup.
* **Gaps.** What makes the coverage weaker, as sentences: no members, a single member (no
  backup), a member with no contact address, and the shifts worked off-hours (runs of
  consecutive off-hours shifts reported as one range).

Pure: no IO and no clock.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from watchstander.hypercare.models import as_utc

__all__ = ["Member", "Shift", "Schedule", "generate", "on_call_at", "in_working_hours"]


@dataclass(frozen=True)
class Member:
    name: str
    timezone: str = "UTC"  # IANA name
    contacts: Mapping[str, str] = field(default_factory=dict)  # kind -> address
    roles: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValueError("a rotation member needs a name")
        ZoneInfo(self.timezone)  # an unknown zone fails here, not when the schedule is made

    @property
    def reachable(self) -> bool:
        return any(address.strip() for address in self.contacts.values())


@dataclass(frozen=True)
class Shift:
    index: int  # 0 for the shift starting at the schedule's start
    start: datetime  # UTC
    end: datetime  # UTC
    primary: str
    backup: str | None  # None: nobody else to back up
    off_hours: bool  # the primary works it outside their working hours


@dataclass(frozen=True)
class Schedule:
    start: datetime  # UTC
    end: datetime  # UTC
    shift_hours: int
    working_hours: tuple[int, int]
    shifts: tuple[Shift, ...]  # back to back from start to end; empty with no members
    gaps: tuple[str, ...]  # what weakens the coverage; empty when there is nothing to say

    def load(self) -> dict[str, tuple[int, int]]:
        """name -> (primary shifts, backup shifts)."""
        out: dict[str, tuple[int, int]] = {}
        for s in self.shifts:
            p, b = out.get(s.primary, (0, 0))
            out[s.primary] = (p + 1, b)
            if s.backup is not None:
                p, b = out.get(s.backup, (0, 0))
                out[s.backup] = (p, b + 1)
        return out


def in_working_hours(
    member: Member, start: datetime, end: datetime, working_hours: tuple[int, int]
) -> bool:
    """Whether [start, end) lies within the member's local working hours on one local day."""
    zone = ZoneInfo(member.timezone)
    local_start = start.astimezone(zone).replace(tzinfo=None)
    local_end = end.astimezone(zone).replace(tzinfo=None)
    midnight = datetime.combine(local_start.date(), time(0))
    first, last = working_hours
    return midnight + timedelta(hours=first) <= local_start and local_end <= midnight + timedelta(
        hours=last
    )


def _validate(
    members: Sequence[Member], days: int, shift_hours: int, working_hours: tuple[int, int]
) -> None:
    if days < 1:
        raise ValueError(f"a rotation covers at least 1 day, not {days}")
    if not 1 <= shift_hours <= 24 or 24 % shift_hours:
        raise ValueError(
            f"shift_hours must divide 24 (1, 2, 3, 4, 6, 8, 12, 24), not {shift_hours}"
        )
    first, last = working_hours
    if not 0 <= first < last <= 24:
        raise ValueError(f"working hours must be 0 <= start < end <= 24, not {working_hours}")
    names = [m.name for m in members]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"rotation: duplicate member {', '.join(dupes)}")


def _ranges(shifts: Sequence[Shift]) -> list[tuple[datetime, datetime, list[Shift]]]:
    """Runs of consecutive off-hours shifts."""
    runs: list[tuple[datetime, datetime, list[Shift]]] = []
    for s in shifts:
        if not s.off_hours:
            continue
        if runs and runs[-1][1] == s.start:
            first, _, members = runs[-1]
            runs[-1] = (first, s.end, [*members, s])
        else:
            runs.append((s.start, s.end, [s]))
    return runs


def _when(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC")


def _gaps(members: Sequence[Member], shifts: Sequence[Shift], hours: tuple[int, int]) -> list[str]:
    if not members:
        return ["no members: nobody is on call"]
    gaps: list[str] = []
    if len(members) == 1:
        gaps.append(f"only one member ({members[0].name}): no backup for any shift")
    for m in members:
        if not m.reachable:
            gaps.append(f"{m.name} has no contact address")
    window = f"{hours[0]:02d}:00-{hours[1]:02d}:00"
    for first, last, run in _ranges(shifts):
        people = ", ".join(sorted({s.primary for s in run}))
        count = f"{len(run)} shift" + ("" if len(run) == 1 else "s")
        gaps.append(
            f"off-hours {_when(first)} to {_when(last)} ({count}, {people}): "
            f"nobody is within working hours {window} local"
        )
    return gaps


def generate(
    members: Sequence[Member],
    start: datetime,
    days: int,
    shift_hours: int = 8,
    working_hours: tuple[int, int] = (8, 20),
) -> Schedule:
    """The schedule for [start, start + days), in `shift_hours` shifts (see the module doc)."""
    _validate(members, days, shift_hours, working_hours)
    begin = as_utc("rotation start", start)
    length = timedelta(hours=shift_hours)
    count = days * 24 // shift_hours
    end = begin + count * length
    primary_load = {m.name: 0 for m in members}
    backup_load = {m.name: 0 for m in members}
    shifts: list[Shift] = []
    for index in range(count if members else 0):
        s, e = begin + index * length, begin + (index + 1) * length
        awake = {m.name for m in members if in_working_hours(m, s, e, working_hours)}
        pool = [m for m in members if m.name in awake] or list(members)
        primary = min(pool, key=lambda m: (primary_load[m.name], m.name)).name
        others = [m for m in members if m.name != primary]
        backup = (
            min(others, key=lambda m: (m.name not in awake, backup_load[m.name], m.name)).name
            if others
            else None
        )
        primary_load[primary] += 1
        if backup is not None:
            backup_load[backup] += 1
        shifts.append(Shift(index, s, e, primary, backup, primary not in awake))
    return Schedule(
        start=begin,
        end=end,
        shift_hours=shift_hours,
        working_hours=working_hours,
        shifts=tuple(shifts),
        gaps=tuple(_gaps(members, shifts, working_hours)),
    )


def on_call_at(schedule: Schedule, when: datetime) -> Shift | None:
    """The shift covering `when` (start inclusive, end exclusive); None outside the schedule."""
    at = as_utc("when", when)
    starts = [s.start for s in schedule.shifts]
    i = bisect.bisect_right(starts, at) - 1
    if i < 0 or at >= schedule.shifts[i].end:
        return None
    return schedule.shifts[i]
