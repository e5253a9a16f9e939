"""The staging and production regression gates (watchstander.gates.regression)."""

from __future__ import annotations

import math

import pytest

from watchstander.errors import UsageError
from watchstander.gates.models import (
    GateSeverity,
    MetricComparison,
    TestCase,
    TestRun,
    TestStatus,
)
from watchstander.gates.regression import (
    HardLimits,
    Tolerances,
    checks_as_run,
    compare_metrics,
    compare_tests,
    evaluate,
    exit_code_for,
    regression_rate,
    to_json,
)

P, F, E, S = TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR, TestStatus.SKIPPED


def run(
    statuses: dict[str, TestStatus],
    *,
    critical: tuple[str, ...] = (),
    ref: str = "",
    messages: dict[str, str] | None = None,
) -> TestRun:
    messages = messages or {}
    return TestRun(
        sources=("results.xml",),
        cases=tuple(
            TestCase(id=i, status=s, critical=i in critical, message=messages.get(i, ""))
            for i, s in statuses.items()
        ),
        ref=ref,
    )


def passing(n: int) -> dict[str, TestStatus]:
    return {f"tests.api::t{i:02d}": P for i in range(n)}


def with_lost(n: int, lost: int) -> dict[str, TestStatus]:
    out = passing(n)
    for i in range(lost):
        out[f"tests.api::t{i:02d}"] = F
    return out


# -- regression rate ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("baseline_pass", "candidate_pass", "expected"),
    [
        (100, 95, 5.0),
        (8, 7, 12.5),
        (20, 19, 5.0),
        (20, 18, 10.0),
        (10, 10, 0.0),
        (10, 12, -20.0),  # the candidate passes more: reported as is
        (0, 0, 0.0),  # nothing passed before: nothing to regress from
        (0, 5, 0.0),
    ],
)
def test_regression_rate_formula(baseline_pass: int, candidate_pass: int, expected: float) -> None:
    assert regression_rate(baseline_pass, candidate_pass) == pytest.approx(expected)


# -- the test gate ------------------------------------------------------------------------


def test_zero_threshold_fails_on_one_new_failure() -> None:
    base = run(passing(10), ref="production")
    cand = run(
        with_lost(10, 1),
        ref="staging",
        messages={"tests.api::t00": "AssertionError: 500 != 200\nmore"},
    )
    r = evaluate(baseline=base, candidate=cand, threshold=0.0)
    assert not r.passed and r.decision == "FAIL"
    assert r.regression_rate == pytest.approx(10.0)
    assert r.severity is GateSeverity.HIGH and r.exit_code == 2
    assert [x.test for x in r.new_failures] == ["tests.api::t00"]
    assert r.baseline_ref == "production" and r.candidate_ref == "staging"
    assert "regression rate 10% > threshold 0%" in r.blockers
    assert "test tests.api::t00: passed -> failed (AssertionError: 500 != 200)" in r.blockers


def test_rate_exactly_at_threshold_passes() -> None:
    r = evaluate(baseline=run(passing(20)), candidate=run(with_lost(20, 1)), threshold=5.0)
    assert r.regression_rate == 5.0
    assert r.passed and r.severity is None and r.exit_code == 0 and r.blockers == ()
    # the new failure is still reported
    assert len(r.new_failures) == 1
    assert any("within the threshold" in n for n in r.notes)


def test_rate_above_threshold_fails() -> None:
    r = evaluate(baseline=run(passing(20)), candidate=run(with_lost(20, 2)), threshold=5.0)
    assert r.regression_rate == 10.0
    assert not r.passed and r.exit_code == 2
    assert r.blockers[0] == "regression rate 10% > threshold 5%"
    assert len(r.blockers) == 3  # the rate, then each lost test


def test_critical_new_failure_fails_even_with_rate_zero() -> None:
    base = run({"a::checkout": P, "a::search": F}, critical=("a::checkout",))
    cand = run({"a::checkout": F, "a::search": P}, critical=("a::checkout",))
    r = evaluate(baseline=base, candidate=cand, threshold=50.0)
    assert r.regression_rate == 0.0
    assert r.fixed == ("a::search",)
    assert not r.passed
    assert r.severity is GateSeverity.CRITICAL and r.exit_code == 1
    assert r.blockers == ("test a::checkout: passed -> failed [critical test]",)
    assert r.new_failures[0].action.startswith("fix before release")


