"""The staging and production regression gates: compare a candidate with a baseline.

Two comparisons feed one PASS / FAIL decision (the flow's "Regression Detection
Methodology"):

* Tests. The regression rate is
  ``(baseline_pass - candidate_pass) / baseline_pass * 100`` over the tests in scope, held
  against the threshold (percent; exactly at the threshold passes). Each test that passed
  in the baseline and does not pass in the candidate is listed as a regression:
  ``new_failure`` (failed or errored; CRITICAL for a critical test, else HIGH), ``missing``
  (absent from the candidate; MEDIUM) or ``behavior_change`` (now skipped; LOW). A test
  that did not pass in the baseline (absent or skipped) and fails in the candidate is a
  ``new_failure`` too. A critical new failure fails the gate whatever the rate, so fixed
  tests can never hide a broken critical path.
* Metrics. Error rate, latency, throughput and availability changes, each held against
  ``max(threshold, noise floor)``; a change beyond the flow's hard rollback triggers
  (error rate +2 pp, p99 +20%, throughput -30%) is CRITICAL.

Floating-point comparisons allow 1e-9 of slack, so a change that is exactly at its limit
(``0.021 - 0.001`` is not exactly ``0.02``) counts as at the limit, not above it.

Pure: no IO, no clock.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from watchstander.errors import UsageError
from watchstander.gates.models import (
    GateSeverity,
    MetricComparison,
    RegressionResult,
    TestCase,
    TestRegression,
    TestRun,
    TestStatus,
)

__all__ = [
    "SCOPES",
    "METRICS",
    "CRITICAL_METRICS",
    "Tolerances",
    "HardLimits",
    "SuiteComparison",
    "compare_metrics",
    "compare_tests",
    "regression_rate",
    "evaluate",
    "exit_code_for",
    "to_json",
    "checks_as_run",
]

SCOPES = ("full", "critical", "targeted")
# Known metrics, in report order.
METRICS = (
    "error_rate",
    "latency_p50",
    "latency_p95",
    "latency_p99",
    "throughput",
    "availability",
)
# What the "critical" scope compares by default (when present).
CRITICAL_METRICS = ("error_rate", "latency_p99", "availability")

_EPS = 1e-9
_FAILING = (TestStatus.FAILED, TestStatus.ERROR)
# Worst first: which status a duplicated test id keeps.
_STATUS_RANK = {
    TestStatus.ERROR: 0,
    TestStatus.FAILED: 1,
    TestStatus.PASSED: 2,
    TestStatus.SKIPPED: 3,
}
_SEVERITY_RANK = {
    GateSeverity.CRITICAL: 0,
    GateSeverity.HIGH: 1,
    GateSeverity.MEDIUM: 2,
    GateSeverity.LOW: 3,
}
_MAX_TEST_BLOCKERS = 20


@dataclass(frozen=True)
class Tolerances:
    """Noise floors: a metric change at or below these is never a regression, whatever the
    threshold. A latency change must exceed both the percentage and the absolute floor."""

    error_rate_pp: float = 0.1  # percentage points
    latency_pct: float = 5.0
    latency_ms: float = 10.0
    throughput_pct: float = 10.0  # percent drop
    availability_pp: float = 0.1  # percentage points of drop


@dataclass(frozen=True)
class HardLimits:
    """The flow's hard rollback triggers: a metric regression beyond these is CRITICAL."""

    error_rate_pp: float = 2.0
    latency_p99_pct: float = 20.0
    throughput_drop_pct: float = 30.0


@dataclass(frozen=True)
class SuiteComparison:
    """The test half of a regression gate (see compare_tests)."""

    scope: str
    baseline_pass: int  # tests in scope that passed in the baseline
    candidate_pass: int  # tests in scope that passed in the candidate
    total: int  # distinct test ids in scope, from both runs
    out_of_scope: int  # distinct test ids the scope left out
    regressions: tuple[TestRegression, ...]  # new failures first, then by severity and id
    fixed: tuple[str, ...]  # failed/errored in the baseline, passed in the candidate
    still_failing: tuple[str, ...]  # failing in both runs (not a regression)
    duplicates: int = 0  # test ids seen more than once in a run (worst status kept)

    @property
    def new_failures(self) -> tuple[TestRegression, ...]:
        return tuple(r for r in self.regressions if r.type == "new_failure")

    @property
    def regression_rate(self) -> float:
        return regression_rate(self.baseline_pass, self.candidate_pass)


