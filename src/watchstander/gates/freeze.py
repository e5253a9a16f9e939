"""Change freezes: is a deploy allowed now, and when does the next freeze start?

Two kinds of window (FreezeWindow):

* one-off: ``start`` and ``end`` are local date-times ("2026-12-20T00:00"; a bare date
  means 00:00 of that day) in the window's time zone; ``days`` is empty.
* weekly: ``days`` names weekdays (mon..sun, or full names, any case) and ``start`` /
  ``end`` are local times "HH:MM" (``end`` may be "24:00"). An end before the start wraps
  past midnight: days=("fri",), 18:00 -> 08:00 starts Friday 18:00 and ends Saturday
  08:00, and belongs to Friday.

Everything is evaluated in the window's local time (zoneinfo), so a weekly 18:00 is 18:00
on both sides of a DST change. A local time that exists twice (fall back) is resolved so
the window is as long as possible: a start takes the first instant, an end the second. A
local time that does not exist (the spring-forward gap) means the moment the clock jumps
past it. Starts are inclusive, ends exclusive.

Pure: `now` is a parameter and must be timezone-aware (ValueError otherwise). A window
that fails validate_window raises ValueError from the functions that evaluate it, so a
broken freeze never silently allows a deploy.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from watchstander.gates.models import FreezeWindow

__all__ = [
    "WEEKDAYS",
    "validate_window",
    "occurrence_at",
    "active_freeze",
    "next_freeze",
]

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_DAY_INDEX = {**{d: i for i, d in enumerate(WEEKDAYS)}, **{d: i for i, d in enumerate(_FULL)}}
_TIME = re.compile(r"^(\d{1,2}):(\d{2})$")
# How far ahead next_freeze looks for a weekly window's next start.
_WEEKLY_HORIZON = timedelta(days=8)


@dataclass(frozen=True)
class _Weekly:
    tz: ZoneInfo
    days: frozenset[int]
    start: int  # minutes after local midnight
    end: int  # minutes after local midnight; <= start wraps to the next day


@dataclass(frozen=True)
class _OneOff:
    tz: ZoneInfo
    start: datetime  # aware
    end: datetime  # aware


def _zone(name: str) -> ZoneInfo | None:
    if not name:
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError, OSError):
        return None


def _minutes(text: str, *, allow_24: bool) -> int | None:
    m = _TIME.match(text.strip())
    if not m:
        return None
    hours, minutes = int(m.group(1)), int(m.group(2))
    if minutes > 59:
        return None
    if hours == 24 and minutes == 0 and allow_24:
        return 24 * 60
    if hours > 23:
        return None
    return hours * 60 + minutes


def _datetime(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


def _is_weekly(w: FreezeWindow) -> bool:
    return bool(w.days)


def validate_window(w: FreezeWindow) -> list[str]:
    """Problems with a window, for config validation ([] when it is usable)."""
    label = f"freeze window {w.name!r}" if w.name else "freeze window"
    problems: list[str] = []
    if not w.name:
        problems.append(f"{label}: has no name")
    tz = _zone(w.timezone)
    if tz is None:
        problems.append(f"{label}: unknown time zone {w.timezone!r} (use an IANA name)")
    if _is_weekly(w):
        for day in w.days:
            if day.strip().lower() not in _DAY_INDEX:
                problems.append(f"{label}: unknown day name {day!r} (use {', '.join(WEEKDAYS)})")
        start = _minutes(w.start, allow_24=False)
        end = _minutes(w.end, allow_24=True)
        if start is None:
            problems.append(f"{label}: bad start time {w.start!r} (weekly windows use HH:MM)")
        if end is None:
            problems.append(f"{label}: bad end time {w.end!r} (weekly windows use HH:MM)")
        if start is not None and end is not None and start == end:
            problems.append(
                f"{label}: start and end are both {w.start}; for whole days use 00:00 -> 24:00"
            )
        return problems
    dates_ok = True
    for field, text in (("start", w.start), ("end", w.end)):
        dates_ok = dates_ok and _datetime(text) is not None
        if _minutes(text, allow_24=True) is not None:
            problems.append(
                f"{label}: {field} {text!r} is a time without a date: weekly windows need "
                f"days ({', '.join(WEEKDAYS)}), one-off windows need dates like "
                "2026-12-20T00:00"
            )
        elif _datetime(text) is None:
            problems.append(f"{label}: bad {field} date-time {text!r} (use YYYY-MM-DDTHH:MM)")
    if dates_ok:
        start_dt, end_dt = _datetime(w.start), _datetime(w.end)
        if start_dt is not None and end_dt is not None:
            zone: tzinfo = tz if tz is not None else UTC
            s = _earliest(start_dt, zone) if start_dt.tzinfo is None else start_dt
            e = _latest(end_dt, zone) if end_dt.tzinfo is None else end_dt
            if e < s:
                problems.append(f"{label}: end {w.end} is before start {w.start}")
            elif e == s:
                problems.append(f"{label}: end {w.end} is the same as start {w.start}")
    return problems


def _parse(w: FreezeWindow) -> _Weekly | _OneOff:
    problems = validate_window(w)
    if problems:
        raise ValueError("; ".join(problems))
    tz = _zone(w.timezone)
    assert tz is not None  # validated
    if _is_weekly(w):
        start = _minutes(w.start, allow_24=False)
        end = _minutes(w.end, allow_24=True)
        assert start is not None and end is not None  # validated
        days = frozenset(_DAY_INDEX[d.strip().lower()] for d in w.days)
        return _Weekly(tz, days, start, end)
    start_dt, end_dt = _datetime(w.start), _datetime(w.end)
    assert start_dt is not None and end_dt is not None  # validated
    s = _earliest(start_dt, tz) if start_dt.tzinfo is None else start_dt
    e = _latest(end_dt, tz) if end_dt.tzinfo is None else end_dt
    return _OneOff(tz, s, e)


def _resolve(naive: datetime, tz: tzinfo, *, first: bool) -> datetime:
    """The instant (UTC) a local wall time stands for.

    An ambiguous time (fall back) gives its first instant when `first`, else its second; a
    time in a spring-forward gap gives the moment the clock jumps past it.
    """
    a = naive.replace(tzinfo=tz, fold=0).astimezone(UTC)
    b = naive.replace(tzinfo=tz, fold=1).astimezone(UTC)
    if a == b:
        return a
    lo, hi = min(a, b), max(a, b)
    if a.astimezone(tz).replace(tzinfo=None) == naive:  # exists twice
        return lo if first else hi
    # In a gap: the wall clock reads before `naive` at lo and after it at hi; find the
    # first second at which it reads `naive` or later (the transition).
    while (hi - lo) > timedelta(seconds=1):
        mid = lo + (hi - lo) / 2
        if mid.astimezone(tz).replace(tzinfo=None) >= naive:
            hi = mid
        else:
            lo = mid
    return hi.replace(microsecond=0)


def _earliest(naive: datetime, tz: tzinfo) -> datetime:
    """Where a window starting at a local wall time starts, in UTC."""
    return _resolve(naive, tz, first=True)


def _latest(naive: datetime, tz: tzinfo) -> datetime:
    """Where a window ending at a local wall time ends, in UTC."""
    return _resolve(naive, tz, first=False)


def _at(day: date, minutes: int) -> datetime:
    return datetime.combine(day, time()) + timedelta(minutes=minutes)


def _weekly_occurrences(
    spec: _Weekly, first: date, last: date
) -> Iterator[tuple[datetime, datetime]]:
    """(start, end) in UTC of occurrences starting on local dates first..last."""
    day = first
    while day <= last:
        if day.weekday() in spec.days:
            end_day = day if spec.end > spec.start else day + timedelta(days=1)
            yield _earliest(_at(day, spec.start), spec.tz), _latest(_at(end_day, spec.end), spec.tz)
        day += timedelta(days=1)


def _require_aware(now: datetime) -> None:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")


def occurrence_at(w: FreezeWindow, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence of `w` that contains `now` as (start, end) in the window's local time,
    or None when `now` is outside the window. (Python subtracts datetimes of the same zone
    as wall clocks: convert to UTC for the real length across a DST change.)"""
    _require_aware(now)
    spec = _parse(w)
    instant = now.astimezone(UTC)
    if isinstance(spec, _OneOff):
        if spec.start <= instant < spec.end:
            return spec.start.astimezone(spec.tz), spec.end.astimezone(spec.tz)
        return None
    today = instant.astimezone(spec.tz).date()
    # A weekly occurrence lasts at most a day, so only yesterday's and today's can hold now.
    for start, end in _weekly_occurrences(spec, today - timedelta(days=1), today):
        if start <= instant < end:
            return start.astimezone(spec.tz), end.astimezone(spec.tz)
    return None