def test_fixed_tests_listed_and_nothing_fails() -> None:
    base = run({"a::x": F, "a::y": E, "a::z": P})
    cand = run({"a::x": P, "a::y": P, "a::z": P})
    r = evaluate(baseline=base, candidate=cand)
    assert r.fixed == ("a::x", "a::y")
    assert r.passed and r.regressions == ()
    assert r.regression_rate == pytest.approx(-200.0)
    assert any("passes more tests" in n for n in r.notes)


def test_missing_and_behavior_change() -> None:
    base = run({"a::kept": P, "a::gone": P, "a::skip": P})
    cand = run({"a::kept": P, "a::skip": S})
    cmp = compare_tests(base, cand)
    by = {x.test: x for x in cmp.regressions}
    assert by["a::gone"].type == "missing" and by["a::gone"].severity is GateSeverity.MEDIUM
    assert by["a::gone"].current_status == "absent"
    assert by["a::skip"].type == "behavior_change" and by["a::skip"].severity is GateSeverity.LOW
    assert by["a::skip"].current_status == "skipped"
    assert all(x.action for x in cmp.regressions)
    assert cmp.baseline_pass == 3 and cmp.candidate_pass == 1 and cmp.total == 3
    r = evaluate(baseline=base, candidate=cand, threshold=0)
    assert r.severity is GateSeverity.MEDIUM and r.exit_code == 3


def test_behavior_change_alone_is_minor() -> None:
    base = run({"a::x": P, "a::y": P})
    cand = run({"a::x": P, "a::y": S})
    r = evaluate(baseline=base, candidate=cand)
    assert not r.passed and r.severity is GateSeverity.LOW and r.exit_code == 3


def test_new_test_failing_is_a_new_failure_without_baseline() -> None:
    base = run({"a::x": P})
    cand = run({"a::x": P, "a::new": E}, messages={"a::new": "boom"})
    cmp = compare_tests(base, cand)
    (reg,) = cmp.regressions
    assert reg.type == "new_failure" and reg.baseline_status == "absent"
    assert reg.current_status == "error" and reg.error == "boom"
    # not critical and no pass was lost: the rate is 0
    assert evaluate(baseline=base, candidate=cand).passed
    # a critical new test failing fails the gate
    crit = evaluate(baseline=base, candidate=cand, critical_patterns=("a::new",))
    assert not crit.passed and crit.exit_code == 1


def test_failing_in_both_runs_is_not_a_regression() -> None:
    r = evaluate(baseline=run({"a::x": F, "a::y": P}), candidate=run({"a::x": F, "a::y": P}))
    assert r.passed and r.regressions == ()
    assert any("failing in both runs" in n for n in r.notes)


def test_duplicate_ids_keep_the_worst_status() -> None:
    base = run({"a::x": P})
    cand = TestRun(sources=(), cases=(TestCase("a::x", P), TestCase("a::x", F)))
    cmp = compare_tests(base, cand)
    assert cmp.duplicates == 1
    assert [x.type for x in cmp.regressions] == ["new_failure"]


# -- scopes -------------------------------------------------------------------------------


def _scoped_runs() -> tuple[TestRun, TestRun]:
    base = run(
        {"api::checkout": P, "api::login": P, "ui::banner": P, "payments::refund": P},
        critical=("api::checkout",),
    )
    cand = run(
        {"api::checkout": P, "api::login": F, "ui::banner": F, "payments::refund": F},
        critical=("api::checkout",),
    )
    return base, cand


def test_scope_full_compares_everything() -> None:
    base, cand = _scoped_runs()
    cmp = compare_tests(base, cand, scope="full")
    assert cmp.total == 4 and cmp.out_of_scope == 0
    assert cmp.baseline_pass == 4 and cmp.candidate_pass == 1
    assert cmp.regression_rate == 75.0


def test_scope_critical_uses_flags_and_patterns() -> None:
    base, cand = _scoped_runs()
    cmp = compare_tests(base, cand, scope="critical")
    assert cmp.total == 1 and cmp.out_of_scope == 3 and cmp.regressions == ()
    cmp = compare_tests(base, cand, scope="critical", critical_patterns=("api::log*",))
    assert cmp.total == 2
    assert [(x.test, x.severity) for x in cmp.regressions] == [
        ("api::login", GateSeverity.CRITICAL)
    ]
    r = evaluate(baseline=base, candidate=cand, scope="critical")
    assert r.passed and any("3 test(s) out of scope" in n for n in r.notes)