# -- helpers ----------------------------------------------------------------------------------


def _gt(value: float, limit: float) -> bool:
    return value > limit + _EPS


def _fmt(value: float) -> str:
    return f"{value:g}"


def _fmt_change(change: float | None, unit: str) -> str:
    if change is None:
        return "n/a"
    if math.isinf(change):
        return "+inf%" if unit == "%" else "+inf pp"
    return f"{change:+.2f}%" if unit == "%" else f"{change:+.2f} pp"


def _fmt_limit(limit: float, unit: str) -> str:
    return f"{_fmt(limit)}%" if unit == "%" else f"{_fmt(limit)} pp"


def _value(mapping: Mapping[str, float | None], name: str) -> float | None:
    v = mapping.get(name)
    if v is None:
        return None
    v = float(v)
    return None if math.isnan(v) else v


# -- metrics ----------------------------------------------------------------------------------


def compare_metrics(
    baseline: Mapping[str, float | None],
    candidate: Mapping[str, float | None],
    *,
    threshold: float,
    tolerances: Tolerances = Tolerances(),
    hard: HardLimits = HardLimits(),
    names: Sequence[str] | None = None,
) -> tuple[MetricComparison, ...]:
    """Compare metric values of a candidate with a baseline.

    Units: ``error_rate`` and ``availability`` are fractions (0..1) and their changes are
    reported in percentage points (error rate: increase, availability: drop); latencies
    (``latency_p50/p95/p99``) are ms and change in percent of the baseline; ``throughput``
    is rps and changes as a percent drop. A positive change is always worse.

    A metric regresses when its change exceeds ``max(threshold, noise floor)`` (latency:
    and also the absolute ms floor). A value missing (or None/NaN) on either side compares
    as "no data" and never regresses. A zero latency baseline makes any candidate above
    zero a +inf% change, so it regresses exactly when it exceeds the ms floor; a zero
    throughput baseline cannot drop. Unknown metric names are reported but not compared.

    ``names`` selects and orders the metrics; by default every name in either mapping
    (known metrics in METRICS order, then the others sorted).
    """
    if names is None:
        present = set(baseline) | set(candidate)
        names = [m for m in METRICS if m in present] + sorted(present - set(METRICS))
    return tuple(
        _compare_one(
            name,
            _value(baseline, name),
            _value(candidate, name),
            threshold=threshold,
            tol=tolerances,
            hard=hard,
        )
        for name in names
    )


def _compare_one(
    name: str,
    base: float | None,
    cand: float | None,
    *,
    threshold: float,
    tol: Tolerances,
    hard: HardLimits,
) -> MetricComparison:
    unit = "pp" if name in ("error_rate", "availability") else "%"
    if name not in METRICS:
        return MetricComparison(
            name, base, cand, None, unit, threshold, False, note="unknown metric: not compared"
        )
    if name == "error_rate":
        floor, hard_limit = tol.error_rate_pp, hard.error_rate_pp
    elif name == "availability":
        floor, hard_limit = tol.availability_pp, math.inf
    elif name == "throughput":
        floor, hard_limit = tol.throughput_pct, hard.throughput_drop_pct
    else:
        floor = tol.latency_pct
        hard_limit = hard.latency_p99_pct if name == "latency_p99" else math.inf
    limit = max(threshold, floor)
    if base is None or cand is None:
        side = "baseline" if base is None else "candidate"
        if base is None and cand is None:
            side = "baseline or candidate"
        return MetricComparison(
            name, base, cand, None, unit, limit, False, note=f"no data ({side})"
        )

    note = ""
    if name == "error_rate":
        change = (cand - base) * 100.0
        regressed = _gt(change, limit)
    elif name == "availability":
        change = (base - cand) * 100.0
        regressed = _gt(change, limit)
    elif name == "throughput":
        if base <= 0:
            change = 0.0
            note = "baseline 0 rps: no drop possible"
        else:
            change = (base - cand) / base * 100.0
        regressed = _gt(change, limit)
    else:
        delta_ms = cand - base
        if base <= 0:
            change = math.inf if cand > 0 else 0.0
            note = "baseline 0 ms: any increase is +inf%"
        else:
            change = delta_ms / base * 100.0
        regressed = _gt(change, limit) and _gt(delta_ms, tol.latency_ms)
        if not regressed and _gt(change, limit):
            note = _join(note, f"within noise floor of {_fmt(tol.latency_ms)} ms")

    if not regressed and _gt(change, threshold) and not _gt(change, floor):
        note = _join(note, f"within noise floor of {_fmt_limit(floor, unit)}")
    severity: GateSeverity | None = None
    if regressed:
        if _gt(change, hard_limit):
            severity = GateSeverity.CRITICAL
            note = _join(note, f"beyond the hard limit of {_fmt_limit(hard_limit, unit)}")
        else:
            severity = GateSeverity.HIGH
    return MetricComparison(name, base, cand, change, unit, limit, regressed, severity, note)


