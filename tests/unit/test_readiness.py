"""Pre-deployment readiness checks and the GO / CONDITIONAL_GO / NO-GO decision."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from watchstander.gates.models import (
    Approval,
    Check,
    CheckStatus,
    ChecksumResult,
    Decision,
    Drill,
    Finding,
    FindingSeverity,
    FreezeWindow,
    IncidentRef,
    SignatureResult,
    SloState,
    TestCase,
    TestRun,
    TestStatus,
)
from watchstander.gates.readiness import (
    CATEGORIES,
    check_approvals,
    check_artifacts,
    check_environment,
    check_error_budget,
    check_freeze,
    check_incidents,
    check_monitoring,
    check_rollback,
    check_security,
    check_tests,
    decide,
)
from watchstander.release.health import InstanceState, TargetState

NOW = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)  # a Wednesday
T = 1_800_000_000.0
PASS, WARN, FAIL = CheckStatus.PASS, CheckStatus.WARN, CheckStatus.FAIL


def test_categories() -> None:
    assert CATEGORIES == ("gates", "environment", "rollback", "artifacts", "schedule")


# -- tests --------------------------------------------------------------------------------


def junit_run(*statuses: TestStatus) -> TestRun:
    return TestRun(
        sources=("results.xml",),
        cases=tuple(
            TestCase(f"it::t{i:02d}", s, message="boom" if s is TestStatus.FAILED else "")
            for i, s in enumerate(statuses)
        ),
    )


def test_tests_missing_warns() -> None:
    empty: list[TestRun] = []
    for runs in (None, empty):
        c = check_tests(runs)
        assert c.status is WARN and c.summary == "no test results given" and c.remedy
        assert c.category == "gates" and c.name == "integration tests"


def test_tests_all_pass() -> None:
    c = check_tests([junit_run(TestStatus.PASSED, TestStatus.PASSED, TestStatus.SKIPPED)])
    assert c.status is PASS
    assert c.summary == "2/2 integration tests passed (100.0%)"
    assert "2 passed, 0 failed, 1 skipped of 3" in c.evidence
    assert "read: results.xml" in c.evidence


def test_tests_failures_fail_with_ids() -> None:
    run = junit_run(*([TestStatus.FAILED] * 12 + [TestStatus.ERROR, TestStatus.PASSED]))
    c = check_tests([run])
    assert c.status is FAIL
    assert c.summary.startswith("13 of 14 integration tests failed")
    assert "failed: it::t00 (boom)" in c.evidence
    assert "... and 3 more" in c.evidence
    assert sum(1 for e in c.evidence if e.startswith(("failed:", "error:"))) == 10


def test_tests_required_rate_and_empty() -> None:
    run = junit_run(*([TestStatus.PASSED] * 9 + [TestStatus.FAILED]))  # 90% passing
    assert check_tests([run]).status is FAIL  # default 100%: any failure fails
    c = check_tests([run], required_pass_rate=95.0)
    assert c.status is FAIL and "95% required" in c.summary
    c = check_tests([run], required_pass_rate=90.0)  # exactly at the requirement
    assert c.status is WARN and "failed: it::t09 (boom)" in c.evidence
    c = check_tests([junit_run(TestStatus.SKIPPED)])
    assert c.status is WARN and "skipped" in c.summary
    c = check_tests([TestRun(sources=("empty.xml",), cases=())], label="unit tests")
    assert c.status is WARN and c.name == "unit tests"


# -- security -------------------------------------------------------------------------------


def finding(sev: FindingSeverity, rule: str = "R1") -> Finding:
    return Finding(rule, sev, "bad thing", location="src/app.py:12", tool="semgrep")


def test_security() -> None:
    assert check_security(None).status is WARN
    c = check_security([finding(FindingSeverity.HIGH), finding(FindingSeverity.LOW)])
    assert c.status is FAIL and "0 critical and 1 high" in c.summary
    assert "HIGH R1: bad thing at src/app.py:12 [semgrep]" in c.evidence
    medium = [finding(FindingSeverity.MEDIUM)]
    c = check_security(medium, sources=("scan.sarif",))
    assert c.status is PASS and "1 medium" in c.summary and "read: scan.sarif" in c.evidence
    assert check_security(medium, strict=True).status is WARN
    assert check_security([]).status is PASS


# -- approvals ------------------------------------------------------------------------------


def test_approvals() -> None:
    approvals = [
        Approval("shop", "1.2.0", "release-manager", "alice", NOW - timedelta(hours=1)),
        Approval("shop", "1.1.0", "security", "bob", NOW - timedelta(days=3)),
    ]
    rm, sec = check_approvals(approvals, ["release-manager", "security"], version="1.2.0")
    assert rm.name == "approval: release-manager" and rm.status is PASS
    assert "alice" in rm.summary
    assert sec.status is FAIL  # an approval of another version does not count
    assert sec.remedy == "watchstander approve 1.2.0 --role security --by NAME"
    (other,) = check_approvals(approvals, ["release-manager"], version="1.2.0", service="cart")
    assert other.status is FAIL
    assert check_approvals(approvals, [], version="1.2.0") == ()


# -- rollback -------------------------------------------------------------------------------


def drill(ok: bool = True, age: timedelta = timedelta(days=2)) -> Drill:
    return Drill("shop", "staging", "1.2.0", "1.1.0", NOW - age, ok, 42.0)


def by_name(checks: tuple[Check, ...]) -> dict[str, Check]:
    return {c.name: c for c in checks}


def test_rollback_first_release() -> None:
    (c,) = check_rollback(has_stable=False, plan_files=(), last_drill=None, now=NOW)
    assert c.status is PASS and "first release" in c.summary and c.category == "rollback"


def test_rollback_ready() -> None:
    checks = check_rollback(
        has_stable=True,
        plan_files=[".aiwg/deployment/rollback-plan-1.2.0.md"],
        last_drill=drill(),
        now=NOW,
        strategy="blue-green",
    )
    got = by_name(checks)
    assert got["rollback plan"].status is PASS
    assert got["rollback drill"].status is PASS
    assert any("staging" in e and "2.0 days ago" in e for e in got["rollback drill"].evidence)
    assert any("42.0s" in e for e in got["rollback drill"].evidence)
    ready = got["rollback readiness"]
    assert ready.status is PASS and ready.summary.startswith("READY")
    assert "strategy: blue-green instant" in ready.evidence
    assert "migration rollback" not in got


def test_rollback_gaps() -> None:
    got = by_name(check_rollback(has_stable=True, plan_files=(), last_drill=None, now=NOW))
    assert got["rollback plan"].status is WARN
    assert got["rollback drill"].status is WARN
    assert got["rollback drill"].remedy == "watchstander rollback drill"
    ready = got["rollback readiness"]
    assert ready.status is WARN and ready.summary.startswith("NOT_READY")
    assert "strategy: canary abort" in ready.evidence

    old = by_name(
        check_rollback(
            has_stable=True, plan_files=["p.md"], last_drill=drill(age=timedelta(days=8)), now=NOW
        )
    )
    assert (
        old["rollback drill"].status is WARN
        and "older than 7 days" in old["rollback drill"].summary
    )
    failed = by_name(
        check_rollback(
            has_stable=True,
            plan_files=["p.md"],
            last_drill=drill(ok=False),
            now=NOW,
            strategy="rolling",
        )
    )
    assert failed["rollback drill"].status is FAIL
    assert failed["rollback readiness"].status is FAIL
    assert "strategy: rolling undo" in failed["rollback readiness"].evidence


@pytest.mark.parametrize(
    ("script", "exists", "status"),
    [("db/rollback.sql", True, PASS), ("db/rollback.sql", False, FAIL), (None, False, FAIL)],
)
def test_rollback_migration_script(script: str | None, exists: bool, status: CheckStatus) -> None:
    got = by_name(
        check_rollback(
            has_stable=True,
            plan_files=["p.md"],
            last_drill=drill(),
            now=NOW,
            db_migration=True,
            migration_rollback_script=script,
            script_exists=exists,
        )
    )
    assert got["migration rollback"].status is status
    assert got["rollback readiness"].status is status


# -- environment ----------------------------------------------------------------------------


def inst(i: int, version: str = "1.0.0", **kw: object) -> InstanceState:
    base: dict[str, object] = {
        "id": f"i{i}",
        "version": version,
        "address": f"10.0.0.{i}:8080",
        "running": True,
        "ready": True,
    }
    return InstanceState(**{**base, **kw})  # type: ignore[arg-type]


def state(*instances: InstanceState) -> TargetState:
    return TargetState(instances=instances, weights={"1.0.0": 100.0}, observed_at=T)


def test_environment_unreachable() -> None:
    c = check_environment(None, version_serving="1.0.0", error="connection refused", now=T)
    assert c.status is FAIL and "connection refused" in c.summary and "UNHEALTHY" in c.summary


def test_environment_healthy() -> None:
    c = check_environment(state(inst(1), inst(2), inst(3)), version_serving="1.0.0", now=T)
    assert c.status is PASS
    assert c.summary == "HEALTHY: 3/3 instances of 1.0.0 ready"


def test_environment_first_release() -> None:
    c = check_environment(state(), version_serving=None, now=T)
    assert c.status is PASS and "first release" in c.summary
    c = check_environment(state(), version_serving="1.0.0", now=T)
    assert c.status is FAIL


def test_environment_degraded_and_unhealthy() -> None:
    degraded = check_environment(
        state(inst(1), inst(2), inst(3, ready=False)), version_serving="1.0.0", now=T
    )
    assert degraded.status is WARN and degraded.summary.startswith("DEGRADED: 2/3")
    assert any("i3" in e and "not ready" in e for e in degraded.evidence)
    half = check_environment(state(inst(1), inst(2, ready=False)), version_serving="1.0.0", now=T)
    assert half.status is WARN  # exactly 50% ready
    low = check_environment(
        state(inst(1), inst(2, ready=False), inst(3, ready=False)), version_serving="1.0.0", now=T
    )
    assert low.status is FAIL and low.summary.startswith("UNHEALTHY")


@pytest.mark.parametrize(
    "kw",
    [
        {"crash_loop": True},
        {"oom_kills": 1},
        {"restart_times": (T - 10, T - 20, T - 30, T - 40)},
    ],
)
def test_environment_severe_problems_fail(kw: dict[str, Any]) -> None:
    c = check_environment(state(inst(1), inst(2, **kw)), version_serving="1.0.0", now=T)
    assert c.status is FAIL


def test_environment_restarts_outside_window_and_draining_ignored() -> None:
    old = (T - 1000, T - 2000, T - 3000, T - 4000)
    c = check_environment(
        state(inst(1, restart_times=old), inst(2, ready=False, draining=True), inst(3, "0.9.0")),
        version_serving="1.0.0",
        now=T,
    )
    assert c.status is PASS and c.summary == "HEALTHY: 1/1 instances of 1.0.0 ready"
    three = (T - 10, T - 20, T - 30)
    ok = check_environment(state(inst(1, restart_times=three)), version_serving="1.0.0", now=T)
    assert ok.status is PASS  # 3 restarts is not more than max_restarts=3


# -- monitoring, incidents --------------------------------------------------------------------


def test_monitoring() -> None:
    assert check_monitoring(True, "prometheus: up").status is PASS
    c = check_monitoring(False, "http://prom:9090: connection refused")
    assert c.status is FAIL and c.remedy and c.category == "environment"


def test_incidents() -> None:
    assert check_incidents(None).status is WARN
    assert check_incidents(None).summary == "incident store not available"
    assert check_incidents([]).status is PASS
    p2 = IncidentRef("INC-7", "P2", "INVESTIGATING", "slow search")
    c = check_incidents([p2])
    assert c.status is PASS and "1 lower-priority" in c.summary
    p1 = IncidentRef("INC-8", "P1", "MITIGATING", "checkout errors")
    c = check_incidents([p1, p2])
    assert c.status is FAIL and "INC-8" in c.summary and "INC-7" not in c.summary
    closed = IncidentRef("INC-1", "P0", "RESOLVED", "old")
    assert check_incidents([closed]).status is PASS


# -- artifacts ------------------------------------------------------------------------------


def checksum(path: str, ok: bool = True, missing: bool = False) -> ChecksumResult:
    return ChecksumResult(path, "a" * 64, None if missing else ("a" if ok else "b") * 64, ok)


def signature(ok: bool) -> SignatureResult:
    return SignatureResult("app.tar.gz", "app.tar.gz.sig", "ssh", ok, "Good signature")


def test_artifacts_checksums() -> None:
    (c,) = check_artifacts(None, None, signature_required=False)
    assert c.status is WARN and c.summary == "no checksum file configured"
    (c,) = check_artifacts([checksum("a.tar"), checksum("b.tar")], None, signature_required=False)
    assert c.status is PASS
    (c,) = check_artifacts(
        [checksum("a.tar", ok=False), checksum("b.tar", ok=False, missing=True)],
        None,
        signature_required=False,
    )
    assert c.status is FAIL and "a.tar" in c.summary and "b.tar" in c.summary
    assert "b.tar: missing" in c.evidence


def test_artifacts_signature() -> None:
    ok = [checksum("a.tar")]
    _, sig = check_artifacts(ok, None, signature_required=True)
    assert sig.status is FAIL and sig.name == "artifact signature"
    _, sig = check_artifacts(ok, signature(False), signature_required=False)
    assert sig.status is FAIL  # a failed signature fails even when not required
    _, sig = check_artifacts(ok, signature(True), signature_required=True)
    assert sig.status is PASS and sig.category == "artifacts"


# -- freeze ---------------------------------------------------------------------------------


BERLIN = ZoneInfo("Europe/Berlin")
FRIDAY_NIGHT = FreezeWindow(
    "weekend", "Europe/Berlin", "18:00", "08:00", days=("fri",), reason="no weekend deploys"
)


def test_freeze_inside_fails_with_local_end() -> None:
    c = check_freeze([FRIDAY_NIGHT], datetime(2026, 11, 20, 20, 0, tzinfo=BERLIN))
    assert c.status is FAIL and c.category == "schedule"
    assert "'weekend'" in c.summary and "Sat 2026-11-21 08:00 CET" in c.summary


def test_freeze_soon_warns_and_later_passes() -> None:
    soon = check_freeze([FRIDAY_NIGHT], datetime(2026, 11, 20, 16, 30, tzinfo=BERLIN))
    assert soon.status is WARN and "Fri 2026-11-20 18:00 CET" in soon.summary
    edge = check_freeze([FRIDAY_NIGHT], datetime(2026, 11, 20, 16, 0, tzinfo=BERLIN))
    assert edge.status is WARN  # exactly 2 hours ahead
    later = check_freeze([FRIDAY_NIGHT], datetime(2026, 11, 20, 15, 59, tzinfo=BERLIN))
    assert later.status is PASS and any("next" in e for e in later.evidence)
    assert check_freeze([], NOW).status is PASS


def test_freeze_invalid_window_fails() -> None:
    bad = FreezeWindow("bad", "Nowhere/Special", "18:00", "08:00", days=("fri",))
    c = check_freeze([bad], NOW)
    assert c.status is FAIL and "unknown time zone" in c.evidence[0]
    with pytest.raises(ValueError):
        check_freeze([FRIDAY_NIGHT], datetime(2026, 11, 20, 20, 0))


# -- the decision -----------------------------------------------------------------------------


def check(name: str, status: CheckStatus, category: str = "gates", remedy: str = "") -> Check:
    return Check(name, category, status, f"{name} is {status.value}", remedy=remedy)


def test_decide_go() -> None:
    r = decide(
        service="shop",
        version="1.2.0",
        at=NOW,
        checks=[check("a", PASS), check("b", PASS, "environment")],
    )
    assert r.decision is Decision.GO
    assert r.blockers == () and r.conditions == ()
    assert r.rationale[0] == "2 checks: 2 PASS, 0 WARN, 0 FAIL"
    assert "gates: PASS (1 checks)" in r.rationale
    assert r.service == "shop" and r.version == "1.2.0" and r.at == NOW


def test_decide_conditional_go() -> None:
    r = decide(
        service="shop",
        version="1.2.0",
        at=NOW,
        checks=[check("a", PASS), check("drill", WARN, "rollback", "watchstander rollback drill")],
    )
    assert r.decision is Decision.CONDITIONAL_GO
    assert r.conditions == ("drill: drill is WARN (remedy: watchstander rollback drill)",)
    assert r.blockers == ()
    assert r.rationale[0] == "2 checks: 1 PASS, 1 WARN, 0 FAIL"
    assert any("drill" in line and "CONDITIONAL_GO" in line for line in r.rationale)


def test_decide_no_go() -> None:
    checks = [check("a", PASS), check("b", WARN), check("tests", FAIL, remedy="fix them")]
    r = decide(service="shop", version="1.2.0", at=NOW, checks=checks)
    assert r.decision is Decision.NO_GO and r.decision.value == "NO-GO"
    assert r.blockers == ("tests: tests is FAIL (remedy: fix them)",)
    assert r.rationale[0] == "3 checks: 1 PASS, 1 WARN, 1 FAIL"
    assert r.checks == tuple(checks)


def test_decide_without_checks_needs_a_human() -> None:
    r = decide(service="shop", version="1.2.0", at=NOW, checks=[])
    assert r.decision is Decision.CONDITIONAL_GO and r.conditions


def test_decide_end_to_end() -> None:
    checks = [
        check_tests([junit_run(TestStatus.PASSED)]),
        check_security([]),
        *check_approvals([], ["release-manager"], version="1.2.0"),
        *check_rollback(has_stable=False, plan_files=(), last_drill=None, now=NOW),
        check_environment(state(inst(1)), version_serving="1.0.0", now=T),
        check_monitoring(True, ""),
        check_incidents([]),
        *check_artifacts(None, None, signature_required=False),
        check_freeze([FRIDAY_NIGHT], NOW),
    ]
    assert {c.category for c in checks} <= set(CATEGORIES)
    r = decide(service="shop", version="1.2.0", at=NOW, checks=checks)
    assert r.decision is Decision.NO_GO
    assert r.blockers == (
        "approval: release-manager: no release-manager approval for 1.2.0 "
        "(remedy: watchstander approve 1.2.0 --role release-manager --by NAME)",
    )


# -- error budget -------------------------------------------------------------------------------


def slo(name: str, assessment: str, remaining: float | None, **kw: Any) -> SloState:
    status = {"HEALTHY": "ON TARGET", "MONITOR": "AT RISK", "CRITICAL": "AT RISK"}[assessment]
    if remaining is not None and remaining <= 0:
        status = "EXCEEDED"
    return SloState(name, status, assessment, remaining, **kw)


def test_no_slos_pass_and_an_unknown_state_warns() -> None:
    assert check_error_budget([]).status is PASS
    unknown = check_error_budget(None, stale="store locked")
    assert unknown.status is WARN and unknown.evidence == ("store locked",)


@pytest.mark.parametrize(
    ("states", "fix", "expected"),
    [
        ([slo("avail", "HEALTHY", 0.9)], None, PASS),
        ([slo("avail", "HEALTHY", None)], None, PASS),  # nothing measured: nothing spent
        ([slo("avail", "HEALTHY", 0.9), slo("p99", "MONITOR", 0.49)], None, WARN),
        ([slo("avail", "MONITOR", 0.8, burn_rate_1h=2.0)], None, WARN),  # burning now
        ([slo("avail", "CRITICAL", 0.24)], None, FAIL),
        ([slo("avail", "CRITICAL", -0.5), slo("p99", "MONITOR", 0.4)], None, FAIL),
        ([slo("avail", "CRITICAL", 0.0)], "P0", WARN),  # the freeze lets P0 fixes through
        ([slo("avail", "CRITICAL", 0.0)], "security", WARN),
        ([slo("avail", "MONITOR", 0.4)], "P0", WARN),
    ],
)
def test_error_budget_status(
    states: list[SloState], fix: str | None, expected: CheckStatus
) -> None:
    assert check_error_budget(states, fix=fix).status is expected


def test_a_critical_budget_names_the_slos_and_the_freeze() -> None:
    check = check_error_budget(
        [
            slo("availability", "CRITICAL", -1.0, burn_rate_1h=2.0, alert="page"),
            slo("p99", "MONITOR", 0.3),
            slo("throughput", "HEALTHY", 1.0),
        ]
    )
    assert check.summary == "error budget critical for 1 SLO(s): availability: incident freeze"
    assert check.evidence == (
        "availability: EXCEEDED / CRITICAL (-100.0% of budget left, burning 2.00x over 1 h, "
        "page alert firing)",
        "p99: AT RISK / MONITOR (30.0% of budget left)",
    )
    assert "halt changes other than P0 and security fixes" in (check.remedy or "")
    decision = decide(service="s", version="1", at=NOW, checks=[check])
    assert decision.decision is Decision.NO_GO


def test_a_healthy_budget_names_the_least_left_and_a_stale_measurement() -> None:
    check = check_error_budget(
        [slo("a", "HEALTHY", 0.9), slo("b", "HEALTHY", 0.6)], stale="builtin: refused"
    )
    assert check.summary == "2 SLO(s) healthy; least budget left: b 60.0%"
    assert check.evidence == (
        "not measured just now (builtin: refused); judged on stored measurements",
    )