def test_scope_targeted_fnmatch_and_substring() -> None:
    base, cand = _scoped_runs()
    cmp = compare_tests(base, cand, scope="targeted", targets=("ui::*",))
    assert cmp.total == 1 and [x.test for x in cmp.regressions] == ["ui::banner"]
    cmp = compare_tests(base, cand, scope="targeted", targets=("refund",))
    assert cmp.total == 1 and [x.test for x in cmp.regressions] == ["payments::refund"]
    with pytest.raises(UsageError):
        compare_tests(base, cand, scope="targeted")
    with pytest.raises(UsageError):
        compare_tests(base, cand, scope="module")


# -- metrics ------------------------------------------------------------------------------


def one(
    name: str, base: float | None, cand: float | None, threshold: float = 0.0
) -> MetricComparison:
    (m,) = compare_metrics({name: base}, {name: cand}, threshold=threshold)
    return m


@pytest.mark.parametrize(
    ("cand", "threshold", "regressed", "severity"),
    [
        (0.0109, 0.0, False, None),  # +0.09 pp: within the 0.1 pp noise floor
        (0.011, 0.0, False, None),  # +0.1 pp: exactly at the floor
        (0.0111, 0.0, True, GateSeverity.HIGH),
        (0.02, 1.0, False, None),  # +1.0 pp: exactly at the threshold
        (0.0201, 1.0, True, GateSeverity.HIGH),
        (0.03, 0.0, True, GateSeverity.HIGH),  # +2.0 pp: at the hard limit
        (0.0301, 0.0, True, GateSeverity.CRITICAL),
        (0.005, 0.0, False, None),  # improvement
    ],
)
def test_error_rate_boundaries(
    cand: float, threshold: float, regressed: bool, severity: GateSeverity | None
) -> None:
    m = one("error_rate", 0.01, cand, threshold)
    assert m.unit == "pp"
    assert m.change == pytest.approx((cand - 0.01) * 100)
    assert m.regressed is regressed and m.severity is severity
    assert m.limit == max(threshold, 0.1)


@pytest.mark.parametrize(
    ("name", "base", "cand", "regressed", "severity"),
    [
        ("latency_p99", 100.0, 105.0, False, None),  # 5%: at the percent floor
        ("latency_p99", 100.0, 109.0, False, None),  # 9% but only 9 ms: the ms floor
        ("latency_p99", 300.0, 320.0, True, GateSeverity.HIGH),  # 6.7%, 20 ms
        ("latency_p99", 300.0, 360.0, True, GateSeverity.HIGH),  # 20%: at the hard limit
        ("latency_p99", 300.0, 361.0, True, GateSeverity.CRITICAL),
        ("latency_p95", 300.0, 400.0, True, GateSeverity.HIGH),  # no hard limit for p95
        ("latency_p50", 300.0, 250.0, False, None),
    ],
)
def test_latency_boundaries(
    name: str, base: float, cand: float, regressed: bool, severity: GateSeverity | None
) -> None:
    m = one(name, base, cand)
    assert m.unit == "%"
    assert m.change == pytest.approx((cand - base) / base * 100)
    assert m.regressed is regressed and m.severity is severity


def test_latency_ms_floor_note() -> None:
    m = one("latency_p99", 100.0, 109.0)
    assert "noise floor of 10 ms" in m.note


def test_latency_zero_baseline() -> None:
    small = one("latency_p99", 0.0, 5.0)
    assert small.change == math.inf and not small.regressed
    big = one("latency_p95", 0.0, 11.0)
    assert big.change == math.inf and big.regressed and big.severity is GateSeverity.HIGH
    assert "baseline 0" in big.note


@pytest.mark.parametrize(
    ("cand", "regressed", "severity"),
    [
        (90.0, False, None),  # 10% drop: at the floor
        (89.0, True, GateSeverity.HIGH),
        (70.0, True, GateSeverity.HIGH),  # 30%: at the hard limit
        (69.0, True, GateSeverity.CRITICAL),
        (150.0, False, None),
    ],
)
def test_throughput_boundaries(cand: float, regressed: bool, severity: GateSeverity | None) -> None:
    m = one("throughput", 100.0, cand)
    assert m.change == pytest.approx(100.0 - cand)
    assert m.regressed is regressed and m.severity is severity