def _join(a: str, b: str) -> str:
    return f"{a}; {b}" if a else b


# -- tests ------------------------------------------------------------------------------------


def _index(run: TestRun) -> tuple[dict[str, TestCase], int]:
    """Cases by id; a duplicated id keeps its worst status. Returns (index, duplicates)."""
    out: dict[str, TestCase] = {}
    dups = 0
    for case in run.cases:
        seen = out.get(case.id)
        if seen is None:
            out[case.id] = case
            continue
        dups += 1
        worse = case if _STATUS_RANK[case.status] < _STATUS_RANK[seen.status] else seen
        if case.critical and not worse.critical:
            worse = TestCase(
                worse.id,
                worse.status,
                worse.message,
                worse.duration,
                worse.suite,
                True,
                worse.source,
            )
        out[case.id] = worse
    return out, dups


def _matches(test_id: str, patterns: Iterable[str], *, substring: bool) -> bool:
    for p in patterns:
        if fnmatchcase(test_id, p) or (substring and p and p in test_id):
            return True
    return False


def _action(kind: str, *, critical: bool, new_test: bool) -> str:
    if kind == "new_failure":
        if new_test:
            return "fix the new failing test (or the code it covers) before release"
        if critical:
            return "fix before release: a critical test broke"
        return "fix before release"
    if kind == "missing":
        return "confirm the test was removed on purpose, or restore it"
    return "confirm why the test is now skipped"


def compare_tests(
    baseline: TestRun,
    candidate: TestRun,
    *,
    scope: str = "full",
    targets: Sequence[str] = (),
    critical_patterns: Sequence[str] = (),
) -> SuiteComparison:
    """Compare two test runs by test id, over the tests in scope.

    Scopes: ``full`` all tests; ``critical`` tests marked critical in either run or whose id
    matches one of ``critical_patterns`` (fnmatch); ``targeted`` tests whose id matches one
    of ``targets`` (fnmatch, or a plain substring of the id). A test is critical (for
    severity) by the same rule in every scope. Raises UsageError for an unknown scope and
    for ``targeted`` without targets.
    """
    if scope not in SCOPES:
        raise UsageError(f"unknown regression scope {scope!r}: use one of {', '.join(SCOPES)}")
    if scope == "targeted" and not any(t for t in targets):
        raise UsageError("scope 'targeted' needs at least one target (a test id pattern)")
    base, base_dups = _index(baseline)
    cand, cand_dups = _index(candidate)

    def is_critical(test_id: str) -> bool:
        b, c = base.get(test_id), cand.get(test_id)
        return bool(
            (b is not None and b.critical)
            or (c is not None and c.critical)
            or _matches(test_id, critical_patterns, substring=False)
        )

    def in_scope(test_id: str) -> bool:
        if scope == "critical":
            return is_critical(test_id)
        if scope == "targeted":
            return _matches(test_id, targets, substring=True)
        return True

    all_ids = list(base) + [i for i in cand if i not in base]
    ids = [i for i in all_ids if in_scope(i)]
    regressions: list[TestRegression] = []
    fixed: list[str] = []
    still: list[str] = []
    for test_id in ids:
        b, c = base.get(test_id), cand.get(test_id)
        b_status = b.status if b is not None else None
        c_status = c.status if c is not None else None
        critical = is_critical(test_id)
        b_text = b_status.value if b_status is not None else "absent"
        c_text = c_status.value if c_status is not None else "absent"
        kind: str | None = None
        severity = GateSeverity.HIGH
        if b_status is TestStatus.PASSED:
            if c_status in _FAILING:
                kind = "new_failure"
                severity = GateSeverity.CRITICAL if critical else GateSeverity.HIGH
            elif c_status is None:
                kind, severity = "missing", GateSeverity.MEDIUM
            elif c_status is TestStatus.SKIPPED:
                kind, severity = "behavior_change", GateSeverity.LOW
        elif b_status in _FAILING:
            if c_status is TestStatus.PASSED:
                fixed.append(test_id)
            elif c_status in _FAILING:
                still.append(test_id)
        elif c_status in _FAILING:  # absent or skipped in the baseline
            kind = "new_failure"
            severity = GateSeverity.CRITICAL if critical else GateSeverity.HIGH
        if kind is None:
            continue
        error = c.message if c is not None and c_status in _FAILING else ""
        regressions.append(
            TestRegression(
                test=test_id,
                type=kind,
                severity=severity,
                baseline_status=b_text,
                current_status=c_text,
                error=error,
                action=_action(kind, critical=critical, new_test=b_status is not TestStatus.PASSED),
            )
        )
    order = {"new_failure": 0, "missing": 1, "behavior_change": 2}
    regressions.sort(key=lambda r: (order[r.type], _SEVERITY_RANK[r.severity], r.test))
    return SuiteComparison(
        scope=scope,
        baseline_pass=sum(1 for i in ids if i in base and base[i].status is TestStatus.PASSED),
        candidate_pass=sum(1 for i in ids if i in cand and cand[i].status is TestStatus.PASSED),
        total=len(ids),
        out_of_scope=len(all_ids) - len(ids),
        regressions=tuple(regressions),
        fixed=tuple(sorted(fixed)),
        still_failing=tuple(sorted(still)),
        duplicates=base_dups + cand_dups,
    )