def active_freeze(windows: Sequence[FreezeWindow], now: datetime) -> FreezeWindow | None:
    """The first window (in the given order) that `now` falls inside, or None."""
    _require_aware(now)
    for w in windows:
        if occurrence_at(w, now) is not None:
            return w
    return None


def next_freeze(
    windows: Sequence[FreezeWindow], now: datetime
) -> tuple[FreezeWindow, datetime] | None:
    """The window that starts next after `now` and its start in the window's local time.

    Weekly windows are looked at for starts within 8 days; one-off windows for any future
    start. A window already active counts only with its next start. Ties go to the first
    window given.
    """
    _require_aware(now)
    instant = now.astimezone(UTC)
    best: tuple[FreezeWindow, datetime] | None = None
    best_utc: datetime | None = None
    for w in windows:
        spec = _parse(w)
        if isinstance(spec, _OneOff):
            starts = [spec.start] if spec.start > instant else []
        else:
            today = instant.astimezone(spec.tz).date()
            starts = [
                s
                for s, _ in _weekly_occurrences(
                    spec, today - timedelta(days=1), today + timedelta(days=9)
                )
                if instant < s <= instant + _WEEKLY_HORIZON
            ]
        if not starts:
            continue
        first = min(starts)
        if best_utc is None or first < best_utc:
            best, best_utc = (w, first.astimezone(spec.tz)), first
    return best