def test_throughput_zero_baseline_cannot_drop() -> None:
    m = one("throughput", 0.0, 0.0)
    assert m.change == 0.0 and not m.regressed


def test_availability_drop() -> None:
    assert not one("availability", 0.999, 0.998).regressed  # 0.1 pp: at the floor
    m = one("availability", 0.999, 0.9975)
    assert m.regressed and m.severity is GateSeverity.HIGH and m.change == pytest.approx(0.15)


def test_threshold_raises_every_limit() -> None:
    m = one("latency_p99", 300.0, 345.0, threshold=15.0)  # 15%: exactly at the threshold
    assert not m.regressed and m.limit == 15.0
    assert one("latency_p99", 300.0, 346.0, threshold=15.0).regressed


def test_custom_tolerances_and_hard_limits() -> None:
    (m,) = compare_metrics(
        {"error_rate": 0.01},
        {"error_rate": 0.016},
        threshold=0.0,
        tolerances=Tolerances(error_rate_pp=1.0),
    )
    assert not m.regressed
    (m,) = compare_metrics(
        {"error_rate": 0.01},
        {"error_rate": 0.016},
        threshold=0.0,
        hard=HardLimits(error_rate_pp=0.5),
    )
    assert m.severity is GateSeverity.CRITICAL


def test_missing_metric_data() -> None:
    for base, cand in ((None, 0.01), (0.01, None), (math.nan, 0.01)):
        m = one("error_rate", base, cand)
        assert not m.regressed and m.change is None and m.note.startswith("no data")


def test_unknown_metric_is_not_compared() -> None:
    (m,) = compare_metrics({"cpu": 1.0}, {"cpu": 9.0}, threshold=0)
    assert not m.regressed and "unknown" in m.note


def test_metric_names_order_and_selection() -> None:
    base = {"throughput": 100.0, "error_rate": 0.01, "latency_p99": 100.0}
    got = compare_metrics(base, base, threshold=0)
    assert [m.name for m in got] == ["error_rate", "latency_p99", "throughput"]
    got = compare_metrics(base, base, threshold=0, names=["throughput"])
    assert [m.name for m in got] == ["throughput"]


# -- the metric gate ------------------------------------------------------------------------


def test_metric_regression_fails_the_gate() -> None:
    r = evaluate(
        baseline=None,
        candidate=None,
        baseline_metrics={"error_rate": 0.001, "latency_p99": 200.0},
        candidate_metrics={"error_rate": 0.032, "latency_p99": 201.0},
    )
    assert not r.passed and r.severity is GateSeverity.CRITICAL and r.exit_code == 1
    assert r.blockers == (
        "error_rate +3.10 pp > 0% threshold (noise floor 0.1 pp): beyond the hard limit of 2 pp",
    )
    assert "no test results compared" in r.notes


def test_critical_scope_default_metrics() -> None:
    base = {"error_rate": 0.01, "latency_p50": 10.0, "latency_p99": 100.0, "throughput": 100.0}
    cand = {"error_rate": 0.01, "latency_p50": 90.0, "latency_p99": 100.0, "throughput": 10.0}
    r = evaluate(
        baseline=None,
        candidate=None,
        baseline_metrics=base,
        candidate_metrics=cand,
        scope="critical",
    )
    assert [m.name for m in r.metrics] == ["error_rate", "latency_p99"]
    assert r.passed
    assert any("latency_p50, throughput" in n for n in r.notes)
    full = evaluate(baseline=None, candidate=None, baseline_metrics=base, candidate_metrics=cand)
    assert not full.passed and full.severity is GateSeverity.CRITICAL


def test_metric_no_data_passes_with_a_note() -> None:
    r = evaluate(
        baseline=None,
        candidate=None,
        baseline_metrics={"error_rate": None},
        candidate_metrics={"error_rate": 0.5},
    )
    assert r.passed
    assert any("error_rate: no data" in n for n in r.notes)


# -- severity and exit codes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("severity", "code"),
    [
        (None, 0),
        (GateSeverity.CRITICAL, 1),
        (GateSeverity.HIGH, 2),
        (GateSeverity.MEDIUM, 3),
        (GateSeverity.LOW, 3),
    ],
)
def test_exit_codes(severity: GateSeverity | None, code: int) -> None:
    assert exit_code_for(severity) == code