def regression_rate(baseline_pass: int, candidate_pass: int) -> float:
    """``(baseline_pass - candidate_pass) / baseline_pass * 100``.

    With no baseline passes there is nothing to regress from: 0.0. The rate is negative
    when the candidate passes more tests; it is reported as is and never fails a gate
    with a non-negative threshold.
    """
    if baseline_pass <= 0:
        return 0.0
    return (baseline_pass - candidate_pass) * 100.0 / baseline_pass


# -- the gate ---------------------------------------------------------------------------------


def exit_code_for(severity: GateSeverity | None) -> int:
    """0 when nothing fails the gate; 1 critical, 2 high ("major"), 3 medium/low ("minor")."""
    if severity is None:
        return 0
    if severity is GateSeverity.CRITICAL:
        return 1
    if severity is GateSeverity.HIGH:
        return 2
    return 3


def _worst(severities: Iterable[GateSeverity]) -> GateSeverity | None:
    ranked = sorted(severities, key=lambda s: _SEVERITY_RANK[s])
    return ranked[0] if ranked else None


def _test_line(r: TestRegression) -> str:
    line = f"test {r.test}: {r.baseline_status} -> {r.current_status}"
    if r.error:
        first = r.error.strip().splitlines()[0] if r.error.strip() else ""
        if len(first) > 120:
            first = first[:117] + "..."
        if first:
            line += f" ({first})"
    if r.severity is GateSeverity.CRITICAL:
        line += " [critical test]"
    return line


def _metric_line(m: MetricComparison, threshold: float) -> str:
    line = f"{m.name} {_fmt_change(m.change, m.unit)} > {_fmt(threshold)}% threshold"
    if m.limit > threshold:
        line += f" (noise floor {_fmt_limit(m.limit, m.unit)})"
    if m.severity is GateSeverity.CRITICAL:
        line += f": {m.note.split('; ')[-1]}" if m.note else ": beyond the hard limit"
    return line


