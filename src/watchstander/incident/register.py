"""The regression register (incident Step 1.5, item 5, and the PIR's pattern analysis).

A CONFIRMED or LIKELY regression gets an entry, saved as
``.aiwg/regression/register/REG-{YYYY-MM-DD}-{NNN}.yaml`` with the flow's field names
(HANDBOOK 5.3) and one row in ``.aiwg/regression/regression-register-summary.md``. NNN is
the per-day sequence, zero-padded to three digits. Statuses move
OPEN -> MITIGATED -> ANALYZED -> CLOSED; a failed mitigation may send MITIGATED back to
OPEN. Reaching MITIGATED needs the mitigation action and time, ANALYZED needs the
detection gap (which testing it escaped and why) and at least one preventive action.

patterns() answers the PIR's "same component / same category in the last 90 days / same
author" questions; pattern_summary() counts them for one entry.

Pure: no IO and no clock; callers pass `now`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from watchstander.errors import InputError, UsageError
from watchstander.incident.triage import parse_priority

__all__ = [
    "REGISTER_DIR",
    "SUMMARY_PATH",
    "SUMMARY_HEADER",
    "RegressionCategory",
    "EscapedTesting",
    "MitigationAction",
    "RegressionStatus",
    "TRANSITIONS",
    "IntroducedChange",
    "AffectedFunctionality",
    "DetectionGap",
    "RegressionEntry",
    "PatternSummary",
    "regression_id",
    "parse_regression_id",
    "next_regression_id",
    "register_path",
    "detection_hours",
    "mitigation_minutes",
    "summary_row",
    "transition_problems",
    "transition",
    "patterns",
    "pattern_summary",
]

REGISTER_DIR = ".aiwg/regression/register"
SUMMARY_PATH = ".aiwg/regression/regression-register-summary.md"
SUMMARY_HEADER = (
    "| Regression ID | Incident ID | Detected | Severity | Commit | Category | Status |",
    "|---|---|---|---|---|---|---|",
)
_E = TypeVar("_E", bound=StrEnum)
_ID = re.compile(r"^REG-(\d{4}-\d{2}-\d{2})-(\d{3,})$")


class RegressionCategory(StrEnum):
    FUNCTIONAL = "functional"
    PERFORMANCE = "performance"
    SECURITY = "security"
    DATA_INTEGRITY = "data-integrity"


class EscapedTesting(StrEnum):
    UNIT = "unit"
    INTEGRATION = "integration"
    E2E = "e2e"
    MANUAL = "manual"
    STAGING = "staging"


class MitigationAction(StrEnum):
    ROLLBACK = "rollback"
    HOTFIX = "hotfix"
    FEATURE_FLAG_DISABLE = "feature-flag-disable"


class RegressionStatus(StrEnum):
    OPEN = "OPEN"
    MITIGATED = "MITIGATED"
    ANALYZED = "ANALYZED"
    CLOSED = "CLOSED"


TRANSITIONS: Mapping[RegressionStatus, tuple[RegressionStatus, ...]] = {
    RegressionStatus.OPEN: (RegressionStatus.MITIGATED,),
    RegressionStatus.MITIGATED: (RegressionStatus.ANALYZED, RegressionStatus.OPEN),
    RegressionStatus.ANALYZED: (RegressionStatus.CLOSED,),
    RegressionStatus.CLOSED: (),
}


@dataclass(frozen=True)
class IntroducedChange:
    commit_sha: str
    pr_number: int | None = None
    author: str = ""
    merge_date: date | None = None
    deployment_date: date | None = None


@dataclass(frozen=True)
class AffectedFunctionality:
    component: str
    feature: str = ""
    user_facing: bool = True  # YES | NO in the file


@dataclass(frozen=True)
class DetectionGap:
    escaped_testing: EscapedTesting | None = None
    detection_time: float | None = None  # hours from deployment to detection
    reason: str = ""  # why the tests did not catch it


@dataclass(frozen=True)
class RegressionEntry:
    """One regression, with the flow's field names."""

    regression_id: str
    incident_id: str
    detection_date: date
    severity: str  # P0 | P1 | P2 | P3
    introduced_change: IntroducedChange
    regression_category: RegressionCategory
    affected_functionality: AffectedFunctionality
    detection_gap: DetectionGap = DetectionGap()
    mitigation_action: MitigationAction | None = None
    mitigation_time: float | None = None  # minutes from detection to resolution
    preventive_actions: tuple[str, ...] = ()
    status: RegressionStatus = RegressionStatus.OPEN

    def to_data(self) -> dict[str, object]:
        """The YAML-ready mapping, keys in the flow's order; dates as YYYY-MM-DD, unknown
        values as None."""
        change = self.introduced_change
        gap = self.detection_gap
        return {
            "regression_id": self.regression_id,
            "incident_id": self.incident_id,
            "detection_date": self.detection_date.isoformat(),
            "severity": self.severity,
            "introduced_change": {
                "commit_sha": change.commit_sha,
                "pr_number": change.pr_number,
                "author": change.author,
                "merge_date": _iso(change.merge_date),
                "deployment_date": _iso(change.deployment_date),
            },
            "regression_category": self.regression_category.value,
            "affected_functionality": {
                "component": self.affected_functionality.component,
                "feature": self.affected_functionality.feature,
                "user_facing": "YES" if self.affected_functionality.user_facing else "NO",
            },
            "detection_gap": {
                "escaped_testing": gap.escaped_testing.value if gap.escaped_testing else None,
                "detection_time": gap.detection_time,
                "reason": gap.reason,
            },
            "mitigation_action": self.mitigation_action.value if self.mitigation_action else None,
            "mitigation_time": self.mitigation_time,
            "preventive_actions": list(self.preventive_actions),
            "status": self.status.value,
        }

    @classmethod
    def from_data(cls, data: object, source: str) -> RegressionEntry:
        """Back from a parsed register file; InputError names the file and field."""
        return _Reader(source).entry(data)


