"""Error-budget and burn-rate arithmetic at its boundaries, and each alert tier."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from watchstander.slo import alerts
from watchstander.slo.models import (
    Assessment,
    Budget,
    Budgeting,
    Counts,
    SliKind,
    SloDefinition,
    Status,
    Window,
    assess,
    from_data,
    to_data,
    window_budget_share,
)

H = timedelta(hours=1)
M = timedelta(minutes=1)


def availability(objective: float = 0.999, days: int = 30) -> SloDefinition:
    return SloDefinition(
        "availability", "shop", SliKind.AVAILABILITY, objective, Window(days * 24 * H)
    )


def test_budget_arithmetic() -> None:
    b = Budget(0.999, Counts(good=99_950, total=100_000))
    assert b.allowed == pytest.approx(100.0)
    assert b.consumed == pytest.approx(0.5)
    assert b.remaining == pytest.approx(0.5)
    assert b.burn_rate == pytest.approx(0.5)
    assert b.met is True
    assert Budget(0.999, Counts()).consumed is None  # no data is not "all spent"


@pytest.mark.parametrize(
    ("bad", "status", "assessment"),
    [
        (0, Status.ON_TARGET, Assessment.HEALTHY),
        (50, Status.ON_TARGET, Assessment.HEALTHY),  # exactly half left: not yet at risk
        (51, Status.AT_RISK, Assessment.MONITOR),
        (75, Status.AT_RISK, Assessment.MONITOR),  # exactly a quarter left: not critical
        (76, Status.AT_RISK, Assessment.CRITICAL),
        (99, Status.AT_RISK, Assessment.CRITICAL),
        (100, Status.EXCEEDED, Assessment.CRITICAL),  # all of it spent
        (150, Status.EXCEEDED, Assessment.CRITICAL),
    ],
)
def test_status_and_assessment_boundaries(bad: int, status: Status, assessment: Assessment) -> None:
    b = Budget(0.999, Counts(good=100_000 - bad, total=100_000))
    assert assess(b) == (status, assessment)


def test_a_fast_recent_burn_makes_a_healthy_budget_monitor() -> None:
    healthy = Budget(0.999, Counts(good=99_990, total=100_000))
    assert assess(healthy, recent_burn=1.0) == (Status.ON_TARGET, Assessment.HEALTHY)
    assert assess(healthy, recent_burn=1.01) == (Status.AT_RISK, Assessment.MONITOR)


@pytest.mark.parametrize("objective", [1.0, 1.5, 0.0, -0.1])
def test_impossible_objectives_are_refused(objective: float) -> None:
    with pytest.raises(ValueError, match="objective"):
        availability(objective)


def test_latency_and_throughput_need_timeslices_and_thresholds() -> None:
    with pytest.raises(ValueError, match="timeslices"):
        SloDefinition("p95", "shop", SliKind.LATENCY, 0.99, threshold=300, quantile=0.95)
    with pytest.raises(ValueError, match="threshold"):
        SloDefinition(
            "p95", "shop", SliKind.LATENCY, 0.99, budgeting=Budgeting.TIMESLICES, quantile=0.95
        )
    slo = SloDefinition(
        "p95",
        "shop",
        SliKind.LATENCY,
        0.99,
        budgeting=Budgeting.TIMESLICES,
        threshold=300,
        quantile=0.95,
    )
    assert slo.judge(300.0, 10, 60).good == 1.0  # at the threshold is good
    assert slo.judge(300.1, 10, 60).good == 0.0
    assert slo.judge(None, 0, 60) is None  # no data counts neither way


def test_availability_buckets_count_requests() -> None:
    slo = availability()
    bucket = slo.judge(0.01, 1000, 60)
    assert bucket is not None and (bucket.good, bucket.total) == (990.0, 1000.0)
    assert slo.judge(None, 0, 60) is None


def test_window_budget_share_extrapolates_the_window() -> None:
    slo = availability()
    # One day at 0.05% errors spends 0.5/30 of a 30-day 99.9% budget.
    share = window_budget_share(slo, Counts(good=99_950, total=100_000), 24 * H)
    assert share == pytest.approx(0.5 / 30)
    assert window_budget_share(slo, Counts(), 24 * H) is None


def test_calendar_windows_start_at_local_midnight() -> None:
    w = Window(30 * 24 * H, rolling=False, calendar="month", timezone="Europe/Berlin")
    now = datetime(2026, 3, 29, 12, 0, tzinfo=UTC)  # the DST day
    assert w.start(now) == datetime(2026, 2, 28, 23, 0, tzinfo=UTC)
    assert w.end(now) == datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
    week = Window(7 * 24 * H, rolling=False, calendar="week")
    assert week.start(now) == datetime(2026, 3, 23, tzinfo=UTC)  # Monday


def test_definitions_round_trip() -> None:
    slo = SloDefinition(
        "checkout p95",
        "shop",
        SliKind.LATENCY,
        0.99,
        Window(28 * 24 * H),
        Budgeting.TIMESLICES,
        threshold=250,
        quantile=0.95,
        labels={"team": "pay"},
    )
    assert from_data(to_data(slo)) == slo
    assert slo.id == "checkout-p95"


# -- burn-rate tiers -----------------------------------------------------------------------------


def burning(rates: dict[timedelta, float], total: float = 1_000_000.0):  # type: ignore[no-untyped-def]
    """counts_for giving each window an error ratio of rate x budget (0.1%)."""

    def counts_for(d: timedelta) -> Counts:
        ratio = rates.get(d, 0.0) * 0.001
        return Counts(good=total * (1 - ratio), total=total)

    return counts_for


def test_the_default_factors_are_the_workbooks_at_30_days() -> None:
    period = 30 * 24 * H
    assert [round(w.factor(period), 6) for w in alerts.DEFAULT_WINDOWS] == [14.4, 6.0, 3.0, 1.0]
    assert round(alerts.DEFAULT_WINDOWS[0].factor(28 * 24 * H), 6) == 13.44


@pytest.mark.parametrize("tier", range(4))
def test_each_tier_fires_only_when_both_windows_burn_above_its_factor(tier: int) -> None:
    slo = availability()
    w = alerts.DEFAULT_WINDOWS[tier]
    factor = w.factor(slo.window.duration)
    above, below = factor * 1.01, factor * 0.99

    def fired(long: float, short: float) -> list[bool]:
        return [s.firing for s in alerts.evaluate(slo, burning({w.long: long, w.short: short}))]

    assert fired(above, above)[tier] is True
    assert fired(above, below)[tier] is False  # the short window says it stopped
    assert fired(below, above)[tier] is False  # a blip, not significant
    assert fired(factor, factor)[tier] is False  # at the factor is not above it
    expected = alerts.Severity.PAGE if tier < 2 else alerts.Severity.TICKET
    assert w.severity is expected


def test_severity_prefers_page_and_no_data_never_fires() -> None:
    slo = availability()
    states = alerts.evaluate(slo, burning({H: 20, 5 * M: 20, 24 * H: 4, 2 * H: 4}))
    assert alerts.severity(states) is alerts.Severity.PAGE
    quiet = alerts.evaluate(slo, lambda d: Counts())
    assert alerts.severity(quiet) is None
    assert alerts.windows_needed() == [5 * M, 30 * M, H, 2 * H, 6 * H, 24 * H, 72 * H]
    assert alerts.window_label(72 * H) == "3d" and alerts.window_label(30 * M) == "30m"