def evaluate(
    *,
    baseline: TestRun | None,
    candidate: TestRun | None,
    baseline_metrics: Mapping[str, float | None] | None = None,
    candidate_metrics: Mapping[str, float | None] | None = None,
    threshold: float = 0.0,
    scope: str = "full",
    targets: Sequence[str] = (),
    critical_patterns: Sequence[str] = (),
    tolerances: Tolerances = Tolerances(),
    hard: HardLimits = HardLimits(),
    baseline_ref: str = "",
    candidate_ref: str = "",
    metric_names: Sequence[str] | None = None,
) -> RegressionResult:
    """Run the regression gate.

    Give a pair of test runs, a pair of metric mappings, or both (UsageError otherwise, and
    for half a pair, a negative threshold, an unknown scope or ``targeted`` without
    targets). The gate FAILS when the regression rate exceeds the threshold, when any
    metric regressed, or when any critical test newly fails. ``severity`` is the worst among
    what failed it and ``exit_code`` follows it (exit_code_for). Refs default to the runs'
    own ``ref``.
    """
    tests_given = baseline is not None or candidate is not None
    metrics_given = baseline_metrics is not None or candidate_metrics is not None
    if not tests_given and not metrics_given:
        raise UsageError("the regression gate needs test results, metrics, or both to compare")
    if tests_given and (baseline is None or candidate is None):
        raise UsageError("test results need both a baseline and a candidate run")
    if metrics_given and (baseline_metrics is None or candidate_metrics is None):
        raise UsageError("metrics need both baseline and candidate values")
    if not math.isfinite(threshold) or threshold < 0:
        raise UsageError(f"the regression threshold must be a percentage >= 0, not {threshold}")
    if scope not in SCOPES:
        raise UsageError(f"unknown regression scope {scope!r}: use one of {', '.join(SCOPES)}")

    notes: list[str] = []
    blockers: list[str] = []
    failing: list[GateSeverity] = []

    # Tests.
    suite: SuiteComparison | None = None
    if baseline is not None and candidate is not None:
        suite = compare_tests(
            baseline,
            candidate,
            scope=scope,
            targets=targets,
            critical_patterns=critical_patterns,
        )
        baseline_ref = baseline_ref or baseline.ref
        candidate_ref = candidate_ref or candidate.ref
        if suite.out_of_scope:
            notes.append(f"scope {scope}: {suite.out_of_scope} test(s) out of scope, not compared")
        if suite.total == 0:
            notes.append(f"no tests in scope {scope}: nothing compared")
        if suite.duplicates:
            notes.append(f"{suite.duplicates} duplicated test id(s): the worst status was kept")
        if suite.still_failing:
            notes.append(
                f"{len(suite.still_failing)} test(s) failing in both runs (not a regression)"
            )
    else:
        notes.append("no test results compared")
    b_pass = suite.baseline_pass if suite else 0
    c_pass = suite.candidate_pass if suite else 0
    rate = regression_rate(b_pass, c_pass)
    test_regs = suite.regressions if suite else ()
    new_failures = suite.new_failures if suite else ()

    rate_fails = _gt(rate, threshold)
    critical_new = [r for r in new_failures if r.severity is GateSeverity.CRITICAL]
    if rate_fails:
        blockers.append(f"regression rate {rate:.4g}% > threshold {_fmt(threshold)}%")
        lost = [r for r in test_regs if r.baseline_status == TestStatus.PASSED.value]
        failing.extend(r.severity for r in lost)
        if not lost:  # cannot happen: a positive rate means lost passes
            failing.append(GateSeverity.HIGH)
        shown = critical_new + [r for r in lost if r not in critical_new]
    else:
        failing.extend(r.severity for r in critical_new)
        shown = list(critical_new)
        masked = [r for r in new_failures if r.severity is not GateSeverity.CRITICAL]
        if masked:
            notes.append(
                f"{len(masked)} new failure(s) within the threshold "
                f"(regression rate {rate:.4g}% <= {_fmt(threshold)}%)"
            )
    for r in shown[:_MAX_TEST_BLOCKERS]:
        blockers.append(_test_line(r))
    if len(shown) > _MAX_TEST_BLOCKERS:
        blockers.append(f"... and {len(shown) - _MAX_TEST_BLOCKERS} more test regression(s)")
    if rate < 0:
        notes.append(f"the candidate passes more tests than the baseline (rate {rate:.4g}%)")

    # Metrics.
    metrics: tuple[MetricComparison, ...] = ()
    if baseline_metrics is not None and candidate_metrics is not None:
        names = metric_names
        if names is None and scope == "critical":
            present = set(baseline_metrics) | set(candidate_metrics)
            names = [m for m in CRITICAL_METRICS if m in present]
            left = sorted(present - set(names))
            if left:
                notes.append(f"scope critical: metrics not compared: {', '.join(left)}")
        metrics = compare_metrics(
            baseline_metrics,
            candidate_metrics,
            threshold=threshold,
            tolerances=tolerances,
            hard=hard,
            names=names,
        )
        if not metrics:
            notes.append("no metric data compared")
        for m in metrics:
            if m.regressed and m.severity is not None:
                failing.append(m.severity)
                blockers.append(_metric_line(m, threshold))
            elif m.note.startswith("no data") or m.note.startswith("unknown"):
                notes.append(f"{m.name}: {m.note}")
    else:
        notes.append("no metric data compared")

    severity = _worst(failing)
    passed = severity is None
    return RegressionResult(
        scope=scope,
        threshold=threshold,
        baseline_ref=baseline_ref,
        candidate_ref=candidate_ref,
        baseline_pass=b_pass,
        candidate_pass=c_pass,
        total=suite.total if suite else 0,
        regression_rate=rate,
        new_failures=new_failures,
        fixed=suite.fixed if suite else (),
        regressions=test_regs,
        metrics=metrics,
        passed=passed,
        severity=severity,
        blockers=tuple(blockers),
        exit_code=exit_code_for(severity),
        notes=tuple(notes),
    )


