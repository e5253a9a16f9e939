"""Incident response metrics: MTTx per incident and over many, and the flow's rates.

MTTx follow Rootly's definitions, every one measured from `started` (when impact began),
not from detection:

    MTTD = detected - started        MTTA = acknowledged - started
    MTTE = engaged - started         MTTM = mitigated - started
    MTTR = resolved - started

A metric is None when either stamp is missing; aggregates count only the incidents that
have it and say how many were missing, rather than guessing.

The rates are the flow's "Metrics to Track": resolution by tier, regression detection,
rollback success, recurrence (same root cause within 90 days), PIR completion (P0/P1) and
preventive-action completion. Each is a Rate (numerator, denominator); its value is None
when there is nothing to measure. Inputs are plain dataclasses (Outcome,
PreventiveAction) that the engine fills from the store.

Pure: no IO and no clock; callers pass `now` where it matters.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from watchstander.incident.models import Milestone, Milestones, Priority
from watchstander.incident.priority import SLAS

__all__ = [
    "Metric",
    "HasMilestones",
    "Durations",
    "Summary",
    "Rate",
    "Outcome",
    "PreventiveAction",
    "RECURRENCE_WINDOW",
    "measure",
    "durations",
    "summarise",
    "by_priority",
    "resolution_rate_by_tier",
    "regression_detection_rate",
    "rollback_success_rate",
    "recurrence_rate",
    "pir_completion_rate",
    "preventive_action_completion_rate",
]

RECURRENCE_WINDOW = timedelta(days=90)


class Metric(StrEnum):
    MTTD = "mttd"
    MTTA = "mtta"
    MTTE = "mtte"
    MTTM = "mttm"
    MTTR = "mttr"


_END = {
    Metric.MTTD: Milestone.DETECTED,
    Metric.MTTA: Milestone.ACKNOWLEDGED,
    Metric.MTTE: Milestone.ENGAGED,
    Metric.MTTM: Milestone.MITIGATED,
    Metric.MTTR: Milestone.RESOLVED,
}


class HasMilestones(Protocol):
    """What the aggregates read: an Incident (models) or an Outcome."""

    @property
    def priority(self) -> Priority: ...

    @property
    def milestones(self) -> Milestones: ...


def measure(milestones: Milestones, metric: Metric) -> timedelta | None:
    """One MTTx for one incident; None when `started` or the end stamp is missing."""
    end = milestones.get(_END[metric])
    if milestones.started is None or end is None:
        return None
    return end - milestones.started


@dataclass(frozen=True)
class Durations:
    mttd: timedelta | None
    mtta: timedelta | None
    mtte: timedelta | None
    mttm: timedelta | None
    mttr: timedelta | None


def durations(milestones: Milestones) -> Durations:
    """All MTTx for one incident."""
    return Durations(*(measure(milestones, m) for m in Metric))


@dataclass(frozen=True)
class Summary:
    count: int  # incidents that have the metric
    missing: int  # incidents without it (a milestone missing)
    mean: timedelta | None  # None when count is 0
    median: timedelta | None


def summarise(values: Iterable[timedelta | None]) -> Summary:
    """Mean and median of the present values; None values are counted as missing."""
    present: list[timedelta] = []
    missing = 0
    for v in values:
        if v is None:
            missing += 1
        else:
            present.append(v)
    if not present:
        return Summary(0, missing, None, None)
    present.sort()
    n = len(present)
    mid = n // 2
    median = present[mid] if n % 2 else (present[mid - 1] + present[mid]) / 2
    return Summary(n, missing, sum(present, timedelta(0)) / n, median)


def by_priority(incidents: Iterable[HasMilestones], metric: Metric) -> dict[Priority, Summary]:
    """`metric` summarised per priority; every priority is present (count 0 if none)."""
    values: dict[Priority, list[timedelta | None]] = {p: [] for p in Priority}
    for i in incidents:
        values[i.priority].append(measure(i.milestones, metric))
    return {p: summarise(v) for p, v in values.items()}


@dataclass(frozen=True)
class Rate:
    numerator: int
    denominator: int

    @property
    def value(self) -> float | None:
        """numerator / denominator; None when there was nothing to count."""
        return None if self.denominator == 0 else self.numerator / self.denominator


@dataclass(frozen=True)
class Outcome:
    """What is known about one incident once it is over (the engine fills it in)."""

    incident_id: str
    priority: Priority
    milestones: Milestones
    resolved_by_tier: int | None = None  # 1, 2 or 3; None: not resolved / not recorded
    deployment_related: bool = False  # regression triage found a recent change
    regression: bool = False  # ... and judged it a regression (CONFIRMED or LIKELY)
    rollback_attempted: bool = False
    rollback_resolved: bool = False  # the rollback resolved the incident
    root_cause_id: str | None = None  # the same id for the same root cause
    pir_completed: datetime | None = None  # when the post-incident review was completed


@dataclass(frozen=True)
class PreventiveAction:
    id: str
    due: datetime
    completed: datetime | None = None


def resolution_rate_by_tier(outcomes: Iterable[Outcome]) -> dict[int, Rate]:
    """Share of the incidents with a known resolving tier that each tier resolved
    (target: Tier 1 60-80%, Tier 2 15-30%, Tier 3 5-10%). Tiers 1-3 are always present."""
    tiers = [o.resolved_by_tier for o in outcomes if o.resolved_by_tier is not None]
    keys = sorted({1, 2, 3} | set(tiers))
    return {t: Rate(tiers.count(t), len(tiers)) for t in keys}


def regression_detection_rate(outcomes: Iterable[Outcome]) -> Rate:
    """Of the deployment-related incidents, how many were identified as regressions."""
    related = [o for o in outcomes if o.deployment_related]
    return Rate(sum(o.regression for o in related), len(related))


def rollback_success_rate(outcomes: Iterable[Outcome]) -> Rate:
    """Of the incidents where a rollback was attempted, how many it resolved."""
    tried = [o for o in outcomes if o.rollback_attempted]
    return Rate(sum(o.rollback_resolved for o in tried), len(tried))


def _when(o: Outcome) -> datetime | None:
    return o.milestones.started or o.milestones.detected


def recurrence_rate(outcomes: Sequence[Outcome], window: timedelta = RECURRENCE_WINDOW) -> Rate:
    """Of the incidents with a known root cause (and a start or detection time), how many
    had the same root cause in an earlier incident that began within `window` before them
    (target: < 5%)."""
    known = sorted(
        ((when, o) for o in outcomes if o.root_cause_id and (when := _when(o)) is not None),
        key=lambda pair: pair[0],
    )
    last_seen: dict[str, datetime] = {}
    recurred = 0
    for when, o in known:
        assert o.root_cause_id is not None
        previous = last_seen.get(o.root_cause_id)
        if previous is not None and when - previous <= window:
            recurred += 1
        last_seen[o.root_cause_id] = when
    return Rate(recurred, len(known))


def pir_completion_rate(outcomes: Iterable[Outcome], *, on_time: bool = False) -> Rate:
    """Of the resolved incidents that require a review (P0/P1), how many have one
    completed (target: 100%). on_time: only reviews completed within the SLA after
    resolution (P0 24 h, P1 48 h) count."""
    required = [o for o in outcomes if SLAS[o.priority].review_required and o.milestones.resolved]
    done = 0
    for o in required:
        if o.pir_completed is None:
            continue
        limit = SLAS[o.priority].review_within
        resolved = o.milestones.resolved
        assert resolved is not None and limit is not None
        if not on_time or o.pir_completed - resolved <= limit:
            done += 1
    return Rate(done, len(required))


def preventive_action_completion_rate(actions: Iterable[PreventiveAction], now: datetime) -> Rate:
    """Of the actions that are due by `now` or already completed, how many were
    completed by their due date (target: > 90%). Open actions not yet due are not
    counted: they have not failed yet."""
    counted = [a for a in actions if a.completed is not None or a.due <= now]
    on_time = sum(1 for a in counted if a.completed is not None and a.completed <= a.due)
    return Rate(on_time, len(counted))
