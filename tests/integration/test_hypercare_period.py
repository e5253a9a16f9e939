"""A 14-day hypercare driven by FakeClock and a scripted metric source (FakeMetricSource,
a test double standing in for the data plane or Prometheus): healthy days, a latency
regression on day 3 that pages and becomes a P1, recovery. Real SQLite store, real files.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.engine.hypercare import HypercareDesk
from watchstander.engine.incidents import IncidentDesk
from watchstander.engine.operations import Workspace
from watchstander.engine.slo import SloMonitor
from watchstander.incident.models import IncidentStatus, Priority
from watchstander.providers.metrics.fake import FakeMetricSource

START = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)  # hypercare starts; reports at 09:00 UTC
HOUR = timedelta(hours=1)
DAY = timedelta(days=1)
# The regression: p95 at 700 ms (2x the 300 ms SLA is 600) on day 3 from 10:00 to 11:30.
BAD_FROM = START + 2 * DAY + 2 * HOUR
BAD_UNTIL = BAD_FROM + 90 * timedelta(minutes=1)

ROSTER = """\
people:
  - {name: ann, timezone: Europe/Berlin, contacts: {email: ann@example.invalid}}
  - {name: bob, timezone: America/New_York, contacts: {email: bob@example.invalid}}
  - {name: kei, timezone: Asia/Tokyo, contacts: {email: kei@example.invalid}}
rotations:
  - {name: tier1, start: "2026-11-30", shift: 1d, members: [ann, bob, kei]}