def _iso(day: date | None) -> str | None:
    return day.isoformat() if day is not None else None


# -- ids and rows -------------------------------------------------------------------------------


def _day(day: date) -> date:
    if isinstance(day, datetime):
        return day.astimezone(UTC).date() if day.utcoffset() is not None else day.date()
    return day


def regression_id(day: date, sequence: int) -> str:
    """``REG-2026-11-21-001``: the detection day (an aware datetime counts in UTC) and the
    day's sequence number, from 1."""
    if sequence < 1:
        raise ValueError(f"sequence must be 1 or more, not {sequence}")
    return f"REG-{_day(day).isoformat()}-{sequence:03d}"


def parse_regression_id(text: str) -> tuple[date, int] | None:
    """(day, sequence) of a regression id, or None when `text` is not one."""
    m = _ID.match(text.strip())
    if m is None:
        return None
    try:
        return date.fromisoformat(m.group(1)), int(m.group(2))
    except ValueError:
        return None


def next_regression_id(day: date, existing: Iterable[str]) -> str:
    """The next free id of `day`, after the highest sequence already used that day."""
    d = _day(day)
    used = [p[1] for p in map(parse_regression_id, existing) if p is not None and p[0] == d]
    return regression_id(d, max(used, default=0) + 1)


def register_path(regression_id: str) -> str:
    return f"{REGISTER_DIR}/{regression_id}.yaml"


def detection_hours(deployed_at: datetime, detected_at: datetime) -> float:
    """``detection_time``: hours from deployment to detection, to 0.01 h."""
    return round((detected_at - deployed_at).total_seconds() / 3600, 2)


def mitigation_minutes(detected_at: datetime, resolved_at: datetime) -> float:
    """``mitigation_time``: minutes from detection to resolution, to 0.1 min."""
    return round((resolved_at - detected_at).total_seconds() / 60, 1)


def summary_row(entry: RegressionEntry) -> str:
    """The entry's line in the register summary (P3 admitted, unlike the flow's template)."""
    return (
        f"| {entry.regression_id} | {entry.incident_id} | {entry.detection_date.isoformat()} "
        f"| {entry.severity} | {entry.introduced_change.commit_sha} "
        f"| {entry.regression_category.value} | {entry.status.value} |"
    )


# -- status ----------------------------------------------------------------------------------------