# -- output -----------------------------------------------------------------------------------


def _num(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    return value


def _metric_status(value: float | None, m: MetricComparison) -> str:
    if value is None:
        return "absent"
    if m.name in ("error_rate", "availability"):
        return f"{value * 100:.4g}%"
    if m.name == "throughput":
        return f"{value:g} rps"
    if m.name.startswith("latency"):
        return f"{value:g} ms"
    return f"{value:g}"


def to_json(
    result: RegressionResult,
    *,
    baseline_commit: str | None = None,
    baseline_timestamp: str | None = None,
    current_commit: str | None = None,
    current_timestamp: str | None = None,
) -> dict[str, Any]:
    """The regression-check ``--format json`` document (HANDBOOK 5.3), plus extras.

    Metric regressions are listed in ``regressions`` too, with type ``performance`` and the
    metric name as ``test``. A change that cannot be a number (``+inf``) is null in
    ``metrics[].change``; its ``note`` says why.
    """
    regressions: list[dict[str, Any]] = [
        {
            "test": r.test,
            "type": r.type,
            "severity": r.severity.value,
            "baseline_status": r.baseline_status,
            "current_status": r.current_status,
            "error": r.error,
            "action": r.action,
        }
        for r in result.regressions
    ]
    for m in result.metrics:
        if not m.regressed:
            continue
        severity = m.severity or GateSeverity.HIGH
        regressions.append(
            {
                "test": m.name,
                "type": "performance",
                "severity": severity.value,
                "baseline_status": _metric_status(m.baseline, m),
                "current_status": _metric_status(m.candidate, m),
                "error": _metric_line(m, result.threshold),
                "action": (
                    "roll back: beyond a hard rollback trigger"
                    if severity is GateSeverity.CRITICAL
                    else "investigate the performance regression before release"
                ),
            }
        )
    return {
        "baseline": {
            "ref": result.baseline_ref,
            "commit": baseline_commit,
            "timestamp": baseline_timestamp,
        },
        "current": {
            "ref": result.candidate_ref,
            "commit": current_commit,
            "timestamp": current_timestamp,
        },
        "summary": {
            "new_failures": len(result.new_failures),
            "behavior_changes": sum(1 for r in result.regressions if r.type == "behavior_change"),
            "fixed_tests": len(result.fixed),
            "total_tests": result.total,
        },
        "regressions": regressions,
        "verdict": result.decision,
        "scope": result.scope,
        "threshold": result.threshold,
        "regression_rate": result.regression_rate,
        "baseline_pass": result.baseline_pass,
        "candidate_pass": result.candidate_pass,
        "missing_tests": sum(1 for r in result.regressions if r.type == "missing"),
        "fixed": list(result.fixed),
        "metrics": [
            {
                "name": m.name,
                "baseline": _num(m.baseline),
                "candidate": _num(m.candidate),
                "change": _num(m.change),
                "unit": m.unit,
                "limit": m.limit,
                "regressed": m.regressed,
                "severity": m.severity.value if m.severity else None,
                "note": m.note,
            }
            for m in result.metrics
        ],
        "severity": result.severity.value if result.severity else None,
        "exit_code": result.exit_code,
        "blockers": list(result.blockers),
        "notes": list(result.notes),
    }


def checks_as_run(results: Mapping[str, bool], *, ref: str, critical: bool = True) -> TestRun:
    """Named smoke or journey check outcomes as a TestRun, so the production gate compares
    them with the same rule as tests. A name containing ``::`` is used as the id as is;
    others become ``smoke::<name>``."""
    cases = tuple(
        TestCase(
            id=name if "::" in name else f"smoke::{name}",
            status=TestStatus.PASSED if ok else TestStatus.FAILED,
            message="" if ok else "check failed",
            suite="smoke",
            critical=critical,
        )
        for name, ok in results.items()
    )
    return TestRun(sources=(), cases=cases, ref=ref)