def test_worst_failing_item_sets_the_severity() -> None:
    base = run({"a::x": P, "a::gone": P})
    cand = run({"a::x": P})
    r = evaluate(
        baseline=base,
        candidate=cand,
        baseline_metrics={"throughput": 100.0},
        candidate_metrics={"throughput": 80.0},
    )
    # missing (MEDIUM) and a 20% throughput drop (HIGH)
    assert r.severity is GateSeverity.HIGH and r.exit_code == 2
    assert any(b.startswith("throughput +20.00%") for b in r.blockers)


# -- usage errors -------------------------------------------------------------------------


def test_usage_errors() -> None:
    with pytest.raises(UsageError):
        evaluate(baseline=None, candidate=None)
    with pytest.raises(UsageError):
        evaluate(baseline=run(passing(1)), candidate=None)
    with pytest.raises(UsageError):
        evaluate(baseline=None, candidate=None, baseline_metrics={"error_rate": 0.1})
    with pytest.raises(UsageError):
        evaluate(baseline=run(passing(1)), candidate=run(passing(1)), threshold=-1)
    with pytest.raises(UsageError):
        evaluate(baseline=run(passing(1)), candidate=run(passing(1)), scope="changed-files")


# -- JSON -----------------------------------------------------------------------------------


def test_json_shape() -> None:
    base = run({"a::x": P, "a::y": P, "a::z": F, "a::s": P}, ref="production")
    cand = run({"a::x": F, "a::z": P, "a::s": S}, ref="staging")
    r = evaluate(
        baseline=base,
        candidate=cand,
        baseline_metrics={"latency_p99": 100.0},
        candidate_metrics={"latency_p99": 200.0},
    )
    doc = to_json(
        r,
        baseline_commit="abc123",
        baseline_timestamp="2026-11-20T10:00:00Z",
        current_commit="def456",
        current_timestamp="2026-11-21T10:00:00Z",
    )
    for key in ("baseline", "current", "summary", "regressions", "verdict"):
        assert key in doc
    assert doc["baseline"] == {
        "ref": "production",
        "commit": "abc123",
        "timestamp": "2026-11-20T10:00:00Z",
    }
    assert doc["current"] == {
        "ref": "staging",
        "commit": "def456",
        "timestamp": "2026-11-21T10:00:00Z",
    }
    assert doc["summary"] == {
        "new_failures": 1,
        "behavior_changes": 1,
        "fixed_tests": 1,
        "total_tests": 4,
    }
    assert doc["verdict"] == "FAIL"
    keys = {"test", "type", "severity", "baseline_status", "current_status", "error", "action"}
    assert all(set(x) == keys for x in doc["regressions"])
    types = [x["type"] for x in doc["regressions"]]
    assert types == ["new_failure", "missing", "behavior_change", "performance"]
    perf = doc["regressions"][-1]
    assert perf["test"] == "latency_p99" and perf["severity"] == "CRITICAL"
    assert doc["exit_code"] == 1 and doc["severity"] == "CRITICAL"
    assert doc["metrics"][0]["name"] == "latency_p99"
    assert doc["regression_rate"] == pytest.approx(200 / 3)


def test_json_passing_and_infinite_change() -> None:
    r = evaluate(
        baseline=None,
        candidate=None,
        baseline_metrics={"latency_p99": 0.0},
        candidate_metrics={"latency_p99": 5.0},
    )
    doc = to_json(r)
    assert doc["verdict"] == "PASS" and doc["exit_code"] == 0 and doc["severity"] is None
    assert doc["metrics"][0]["change"] is None  # +inf is not JSON
    assert doc["baseline"]["commit"] is None


# -- smoke checks as a run ------------------------------------------------------------------


def test_checks_as_run_and_the_production_gate() -> None:
    before = checks_as_run({"health": True, "login": True, "journey::buy": True}, ref="pre")
    assert [c.id for c in before.cases] == ["smoke::health", "smoke::login", "journey::buy"]
    assert all(c.critical and c.status is P for c in before.cases)
    assert before.ref == "pre"
    after = checks_as_run({"health": True, "login": False, "journey::buy": True}, ref="post")
    r = evaluate(baseline=before, candidate=after, scope="critical", threshold=50)
    assert not r.passed and r.exit_code == 1
    assert r.baseline_ref == "pre" and r.candidate_ref == "post"
    soft = checks_as_run({"x": False}, ref="r", critical=False)
    assert not soft.cases[0].critical and soft.cases[0].status is F