def transition_problems(entry: RegressionEntry, to: RegressionStatus) -> tuple[str, ...]:
    """Why `entry` cannot move to `to` as it stands; empty when it can."""
    allowed = TRANSITIONS[entry.status]
    if to not in allowed:
        names = ", ".join(s.value for s in allowed) or "none, it is final"
        return (f"cannot go from {entry.status} to {to} (allowed: {names})",)
    problems: list[str] = []
    if to is RegressionStatus.MITIGATED:
        if entry.mitigation_action is None:
            problems.append("mitigation_action: missing; MITIGATED needs it")
        if entry.mitigation_time is None:
            problems.append("mitigation_time: missing; MITIGATED needs it")
    if to is RegressionStatus.ANALYZED:
        if entry.detection_gap.escaped_testing is None:
            problems.append("detection_gap.escaped_testing: missing; ANALYZED needs it")
        if not entry.detection_gap.reason.strip():
            problems.append("detection_gap.reason: empty; ANALYZED needs it")
        if not entry.preventive_actions:
            problems.append("preventive_actions: empty; ANALYZED needs at least one")
    return tuple(problems)


def transition(
    entry: RegressionEntry,
    to: RegressionStatus,
    *,
    mitigation_action: MitigationAction | None = None,
    mitigation_time: float | None = None,
    detection_gap: DetectionGap | None = None,
    preventive_actions: Sequence[str] | None = None,
) -> RegressionEntry:
    """`entry` in status `to`, with any fields given filled in first; UsageError (naming
    the entry and every problem) when the move is not allowed."""
    updated = dataclasses.replace(
        entry,
        mitigation_action=mitigation_action or entry.mitigation_action,
        mitigation_time=mitigation_time if mitigation_time is not None else entry.mitigation_time,
        detection_gap=detection_gap or entry.detection_gap,
        preventive_actions=(
            tuple(preventive_actions)
            if preventive_actions is not None
            else entry.preventive_actions
        ),
    )
    problems = transition_problems(updated, to)
    if problems:
        raise UsageError(f"{entry.regression_id}: " + "; ".join(problems))
    return dataclasses.replace(updated, status=to)


# -- patterns --------------------------------------------------------------------------------------


def patterns(
    entries: Iterable[RegressionEntry],
    *,
    component: str | None = None,
    category: RegressionCategory | None = None,
    author: str | None = None,
    now: datetime,
    days: int | None = 90,
    exclude: str | None = None,
) -> tuple[RegressionEntry, ...]:
    """Entries matching every filter given, detected within the last `days` days (the UTC
    day `days` days before `now` is included; None: any time), oldest first. `exclude`
    leaves out one regression id (the one under review)."""
    if now.utcoffset() is None:
        raise ValueError("now must be a timezone-aware datetime")
    today = now.astimezone(UTC).date()
    since = today - timedelta(days=days) if days is not None else date.min
    hits = [
        e
        for e in entries
        if e.regression_id != exclude
        and since <= e.detection_date <= today
        and (component is None or e.affected_functionality.component == component)
        and (category is None or e.regression_category is category)
        and (author is None or e.introduced_change.author == author)
    ]
    return tuple(sorted(hits, key=lambda e: (e.detection_date, e.regression_id)))


@dataclass(frozen=True)
class PatternSummary:
    same_component: int  # previous regressions of the component, any time
    same_category: int  # previous regressions of the category in the window
    same_author: int  # previous regressions by the author (blameless: for learning)
    component_recent: int  # the component's regressions in the window, this one included
    high_risk: bool  # component_recent >= the threshold


def pattern_summary(
    entry: RegressionEntry,
    entries: Iterable[RegressionEntry],
    *,
    now: datetime,
    days: int = 90,
    high_risk_at: int = 3,
) -> PatternSummary:
    """The PIR's pattern analysis for `entry`. A component with `high_risk_at` or more
    regressions in the window (this one included) is high-risk."""
    pool = [e for e in entries if e.regression_id != entry.regression_id]
    component = entry.affected_functionality.component
    author = entry.introduced_change.author
    recent = 1 + len(patterns(pool, component=component, now=now, days=days))
    return PatternSummary(
        same_component=len(patterns(pool, component=component, now=now, days=None)),
        same_category=len(patterns(pool, category=entry.regression_category, now=now, days=days)),
        same_author=len(patterns(pool, author=author, now=now, days=None)) if author else 0,
        component_recent=recent,
        high_risk=recent >= high_risk_at,
    )


