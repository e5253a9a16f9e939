"""The incident desk on a real SQLite store with real files, a real local HTTP receiver
(HMAC verified) and virtual time (FakeClock). The target and metric source of the
rollback test are the test doubles FakeTarget and FakeMetricSource."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml
from aiohttp import web

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.engine import operations
from watchstander.engine.incidents import IncidentDesk
from watchstander.engine.operations import Workspace
from watchstander.errors import InputError
from watchstander.incident.escalation import Person, Roster, Rotation
from watchstander.incident.models import IncidentStatus, Priority, Urgency
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.notify.webhook import GenericWebhook, verify_signature
from watchstander.providers.targets.fake import FakeTarget
from watchstander.release.models import RolloutPhase, Strategy

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)
SECRET = "s3cret-for-tests"


def workspace(tmp_path: Path, **extra: Any) -> Workspace:
    config = {
        "service": {"name": "shop"},
        "target": {"type": "local", "command": ["serve", "{port}"], "replicas": 2},
        "strategy": {"observation": "1m", "canary": {"steps": [50, 100]}},
        "analysis": {"interval": "30s", "count": 1},
        "readiness": {"enabled": False},
        **extra,
    }
    (tmp_path / "watchstander.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Workspace.load(tmp_path)


def alert_group(status: str, *, key: str = '{}:{alertname="HighErrorRate"}') -> bytes:
    def alert(name: str, instance: str) -> dict[str, Any]:
        return {
            "status": status,
            "labels": {"alertname": name, "severity": "critical", "instance": instance},
            "annotations": {"summary": f"{name} on {instance}"},
            "startsAt": "2026-11-21T09:58:00Z",
            "endsAt": "0001-01-01T00:00:00Z" if status == "firing" else "2026-11-21T10:30:00Z",
            "generatorURL": "http://prometheus:9090/graph",
            "fingerprint": f"fp-{instance}",
        }

    return json.dumps(
        {
            "version": "4",
            "groupKey": key,
            "truncatedAlerts": 0,
            "status": status,
            "receiver": "watchstander",
            "groupLabels": {"alertname": "HighErrorRate"},
            "commonLabels": {
                "alertname": "HighErrorRate",
                "severity": "critical",
                "service": "shop",
            },
            "commonAnnotations": {},
            "externalURL": "http://alertmanager:9093",
            "alerts": [alert("HighErrorRate", "a:8080"), alert("HighErrorRate", "b:8080")],
        }
    ).encode()


def test_two_alerts_make_one_incident_and_resolved_resolves_it(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    clock = FakeClock(T0)
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        first, outcome = desk.ingest_alertmanager(alert_group("firing"), "am.json")
        assert outcome == "opened"
        again, outcome = desk.ingest_alertmanager(alert_group("firing"), "am.json")
        assert (again, outcome) == (first, "updated")
        assert len(store.incidents()) == 1
        inc = desk.load(first).incident
        assert inc.priority is Priority.P0 and inc.status is IncidentStatus.DETECTED
        clock.advance(600)
        resolved, outcome = desk.ingest_alertmanager(alert_group("resolved"), "am.json")
        assert (resolved, outcome) == (first, "resolved")
        assert desk.load(first).incident.status is IncidentStatus.RESOLVED
        # a resolved payload again changes nothing
        assert desk.ingest_alertmanager(alert_group("resolved"), "am.json")[1] == "dropped"
    record = tmp_path / ".aiwg" / "incidents" / first / "incident-record.md"
    assert record.is_file() and first in record.read_text(encoding="utf-8")


def test_a_malformed_payload_stores_nothing(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    bad = json.loads(alert_group("firing"))
    bad["alerts"][1]["startsAt"] = "yesterday"
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, FakeClock(T0), notifiers={})
        with pytest.raises(InputError) as err:
            desk.ingest_alertmanager(json.dumps(bad), "am.json")
        assert str(err.value).startswith("am.json") and "alerts[1].startsAt" in str(err.value)
        assert store.incidents() == []


@pytest.fixture
async def receiver() -> AsyncIterator[dict[str, Any]]:
    """A real HTTP receiver on loopback that verifies the HMAC of every post; it answers
    503 to the first `fail` posts."""
    seen: dict[str, Any] = {"posts": [], "fail": 0}

    async def hook(request: web.Request) -> web.Response:
        body = await request.read()
        if seen["fail"] > 0:
            seen["fail"] -= 1
            return web.Response(status=503)
        ok = verify_signature(body, request.headers.get("X-Watchstander-Signature", ""), SECRET)
        seen["posts"].append({"ok": ok, "json": json.loads(body)})
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    seen["url"] = f"http://127.0.0.1:{port}/hook"
    try:
        yield seen
    finally:
        await runner.cleanup()


async def test_messages_are_signed_retried_and_never_dropped(
    tmp_path: Path, receiver: dict[str, Any]
) -> None:
    ws = workspace(tmp_path)
    clock = FakeClock(T0)
    receiver["fail"] = 2
    with ws.open_store() as store:
        desk = IncidentDesk(
            ws, store, clock, notifiers={"hook": GenericWebhook(receiver["url"], SECRET)}
        )
        loaded = desk.declare(title="checkout errors", urgency=Urgency.HIGH, users_affected_pct=60)
        inc = loaded.incident
        assert await desk.deliver() == (0, 2)  # both messages hit the 503s
        assert receiver["posts"] == []
        pending = store.deliveries(inc.id)
        assert {d["status"] for d in pending} == {"pending"}
        assert all(d["next_attempt_at"] > clock.now() for d in pending)
        clock.advance(120)
        assert await desk.deliver() == (2, 0)
    assert [p["ok"] for p in receiver["posts"]] == [True, True]
    kinds = [p["json"].get("kind") for p in receiver["posts"]]
    assert kinds == ["initial-alert", "status-page-update"]
    assert inc.id in json.dumps(receiver["posts"][0]["json"])


def roster() -> Roster:
    start = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)
    people = tuple(
        Person(name, {"email": f"{name}@example.invalid"}, "UTC", frozenset())
        for name in ("ann", "ben", "cat", "dan", "eve", "ivy")
    )
    rotation = lambda name, member: Rotation(  # noqa: E731
        name=name, members=(member,), start=start, shift=timedelta(days=7), timezone="UTC"
    )
    return Roster(
        people=people,
        rotations=(
            rotation("tier1", "ann"),
            rotation("tier2", "ben"),
            rotation("tier3", "cat"),
            rotation("management", "dan"),
            rotation("executive", "eve"),
            rotation("incident_commander", "ivy"),
        ),
    )


async def test_a_p0_day_fires_its_escalations_once_each_in_order(tmp_path: Path) -> None:
    from watchstander.incident.escalation import DEFAULT_POLICY

    ws = workspace(tmp_path)
    clock = FakeClock(T0)
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        desk._roster = (roster(), DEFAULT_POLICY)
        inc = desk.declare(title="site down", urgency=Urgency.HIGH, outage=True).incident
        assert inc.priority is Priority.P0
        assert inc.roles  # the incident commander came from the roster
        fired: list[tuple[int, str]] = []
        for minute in range(0, 24 * 60 + 1):
            if minute:
                clock.advance(60)
            report = await desk.tick()
            fired += [(minute, reason) for _, reason in report.escalations]
            if minute == 10:
                desk.acknowledge(inc.id, "ann")
        # ticking again at the same time fires nothing (idempotent)
        assert (await desk.tick()).escalations == []
    minutes = [m for m, _ in fired]
    assert minutes == sorted(minutes)
    targets = " | ".join(reason for _, reason in fired)
    for expected in ("tier2", "tier3", "management", "executive"):
        assert expected in targets, targets
    # the functional and hierarchical steps, each exactly once, at their minute
    steps = [
        (m, r.split(":")[0]) for m, r in fired if not r.startswith(("tier1", "incident_commander"))
    ]
    assert steps == [
        (15, "tier2 (ben)"),
        (30, "tier3 (cat)"),
        (30, "management (dan)"),
        (120, "executive (eve)"),
    ], steps
    # tier1 was paged at 0 and re-paged at 5 and 10 until acknowledged at minute 10
    assert [m for m, r in fired if r.startswith("tier1")] == [0, 5, 10]
    # then the acknowledged incident went quiet: reminders every 15 min to its commander
    reminders = [m for m, r in fired if r.startswith("incident_commander")]
    assert reminders[0] == 25 and all(
        b - a == 15 for a, b in zip(reminders, reminders[1:], strict=False)
    )


def failing(version: str):
    def handler(q: MetricQuery) -> Sample:
        if q.version == version and q.metric == "error_rate":
            return Sample(value=0.2, count=500, query="errors")
        values = {"error_rate": 0.001, "latency_p99": 40.0, "throughput": 50.0}
        return Sample(value=values.get(q.metric, 1.0), count=500, query=q.metric)

    return handler


async def test_a_rolled_back_deploy_declares_a_p1_with_its_regression_analysis(
    tmp_path: Path,
) -> None:
    ws = workspace(tmp_path)
    clock = FakeClock(T0)
    target = FakeTarget(clock=clock)
    metrics = FakeMetricSource(failing("1.1.0"))
    first = await operations.deploy(ws, "1.0.0", clock=clock, target=target, metrics=metrics)
    assert first.phase is RolloutPhase.SUCCEEDED
    bad = await operations.deploy(
        ws, "1.1.0", strategy=Strategy.CANARY, clock=clock, target=target, metrics=metrics
    )
    assert bad.phase is RolloutPhase.ROLLED_BACK
    with ws.open_store() as store:
        (data,) = store.incidents()
        store_events = store.events(bad.id)
        events = [e.kind for e in store_events]
    assert data["priority"] == "P1" and data["rollout_id"] == bad.id
    assert "incident.declared" in events, [e.message for e in store_events][-2:]
    assert data["triage"]["verdict"]["verdict"] in ("CONFIRMED", "LIKELY")
    folder = tmp_path / ".aiwg" / "incidents" / data["id"]
    analysis = (folder / "regression-analysis.md").read_text(encoding="utf-8")
    assert bad.id in analysis
    assert (folder / "timeline.md").is_file()
    review = (folder / "post-incident-review.md").read_text(encoding="utf-8")
    assert data["id"] in review and "MTTD" in review and bad.id in review
    mitigation = (folder / "mitigation-report.md").read_text(encoding="utf-8")
    assert "rollback" in mitigation.lower() and bad.id in mitigation
    register = tmp_path / ".aiwg" / "regression" / "regression-register-summary.md"
    assert data["id"] in register.read_text(encoding="utf-8")
    # idempotent: a second declaration for the same rollout returns the same incident
    with ws.open_store() as store:
        again = await IncidentDesk(ws, store, clock).declare_from_rollout(bad)
        assert again is not None and again.incident.id == data["id"]
        assert len(store.incidents()) == 1
        figures = IncidentDesk(ws, store, clock).stats()
    p1 = figures["by_priority"]["P1"]
    # impact began at the 50% step, detection was the rollback decision, 30 s later
    assert p1["mttd"]["count"] == 1 and p1["mttd"]["mean_s"] == 30.0
    assert figures["rollback_success_rate"]["value"] == 1.0
    assert figures["regression_detection_rate"]["numerator"] == 1


RCA = {
    "five_whys": {
        "problem": "checkout failed for 4 minutes",
        "whys": [
            {"why": "Why did checkout fail?", "answer": "the pricing service timed out"},
            {"why": "Why did it time out?", "answer": "a query lost its index"},
            {"why": "Why was the index lost?", "answer": "the migration dropped it"},
        ],
        "root_cause": "the migration dropped it",
    },
    "preventive_actions": [
        {"id": "PA-1", "title": "index check in CI", "owner": "ben", "horizon": "1 week"},
        {"id": "PA-2", "title": "migration review", "owner": "cat", "horizon": "1 month"},
    ],
}


async def test_preventive_actions_are_reminded_once_and_tracked_to_completion(
    tmp_path: Path,
) -> None:
    ws = workspace(tmp_path)
    clock = FakeClock(T0)
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        inc = desk.declare(title="checkout", urgency=Urgency.HIGH, users_affected_pct=60).incident
        desk.record_rca(inc.id, RCA, "rca.yaml", "ivy")
        assert (await desk.tick()).reminders == 0  # due in a week
        clock.advance(6 * 86400 + 60)  # within a day of PA-1's due time
        assert (await desk.tick()).reminders == 1
        assert (await desk.tick()).reminders == 0  # once
        clock.advance(2 * 86400)
        assert (await desk.tick()).reminders == 1  # now overdue
        desk.complete_action(inc.id, "PA-1", "ben")
        clock.advance(40 * 86400)
        assert (await desk.tick()).reminders == 1  # PA-2: overdue (its due-soon day passed)
        stored = desk.load(inc.id).extras
    statuses = {a["id"]: a["status"] for a in stored["preventive_actions"]}
    assert statuses == {"PA-1": "done", "PA-2": "open"}
    text = (tmp_path / ".aiwg" / "incidents" / inc.id / "preventive-actions.md").read_text()
    assert "PA-1" in text and "PA-2" in text
    rca_doc = (tmp_path / ".aiwg" / "incidents" / inc.id / "root-cause-analysis.md").read_text()
    assert "the migration dropped it" in rca_doc


def test_a_chain_that_misses_its_root_cause_is_refused(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    bad = {"five_whys": {**RCA["five_whys"], "root_cause": "cosmic rays"}}
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, FakeClock(T0), notifiers={})
        inc = desk.declare(title="checkout", urgency=Urgency.LOW).incident
        with pytest.raises(InputError) as err:
            desk.record_rca(inc.id, bad, "rca.yaml", "ivy")
        assert str(err.value).startswith("rca.yaml") and "root_cause" in str(err.value)
        assert "rca" not in desk.load(inc.id).extras


async def test_a_major_incident_freezes_deploys_until_lifted(tmp_path: Path) -> None:
    from watchstander.engine.pipeline import prepare
    from watchstander.errors import BlockedError, DataPlaneError

    ws = workspace(tmp_path)
    clock = FakeClock(T0)

    async def try_deploy() -> None:
        await prepare(
            ws,
            "2.0.0",
            clock=clock,
            strategy=Strategy.CANARY,
            guidance=None,
            threshold=None,
            confirm=lambda q: True,
            say=lambda line: None,
        )

    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        desk.declare(title="checkout down", urgency=Urgency.HIGH, outage=True)
        assert desk.freeze() is None  # one P0 is not a major incident
        desk.declare(title="search down", urgency=Urgency.HIGH, users_affected_pct=60)
        frozen = desk.freeze()
        assert frozen is not None and len(frozen["incidents"]) == 2
    with pytest.raises(BlockedError, match="change freeze"):
        await try_deploy()
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        with pytest.raises(Exception, match="reason"):
            desk.lift_freeze("ivy", "")
        desk.lift_freeze("ivy", "both mitigated")
        assert desk.freeze() is None
        await desk.tick()  # the same two incidents do not freeze again once lifted
        assert desk.freeze() is None
    # lifted: the deploy gets past the freeze (and stops at the missing data plane)
    with pytest.raises(DataPlaneError):
        await try_deploy()


async def test_evidence_is_preserved_with_a_verifiable_manifest(tmp_path: Path) -> None:
    from watchstander.inputs.checksums import verify_checksums

    ws = workspace(tmp_path)
    logs = ws.state_dir / "logs"
    logs.mkdir(parents=True)
    (logs / "1.1.0.log").write_text("GET /admin 200 from 203.0.113.9\n", encoding="utf-8")
    (ws.state_dir / "dataplane.log").write_text("router started\n", encoding="utf-8")
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, FakeClock(T0), notifiers={})
        inc = desk.declare(
            title="admin exposed", urgency=Urgency.HIGH, security_breach=True
        ).incident
        loaded = await desk.preserve_evidence(inc.id, "sec-lead")
    folder = tmp_path / ".aiwg" / "incidents" / inc.id / "evidence"
    assert sorted(loaded.extras["evidence"]["files"]) == [
        "dataplane.log",
        "logs__1.1.0.log",
        "metrics-snapshot.json",
    ]
    results = verify_checksums(folder / "manifest.sha256")
    assert len(results) == 3 and all(r.ok for r in results)
    assert "203.0.113.9" in (folder / "logs__1.1.0.log").read_text(encoding="utf-8")


async def test_a_security_breach_notifies_legal_and_compliance_with_its_deadlines(
    tmp_path: Path, receiver: dict[str, Any]
) -> None:
    from watchstander.incident.escalation import DEFAULT_POLICY

    ws = workspace(
        tmp_path,
        incidents={
            "regulatory": [
                {"name": "GDPR Art. 33", "within": "72h"},
                {"name": "HIPAA breach notice", "within": "60d", "applies_to": ["data_loss"]},
            ]
        },
    )
    base = roster()
    staffed = Roster(
        people=(*base.people, Person("lee", {"email": "lee@example.invalid"}, "UTC", frozenset())),
        rotations=(
            *base.rotations,
            Rotation("legal", ("lee",), base.rotations[0].start, timedelta(days=7), "UTC"),
            Rotation("compliance", ("lee",), base.rotations[0].start, timedelta(days=7), "UTC"),
        ),
    )
    clock = FakeClock(T0)
    with ws.open_store() as store:
        desk = IncidentDesk(
            ws, store, clock, notifiers={"hook": GenericWebhook(receiver["url"], SECRET)}
        )
        desk._roster = (staffed, DEFAULT_POLICY)
        inc = desk.declare(
            title="admin exposed", urgency=Urgency.HIGH, security_breach=True
        ).incident
        report = await desk.tick()
        fired = [reason for _, reason in report.escalations]
        for target in ("executive (eve)", "legal (lee)", "compliance (lee)"):
            assert any(r.startswith(target) for r in fired), fired
        assert (await desk.tick()).escalations == []  # once each
        clock.advance(3600)
        assert not [r for _, r in (await desk.tick()).escalations if "legal" in r]
    kinds = [p["json"].get("kind") for p in receiver["posts"]]
    assert kinds.count("legal-notification") == 1  # one message for legal and compliance
    legal = next(
        p["json"] for p in receiver["posts"] if p["json"].get("kind") == "legal-notification"
    )
    assert all(p["ok"] for p in receiver["posts"])
    text = json.dumps(legal)
    # GDPR is due 72 h after the breach was recorded; HIPAA applies to data loss only.
    assert "GDPR Art. 33: due 2026-11-24 10:00 UTC" in text
    assert "HIPAA" not in text
    folder = tmp_path / ".aiwg" / "incidents" / inc.id
    filed = (folder / "communications" / "legal-notification.md").read_text(encoding="utf-8")
    assert "Legal and Compliance Notification" in filed and "security breach" in filed
    record = (folder / "incident-record.md").read_text(encoding="utf-8")
    assert "| GDPR Art. 33 | 2026-11-24 10:00 UTC | due in 71 h |" in record, record


async def test_triage_cites_the_slos_budget_and_burn(tmp_path: Path) -> None:
    ws = workspace(
        tmp_path,
        slos=[{"name": "availability", "metric": "error_rate", "max": 0.05, "objective": 99}],
        slo_monitoring={"resolution": "60s"},
    )
    clock = FakeClock(T0)
    with ws.open_store() as store:
        # The last hour as the watch loop stores it: 20% errors against a 1% budget,
        # a 20x burn over 1 h and 5 min (the page tier fires above 14.4x).
        rows = [
            (T0 - timedelta(minutes=m), T0 - timedelta(minutes=m - 1), 800.0, 1000.0, 0.2)
            for m in range(60, 0, -1)
        ]
        assert store.add_slo_buckets("availability", rows) == 60
        desk = IncidentDesk(ws, store, clock, notifiers={})
        loaded = desk.declare(title="checkout errors", urgency=Urgency.HIGH)
        loaded = await desk.triage(loaded.incident.id)
        (state,) = loaded.extras["triage"]["slos"]
        assert (state["name"], state["status"], state["assessment"], state["alert"]) == (
            "availability",
            "EXCEEDED",
            "CRITICAL",
            "page",
        )
        assert state["burn_rate_1h"] == pytest.approx(20.0)
        assert any(
            "SLOs: availability EXCEEDED (page alert)" in e.summary
            for e in loaded.incident.timeline
        )
        desk.render(loaded)
    text = (
        tmp_path / ".aiwg" / "incidents" / loaded.incident.id / "triage-assessment.md"
    ).read_text(encoding="utf-8")
    assert (
        "| availability | >= 99% of requests succeed | rolling 30d | 80.000% | -1900.0% | 20.00x "
        "| EXCEEDED / CRITICAL | page |"
    ) in text
    assert "A page-level burn-rate alert is firing for availability" in text
    assert "incident freeze, halt changes other than P0 and security fixes" in text
