"""`engine.gates.check_readiness` on real files and a real SQLite store.

The target and metric source are the test doubles FakeTarget and FakeMetricSource (the
CLI tests in tests/e2e/test_gates.py run the same checks against the real local data
plane); everything the checks read from disk is a real file, signatures are made and
verified with the real ssh-keygen."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.engine.gates import check_readiness
from watchstander.engine.operations import Workspace
from watchstander.errors import InputError
from watchstander.gates.guidance import parse_guidance
from watchstander.gates.models import Approval, Decision, Drill, IncidentRef
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.targets.fake import FakeTarget
from watchstander.store.repository import Store

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # a Friday


def healthy(q: MetricQuery) -> Sample:
    return Sample(value=0.001, count=500, query=f"{q.metric}{{{q.version}}}")


JUNIT = """<?xml version="1.0"?>
<testsuite name="integration" tests="2">
  <testcase classname="tests.test_api" name="test_orders" time="0.1"/>
  <testcase classname="tests.test_api" name="test_login" time="0.1"/>
</testsuite>
"""


def workspace(tmp_path: Path, readiness: dict, **extra) -> Workspace:
    config = {
        "service": {"name": "shop"},
        "target": {"type": "local", "command": ["serve", "{port}"], "replicas": 2},
        "readiness": readiness,
        **extra,
    }
    (tmp_path / "watchstander.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Workspace.load(tmp_path)


def artifact(tmp_path: Path) -> Path:
    dist = tmp_path / "dist"
    dist.mkdir(exist_ok=True)
    path = dist / "app.tar"
    path.write_bytes(b"release 1.1.0\n" * 100)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    (dist / "SHA256SUMS").write_text(f"{digest}  app.tar\n", encoding="utf-8")
    return path


def ssh_sign(tmp_path: Path, path: Path) -> None:
    key = tmp_path / "key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-f", str(key), "-n", "file", str(path)], check=True
    )
    public = (tmp_path / "key.pub").read_text().split()
    (tmp_path / "allowed_signers").write_text(f"release@example.invalid {public[0]} {public[1]}\n")


CLEAN_SARIF = (
    '{"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "scanner"}}, "results": []}]}'
)

READY = {
    "tests": ["results/*.xml"],
    "security": ["scan.sarif"],
    "approvals": ["release-manager"],
    "rollback_plan": ["rollback-plan.md"],
    "checksums": "dist/SHA256SUMS",
    "signature": {
        "type": "ssh",
        "artifact": "dist/app.tar",
        "signature": "dist/app.tar.sig",
        "allowed_signers": "allowed_signers",
        "identity": "release@example.invalid",
    },
}


@pytest.fixture
def ready(tmp_path: Path) -> Workspace:
    """Everything in place for 1.1.0 over a live 1.0.0."""
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "junit.xml").write_text(JUNIT, encoding="utf-8")
    (tmp_path / "rollback-plan.md").write_text("# plan\n", encoding="utf-8")
    (tmp_path / "scan.sarif").write_text(CLEAN_SARIF, encoding="utf-8")
    ssh_sign(tmp_path, artifact(tmp_path))
    ws = workspace(tmp_path, READY)
    with ws.open_store() as store:
        store.set_stable(service="shop", version="1.0.0", rollout_id=None, at=NOW)
        store.add_approval(
            Approval("shop", "1.1.0", "release-manager", "alice", NOW - timedelta(hours=1))
        )
        store.add_drill(
            Drill("shop", "staging", "1.1.0", "1.0.0", NOW - timedelta(days=1), True, 0.02)
        )
    return ws


async def check(ws: Workspace, **kw):
    clock = FakeClock(NOW)
    target = FakeTarget(clock=clock)
    await target.scale("1.0.0", 2)
    await target.set_weights({"1.0.0": 100.0})
    with ws.open_store() as store:
        return await check_readiness(
            ws,
            store,
            "1.1.0",
            clock=clock,
            target=target,
            metrics=FakeMetricSource(healthy),
            **kw,
        )


def statuses(outcome) -> dict[str, str]:
    return {c.name: c.status.value for c in outcome.readiness.checks}


async def test_everything_in_place_is_go(ready: Workspace) -> None:
    outcome = await check(ready)
    assert outcome.readiness.decision is Decision.GO, statuses(outcome)
    text = outcome.report.read_text(encoding="utf-8")
    assert "Overall Status: GO" in text
    assert "2 passed" in text or "2/2" in text


async def test_a_bad_signature_is_no_go(ready: Workspace, tmp_path: Path) -> None:
    # re-sign with another key: the signature is valid but not by the allowed signer
    other = tmp_path / "other"
    other.mkdir()
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other / "key")], check=True
    )
    (tmp_path / "dist" / "app.tar.sig").unlink()
    subprocess.run(
        ["ssh-keygen", "-q", "-Y", "sign", "-f", str(other / "key"), "-n", "file"]
        + [str(tmp_path / "dist" / "app.tar")],
        check=True,
    )
    outcome = await check(ready)
    assert outcome.readiness.decision is Decision.NO_GO
    failed = [c for c in outcome.readiness.checks if c.status.value == "FAIL"]
    assert [c.category for c in failed] == ["artifacts"], statuses(outcome)
    assert "signature" in failed[0].name


async def test_a_tampered_artifact_is_no_go(ready: Workspace, tmp_path: Path) -> None:
    with (tmp_path / "dist" / "app.tar").open("ab") as f:
        f.write(b"x")
    outcome = await check(ready)
    assert outcome.readiness.decision is Decision.NO_GO
    assert any("app.tar" in line for line in outcome.readiness.blockers)


async def test_an_open_p1_incident_is_no_go_and_a_p3_is_not(ready: Workspace) -> None:
    with ready.open_store() as store:
        store.record_incident(
            IncidentRef("INC-2026-11-20-001", "P3", "INVESTIGATING", "slow search", "shop"),
            detected_at=NOW,
        )
    assert (await check(ready)).readiness.decision is Decision.GO
    with ready.open_store() as store:
        store.record_incident(
            IncidentRef("INC-2026-11-20-002", "P1", "MITIGATING", "checkout errors", "shop"),
            detected_at=NOW,
        )
    outcome = await check(ready)
    assert outcome.readiness.decision is Decision.NO_GO
    assert any("INC-2026-11-20-002" in line for line in outcome.readiness.blockers)
    with ready.open_store() as store:
        store.record_incident(
            IncidentRef("INC-2026-11-20-002", "P1", "RESOLVED", "checkout errors", "shop"),
            detected_at=NOW,
            resolved_at=NOW,
        )
    assert (await check(ready)).readiness.decision is Decision.GO


async def test_security_guidance_requires_the_security_approval(ready: Workspace) -> None:
    outcome = await check(ready, guidance=parse_guidance("security-sensitive release"))
    assert outcome.readiness.decision is Decision.NO_GO
    assert statuses(outcome)["approval: security"] == "FAIL"


async def test_a_freeze_window_in_its_own_time_zone_is_no_go(tmp_path: Path) -> None:
    freeze = [
        # Friday 12:00 UTC is 13:00 in Berlin: inside a Friday 12:30-18:00 window there
        {
            "name": "friday afternoon",
            "timezone": "Europe/Berlin",
            "days": ["fri"],
            "start": "12:30",
            "end": "18:00",
        }
    ]
    ws = workspace(tmp_path, {"approvals": [], "freeze": freeze})
    outcome = await check(ws)
    assert statuses(outcome)["change freeze"] == "FAIL"
    assert outcome.readiness.decision is Decision.NO_GO


async def test_missing_evidence_is_conditional_go(tmp_path: Path) -> None:
    ws = workspace(tmp_path, {"approvals": []})
    outcome = await check(ws)
    assert outcome.readiness.decision is Decision.CONDITIONAL_GO
    assert any("integration tests" in c for c in outcome.readiness.conditions)


async def test_a_malformed_sarif_file_records_nothing(tmp_path: Path) -> None:
    (tmp_path / "scan.sarif").write_text('{"version": "2.1.0", "runs": [', encoding="utf-8")
    ws = workspace(tmp_path, {"approvals": [], "security": ["scan.sarif"]})
    with pytest.raises(InputError) as err:
        await check(ws)
    assert str(err.value).startswith(str(tmp_path / "scan.sarif"))
    with ws.open_store() as store:
        assert store.gates(kind="readiness") == []
    assert not (tmp_path / ".aiwg" / "deployment" / "deployment-readiness-report.md").exists()


async def test_a_migration_without_its_rollback_script_is_no_go(ready: Workspace) -> None:
    outcome = await check(ready, guidance=parse_guidance("database migration included"))
    assert outcome.readiness.decision is Decision.NO_GO
    assert any(
        c.category == "rollback" and c.status.value == "FAIL" for c in outcome.readiness.checks
    )


def test_store_keeps_approvals_drills_and_gates(tmp_path: Path) -> None:
    with Store.open(None, workdir=tmp_path) as store:
        store.add_approval(Approval("shop", "2.0.0", "cab", "bob", NOW, "ok"))
        assert [a.by for a in store.approvals("shop", "2.0.0")] == ["bob"]
        assert store.approvals("shop", "1.0.0") == []
        assert store.last_drill("shop") is None
        store.add_drill(Drill("shop", "staging", "2", "1", NOW, False, 0.0, "not ready"))
        store.add_drill(Drill("shop", "staging", "2", "1", NOW + timedelta(days=1), True, 0.01))
        last = store.last_drill("shop")
        assert last is not None and last.ok
        gid = store.save_gate(
            service="shop", version="2.0.0", kind="readiness", decision="GO", data={"a": 1}, at=NOW
        )
        assert store.latest_gate(service="shop", version="2.0.0", kind="readiness").id == gid
        assert store.gates(kind="staging") == []


def with_slo(ws: Workspace) -> Workspace:
    """`ws` with an availability SLO (99% of requests) measured in 1-minute buckets."""
    path = ws.config_path
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    config["slos"] = [
        {"name": "availability", "metric": "error_rate", "max": 0.05, "objective": 99}
    ]
    config["slo_monitoring"] = {"resolution": "60s", "backfill": "1h"}
    path.write_text(yaml.safe_dump(config), encoding="utf-8")
    return Workspace.load(path.parent)


def service_errors(rate: float):
    """Whole-service traffic (version "*", what the SLO engine asks) at `rate` errors."""

    def answer(q: MetricQuery) -> Sample:
        if q.version == "*":
            return Sample(value=rate, count=1000, query=f"{q.metric}{{*}}")
        return healthy(q)

    return answer


async def check_slo(ws: Workspace, rate: float, **kw):
    clock = FakeClock(NOW)
    target = FakeTarget(clock=clock)
    await target.scale("1.0.0", 2)
    await target.set_weights({"1.0.0": 100.0})
    with ws.open_store() as store:
        return await check_readiness(
            ws,
            store,
            "1.1.0",
            clock=clock,
            target=target,
            metrics=FakeMetricSource(service_errors(rate)),
            **kw,
        )


def budget_check(outcome):
    return next(c for c in outcome.readiness.checks if c.name == "error budget")


async def test_an_exhausted_error_budget_is_an_incident_freeze(
    ready: Workspace, tmp_path: Path
) -> None:
    ws = with_slo(ready)
    # 2% errors against a 1% budget over the measured hour: twice the budget spent.
    outcome = await check_slo(ws, 0.02)
    check = budget_check(outcome)
    assert outcome.readiness.decision is Decision.NO_GO
    assert check.status.value == "FAIL"
    assert "availability" in check.summary and "incident freeze" in check.summary
    assert "EXCEEDED / CRITICAL (-100.0% of budget left" in check.evidence[0]
    assert "P0 and security fixes" in (check.remedy or "")
    assert "error budget" in outcome.report.read_text(encoding="utf-8")
    with ws.open_store() as store:  # measured through the metric source, then stored
        assert len(store.slo_buckets("availability", NOW - timedelta(hours=2), NOW)) == 60


async def test_a_p0_fix_passes_the_freeze_with_a_condition(ready: Workspace) -> None:
    ws = with_slo(ready)
    outcome = await check_slo(ws, 0.02, guidance=parse_guidance("P0 fix for the checkout outage"))
    check = budget_check(outcome)
    assert check.status.value == "WARN"
    assert "allowed as a P0 fix" in check.summary
    assert outcome.readiness.decision is Decision.CONDITIONAL_GO


async def test_a_budget_under_half_is_a_condition_and_a_healthy_one_passes(
    ready: Workspace,
) -> None:
    ws = with_slo(ready)
    # 0.6% errors: 60% of the hour's budget spent, 40% left: AT RISK / MONITOR.
    outcome = await check_slo(ws, 0.006)
    check = budget_check(outcome)
    assert (check.status.value, outcome.readiness.decision) == ("WARN", Decision.CONDITIONAL_GO)
    assert "at risk for 1 SLO(s): availability" in check.summary
    assert "40.0% of budget left" in check.evidence[0]


async def test_a_healthy_budget_passes(ready: Workspace) -> None:
    ws = with_slo(ready)
    outcome = await check_slo(ws, 0.001)
    check = budget_check(outcome)
    assert check.status.value == "PASS"
    assert check.summary == "1 SLO(s) healthy; least budget left: availability 90.0%"
    assert outcome.readiness.decision is Decision.GO


async def test_a_source_that_fails_is_named_and_the_stored_budget_judged(
    ready: Workspace,
) -> None:
    ws = with_slo(ready)
    await check_slo(ws, 0.02)  # measured and stored: the budget is spent

    def down(q: MetricQuery) -> Sample:
        if q.version == "*":
            return Sample(value=None, count=0, query="error_rate{*}", error="connection refused")
        return healthy(q)

    clock = FakeClock(NOW + timedelta(minutes=5))
    target = FakeTarget(clock=clock)
    await target.scale("1.0.0", 2)
    await target.set_weights({"1.0.0": 100.0})
    with ws.open_store() as store:
        outcome = await check_readiness(
            ws, store, "1.1.0", clock=clock, target=target, metrics=FakeMetricSource(down)
        )
    check = budget_check(outcome)
    assert check.status.value == "FAIL"
    assert check.evidence[-1] == (
        "not measured just now (availability: connection refused); judged on stored measurements"
    )