# -- reading a register file -------------------------------------------------------------------------


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, field: str, problem: str) -> InputError:
        return InputError(f"{self.source}: {field}: {problem}")

    def mapping(self, data: object, field: str) -> Mapping[str, object]:
        if not isinstance(data, Mapping):
            raise self.fail(field, f"expected a mapping, got {type(data).__name__}")
        return data

    def text(
        self, m: Mapping[str, object], key: str, at: str = "", *, required: bool = True
    ) -> str:
        value = m.get(key)
        if value is None:
            if required:
                raise self.fail(at + key, "missing")
            return ""
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.fail(at + key, f"expected text, got {type(value).__name__}")
        return str(value).strip()

    def day(self, m: Mapping[str, object], key: str, at: str = "") -> date | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, datetime):
            return _day(value)
        if isinstance(value, date):
            return value
        if isinstance(value, str):
            try:
                return date.fromisoformat(value.strip())
            except ValueError:
                pass
        raise self.fail(at + key, f"{value!r} is not a YYYY-MM-DD date")

    def number(self, m: Mapping[str, object], key: str, at: str = "") -> float | None:
        value = m.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self.fail(at + key, f"expected a number, got {value!r}")
        return float(value)

    def enum(
        self,
        m: Mapping[str, object],
        key: str,
        kind: type[_E],
        at: str = "",
        *,
        required: bool = True,
    ) -> _E | None:
        text = self.text(m, key, at, required=required)
        if not text:
            return None
        for member in kind:
            if member.value.lower() == text.lower():
                return member
        names = " | ".join(member.value for member in kind)
        raise self.fail(at + key, f"{text!r}; expected {names}")

    def entry(self, data: object) -> RegressionEntry:
        m = self.mapping(data, "(top)")
        rid = self.text(m, "regression_id")
        if parse_regression_id(rid) is None:
            raise self.fail("regression_id", f"{rid!r} is not REG-YYYY-MM-DD-NNN")
        detected = self.day(m, "detection_date")
        if detected is None:
            raise self.fail("detection_date", "missing")
        try:
            severity = parse_priority(self.text(m, "severity"))
        except UsageError:
            raise self.fail(
                "severity", f"{m.get('severity')!r}; expected P0 | P1 | P2 | P3"
            ) from None
        ch = self.mapping(m.get("introduced_change"), "introduced_change")
        pr = ch.get("pr_number")
        if pr is not None and (isinstance(pr, bool) or not isinstance(pr, int)):
            raise self.fail("introduced_change.pr_number", f"expected a number, got {pr!r}")
        af = self.mapping(m.get("affected_functionality"), "affected_functionality")
        facing = af.get("user_facing", "YES")
        # YAML 1.1 reads an unquoted YES/NO as a boolean.
        if isinstance(facing, str) and facing.strip().upper() in ("YES", "NO"):
            facing = facing.strip().upper() == "YES"
        if not isinstance(facing, bool):
            raise self.fail("affected_functionality.user_facing", f"{facing!r}; expected YES | NO")
        gap = m.get("detection_gap")
        g = self.mapping(gap, "detection_gap") if gap is not None else {}
        actions = m.get("preventive_actions") or []
        if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
            raise self.fail("preventive_actions", "expected a list of text")
        category = self.enum(m, "regression_category", RegressionCategory)
        status = self.enum(m, "status", RegressionStatus)
        assert category is not None and status is not None  # required
        return RegressionEntry(
            regression_id=rid,
            incident_id=self.text(m, "incident_id"),
            detection_date=detected,
            severity=severity,
            introduced_change=IntroducedChange(
                commit_sha=self.text(ch, "commit_sha", "introduced_change."),
                pr_number=pr,
                author=self.text(ch, "author", "introduced_change.", required=False),
                merge_date=self.day(ch, "merge_date", "introduced_change."),
                deployment_date=self.day(ch, "deployment_date", "introduced_change."),
            ),
            regression_category=category,
            affected_functionality=AffectedFunctionality(
                component=self.text(af, "component", "affected_functionality."),
                feature=self.text(af, "feature", "affected_functionality.", required=False),
                user_facing=facing,
            ),
            detection_gap=DetectionGap(
                escaped_testing=self.enum(
                    g, "escaped_testing", EscapedTesting, "detection_gap.", required=False
                ),
                detection_time=self.number(g, "detection_time", "detection_gap."),
                reason=self.text(g, "reason", "detection_gap.", required=False),
            ),
            mitigation_action=self.enum(m, "mitigation_action", MitigationAction, required=False),
            mitigation_time=self.number(m, "mitigation_time"),
            preventive_actions=tuple(a.strip() for a in actions),
            status=status,
        )
