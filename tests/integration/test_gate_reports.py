"""Gate reports rendered from real gate decisions stored in a real SQLite store."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from watchstander.gates import readiness, regression, strategy
from watchstander.gates.guidance import parse_guidance
from watchstander.gates.models import (
    Approval,
    Capabilities,
    Check,
    CheckStatus,
    Downtime,
    Drill,
    Finding,
    FindingSeverity,
    RegressionResult,
    Risk,
    RollbackSpeed,
    StrategyInputs,
    TestCase,
    TestRun,
    TestStatus,
)
from watchstander.gates.serialize import to_data
from watchstander.release.models import (
    Event,
    Rollout,
    RolloutPhase,
    Severity,
    Step,
    StepKind,
    Strategy,
)
from watchstander.reports.gates import (
    _pct,
    format_seconds,
    write_production_gate_reports,
    write_readiness_report,
    write_regression_check,
    write_staging_gate,
    write_strategy_recommendation,
)
from watchstander.store import Store
from watchstander.store.records import GateRecord

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
DURATIONS = {"canary": 1470.0, "blue-green": 600.0, "rolling": 900.0}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    s = Store.open(None, workdir=tmp_path)
    yield s
    s.close()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / ".aiwg"


def save(store: Store, kind: str, decision: str, data: dict[str, Any]) -> GateRecord:
    store.save_gate(service="shop", version="v2", kind=kind, decision=decision, data=data, at=T0)
    return store.gates(service="shop", version="v2", kind=kind)[-1]


def clean(text: str) -> str:
    """The text, after checking no template syntax or Python None leaked into it."""
    assert "{{" not in text and "{%" not in text and "}}" not in text
    leaks = [line for line in text.splitlines() if "None" in line and line != "None."]
    assert leaks == []
    assert " nan" not in text and "inf%" not in text
    return text


def read(path: Path) -> str:
    return clean(path.read_text(encoding="utf-8"))


def test_format_seconds() -> None:
    assert format_seconds(270) == "4 min 30 s"
    assert format_seconds(1800) == "30 min"
    assert format_seconds(3900) == "1 h 5 min"
    assert format_seconds(0) == "0 s"
    assert format_seconds(2.345) == "2.3 s"
    assert format_seconds(None) == "n/a"
    assert _pct(5.0) == "5.0%" and _pct(-5.263) == "-5.3%" and _pct(0.004) == "0.004%"
    assert _pct(5.02, 5.0) == "5.02%" and _pct(None) == "n/a"


# -- strategy recommendation --------------------------------------------------------------


def strategy_record(store: Store, *, with_guidance: bool) -> GateRecord:
    guidance = (
        parse_guidance("high risk release, observe for 30 minutes, wibble the frobnicator")
        if with_guidance
        else None
    )
    inputs = StrategyInputs(
        risk=Risk.HIGH,
        downtime=Downtime.ZERO,
        rollback=RollbackSpeed.FAST,
        db_migration=False,
        capabilities=Capabilities(weighted_traffic=True, instant_switch=True, spare_capacity=False),
    )
    rec = strategy.recommend(inputs, durations=DURATIONS, observation=1800.0)
    data = {
        "recommendation": to_data(rec),
        "guidance": to_data(guidance) if guidance is not None else None,
        "target": {"type": "local", "capabilities": ["weighted traffic", "instant switch"]},
        "confirmed": True if with_guidance else None,
    }
    return save(store, "strategy", rec.strategy, data)


def test_strategy_recommendation(store: Store, root: Path) -> None:
    record = strategy_record(store, with_guidance=True)
    path = write_strategy_recommendation(record, root)
    assert path == root / "working/deployment/strategy-recommendation.md"
    text = read(path)
    first = path.read_bytes()
    assert text.startswith("# Deployment Strategy Recommendation: shop v2\n")
    assert "**Recommended**: Canary" in text
    assert "- Duration: 24 min 30 s" in text
    assert "- Monitoring: 30 min of post-deployment observation" in text
    assert "| Risk | high |" in text and "| Downtime tolerance | zero |" in text
    assert "| Spare capacity | no |" in text and "| Database migration | no |" in text
    # canary 3 + 2 + 2 + 0, rolling 0 + 0 + 0 + 0; no spare capacity rules out blue-green
    assert "| canary (recommended) | 7 |" in text
    assert "| blue-green | not possible |" in text
    assert "| rolling | 0 |" in text
    assert "| blue-green | not possible: target has no spare capacity" in text
    assert "weighted traffic routing (a percentage of requests per version)" in text
    assert "| risk | high | high risk release |" in text
    assert '- "wibble the frobnicator"' in text
    assert "- Confirmed: yes: the operator accepted this strategy" in text
    assert "capabilities: weighted traffic, instant switch" in text

    write_strategy_recommendation(record, root)
    assert path.read_bytes() == first


def test_strategy_recommendation_without_guidance(store: Store, root: Path) -> None:
    text = read(write_strategy_recommendation(strategy_record(store, with_guidance=False), root))
    assert "No guidance was given" in text
    assert "- Confirmed: not asked" in text


# -- readiness ----------------------------------------------------------------------------


def readiness_record(store: Store, *, go: bool, warn: bool | None = None) -> GateRecord:
    warn = not go if warn is None else warn
    tests = TestRun(
        sources=("results.xml",),
        cases=tuple(TestCase(f"it::t{i:02d}", TestStatus.PASSED) for i in range(12)),
    )
    findings = [] if go else [Finding("R1", FindingSeverity.HIGH, "SQL injection", "app.py:12")]
    approvals = [Approval("shop", "v2", "release-manager", "alice", T0 - timedelta(hours=1))]
    drill = Drill("shop", "staging", "v2", "v1", T0 - timedelta(days=2), True, 42.0)
    checks: list[Check] = [
        readiness.check_tests([tests]),
        readiness.check_security(findings, sources=("scan.sarif",)),
        *readiness.check_approvals(approvals, ["release-manager"], version="v2"),
        Check(
            "target health",
            "environment",
            CheckStatus.PASS,
            "4/4 instances of v1 ready",
            evidence=("v1: 4 ready, 0 restarting",),
        ),
        *readiness.check_rollback(
            has_stable=True,
            plan_files=[".aiwg/deployment/rollback-plan-v2.md"],
            last_drill=drill,
            now=T0,
        ),
        Check(
            "artifact checksums",
            "artifacts",
            CheckStatus.WARN if warn else CheckStatus.PASS,
            "no checksum file" if warn else "3 of 3 checksums match",
            remedy="publish SHA256SUMS with the release" if warn else "",
        ),
        readiness.check_freeze([], T0),
    ]
    result = readiness.decide(service="shop", version="v2", at=T0, checks=checks)
    data = {
        "readiness": to_data(result),
        "guidance": None,
        "required_approvals": ["release-manager"],
        "strategy": "canary",
        "threshold": 0.0,
    }
    return save(store, "readiness", result.decision.value, data)


def test_readiness_report_no_go(store: Store, root: Path) -> None:
    record = readiness_record(store, go=False)
    path = write_readiness_report(record, root)
    assert path == root / "deployment/deployment-readiness-report.md"
    text = read(path)
    assert text.startswith("# Deployment Readiness Report: shop v2\n")
    assert "**Overall Status: NO-GO**" in text
    sections = [line for line in text.splitlines() if line.startswith("## ")]
    assert sections == [
        "## Gate Validation",
        "## Environment Health",
        "## Rollback Readiness",
        "## Artifacts",
        "## Schedule",
        "## Pre-Flight Checklist",
        "## Decision Rationale",
        "## Conditions",
        "## Blockers",
    ]
    assert "**Rollback readiness: READY: canary abort**" in text
    assert "- [x] integration tests (PASS)" in text
    assert "- [ ] security findings (FAIL)" in text
    assert "- [ ] artifact checksums (WARN): no checksum file" in text
    assert "  - HIGH R1: SQL injection at app.py:12" in text  # evidence, nested
    assert "  - Remedy: publish SHA256SUMS with the release" in text
    assert "  - v1: 4 ready, 0 restarting" in text
    assert "- Checks: 9 (7 PASS, 1 WARN, 1 FAIL)" in text
    assert "- Regression threshold: 0%" in text
    assert "- Approvals required: release-manager" in text
    blockers = text.split("## Blockers")[1]
    assert "- security findings:" in blockers
    conditions = text.split("## Conditions")[1].split("## Blockers")[0]
    assert "No conditions apply to a NO-GO decision; these warnings also need" in conditions
    assert "- artifact checksums: no checksum file (remedy: publish SHA256SUMS" in conditions


def test_readiness_report_conditional_go(store: Store, root: Path) -> None:
    text = read(write_readiness_report(readiness_record(store, go=True, warn=True), root))
    assert "**Overall Status: CONDITIONAL_GO**" in text
    conditions = text.split("## Conditions")[1].split("## Blockers")[0]
    assert "- artifact checksums: no checksum file (remedy: publish SHA256SUMS" in conditions
    assert "## Blockers\n\nNone.\n" in text


def test_readiness_report_go(store: Store, root: Path) -> None:
    record = readiness_record(store, go=True)
    path = write_readiness_report(record, root)
    text = read(path)
    first = path.read_bytes()
    assert "**Overall Status: GO**" in text
    assert "## Conditions\n\nNone.\n" in text
    assert "## Blockers\n\nNone.\n" in text
    assert "- [ ]" not in text
    write_readiness_report(record, root)
    assert path.read_bytes() == first


# -- staging gate -------------------------------------------------------------------------


def suite_run(ref: str, failing: dict[str, str]) -> TestRun:
    ids = [f"it::t{i:02d}" for i in range(18)] + ["smoke::health", "journey::checkout"]
    cases = tuple(
        TestCase(
            test_id,
            TestStatus.FAILED if test_id in failing else TestStatus.PASSED,
            message=failing.get(test_id, ""),
            critical=test_id.startswith(("smoke::", "journey::")),
        )
        for test_id in ids
    )
    return TestRun(sources=(f"{ref}.xml",), cases=cases, ref=ref)


PRODUCTION_METRICS = {"error_rate": 0.004, "latency_p99": 120.0, "throughput": 85.0}


def staging_data(result: RegressionResult, *, deployed: bool = True) -> dict[str, Any]:
    return {
        "result": regression.to_json(
            result,
            baseline_timestamp=at(60).isoformat() if deployed else None,
            current_timestamp=at(180).isoformat() if deployed else None,
        ),
        "versions": {"baseline": "v1", "candidate": "v2"},
        "deployment": {
            "environment": "staging",
            "target": "local 127.0.0.1:18080",
            "replicas": 2,
            "ready": 2 if deployed else 1,
            "started_at": T0.isoformat(),
            "ready_at": at(42).isoformat() if deployed else None,
            "health": "PASS" if deployed else "FAIL",
            "status": "SUCCESS" if deployed else "FAILED",
            "detail": "2/2 instances of v2 ready"
            if deployed
            else "only 1/2 instances of v2 became ready within 60s",
        },
        "suite": {
            "command": ["pytest", "tests/regression", "--junitxml", "{junit}"],
            "runs": [
                {
                    "environment": "production",
                    "url": "http://127.0.0.1:8080",
                    "junit": "/w/.watchstander/regression/production.xml",
                    "exit_code": 0,
                    "duration": 12.5,
                    "tests": 20,
                },
                {
                    "environment": "staging",
                    "url": "http://127.0.0.1:18080",
                    "junit": "/w/.watchstander/regression/staging.xml",
                    "exit_code": 1,
                    "duration": 13.25,
                    "tests": 20,
                },
            ],
        }
        if deployed
        else None,
        "window": {"start": at(60).isoformat(), "end": at(180).isoformat()} if deployed else None,
    }


def failing_staging(store: Store) -> GateRecord:
    result = regression.evaluate(
        baseline=suite_run("production", {}),
        candidate=suite_run("staging", {"journey::checkout": "HTTP 500 on POST /cart/pay"}),
        baseline_metrics=PRODUCTION_METRICS,
        candidate_metrics={"error_rate": 0.005, "latency_p99": 180.0, "throughput": 84.0},
        threshold=0.0,
        scope="full",
        baseline_ref="production",
        candidate_ref="staging",
    )
    assert not result.passed and result.regression_rate == 5.0
    return save(store, "staging", result.decision, staging_data(result))


def test_staging_gate_fail(store: Store, root: Path) -> None:
    record = failing_staging(store)
    paths = write_staging_gate(record, root)
    assert paths == [
        root / "deployment/regression-gate-staging.md",
        root / "deployment/regression-impact-assessment-staging.md",
        root / "working/deployment/staging-deployment-log.md",
    ]
    first = [p.read_bytes() for p in paths]
    gate, impact, log = (read(p) for p in paths)

    assert gate.startswith("# Staging Regression Gate: shop v2\n")
    assert "Regression rate: 5.0% (threshold 0%: above the threshold)" in gate
    assert "(20 - 19) / 20 * 100 = 5.0%" in gate
    assert "**Decision: FAIL**" in gate
    assert "Severity: CRITICAL" in gate
    assert "New failures: 1" in gate
    assert "| `journey::checkout` | new failure | CRITICAL | passed | failed |" in gate
    assert "HTTP 500 on POST /cart/pay" in gate
    assert "| Latency p99 | 120 ms | 180 ms | +50.00% | 5% | yes (CRITICAL) |" in gate
    assert "| Error rate | 0.4% | 0.5% | +0.10 pp | 0.1 pp | no |" in gate
    assert "| Throughput | 85 rps | 84 rps | +1.18% | 10% | no |" in gate
    assert "Metric degradations: 1 of 3 metrics compared (Latency p99)." in gate
    assert "- regression rate 5% > threshold 0%" in gate.split("## Blockers")[1]
    assert "| production | http://127.0.0.1:8080 |" in gate
    assert "Deployment BLOCKED: production was not touched." in gate
    assert "- Production (baseline): v1" in gate

    assert "**Deployment BLOCKED: production was not touched.**" in impact
    assert "- Functional regressions (smoke checks and user journeys): 1" in impact
    assert "- Metric regressions: 1" in impact
    assert "user journey journey::checkout passed on production and now fails on staging" in impact
    assert "Latency p99: 120 ms on production, 180 ms on staging (+50.00%, limit 5%)" in impact
    assert "profile the slow path" in impact
    assert "reproduce the failing check journey::checkout against staging" in impact
    assert "Production still serves v1." in impact

    assert "- Staging deployment status: SUCCESS" in log
    assert "- Target: local 127.0.0.1:18080" in log
    assert "- Instances ready: 2/2" in log
    assert "- Health checks: PASS" in log
    assert "- Time to ready: 42 s" in log
    assert "- Started: 2026-11-21 10:00:00 UTC" in log
    assert "  - staging (http://127.0.0.1:18080): exit code 1, 20 tests, 13.2 s" in log
    assert "- Gate decision: FAIL (regression 5.0%, threshold 0%)" in log

    assert write_staging_gate(record, root) == paths
    assert [p.read_bytes() for p in paths] == first


def test_staging_gate_pass(store: Store, root: Path) -> None:
    result = regression.evaluate(
        baseline=suite_run("production", {"it::t03": "flaky"}),
        candidate=suite_run("staging", {}),
        baseline_metrics=PRODUCTION_METRICS,
        candidate_metrics={"error_rate": 0.004, "latency_p99": 121.0, "throughput": 86.0},
        threshold=0.0,
        baseline_ref="production",
        candidate_ref="staging",
    )
    assert result.passed
    record = save(store, "staging", result.decision, staging_data(result))
    paths = write_staging_gate(record, root)
    assert paths == [
        root / "deployment/regression-gate-staging.md",
        root / "working/deployment/staging-deployment-log.md",
    ]
    assert not (root / "deployment/regression-impact-assessment-staging.md").exists()
    gate = read(paths[0])
    assert "**Decision: PASS**" in gate
    assert "Regression rate: -5.3% (threshold 0%: at or below the threshold)" in gate
    assert "Severity: n/a (nothing failed the gate)" in gate
    assert "## Blockers\n\nNone.\n" in gate
    assert "Fixed tests: 1\n- `it::t03`" in gate
    assert "Promotion to production may continue." in gate
    assert "BLOCKED" not in gate


def test_staging_deployment_failed(store: Store, root: Path) -> None:
    result = regression.evaluate(
        baseline=regression.checks_as_run({"staging deployment": True}, ref="production"),
        candidate=regression.checks_as_run({"staging deployment": False}, ref="staging"),
        threshold=0.0,
        baseline_ref="production",
        candidate_ref="staging",
    )
    record = save(store, "staging", result.decision, staging_data(result, deployed=False))
    gate, impact, log = (read(p) for p in write_staging_gate(record, root))
    assert "Regression rate: 100.0%" in gate
    assert "No metric was compared" in gate
    assert "No regression suite is configured" in gate
    assert "- Comparison window: not recorded (no metrics window)" in gate
    assert "The staging deployment itself failed (only 1/2 instances" in impact
    assert "make the new version start and pass its health checks on staging" in impact
    assert "- Staging deployment status: FAILED" in log
    assert "- Ready: never (not all instances became ready)" in log
    assert "- Time to ready: n/a" in log
    assert "the regression suite and the metrics were not compared" in log


# -- regression check ---------------------------------------------------------------------


def test_regression_check(store: Store, root: Path) -> None:
    result = regression.evaluate(
        baseline=suite_run("v1.4.0", {}),
        candidate=suite_run("HEAD", {"it::t05": "AssertionError: 3 != 4\nlong traceback"}),
        threshold=10.0,
        baseline_ref="v1.4.0",
        candidate_ref="HEAD",
    )
    data = {
        "result": regression.to_json(result, baseline_commit="abc1234", current_commit="def5678"),
        "versions": {"baseline": "v1", "candidate": "v2"},
    }
    record = save(store, "regression-check", result.decision, data)
    paths = write_regression_check(record, root)
    md, js = paths
    assert md == root / "testing/regression-reports/regression-20261121T100000Z.md"
    assert js == root / "testing/regression-reports/regression-20261121T100000Z.json"
    assert json.loads(js.read_text(encoding="utf-8")) == data["result"]
    assert js.read_text(encoding="utf-8") == (
        json.dumps(data["result"], indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    )
    text = read(md)
    first = md.read_bytes()
    assert text.startswith("# Regression check: v1.4.0 -> HEAD\n")
    assert "Regression rate: 5.0% (threshold 10%: at or below the threshold)" in text
    assert "**Decision: PASS**" in text
    assert "commit abc1234" in text and "commit def5678" in text
    assert "| `it::t05` | new failure | HIGH | passed | failed | AssertionError: 3 != 4 |" in text
    assert "long traceback" not in text
    assert "1 new failure(s) within the threshold" in text
    assert write_regression_check(record, root) == paths
    assert md.read_bytes() == first


# -- production: baseline snapshot, gate, post-rollback verification -----------------------

PLAN = (
    Step(kind=StepKind.BASELINE, label="measure the stable baseline"),
    Step(kind=StepKind.SMOKE, scope="baseline", label="pre-deployment checks"),
    Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="route 100% of traffic"),
    Step(kind=StepKind.GATE, label="production regression gate"),
)
BASELINE = {
    "error_rate": 0.004,
    "latency_p50": 12.0,
    "latency_p95": 80.0,
    "latency_p99": 120.0,
    "throughput": 85.0,
}
BASELINE_CHECKS = {"health": True, "journey::checkout": True}


def production_result(*, regress: bool) -> dict[str, Any]:
    now_checks = {"health": True, "journey::checkout": not regress}
    now_metrics = {
        "error_rate": 0.031 if regress else 0.004,
        "latency_p99": 125.0,
        "availability": 0.969 if regress else 0.996,
    }
    baseline_metrics = {**BASELINE, "availability": 1 - BASELINE["error_rate"]}
    names = ("error_rate", "latency_p99", "availability")
    result = regression.evaluate(
        baseline=regression.checks_as_run(BASELINE_CHECKS, ref="production-pre-deploy"),
        candidate=regression.checks_as_run(now_checks, ref="production-post-deploy"),
        baseline_metrics={m: baseline_metrics[m] for m in names},
        candidate_metrics=now_metrics,
        threshold=0.0,
        scope="critical",
        baseline_ref="production-pre-deploy",
        candidate_ref="production-post-deploy",
        metric_names=names,
    )
    data = regression.to_json(
        result, baseline_timestamp=at(60).isoformat(), current_timestamp=at(400).isoformat()
    )
    data["checks"] = {"baseline": dict(BASELINE_CHECKS), "current": now_checks}
    data["details"] = {
        "health": "HTTP 200",
        "journey::checkout": "HTTP 500 | upstream reset" if regress else "HTTP 200",
    }
    data["versions"] = {"baseline": "v1", "candidate": "v2"}
    return data


def production_events(*, regress: bool, then: str) -> list[Event]:
    verdict = "FAIL" if regress else "PASS"
    events = [
        Event(at=T0, kind="rollout.created", message="rollout created"),
        Event(
            at=at(60),
            kind="baseline.measured",
            message="baseline of v1",
            data={"baseline": {**BASELINE, "latency_p95": None}},
        ),
        Event(
            at=at(70),
            kind="baseline.checks",
            message="pre-deployment checks on v1: 2/2 passed",
            data={
                "checks": BASELINE_CHECKS,
                "details": {"health": "HTTP 200", "journey::checkout": "HTTP 200"},
            },
        ),
        Event(
            at=at(400),
            kind="regression.production",
            message=f"production regression gate: {verdict}",
            severity=Severity.ERROR if regress else Severity.INFO,
            data={"result": production_result(regress=regress)},
        ),
    ]
    reason = "production regression gate: regression rate 50% > threshold 0%"
    if then == "rollback":
        events += [
            Event(
                at=at(400),
                kind="rollback.started",
                message=f"rolling back: {reason}",
                severity=Severity.ERROR,
                data={"reason": reason},
            ),
            Event(
                at=at(460),
                kind="rollback.verified",
                message="v1 serves 100%, smoke tests pass, error rate at baseline",
                data={
                    "weights": "v1 100%",
                    "ready": 4,
                    "smoke": "2/2",
                    "error_rate": 0.005,
                    "baseline_error_rate": 0.004,
                },
            ),
        ]
    elif then == "rollback-failed":
        events += [
            Event(
                at=at(400),
                kind="rollback.started",
                message=f"rolling back: {reason}",
                data={"reason": reason},
            ),
            Event(
                at=at(520),
                kind="rollback.failed",
                message="CRITICAL: rollback failed verification: smoke tests failed",
                severity=Severity.CRITICAL,
                data={
                    "weights": "v1 100%",
                    "ready": 4,
                    "smoke": "1/2",
                    "error_rate": None,
                    "baseline_error_rate": 0.004,
                    "tried": ["2026-11-21T10:08:40+00:00: verification: smoke tests failed"],
                },
            ),
        ]
    elif then == "pause":
        events.append(
            Event(
                at=at(400),
                kind="rollout.paused",
                message="regression detected: awaiting a decision",
                severity=Severity.WARNING,
            )
        )
    elif then == "succeed":
        events.append(Event(at=at(401), kind="rollout.succeeded", message="shop v2 fully promoted"))
    return events


def stored(
    store: Store, *, phase: RolloutPhase, events: list[Event], abort: bool = False
) -> tuple[Rollout, list[Event]]:
    """Store the rollout and its timeline, and read both back as a report would."""
    rollout = Rollout(
        id=store.next_rollout_id("shop", T0),
        service="shop",
        version="v2",
        stable_version="v1",
        strategy=Strategy.BLUE_GREEN,
        replicas=4,
        plan=PLAN,
        phase=phase,
        baseline=BASELINE,
        baseline_window=(at(0), at(60)),
        baseline_checks=BASELINE_CHECKS,
        rollback_reason="production regression gate: regression rate 50% > threshold 0%"
        if phase in (RolloutPhase.ROLLED_BACK, RolloutPhase.FAILED, RolloutPhase.ABORTED)
        else None,
        abort_requested=abort,
        created_at=T0,
        updated_at=at(600),
        finished_at=at(600) if phase is not RolloutPhase.PAUSED else None,
    )
    store.create_rollout(rollout, events)
    return store.get_rollout(rollout.id), store.events(rollout.id)


def test_production_rolled_back(store: Store, root: Path) -> None:
    events = production_events(regress=True, then="rollback")
    rollout, timeline = stored(store, phase=RolloutPhase.ROLLED_BACK, events=events)
    paths = write_production_gate_reports(rollout=rollout, events=timeline, root=root)
    assert paths == [
        root / "working/deployment/production-baseline-snapshot.md",
        root / "deployment/regression-gate-production.md",
        root / "deployment/regression-verification-post-rollback.md",
    ]
    first = [p.read_bytes() for p in paths]
    snapshot, gate, verification = (read(p) for p in paths)

    assert snapshot.startswith("# Production Baseline Snapshot: shop v1\n")
    assert "- Timestamp: 2026-11-21 10:01:00 UTC" in snapshot
    assert "- Version: v1" in snapshot
    assert "- Measurement window: 2026-11-21 10:00:00 UTC to 2026-11-21 10:01:00 UTC" in snapshot
    assert "| Error rate | 0.4% | measured |" in snapshot
    assert "| Availability | 99.6% | derived: 1 - error rate |" in snapshot
    assert "| Latency p50 | 12 ms | measured |" in snapshot
    assert "| Latency p95 | n/a | not measured |" in snapshot
    assert "| Latency p99 | 120 ms | measured |" in snapshot
    assert "| Throughput | 85 rps | measured |" in snapshot
    assert "2/2 passed" in snapshot and "| `journey::checkout` | pass | HTTP 200 |" in snapshot

    assert gate.startswith("# Production Regression Gate: shop v2\n")
    assert "Regression rate: 50.0% (threshold 0%: above the threshold)" in gate
    assert "**Decision: FAIL**" in gate
    assert "Severity: CRITICAL" in gate
    assert "New failures: 1" in gate
    assert "| Metric | Pre-deploy | Now | Change | Limit | Regressed | Note |" in gate
    assert "| Error rate | 0.4% | 3.1% | +2.70 pp | 0.1 pp | yes (CRITICAL) |" in gate
    assert "| Latency p99 | 120 ms | 125 ms | +4.17% | 5% | no |" in gate
    assert "| `journey::checkout` | pass | fail | HTTP 500 \\| upstream reset |" in gate
    assert "- automatic rollback triggered at 2026-11-21 10:06:40 UTC" in gate
    assert "- rollback.verified at 2026-11-21 10:07:40 UTC" in gate

    assert "**Verdict: VERIFIED**" in verification
    assert "- Regression eliminated: YES" in verification
    assert "- Rollback reason: production regression gate: regression rate 50%" in verification
    assert "| Traffic | v1 100% | v1 100% | v1 serves 100% |" in verification
    assert "| Ready instances of v1 | 4 |" in verification
    assert "| Smoke tests | 2/2 passed | 2/2 passed (smoke and journey checks) |" in verification
    assert "| Error rate | 0.5% (+0.10 pp) | 0.4% | at most the baseline plus" in verification
    assert "- Tests restored: 2/2" in verification

    assert write_production_gate_reports(rollout=rollout, events=timeline, root=root) == paths
    assert [p.read_bytes() for p in paths] == first


def test_production_rollback_not_verified(store: Store, root: Path) -> None:
    events = production_events(regress=True, then="rollback-failed")
    rollout, timeline = stored(store, phase=RolloutPhase.FAILED, events=events)
    paths = write_production_gate_reports(rollout=rollout, events=timeline, root=root)
    text = read(paths[-1])
    assert paths[-1] == root / "deployment/regression-verification-post-rollback.md"
    assert "**Verdict: NOT VERIFIED**" in text
    assert "- Regression eliminated: NO" in text
    assert "| Error rate | not measured | 0.4% | at most the baseline plus" in text
    assert "1. 2026-11-21T10:08:40+00:00: verification: smoke tests failed" in text
    assert "P0 incident" in text


def test_production_paused_for_a_decision(store: Store, root: Path) -> None:
    events = production_events(regress=True, then="pause")
    rollout, timeline = stored(store, phase=RolloutPhase.PAUSED, events=events)
    paths = write_production_gate_reports(rollout=rollout, events=timeline, root=root)
    assert [p.name for p in paths] == [
        "production-baseline-snapshot.md",
        "regression-gate-production.md",
    ]
    gate = read(paths[1])
    assert "awaiting manual decision: `watchstander rollout promote` (accept)" in gate
    assert "`watchstander rollout abort` (roll back)" in gate


def test_production_pass_continues(store: Store, root: Path) -> None:
    events = production_events(regress=False, then="succeed")
    rollout, timeline = stored(store, phase=RolloutPhase.SUCCEEDED, events=events)
    paths = write_production_gate_reports(rollout=rollout, events=timeline, root=root)
    gate = read(paths[1])
    assert len(paths) == 2
    assert "Regression rate: 0.0% (threshold 0%: at or below the threshold)" in gate
    assert "**Decision: PASS**" in gate
    assert "Severity: n/a (nothing failed the gate)" in gate
    assert "- deployment continues" in gate
    assert "- rollout.succeeded at 2026-11-21 10:06:41 UTC: shop v2 fully promoted" in gate


def test_production_abort_has_no_verification(store: Store, root: Path) -> None:
    events = production_events(regress=True, then="rollback")
    rollout, timeline = stored(store, phase=RolloutPhase.ABORTED, events=events, abort=True)
    paths = write_production_gate_reports(rollout=rollout, events=timeline, root=root)
    assert len(paths) == 2
    assert not (root / "deployment/regression-verification-post-rollback.md").exists()


def test_production_without_gate_events(store: Store, root: Path) -> None:
    events = [Event(at=T0, kind="rollout.created", message="rollout created")]
    rollout, timeline = stored(store, phase=RolloutPhase.SUCCEEDED, events=events)
    assert write_production_gate_reports(rollout=rollout, events=timeline, root=root) == []
    assert not root.exists()
