"""The hypercare period: its length, extensions, sign-offs and end.

Hypercare is the elevated-support period right after a release (the aiwg flow
`flow-hypercare-monitoring`; ITIL's Early Life Support). The rules kept here:

* **Length.** "Default: 7 days (low-risk deployments), 14 days (high-risk deployments)"
  (`default_days`). A period runs from `start` for `days` days plus every extension's days;
  days are 24 h of elapsed time, so `end` does not move with daylight saving.
* **Day number.** The daily standup's "Day {N} of {duration}": day 1 is [start, start + 24 h),
  day 2 the next 24 h, and so on (`HypercarePeriod.day_number`).
* **Extensions.** "If EXTEND HYPERCARE: address gaps, continue monitoring": an extension adds
  whole days with a reason and who decided it; an ended period cannot be extended.
* **Sign-offs.** The exit report's five signatures (`SIGNOFF_ROLES`): Hypercare Lead,
  Reliability Engineer, Support Lead, Product Owner, Project Manager. Signing a role again
  replaces the earlier signature. The Support Lead's signature is what exit's "support team
  ready for standard operations" checks (`SUPPORT_ROLE`).
* **Ids.** `HC-{YYYY-MM-DD}-{NNN}`: the start day (UTC) and that day's sequence, like the
  incident and regression ids.

Pure: no IO and no clock; every change takes its time as `at`. Datetimes are
timezone-aware and stored in UTC (aware values in other zones are converted, naive ones
refused). `to_data` / `from_data` are exact inverses for the store and the reports.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any

__all__ = [
    "Risk",
    "DEFAULT_DAYS",
    "default_days",
    "PeriodStatus",
    "Extension",
    "Signoff",
    "SIGNOFF_ROLES",
    "SUPPORT_ROLE",
    "HypercarePeriod",
    "period_id",
    "as_utc",
]

_DAY = timedelta(days=1)
_ID = re.compile(r"^HC-(\d{4}-\d{2}-\d{2})-(\d{3,})$")


def as_utc(name: str, value: datetime) -> datetime:
    """`value` in UTC; a naive datetime is a ValueError naming `name`."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got naive {value.isoformat()}")
    return value.astimezone(UTC)


class Risk(StrEnum):
    LOW = "low"
    HIGH = "high"


DEFAULT_DAYS: Mapping[Risk, int] = MappingProxyType({Risk.LOW: 7, Risk.HIGH: 14})


def default_days(risk: Risk) -> int:
    """The flow's default length: 7 days for a low-risk release, 14 for a high-risk one."""
    return DEFAULT_DAYS[Risk(risk)]


class PeriodStatus(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


# The exit report's five signatures, in the report's order.
SIGNOFF_ROLES = (
    "hypercare-lead",
    "reliability-engineer",
    "support-lead",
    "product-owner",
    "project-manager",
)
SUPPORT_ROLE = "support-lead"


@dataclass(frozen=True)
class Extension:
    at: datetime  # when it was decided
    days: int
    reason: str
    by: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc("extension time", self.at))
        if self.days < 1:
            raise ValueError(f"an extension adds at least 1 day, not {self.days}")
        if not self.reason.strip():
            raise ValueError("an extension needs a reason")


@dataclass(frozen=True)
class Signoff:
    role: str  # one of SIGNOFF_ROLES
    by: str
    at: datetime

    def __post_init__(self) -> None:
        object.__setattr__(self, "at", as_utc("sign-off time", self.at))
        if self.role not in SIGNOFF_ROLES:
            raise ValueError(
                f"unknown sign-off role {self.role!r}: expected one of {', '.join(SIGNOFF_ROLES)}"
            )
        if not self.by.strip():
            raise ValueError(f"the {self.role} sign-off needs the signer's name")


