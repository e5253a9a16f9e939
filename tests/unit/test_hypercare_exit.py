"""Hypercare exit criteria: each criterion alone, the clocks, the boundaries, the decision
and the extension plan."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from watchstander.hypercare.exit import (
    AREAS,
    BLOCKING,
    ExitDecision,
    ExitInputs,
    ExitStatus,
    ExitVerdict,
    IncidentFact,
    SloFact,
    evaluate,
)
from watchstander.hypercare.models import HypercarePeriod, Risk

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
NOW = START + timedelta(days=10)
H = timedelta(hours=1)
KEYS = [
    "no_p0_48h",
    "no_p1_24h",
    "slos_72h",
    "budget",
    "no_open_p0_p1",
    "pirs",
    "adoption",
    "sentiment",
    "support_ready",
]

PERIOD = HypercarePeriod(
    id="HC-2026-03-02-001",
    service="checkout",
    version="2.4.0",
    start=START,
    days=14,
    risk=Risk.HIGH,
).sign("support-lead", "sam", NOW - 2 * H)

# Old, resolved and reviewed: they count for the PIR criterion but are outside every clock.
OLD_P0 = IncidentFact("INC-2026-03-05-001", "P0", NOW - 5 * 24 * H, open=False, pir_done=True)
OLD_P1 = IncidentFact("INC-2026-03-09-001", "P1", NOW - 3 * 24 * H, open=False, pir_done=True)
OLD_P2 = IncidentFact("INC-2026-03-11-001", "P2", NOW - 2 * H, open=True, pir_done=False)
SLOS = (
    SloFact("availability", met_hours=100, budget_burn=0.2),
    SloFact("latency", met_hours=90, budget_burn=0.3),
)


def passing(**kw: Any) -> ExitInputs:
    base = ExitInputs(
        now=NOW,
        period=PERIOD,
        incidents=(OLD_P0, OLD_P1, OLD_P2),
        slos=SLOS,
        adoption_trend="INCREASING",
        sentiment_positive_pct=82.0,
    )
    return replace(base, **kw)


def met(verdict: ExitVerdict) -> dict[str, bool | None]:
    return {c.key: c.met for c in verdict.criteria}


def p0(ago: timedelta, id: str = "INC-X-P0", open: bool = False) -> IncidentFact:
    return IncidentFact(id, "P0", NOW - ago, open=open, pir_done=True)


def p1(ago: timedelta, id: str = "INC-X-P1", open: bool = False) -> IncidentFact:
    return IncidentFact(id, "P1", NOW - ago, open=open, pir_done=True)


def test_the_baseline_passes() -> None:
    v = evaluate(passing())
    assert [c.key for c in v.criteria] == KEYS
    assert all(c.met is True for c in v.criteria), v.criteria
    assert v.status is ExitStatus.PASS
    assert v.decision is ExitDecision.END
    assert v.unmet == v.conditions == v.escalation == ()
    assert v.extension is None
    assert v.day == 11
    assert {c.key for c in v.criteria if c.blocking} == BLOCKING
    assert {c.area for c in v.criteria} == set(AREAS)


# One thing broken at a time: which criterion changes, to what, and the outcome.
CASES: list[tuple[str, dict[str, Any], dict[str, bool | None], ExitStatus, ExitDecision]] = [
    (
        "P0 10 h ago",
        {"incidents": (OLD_P0, OLD_P1, p0(10 * H))},
        {"no_p0_48h": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "P1 5 h ago",
        {"incidents": (OLD_P0, OLD_P1, p1(5 * H))},
        {"no_p1_24h": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "SLO streak 71 h",
        {"slos": (SLOS[0], SloFact("latency", 71, 0.3))},
        {"slos_72h": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "SLO not met now",
        {"slos": (SLOS[0], SloFact("latency", 90, 0.3, compliant_now=False))},
        {"slos_72h": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "no SLOs",
        {"slos": ()},
        {"slos_72h": None, "budget": None},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "budget burn 50%",
        {"slos": (SLOS[0], SloFact("latency", 90, 0.5))},
        {"budget": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "budget burn unknown",
        {"slos": (SLOS[0], SloFact("latency", 90, None))},
        {"budget": None},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "budget exhausted",
        {"slos": (SLOS[0], SloFact("latency", 90, 1.0))},
        {"budget": False},
        ExitStatus.FAIL,
        ExitDecision.ESCALATE,
    ),
    (
        "old P1 still open",
        {"incidents": (OLD_P0, replace(OLD_P1, open=True))},
        {"no_open_p0_p1": False},
        ExitStatus.FAIL,
        ExitDecision.EXTEND,
    ),
    (
        "old P0 still open",
        {"incidents": (replace(OLD_P0, open=True), OLD_P1)},
        {"no_open_p0_p1": False},
        ExitStatus.FAIL,
        ExitDecision.ESCALATE,
    ),
    (
        "PIR missing",
        {"incidents": (replace(OLD_P0, pir_done=False), OLD_P1)},
        {"pirs": False},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "adoption decreasing",
        {"adoption_trend": "DECREASING"},
        {"adoption": False},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "adoption unknown",
        {"adoption_trend": None},
        {"adoption": None},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "sentiment 69.9%",
        {"sentiment_positive_pct": 69.9},
        {"sentiment": False},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "sentiment unknown",
        {"sentiment_positive_pct": None},
        {"sentiment": None},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    (
        "no support sign-off",
        {"period": replace(PERIOD, signoffs=())},
        {"support_ready": False},
        ExitStatus.CONDITIONAL,
        ExitDecision.END,
    ),
    # Not breaking anything: still a PASS.
    ("adoption stable", {"adoption_trend": "stable"}, {}, ExitStatus.PASS, ExitDecision.END),
    ("sentiment 70%", {"sentiment_positive_pct": 70.0}, {}, ExitStatus.PASS, ExitDecision.END),
    ("P2 open", {"incidents": (OLD_P2,)}, {}, ExitStatus.PASS, ExitDecision.END),
]


@pytest.mark.parametrize(
    ("change", "changed", "status", "decision"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_each_criterion_alone_changes_the_verdict(
    change: dict[str, Any],
    changed: dict[str, bool | None],
    status: ExitStatus,
    decision: ExitDecision,
) -> None:
    v = evaluate(passing(**change))
    expected = {key: changed.get(key, True) for key in KEYS}
    assert met(v) == expected
    assert (v.status, v.decision) == (status, decision)
    not_met = [c for c in v.criteria if c.met is False]
    assert v.unmet == tuple(f"{c.label}: {c.detail}" for c in not_met)
    if status is ExitStatus.CONDITIONAL:
        assert len(v.conditions) == len(changed)
        assert v.extension is None
    elif status is ExitStatus.FAIL:
        assert v.conditions == ()
        assert v.extension is not None
        assert (decision is ExitDecision.ESCALATE) == bool(v.escalation)
    else:
        assert v.extension is None and v.conditions == ()


def test_unknown_conditions_say_so() -> None:
    v = evaluate(passing(sentiment_positive_pct=None, adoption_trend="DECREASING"))
    assert v.conditions == (
        "User adoption trending positive: decreasing",
        "User sentiment at least 70% positive: unknown (no sentiment data)",
    )


# -- the clocks -------------------------------------------------------------------------------


def test_a_p0_clock_needs_a_full_48_hours() -> None:
    almost = evaluate(passing(incidents=(p0(47 * H + 59 * timedelta(minutes=1)),)))
    assert almost.criterion("no_p0_48h").met is False
    assert "clears at 2026-03-12T09:01+00:00 (in 1 min)" in almost.criterion("no_p0_48h").detail
    exactly = evaluate(passing(incidents=(p0(48 * H),)))
    assert exactly.criterion("no_p0_48h").met is True
    assert exactly.status is ExitStatus.PASS


def test_a_p1_clock_needs_a_full_24_hours() -> None:
    assert evaluate(passing(incidents=(p1(24 * H - timedelta(seconds=1)),))).status is (
        ExitStatus.FAIL
    )
    assert evaluate(passing(incidents=(p1(24 * H),))).criterion("no_p1_24h").met is True


def test_a_later_p0_restarts_the_clock() -> None:
    first = p0(60 * H, "INC-FIRST")
    assert evaluate(passing(incidents=(first,))).criterion("no_p0_48h").met is True
    second = p0(30 * H, "INC-SECOND")
    v = evaluate(passing(incidents=(first, second)))
    c = v.criterion("no_p0_48h")
    assert c.met is False
    assert "INC-SECOND" in c.detail and "INC-FIRST" not in c.detail
    clears = NOW - 30 * H + 48 * H
    assert f"clears at {clears.isoformat(timespec='minutes')}" in c.detail
    assert v.extension is not None
    assert v.extension.days == 1  # 18 h to go
    assert v.extension.revalidation == NOW + timedelta(days=1)


def test_every_p0_in_the_window_is_named() -> None:
    v = evaluate(passing(incidents=(p0(40 * H, "INC-A"), p0(3 * H, "INC-B"))))
    assert "P0 INC-A, INC-B detected in the last 48 h" in v.criterion("no_p0_48h").detail


def test_incidents_after_now_are_not_counted() -> None:
    later = IncidentFact("INC-LATER", "P0", NOW + H, open=True, pir_done=False)
    v = evaluate(passing(incidents=(OLD_P0, later)))
    assert v.status is ExitStatus.PASS


def test_sev_aliases_are_accepted() -> None:
    fact = IncidentFact("INC-1", "SEV1", NOW - H, open=False)
    assert fact.priority == "P0"


# -- boundaries -------------------------------------------------------------------------------


@pytest.mark.parametrize(("hours", "ok"), [(72, True), (71, False), (500, True), (0, False)])
def test_slo_streak_boundary(hours: int, ok: bool) -> None:
    v = evaluate(passing(slos=(SloFact("availability", hours, 0.1),)))
    assert v.criterion("slos_72h").met is ok


def test_slo_detail_names_each_short_slo() -> None:
    slos = (
        SloFact("availability", 80, 0.1),
        SloFact("latency", 41, 0.1),
        SloFact("errors", 200, 0.1, compliant_now=False),
    )
    c = evaluate(passing(slos=slos)).criterion("slos_72h")
    assert c.detail == "latency: 41 h of 72; errors: 0 h of 72 (not met now)"


@pytest.mark.parametrize(("burn", "ok"), [(0.5, False), (0.4999, True), (0.0, True), (0.75, False)])
def test_budget_boundary(burn: float, ok: bool) -> None:
    v = evaluate(passing(slos=(SloFact("availability", 100, burn),)))
    assert v.criterion("budget").met is ok


def test_a_failing_burn_outweighs_an_unknown_one() -> None:
    slos = (SloFact("a", 100, None), SloFact("b", 100, 0.6))
    c = evaluate(passing(slos=slos)).criterion("budget")
    assert c.met is False
    assert c.detail == "b burned 60% of the period's budget"


@pytest.mark.parametrize(("pct", "ok"), [(70.0, True), (69.99, False), (100.0, True)])
def test_sentiment_boundary(pct: float, ok: bool) -> None:
    assert evaluate(passing(sentiment_positive_pct=pct)).criterion("sentiment").met is ok


# -- decision and extension plan --------------------------------------------------------------


def test_extension_plan_for_a_recent_p0() -> None:
    v = evaluate(passing(incidents=(p0(10 * H),)))
    assert v.decision is ExitDecision.EXTEND
    plan = v.extension
    assert plan is not None
    assert plan.days == 2  # 38 h to go
    assert plan.focus == ("Production stability",)
    assert plan.revalidation == NOW + timedelta(days=2)


def test_extension_plan_for_a_short_slo_streak() -> None:
    v = evaluate(passing(slos=(SloFact("latency", 20, 0.1),)))
    plan = v.extension
    assert plan is not None
    assert plan.days == 3  # 52 more hours
    assert plan.focus == ("SLO compliance",)
    assert plan.needs == ("latency needs 52 more hours met in a row",)


def test_extension_plan_takes_the_longest_need_and_every_failing_area() -> None:
    v = evaluate(
        passing(
            incidents=(p1(H),),  # 23 h to clear
            slos=(SloFact("latency", 60, 0.6),),  # 12 h short, budget over
            adoption_trend="DECREASING",
        )
    )
    assert v.decision is ExitDecision.EXTEND
    plan = v.extension
    assert plan is not None
    assert plan.days == 1
    assert plan.focus == ("Production stability", "SLO compliance", "Error budget", "User adoption")
    assert len(plan.needs) == 2


def test_extension_plan_has_at_least_one_day() -> None:
    v = evaluate(passing(slos=(SloFact("latency", 100, 0.7),)))
    assert v.extension is not None
    assert v.extension.days == 1
    assert v.extension.focus == ("Error budget",)
    assert v.extension.needs == ()


def test_an_open_p0_escalates_and_needs_48h_from_now() -> None:
    v = evaluate(passing(incidents=(replace(OLD_P0, open=True),)))
    assert v.decision is ExitDecision.ESCALATE
    assert v.escalation == ("P0 still open: INC-2026-03-05-001",)
    assert v.extension is not None
    assert v.extension.days == 2
    assert v.extension.revalidation == NOW + timedelta(days=2)


def test_an_open_p1_needs_24h_from_now() -> None:
    v = evaluate(passing(incidents=(replace(OLD_P1, open=True),)))
    assert v.decision is ExitDecision.EXTEND
    assert v.extension is not None and v.extension.days == 1


def test_a_third_failure_escalates() -> None:
    twice = PERIOD.extend(3, "P1", "lead", NOW - 4 * 24 * H).extend(2, "SLO", "lead", NOW - H)
    once = PERIOD.extend(3, "P1", "lead", NOW - 4 * 24 * H)
    failing = {"incidents": (p1(2 * H),)}
    assert evaluate(passing(period=once, **failing)).decision is ExitDecision.EXTEND
    v = evaluate(passing(period=twice, **failing))
    assert v.decision is ExitDecision.ESCALATE
    assert v.escalation == ("already extended 2 times (5 days)",)
    # Extensions alone do not fail a passing period.
    assert evaluate(passing(period=twice)).decision is ExitDecision.END


def test_an_exhausted_budget_escalates_with_the_reason() -> None:
    v = evaluate(passing(slos=(SloFact("availability", 100, 1.25),)))
    assert v.escalation == (
        "error budget exhausted: availability burned 125% of the period's budget",
    )


def test_bad_inputs_are_refused() -> None:
    with pytest.raises(ValueError, match="adoption trend"):
        passing(adoption_trend="UP")
    with pytest.raises(ValueError, match="sentiment"):
        passing(sentiment_positive_pct=101.0)
    with pytest.raises(ValueError, match="met_hours"):
        SloFact("x", -1)
    with pytest.raises(ValueError, match="budget_burn"):
        SloFact("x", 1, float("nan"))
    with pytest.raises(ValueError, match="timezone-aware"):
        passing(now=datetime(2026, 3, 12))


def test_verdict_data_is_json_able() -> None:
    v = evaluate(passing(incidents=(p0(10 * H),)))
    data = json.loads(json.dumps(v.to_data()))
    assert data["status"] == "FAIL"
    assert data["decision"] == "EXTEND HYPERCARE"
    assert data["period_id"] == "HC-2026-03-02-001"
    assert [c["key"] for c in data["criteria"]] == KEYS
    assert data["criteria"][0]["met"] is False
    assert data["extension"]["days"] == 2
    assert data["extension"]["revalidation"] == (NOW + timedelta(days=2)).isoformat()
    assert evaluate(passing()).to_data()["extension"] is None


def test_evaluation_is_deterministic() -> None:
    inputs = passing(incidents=(p0(10 * H), p1(2 * H), OLD_P0), adoption_trend=None)
    assert evaluate(inputs) == evaluate(inputs)
    assert evaluate(inputs).to_data() == evaluate(replace(inputs)).to_data()
