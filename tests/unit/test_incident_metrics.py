"""MTTx and the incident flow's rates (watchstander.incident.metrics)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchstander.incident import metrics, priority
from watchstander.incident.metrics import Metric, Outcome, PreventiveAction, Rate, Summary
from watchstander.incident.models import Impact, Incident, Milestones, Priority, Urgency

T0 = datetime(2026, 1, 15, 7, 44, tzinfo=UTC)
MIN = timedelta(minutes=1)
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


def stamps(**offsets: int | None) -> Milestones:
    """Milestones at these many minutes after T0 (started at T0 unless given)."""
    offsets.setdefault("started", 0)
    return Milestones(**{k: None if v is None else T0 + v * MIN for k, v in offsets.items()})


def outcome(
    n: int, prio: Priority = Priority.P0, milestones: Milestones | None = None, **kw: Any
) -> Outcome:
    milestones = milestones or stamps(detected=5, resolved=90)
    return Outcome(f"INC-2026-01-15-{n:03d}", prio, milestones, **kw)


# -- per incident -----------------------------------------------------------------------------


def test_durations_are_measured_from_started() -> None:
    m = stamps(detected=6, acknowledged=12, engaged=15, mitigated=40, resolved=160)
    assert metrics.durations(m) == metrics.Durations(
        mttd=6 * MIN, mtta=12 * MIN, mtte=15 * MIN, mttm=40 * MIN, mttr=160 * MIN
    )
    assert metrics.measure(m, Metric.MTTR) == 160 * MIN


def test_missing_milestones_give_none() -> None:
    m = stamps(detected=6, resolved=60)
    assert metrics.durations(m) == metrics.Durations(6 * MIN, None, None, None, 60 * MIN)
    unknown_start = stamps(started=None, detected=6, acknowledged=8, resolved=60)
    assert metrics.durations(unknown_start) == metrics.Durations(None, None, None, None, None)


# -- aggregates -------------------------------------------------------------------------------


def test_summarise_mean_median_and_missing() -> None:
    assert metrics.summarise([10 * MIN, None, 30 * MIN, 20 * MIN]) == Summary(
        count=3, missing=1, mean=20 * MIN, median=20 * MIN
    )
    # Even count: the median is the mean of the middle two.
    assert metrics.summarise([MIN, 2 * MIN, 4 * MIN, 9 * MIN]) == Summary(4, 0, 4 * MIN, 3 * MIN)
    assert metrics.summarise([None, None]) == Summary(0, 2, None, None)
    assert metrics.summarise([]) == Summary(0, 0, None, None)


def test_by_priority_with_incidents_and_outcomes() -> None:
    p0_incident = priority.declare(
        id="INC-2026-01-15-001",
        title="down",
        service="checkout",
        detected=T0 + 4 * MIN,
        started=T0,
        reporter="am",
        impact=Impact.HIGH,
        urgency=Urgency.HIGH,
    )
    records: list[Incident | Outcome] = [
        p0_incident,
        outcome(2, Priority.P0, milestones=stamps(detected=2, resolved=60)),
        outcome(3, Priority.P0, milestones=stamps(started=None, detected=2)),
        outcome(4, Priority.P1, milestones=stamps(detected=30, resolved=200)),
    ]
    mttd = metrics.by_priority(records, Metric.MTTD)
    assert mttd == {
        Priority.P0: Summary(2, 1, 3 * MIN, 3 * MIN),
        Priority.P1: Summary(1, 0, 30 * MIN, 30 * MIN),
        Priority.P2: Summary(0, 0, None, None),
        Priority.P3: Summary(0, 0, None, None),
    }
    mttr = metrics.by_priority(records, Metric.MTTR)
    assert mttr[Priority.P0] == Summary(1, 2, HOUR, HOUR)
    assert mttr[Priority.P1].mean == 200 * MIN


# -- rates ------------------------------------------------------------------------------------


def test_rate_value() -> None:
    assert Rate(1, 4).value == 0.25
    assert Rate(0, 0).value is None


def test_resolution_rate_by_tier() -> None:
    outcomes = [outcome(i, resolved_by_tier=t) for i, t in enumerate([1, 1, 1, 2, 3, None])]
    assert metrics.resolution_rate_by_tier(outcomes) == {
        1: Rate(3, 5),
        2: Rate(1, 5),
        3: Rate(1, 5),
    }
    assert metrics.resolution_rate_by_tier([]) == {1: Rate(0, 0), 2: Rate(0, 0), 3: Rate(0, 0)}


def test_regression_detection_and_rollback_success() -> None:
    outcomes = [
        outcome(1, deployment_related=True, regression=True, rollback_attempted=True,
                rollback_resolved=True),
        outcome(2, deployment_related=True, regression=True, rollback_attempted=True),
        outcome(3, deployment_related=True),
        outcome(4, regression=True),  # not deployment-related: not counted
    ]  # fmt: skip
    assert metrics.regression_detection_rate(outcomes) == Rate(2, 3)
    assert metrics.rollback_success_rate(outcomes) == Rate(1, 2)
    assert metrics.rollback_success_rate([outcome(1)]).value is None


def test_recurrence_within_90_days() -> None:
    def at(n: int, days: float, cause: str | None) -> Outcome:
        start = int(days * 24 * 60)
        return outcome(n, root_cause_id=cause, milestones=stamps(started=start, detected=start))

    outcomes = [
        at(1, 0, "pool-exhaustion"),
        at(2, 90, "pool-exhaustion"),  # exactly 90 days later: a recurrence
        at(3, 181, "pool-exhaustion"),  # 91 days after the last: not one
        at(4, 10, "cert-expiry"),
        at(5, 10.5, "dns"),
        at(6, 11, None),  # root cause unknown: not counted
    ]
    assert metrics.recurrence_rate(outcomes) == Rate(1, 5)
    # Order of the input does not matter.
    assert metrics.recurrence_rate(list(reversed(outcomes))) == Rate(1, 5)
    assert metrics.recurrence_rate(outcomes, window=timedelta(days=91)) == Rate(2, 5)


def test_pir_completion_for_p0_and_p1() -> None:
    resolved = T0 + 90 * MIN
    outcomes = [
        outcome(1, Priority.P0, pir_completed=resolved + 24 * HOUR),  # on time, just
        outcome(2, Priority.P0, pir_completed=resolved + 24 * HOUR + MIN),  # late
        outcome(3, Priority.P1, pir_completed=resolved + 47 * HOUR),
        outcome(4, Priority.P1),  # missing
        outcome(5, Priority.P2),  # optional: not counted
        outcome(6, Priority.P0, milestones=stamps(detected=5)),  # unresolved: not yet due
    ]
    assert metrics.pir_completion_rate(outcomes) == Rate(3, 4)
    assert metrics.pir_completion_rate(outcomes, on_time=True) == Rate(2, 4)


def test_preventive_action_completion() -> None:
    now = T0 + 30 * DAY
    actions = [
        PreventiveAction("a1", due=T0 + 7 * DAY, completed=T0 + 6 * DAY),  # on time
        PreventiveAction("a2", due=T0 + 7 * DAY, completed=T0 + 8 * DAY),  # late
        PreventiveAction("a3", due=T0 + 14 * DAY),  # overdue
        PreventiveAction("a4", due=T0 + 60 * DAY),  # not due yet: not counted
        PreventiveAction("a5", due=T0 + 60 * DAY, completed=T0 + 20 * DAY),  # done early
        PreventiveAction("a6", due=now, completed=now),  # on the due date counts
    ]
    assert metrics.preventive_action_completion_rate(actions, now) == Rate(3, 5)


@pytest.mark.parametrize("metric", list(Metric))
def test_every_metric_has_an_end_milestone(metric: Metric) -> None:
    m = stamps(detected=1, acknowledged=2, engaged=3, mitigated=4, resolved=5)
    assert metrics.measure(m, metric) is not None
