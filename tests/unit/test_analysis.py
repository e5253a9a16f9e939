"""Judges, limits and the default trigger specs."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from watchstander.analysis.judges import judge
from watchstander.analysis.limits import MetricTally, metric_phase, run_phase, tally
from watchstander.analysis.models import Judge, MetricSpec, NoDataPolicy, Phase, Sample
from watchstander.analysis.specs import build_specs, health_specs
from watchstander.config.models import AnalysisConfig, SloTarget, TriggerConfig

AT = datetime(2026, 11, 21, tzinfo=UTC)


def spec(**kw: object) -> MetricSpec:
    base = {"name": "m", "metric": "error_rate", "judge": Judge.MAX, "limit": 1.0}
    return MetricSpec(**{**base, **kw})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("judge_kind", "limit", "value", "baseline", "expected"),
    [
        (Judge.MAX, 0.01, 0.009, None, Phase.PASS),
        (Judge.MAX, 0.01, 0.011, None, Phase.FAIL),
        (Judge.MIN, 99.0, 98.0, None, Phase.FAIL),
        (Judge.MAX_INCREASE_ABS, 0.02, 0.0299, 0.01, Phase.PASS),
        (Judge.MAX_INCREASE_ABS, 0.02, 0.0301, 0.01, Phase.FAIL),
        (Judge.MAX_INCREASE_PCT, 20, 119.0, 100.0, Phase.PASS),
        (Judge.MAX_INCREASE_PCT, 20, 121.0, 100.0, Phase.FAIL),
        (Judge.MAX_DECREASE_PCT, 30, 71.0, 100.0, Phase.PASS),
        (Judge.MAX_DECREASE_PCT, 30, 69.0, 100.0, Phase.FAIL),
    ],
)
def test_judges(
    judge_kind: Judge, limit: float, value: float, baseline: float | None, expected: Phase
) -> None:
    s = spec(judge=judge_kind, limit=limit)
    base = Sample(value=baseline, count=100) if baseline is not None else None
    m = judge(s, Sample(value=value, count=100, query="q"), base, at=AT)
    assert m.phase is expected
    assert m.value == value and m.query == "q"
    assert m.threshold is not None and m.reason


def test_relative_latency_needs_the_absolute_floor_too() -> None:
    s = spec(metric="latency_p99", judge=Judge.MAX_INCREASE_PCT, limit=20, min_delta=10, unit="ms")
    small = judge(s, Sample(value=3.0, count=100), Sample(value=2.0, count=100), at=AT)
    big = judge(s, Sample(value=160.0, count=100), Sample(value=5.0, count=100), at=AT)
    assert small.phase is Phase.PASS and small.threshold == 12.0
    assert big.phase is Phase.FAIL and "160.0 ms > 15.0 ms" in big.reason


def test_throughput_baseline_is_scaled_by_the_expected_ratio() -> None:
    s = spec(metric="throughput", judge=Judge.MAX_DECREASE_PCT, limit=30)
    m = judge(
        s, Sample(value=4.0, count=40), Sample(value=95.0, count=950), at=AT, expected_ratio=5 / 95
    )
    assert m.phase is Phase.PASS and m.baseline == pytest.approx(5.0)


@pytest.mark.parametrize(
    ("policy", "expected"),
    [
        (NoDataPolicy.FAIL, Phase.FAIL),
        (NoDataPolicy.INCONCLUSIVE, Phase.INCONCLUSIVE),
        (NoDataPolicy.IGNORE, Phase.PASS),
    ],
)
def test_no_data_follows_the_policy(policy: NoDataPolicy, expected: Phase) -> None:
    s = spec(no_data=policy, min_count=20)
    for sample in (
        Sample(value=None),
        Sample(value=math.nan, count=50),
        Sample(value=0.5, count=3),
    ):
        m = judge(s, sample, None, at=AT)
        assert m.phase is expected and m.value is None and policy.value in m.reason


def test_query_errors_are_error_phase_not_exceptions() -> None:
    m = judge(spec(), Sample(value=None, error="timeout"), None, at=AT)
    assert m.phase is Phase.ERROR and "timeout" in m.reason
    rel = spec(judge=Judge.MAX_INCREASE_ABS, limit=0.02)
    m2 = judge(rel, Sample(value=0.01, count=100), Sample(value=None, error="down"), at=AT)
    assert m2.phase is Phase.ERROR and "baseline" in m2.reason


def test_missing_baseline_follows_no_data_policy() -> None:
    rel = spec(judge=Judge.MAX_INCREASE_ABS, limit=0.02, no_data=NoDataPolicy.INCONCLUSIVE)
    assert judge(rel, Sample(value=0.01, count=100), None, at=AT).phase is Phase.INCONCLUSIVE


def test_failure_limit_counts_failures_strictly_above() -> None:
    s = spec(failure_limit=3)
    t = tally([judge(s, Sample(value=2.0, count=1), None, at=AT)] * 3)
    assert metric_phase(s, t, complete=False) is None
    assert metric_phase(s, t.add(Phase.FAIL), complete=False) is Phase.FAIL
    assert (
        metric_phase(spec(failure_limit=-1), MetricTally(total=9, failed=9), complete=True)
        is Phase.ERROR
    )


def test_inconclusive_and_consecutive_error_limits() -> None:
    s = spec(inconclusive_limit=1, consecutive_error_limit=2)
    t = MetricTally().add(Phase.INCONCLUSIVE)
    assert metric_phase(s, t, complete=False) is None
    assert metric_phase(s, t.add(Phase.INCONCLUSIVE), complete=False) is Phase.INCONCLUSIVE
    e = MetricTally().add(Phase.ERROR).add(Phase.ERROR)
    assert metric_phase(s, e, complete=False) is None
    assert metric_phase(s, e.add(Phase.PASS), complete=False) is None  # a pass resets the streak
    assert metric_phase(s, e.add(Phase.ERROR), complete=False) is Phase.ERROR


def test_a_run_where_nothing_passed_is_never_successful() -> None:
    # Argo #4479: all measurements errored or failed -> "Successful". Not here.
    s = spec(consecutive_error_limit=10, inconclusive_limit=10)
    assert (
        metric_phase(s, MetricTally(total=2, errors=2, consecutive_errors=2), complete=True)
        is Phase.ERROR
    )
    assert (
        metric_phase(s, MetricTally(total=2, inconclusive=2), complete=True) is Phase.INCONCLUSIVE
    )


def test_run_phase_reports_the_worst_metric() -> None:
    a, b = spec(name="a"), spec(name="b")
    phase, names = run_phase(
        [a, b],
        {"a": MetricTally(total=1, passed=1), "b": MetricTally(total=1, failed=1)},
        complete=False,
    )
    assert phase is Phase.FAIL and names == ["b"]
    assert run_phase([a], {"a": MetricTally(total=1, passed=1)}, complete=True) == (Phase.PASS, [])


def test_default_specs_are_the_flows_triggers() -> None:
    specs = {s.name: s for s in build_specs(AnalysisConfig(), TriggerConfig())}
    assert specs["error-rate"].limit == 0.02 and specs["error-rate"].judge is Judge.MAX_INCREASE_ABS
    assert specs["latency-p99"].limit == 20 and specs["latency-p99"].judge is Judge.MAX_INCREASE_PCT
    assert specs["throughput"].limit == 30 and specs["throughput"].judge is Judge.MAX_DECREASE_PCT
    assert specs["restarts"].limit == 3 and specs["oom-kills"].limit == 0
    assert specs["unhealthy-instances"].limit == 50


def test_triggers_can_be_switched_off_and_slos_added() -> None:
    triggers = TriggerConfig(throughput_drop_pct=None, max_restarts=None, oom_kill=False)
    specs = build_specs(
        AnalysisConfig(), triggers, [SloTarget(name="fast", metric="latency_p99", max=500)]
    )
    names = [s.name for s in specs]
    assert "throughput" not in names and "restarts" not in names and "oom-kills" not in names
    assert "slo:fast" in names
    assert [s.name for s in health_specs(triggers)] == ["unhealthy-instances"]


def test_per_metric_overrides_replace_the_analysis_wide_settings() -> None:
    from watchstander.config.models import MetricOverride

    analysis = AnalysisConfig(
        no_data="inconclusive",
        metrics={
            "error-rate": MetricOverride(no_data="fail", failure_limit=2, min_requests=100),
            "restarts": MetricOverride(no_data="fail"),
        },
    )
    specs = {s.name: s for s in build_specs(analysis, TriggerConfig())}
    assert specs["error-rate"].no_data is NoDataPolicy.FAIL
    assert specs["error-rate"].failure_limit == 2 and specs["error-rate"].min_count == 100
    assert specs["latency-p99"].no_data is NoDataPolicy.INCONCLUSIVE  # untouched
    assert specs["restarts"].no_data is NoDataPolicy.FAIL
    m = judge(specs["error-rate"], Sample(value=0.0, count=50), Sample(value=0.0, count=500), at=AT)
    assert m.phase is Phase.FAIL and "only 50 requests (< 100)" in m.reason