@dataclass(frozen=True)
class HypercarePeriod:
    """One hypercare period. Change it only through its methods (each returns a new one)."""

    id: str  # HC-YYYY-MM-DD-NNN (period_id)
    service: str
    version: str
    start: datetime
    days: int  # the planned length, without extensions
    risk: Risk
    guidance: str = ""  # the flow's --guidance text
    extensions: tuple[Extension, ...] = ()
    signoffs: tuple[Signoff, ...] = ()  # at most one per role, in SIGNOFF_ROLES order
    status: PeriodStatus = PeriodStatus.ACTIVE
    ended_at: datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "start", as_utc("hypercare start", self.start))
        object.__setattr__(self, "risk", Risk(self.risk))
        object.__setattr__(self, "status", PeriodStatus(self.status))
        if self.ended_at is not None:
            object.__setattr__(self, "ended_at", as_utc("hypercare end", self.ended_at))
        if self.days < 1:
            raise ValueError(f"{self.id}: a hypercare period lasts at least 1 day, not {self.days}")
        if (self.status is PeriodStatus.ENDED) != (self.ended_at is not None):
            raise ValueError(f"{self.id}: an ended period needs ended_at, an active one none")
        if self.ended_at is not None and self.ended_at < self.start:
            raise ValueError(f"{self.id}: ends ({self.ended_at}) before it starts ({self.start})")
        roles = [s.role for s in self.signoffs]
        if len(set(roles)) != len(roles):
            raise ValueError(f"{self.id}: more than one sign-off for a role")

    @property
    def total_days(self) -> int:
        """The planned days plus every extension's days."""
        return self.days + sum(e.days for e in self.extensions)

    @property
    def end(self) -> datetime:
        """The scheduled end: start + total_days (24 h days)."""
        return self.start + self.total_days * _DAY

    @property
    def active(self) -> bool:
        return self.status is PeriodStatus.ACTIVE

    def day_number(self, now: datetime) -> int:
        """1 for [start, start + 24 h), 2 for the next 24 h, ...; 0 before the start. It keeps
        counting past `end` (day 8 of 7 means the period is overdue for its exit check)."""
        elapsed = as_utc("now", now) - self.start
        if elapsed < timedelta(0):
            return 0
        return elapsed // _DAY + 1

    def signoff(self, role: str) -> Signoff | None:
        return next((s for s in self.signoffs if s.role == role), None)

    @property
    def missing_signoffs(self) -> tuple[str, ...]:
        """The SIGNOFF_ROLES nobody has signed yet, in report order."""
        signed = {s.role for s in self.signoffs}
        return tuple(r for r in SIGNOFF_ROLES if r not in signed)

    def extend(self, days: int, reason: str, by: str, at: datetime) -> HypercarePeriod:
        """A copy with `days` more days. ValueError for days < 1, an empty reason, or an
        ended period."""
        if not self.active:
            raise ValueError(f"{self.id}: the period has ended; it cannot be extended")
        extension = Extension(at, days, reason.strip(), by)
        return replace(self, extensions=(*self.extensions, extension))

    def sign(self, role: str, by: str, at: datetime) -> HypercarePeriod:
        """A copy with `by`'s sign-off for `role`, replacing any earlier one for that role.
        ValueError for a role not in SIGNOFF_ROLES."""
        new = Signoff(role, by, at)
        kept = [s for s in self.signoffs if s.role != role]
        ordered = sorted((*kept, new), key=lambda s: SIGNOFF_ROLES.index(s.role))
        return replace(self, signoffs=tuple(ordered))

    def finish(self, at: datetime) -> HypercarePeriod:
        """A copy that has ended at `at`. ValueError when it has ended already or `at` is
        before the start."""
        if not self.active:
            raise ValueError(f"{self.id}: the period has already ended")
        return replace(self, status=PeriodStatus.ENDED, ended_at=as_utc("end time", at))

    # -- data -----------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        """A JSON-able mapping (ISO 8601 datetimes); from_data(to_data()) == self."""
        return {
            "id": self.id,
            "service": self.service,
            "version": self.version,
            "start": self.start.isoformat(),
            "days": self.days,
            "risk": self.risk.value,
            "guidance": self.guidance,
            "extensions": [
                {"at": e.at.isoformat(), "days": e.days, "reason": e.reason, "by": e.by}
                for e in self.extensions
            ],
            "signoffs": [
                {"role": s.role, "by": s.by, "at": s.at.isoformat()} for s in self.signoffs
            ],
            "status": self.status.value,
            "ended_at": None if self.ended_at is None else self.ended_at.isoformat(),
        }

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> HypercarePeriod:
        """Back from to_data's mapping; a missing or malformed field is a ValueError."""
        try:
            ended = data.get("ended_at")
            return cls(
                id=str(data["id"]),
                service=str(data["service"]),
                version=str(data["version"]),
                start=datetime.fromisoformat(str(data["start"])),
                days=int(data["days"]),
                risk=Risk(data["risk"]),
                guidance=str(data.get("guidance", "")),
                extensions=tuple(
                    Extension(
                        datetime.fromisoformat(str(e["at"])),
                        int(e["days"]),
                        str(e["reason"]),
                        str(e["by"]),
                    )
                    for e in data.get("extensions", ())
                ),
                signoffs=tuple(
                    Signoff(str(s["role"]), str(s["by"]), datetime.fromisoformat(str(s["at"])))
                    for s in data.get("signoffs", ())
                ),
                status=PeriodStatus(data.get("status", PeriodStatus.ACTIVE.value)),
                ended_at=None if ended is None else datetime.fromisoformat(str(ended)),
            )
        except KeyError as exc:
            raise ValueError(f"hypercare period data: missing field {exc.args[0]!r}") from None
        except (TypeError, AttributeError) as exc:
            raise ValueError(f"hypercare period data: malformed ({exc})") from None


def period_id(start: datetime, existing: Sequence[str]) -> str:
    """`HC-{YYYY-MM-DD}-{NNN}`: the start day (in UTC) and the next sequence after the
    highest one `existing` already uses for that day (from 001)."""
    day = as_utc("hypercare start", start).date().isoformat()
    used = [int(m.group(2)) for m in map(_ID.match, existing) if m and m.group(1) == day]
    return f"HC-{day}-{max(used, default=0) + 1:03d}"