"""


def script(q: MetricQuery) -> Sample:
    day = (q.start - START) // DAY + 1
    if q.metric == "error_rate":
        return Sample(0.0003, count=6000, query="script: error_rate")
    if q.metric == "latency_p95":
        bad = BAD_FROM <= q.start < BAD_UNTIL
        return Sample(700.0 if bad else 120.0, count=6000, query="script: p95")
    if q.metric == "active_users":
        return Sample(1000 * 1.1**day, count=1, query="script: users")
    if q.metric == "checkout_users":
        return Sample(400 * 1.12**day, count=1, query="script: checkout")
    raise AssertionError(f"unexpected metric {q.metric}")


def workspace(tmp_path: Path) -> Workspace:
    (tmp_path / "oncall.yaml").write_text(ROSTER, encoding="utf-8")
    config: dict[str, Any] = {
        "service": {"name": "shop"},
        "target": {"type": "local", "command": ["serve", "{port}"], "replicas": 2},
        "readiness": {"enabled": False},
        "slos": [
            {"name": "availability", "metric": "error_rate", "max": 0.001},
            {"name": "checkout p95", "metric": "latency_p95", "max": 300, "objective": 99},
        ],
        "slo_monitoring": {"resolution": "5m"},
        "incidents": {"roster": "oncall.yaml"},
        "hypercare": {
            "risk": "high",
            "report_time": "09:00",
            "active_users": "active_users",
            "features": [{"name": "checkout", "metric": "checkout_users", "target_pct": 30}],
        },
    }
    (tmp_path / "watchstander.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return Workspace.load(tmp_path)


FEEDBACK = [
    {"id": "T-1", "created": "2026-12-01T12:00:00Z", "category": "how-to", "sentiment": "positive"},
    {
        "id": "T-2",
        "created": "2026-12-03T10:20:00Z",
        "category": "performance",
        "sentiment": "negative",
        "critical": True,
        "status": "resolved",
    },
    {"id": "T-3", "created": "2026-12-05T09:30:00Z", "category": "bug", "sentiment": "positive"},
    {
        "id": "T-4",
        "created": "2026-12-08T15:00:00Z",
        "kind": "feedback",
        "category": "praise",
        "sentiment": "positive",
        "text": "checkout is fast",
    },
]


async def test_a_fourteen_day_hypercare(tmp_path: Path) -> None:
    ws = workspace(tmp_path)
    clock = FakeClock(START - DAY)  # a day of history before the release
    source = FakeMetricSource(script)
    feedback = tmp_path / "tickets.json"
    feedback.write_text(json.dumps(FEEDBACK), encoding="utf-8")
    with ws.open_store() as store:
        desk = IncidentDesk(ws, store, clock, notifiers={})
        monitor = SloMonitor(ws.config, store, clock, source, desk=desk)
        care = HypercareDesk(ws, store, clock, source, monitor=monitor)

        async def run_until(until: datetime) -> list[Any]:
            pages = []
            while clock.now() < until:
                clock.advance(900)  # the watch loop, every 15 min of virtual time
                tick = await monitor.tick()
                pages += tick.incidents
                await desk.tick()
                await care.tick()
            return pages

        await run_until(START)
        period, setup = care.start(version="2.0.0")
        assert (period.days, period.risk.value) == (14, "high")
        assert {p.name for p in setup} == {
            "hypercare-team-roster.md",
            "production-dashboard-config.md",
            "alert-escalation-matrix.md",
        }
        assert care.import_feedback(feedback) == (4, 0)

        # Days 1-3: the regression pages within the fast tier and opens a P1.
        pages = await run_until(BAD_UNTIL + HOUR)
        assert len(pages) == 1
        (incident_id,) = pages
        inc = desk.load(incident_id).incident
        assert inc.priority is Priority.P1, inc
        assert BAD_FROM < inc.detected <= BAD_FROM + 15 * timedelta(minutes=1)
        assert "p95 >2x SLA" in inc.description
        # People resolve it and record the RCA (the PIR's substance) that evening.
        clock.advance(2 * 3600)
        desk.acknowledge(incident_id, "ann")
        desk.set_status(incident_id, IncidentStatus.RESOLVED, "ann", "reverted the cache change")
        from tests.integration.test_incident_desk import RCA

        desk.record_rca(incident_id, RCA, "rca.yaml", "ann")

        # Day 4: EXTEND, naming why.
        await run_until(START + 3 * DAY + HOUR)
        verdict, _ = care.exit_check()
        assert verdict.day == 4
        assert (verdict.status.value, verdict.decision.value) == ("FAIL", "EXTEND HYPERCARE")
        assert verdict.criterion("no_p1_24h").met is False
        assert incident_id in verdict.criterion("no_p1_24h").detail
        assert verdict.criterion("slos_72h").met is False
        assert "checkout p95" in verdict.criterion("slos_72h").detail
        assert verdict.extension is not None and verdict.extension.days >= 1
        criteria = (tmp_path / ".aiwg/reports/hypercare-exit-criteria.md").read_text()
        assert "Decision: **EXTEND HYPERCARE**" in criteria and incident_id in criteria

        # Days 5-14: healthy. Support signs off; END on day 14.
        await run_until(START + 13 * DAY + 2 * HOUR)
        care.signoff("support-lead", "sam")
        verdict, _ = care.exit_check()
        assert verdict.day == 14
        assert (verdict.status.value, verdict.decision.value) == ("PASS", "END HYPERCARE"), [
            (c.key, c.met, c.detail) for c in verdict.criteria
        ]
        ended, final, paths = care.end("lead")
        assert final.decision.value == "END HYPERCARE"
        days = store.hypercare_days(period.id)

    deployment = tmp_path / ".aiwg/deployment"
    reports = tmp_path / ".aiwg/reports"
    # Every daily report, one per day, and two weekly summaries.
    assert [d["day"] for d in days] == list(range(1, 15))
    for d in days:
        for name in ("slo-report", "user-adoption", "hypercare-standup"):
            assert (deployment / f"{name}-{d['date']}.md").exists(), (name, d["date"])
    assert sorted(p.name for p in reports.glob("hypercare-week-*-summary.md")) == [
        "hypercare-week-1-summary.md",
        "hypercare-week-2-summary.md",
    ]
    # Day 4's cycle (09:00) covers the regression of day 3, 10:00-11:30.
    health = {d["day"]: d["health"] for d in days}
    assert health[4] in ("YELLOW", "RED") and health[1] == "GREEN" and health[14] == "GREEN"
    day4 = (deployment / f"hypercare-standup-{days[3]['date']}.md").read_text()
    assert incident_id in day4
    slo4 = (deployment / f"slo-report-{days[3]['date']}.md").read_text()
    assert "worst 700 ms" in slo4  # the worst p95 of the day, measured
    week1 = (reports / "hypercare-week-1-summary.md").read_text()
    assert "P1: 1" in week1
    adoption = (deployment / f"user-adoption-{days[5]['date']}.md").read_text()
    assert "INCREASING" in adoption
    exit_report = (reports / "hypercare-exit-report.md").read_text()
    assert "END HYPERCARE" in exit_report and incident_id in exit_report
    assert (tmp_path / ".aiwg/risks/hypercare-risk-validation.md").exists()
    assert ended.status.value == "ended"
    assert [p.name for p in paths][-2:] == [
        "hypercare-exit-report.md",
        "hypercare-risk-validation.md",
    ]
