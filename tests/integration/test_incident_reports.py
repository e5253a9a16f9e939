"""Incident documents and messages rendered from real incident data.

Every incident here is built with the real pure functions (priority.declare, models.*,
escalation.due/apply, triage.*, rca.*, register.*), stored the way the engine stores it
(codec.to_data plus gates.serialize.to_data for the extras, through JSON), and rendered
into tmp_path.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from watchstander.gates.serialize import to_data
from watchstander.incident import codec, escalation, models, priority, rca, register, triage
from watchstander.incident.models import (
    Impact,
    Incident,
    IncidentStatus,
    Milestone,
    Priority,
    Role,
    TimelineKind,
    Urgency,
)
from watchstander.reports.incidents import (
    COMMUNICATION_KINDS,
    compose,
    status_page_phase,
    write_incident_reports,
    write_regression_register,
)

pytestmark = pytest.mark.integration

S = IncidentStatus
MIN = timedelta(minutes=1)
T0 = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)  # impact begins
DETECTED = T0 + 2 * MIN
ID = "INC-2026-11-21-001"
ROLLOUT = "r-42"
SHA = "1a2b3c4d5e6f7a8b"


def _roster() -> escalation.Roster:
    names = ("alice", "bob", "carol", "dave", "erin")
    people = tuple(escalation.Person(n, {"email": f"{n}@example.com"}) for n in names)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rotations = tuple(
        escalation.Rotation(rotation, (member,), start)
        for rotation, member in (
            ("tier1", "alice"),
            ("tier2", "bob"),
            ("tier3", "carol"),
            ("management", "dave"),
            ("executive", "erin"),
        )
    )
    return escalation.Roster(people, rotations)


ROSTER = _roster()


def escalate(incident: Incident, now: datetime) -> Incident:
    due = escalation.due(incident, escalation.DEFAULT_POLICY, ROSTER, now)
    return escalation.apply(incident, due, now)


def at(t: datetime) -> str:
    return t.isoformat()


DEPLOYMENT = triage.Deployment(
    service="shop",
    version="2.4.1",
    rollout_id=ROLLOUT,
    finished_at=T0 - 10 * MIN,
    started_at=T0 - 25 * MIN,
    strategy="canary",
    commits=(SHA[:12],),
)
COMMIT = triage.Commit(
    sha=SHA,
    author="dave",
    date=T0 - 180 * MIN,
    message="Drop currency from the card payload\n\nThe gateway infers it.",
    files=("src/shop/checkout/pay.py",),
    pr_number=128,
)
SYMPTOMS = triage.Symptoms(
    started_at=T0,
    components=("checkout",),
    services=("shop",),
    worked_before=True,
    error_signature="KeyError: 'currency' at shop/checkout/pay.py:42",
    seen_in_staging=True,
)
ROOT_CAUSE = "the currency field was removed from the card payload"


def regression_entry(
    rid: str = "REG-2026-11-21-001",
    *,
    component: str = "checkout",
    status: register.RegressionStatus = register.RegressionStatus.MITIGATED,
) -> register.RegressionEntry:
    return register.RegressionEntry(
        regression_id=rid,
        incident_id=ID,
        detection_date=date(2026, 11, 21),
        severity="P1",
        introduced_change=register.IntroducedChange(
            SHA, 128, "dave", date(2026, 11, 21), date(2026, 11, 21)
        ),
        regression_category=register.RegressionCategory.FUNCTIONAL,
        affected_functionality=register.AffectedFunctionality(component, "card payments", True),
        detection_gap=register.DetectionGap(
            register.EscapedTesting.INTEGRATION, 0.2, "no contract test for the payload"
        ),
        mitigation_action=register.MitigationAction.ROLLBACK,
        mitigation_time=43.0,
        preventive_actions=("add a contract test for the card payload",),
        status=status,
    )


Sent = dict[str, str]  # kind -> the file text the message must be filed as


def announce(
    inc: Incident, extra: dict[str, Any], kind: str, when: datetime, sent: Sent
) -> Incident:
    """What the engine does: compose from the stored data, send, note it on the timeline."""
    subject, text = compose(kind, stored(inc, extra))
    sent[kind] = f"# {subject}\n\n{text}"
    return models.record(
        inc, TimelineKind.MESSAGE, when, "watchstander", f"{kind}: {subject}", {"kind": kind}
    )


def stages() -> Iterator[tuple[str, Incident, dict[str, Any], Sent]]:
    """A P1 regression from detection to resolution: (stage, incident, extra data, the
    messages sent so far)."""
    sent: Sent = {}
    inc = priority.declare(
        id=ID,
        title="checkout errors",
        service="shop",
        detected=DETECTED,
        started=T0,
        reporter="alertmanager",
        urgency=Urgency.MEDIUM,
        impact=Impact.HIGH,
        description="Checkout returns HTTP 500 for card payments.",
        users_affected_pct=60,
    )
    inc = escalate(inc, DETECTED)
    inc = models.assign_role(inc, Role.ON_CALL, "alice", DETECTED + MIN, "watchstander")
    inc = announce(inc, {}, "initial-alert", DETECTED + MIN, sent)
    inc = announce(inc, {}, "status-page-update", DETECTED + MIN, sent)
    yield "detected", inc, {}, dict(sent)

    inc = models.acknowledge(inc, T0 + 5 * MIN, "alice")
    inc = models.assign_role(inc, Role.INCIDENT_COMMANDER, "carol", T0 + 6 * MIN, "alice")
    inc = models.assign_role(inc, Role.TECHNICAL_LEAD, "bob", T0 + 6 * MIN, "carol")
    inc = models.set_milestone(inc, Milestone.ENGAGED, T0 + 7 * MIN, "bob")
    inc = models.transition(inc, S.INVESTIGATING, T0 + 8 * MIN, "carol")
    verdict = triage.regression_verdict(SYMPTOMS, [DEPLOYMENT], [COMMIT], T0 + 10 * MIN)
    assert verdict.verdict is triage.RegressionVerdict.CONFIRMED
    feasibility = triage.rollback_feasibility(COMMIT.files, [COMMIT.message])
    blast = triage.blast_radius(
        SYMPTOMS, [COMMIT], suspect=verdict.suspect, users_affected=600, users_total=1000
    )
    action = triage.immediate_action(verdict, "P1", feasibility)
    inc = models.link_rollout(inc, ROLLOUT, T0 + 10 * MIN, "watchstander")
    extra: dict[str, Any] = {
        "triage": {
            "verdict": to_data(verdict),
            "feasibility": to_data(feasibility),
            "blast_radius": to_data(blast),
            "action": to_data(action),
            "deployments": [
                {
                    "service": "shop",
                    "version": "2.4.1",
                    "rollout_id": ROLLOUT,
                    "finished_at": at(T0 - 10 * MIN),
                    "outcome": "succeeded",
                    "strategy": "canary",
                }
            ],
            "commits": [
                {
                    "sha": SHA,
                    "author": "dave",
                    "date": at(COMMIT.date),
                    "subject": COMMIT.subject,
                    "files": list(COMMIT.files),
                }
            ],
            "at": at(T0 + 10 * MIN),
        }
    }
    yield "triaged", inc, extra, dict(sent)

    inc = models.transition(inc, S.MITIGATING, T0 + 12 * MIN, "carol", f"rolling back {ROLLOUT}")
    inc = announce(inc, extra, "status-page-update", T0 + 12 * MIN, sent)
    yield "mitigating", inc, extra, dict(sent)

    inc = models.set_milestone(inc, Milestone.MITIGATED, T0 + 45 * MIN, "watchstander")
    extra = {
        **extra,
        "mitigation": {
            "action": "rollback",
            "rollout_id": ROLLOUT,
            "outcome": "RolledBack",
            "validated": True,
            "checks": ["smoke 12/12 passed", "error rate back to baseline"],
            "at": at(T0 + 45 * MIN),
            "by": "watchstander",
        },
        "bisect": {
            "good": "0f0f0f0f0f0f",
            "bad": SHA,
            "commit": {
                "sha": SHA,
                "author": "dave",
                "email": "dave@example.com",
                "date": at(COMMIT.date),
                "subject": COMMIT.subject,
                "message": COMMIT.message,
                "files": list(COMMIT.files),
            },
            "tested": 3,
            "log": f"git bisect start\ngit bisect bad {SHA}\ngit bisect good 0f0f0f0f0f0f\n",
            "at": at(T0 + 50 * MIN),
        },
    }
    inc = announce(inc, extra, "status-page-update", T0 + 50 * MIN, sent)
    yield "mitigated", inc, extra, dict(sent)

    inc = escalate(inc, DETECTED + 120 * MIN)  # P1 unresolved after 2 h: management
    inc = announce(inc, extra, "management-notification", DETECTED + 120 * MIN, sent)
    yield "management", inc, extra, dict(sent)

    resolved = T0 + 130 * MIN
    inc = models.transition(inc, S.RESOLVED, resolved, "carol")
    inc = announce(inc, extra, "status-page-update", resolved, sent)
    inc = announce(inc, extra, "resolution-notification", resolved, sent)
    five = rca.FiveWhys(
        "checkout returned HTTP 500",
        (
            rca.Why("Why did checkout fail?", "Because pay.py raised a KeyError"),
            rca.Why("Why the KeyError?", f"Because {ROOT_CAUSE}"),
        ),
        ROOT_CAUSE,
        "replaying a card payment fails on 2.4.1 only",
    )
    fish = rca.Fishbone(
        "checkout errors",
        (
            rca.Cause(rca.Category.TECHNOLOGY, ROOT_CAUSE, primary=True),
            rca.Cause(rca.Category.PROCESS, "no contract test for the payment payload"),
        ),
    )
    pir_at = resolved + timedelta(hours=20)
    actions = (
        rca.PreventiveAction.plan(
            "PA-1",
            "Add a contract test for the card payload",
            "bob",
            rca.Horizon.WEEK,
            pir_at=pir_at,
        ),
        rca.PreventiveAction.plan(
            "PA-2", "Watch checkout 5xx in the canary", "alice", rca.Horizon.MONTH, pir_at=pir_at
        ),
    )
    extra = {
        **extra,
        "rca": {
            "five_whys": to_data(five),
            "fishbone": to_data(fish),
            "root_cause": ROOT_CAUSE,
            "at": at(resolved + 20 * MIN),
        },
        "preventive_actions": to_data(actions),
        "regressions": [regression_entry().to_data()],
        "deliveries": [
            {
                "channel": "slack",
                "kind": "initial-alert",
                "status": "sent",
                "attempts": 1,
                "last_result": "HTTP 200",
                "delivered_at": at(DETECTED),
            },
            {
                "channel": "pagerduty",
                "kind": "escalation",
                "status": "pending",
                "attempts": 2,
                "last_result": "HTTP 503",
                "delivered_at": None,
            },
        ],
    }
    yield "resolved", inc, extra, dict(sent)


def stored(incident: Incident, extra: dict[str, Any], version: int = 1) -> dict[str, Any]:
    """What the store hands back: the incident and its extras, through JSON."""
    data = {**codec.to_data(incident, version=version), **extra}
    result: dict[str, Any] = json.loads(json.dumps(data, default=str))
    return result


@pytest.fixture(scope="module")
def lifecycle() -> dict[str, dict[str, Any]]:
    return {name: stored(inc, extra) for name, inc, extra, _ in stages()}


def incident_dir(root: Path) -> Path:
    return root / "incidents" / ID


def read(root: Path, name: str) -> str:
    return (incident_dir(root) / name).read_text(encoding="utf-8")


def tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def assert_clean(root: Path) -> None:
    for path in root.rglob("*.md"):
        text = path.read_text(encoding="utf-8")
        assert "{{" not in text and "}}" not in text, path
        assert "None" not in text, path
        assert text.endswith("\n") and not text.endswith("\n\n"), path


def test_a_resolved_regression_gets_every_document(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    paths = write_incident_reports(lifecycle["resolved"], tmp_path)

    names = [str(p.relative_to(incident_dir(tmp_path))) for p in paths]
    assert names == [
        "incident-record.md",
        "timeline.md",
        "triage-assessment.md",
        "regression-analysis.md",
        "mitigation-report.md",
        "root-cause-analysis.md",
        "post-incident-review.md",
        "preventive-actions.md",
        "communications/initial-alert.md",
        "communications/status-page-update.md",
        "communications/management-notification.md",
        "communications/resolution-notification.md",
        "communications/deliveries.md",
    ]
    assert_clean(tmp_path)

    record = read(tmp_path, "incident-record.md")
    for line in (
        f"- **Incident ID**: {ID}",
        "- **Detection Time**: 2026-11-21 09:32:00 UTC",
        "- **Reporter**: alertmanager",
        "- **Detection Method**: automated-alert",
        "- **Severity**: P1",
        "- **Category**: availability",
        "- **Incident Commander**: carol",
        "- **On-Call Engineer**: alice",
        "- **Technical Lead**: bob",
        "- **Communications Lead**: not assigned yet",
        "- **Affected User Count**: 600 of 1000 users (60.0%)",
        "- **Status**: RESOLVED",
        f"- Suspected rollout: {ROLLOUT}",
    ):
        assert line in record

    timeline = read(tmp_path, "timeline.md")
    assert "| Time | Event | Actor | Notes |" in timeline
    assert (
        "| 2026-11-21 09:32:00 UTC | Incident detected: checkout errors (P1, impact high, "
        "urgency medium) | alertmanager | Checkout returns HTTP 500 for card payments. |"
    ) in timeline
    assert "| Status MITIGATING -> RESOLVED | carol |" in timeline
    assert "Escalated to management (dave)" in timeline

    assessment = read(tmp_path, "triage-assessment.md")
    assert "| **High** | P0 | **P1 (this incident)** | P2 |" in assessment
    assert (
        "| Acknowledge | 5 min | 2026-11-21 09:37:00 UTC "
        "| 2026-11-21 09:35:00 UTC (3 min after detection) | met |"
    ) in assessment
    assert "| Resolve | 4 h | 2026-11-21 13:32:00 UTC |" in assessment
    assert (
        "Alert on-call -> Incident Commander -> Component Owner -> Management (2 h)" in assessment
    )

    analysis = read(tmp_path, "regression-analysis.md")
    assert f"| shop | 2.4.1 | {ROLLOUT} (suspect) | 2026-11-21 09:20:00 UTC |" in analysis
    assert "- **Is this a regression?**: CONFIRMED" in analysis
    assert "- **Confidence**: HIGH (>90%)" in analysis
    assert f"rollout {ROLLOUT}, canary); the symptoms began 10 min after it finished" in analysis
    assert "- [x] Issue appeared immediately after deployment" in analysis
    assert "- [ ] Metrics show clear inflection point at deployment time (no data)" in analysis
    assert f"| `{SHA[:12]}` | dave |" in analysis
    assert f"- **Introducing Commit**: `{SHA}`" in analysis
    assert "- **Feasibility**: SAFE (rollback risk LOW)" in analysis
    assert "- **Blast Radius Score**: HIGH" in analysis
    assert "- **Action Type**: ROLLBACK" in analysis
    assert "registered as: **REG-2026-11-21-001**" in analysis
    assert "See: @.aiwg/regression/register/REG-2026-11-21-001.yaml" in analysis

    mitigation = read(tmp_path, "mitigation-report.md")
    assert "- **Selected Strategy**: rollback" in mitigation
    assert f"- **Rollout**: {ROLLOUT}" in mitigation
    assert "  - smoke 12/12 passed" in mitigation
    assert "**Resolution Status**: RESOLVED" in mitigation

    analysis_rca = read(tmp_path, "root-cause-analysis.md")
    assert f"**Root Cause**: {ROOT_CAUSE}" in analysis_rca
    assert "2. **Why the KeyError?**" in analysis_rca
    assert f"- {ROOT_CAUSE} (primary)" in analysis_rca
    assert "Gaps in the Analysis" not in analysis_rca  # validate() and cross_check() agree

    actions = read(tmp_path, "preventive-actions.md")
    assert "## Immediate Actions (complete within 1 week)" in actions
    assert "| PA-1 | Add a contract test for the card payload | bob | 1 week |" in actions
    assert "| open | no |" in actions

    deliveries = read(tmp_path, "communications/deliveries.md")
    assert "| slack | initial-alert | sent | 1 | HTTP 200 | 2026-11-21 09:32:00 UTC |" in deliveries
    assert "| pagerduty | escalation | pending | 2 | HTTP 503 | not delivered yet |" in deliveries


def test_the_post_incident_review_is_filled_from_the_data(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    write_incident_reports(lifecycle["resolved"], tmp_path)
    pir = read(tmp_path, "post-incident-review.md")

    for line in (
        f"- **Incident ID**: {ID}",
        "- **Severity**: P1",
        "- **Duration**: 2 h 8 min (detection to resolution)",
        "- **Review Due**: 2026-11-23 11:40:00 UTC (48 h after resolution)",
        "- **Review Status**: not held yet; not late as of",
        f"- **Root Cause**: {ROOT_CAUSE}",
        "- **Regression Detected**: YES (verdict CONFIRMED)",
        f"- **Introducing Change**: commit {SHA[:12]}",
        "- **Regression Register Entry**: @.aiwg/regression/register/REG-2026-11-21-001.yaml",
        "- **Downtime**: 45 min degraded service (from the start of impact to mitigation)",
        "- **SLA Breach**: NO: resolved within the target",
        "| MTTD | time to detect (started to detected) | 2 min |",
        "| MTTA | time to acknowledge (started to acknowledged) | 5 min |",
        "| MTTM | time to mitigate (started to mitigated) | 45 min |",
        "| MTTR | time to resolve (started to resolved) | 2 h 10 min |",
        "acknowledged 3 min after detection, within the P1 target of 5 min",
        "detected 2 min after the impact began (target: within 5 min)",
        f"bisect identified the introducing commit {SHA[:12]} after testing 3 revision(s)",
        f"rollback of rollout {ROLLOUT} (RolledBack), validated by 2 check(s)",
        "1 of 2 notification(s) were not delivered",
        "- **Escaped Testing**: integration",
        "- process: no contract test for the payment payload",
    ):
        assert line in pir, line
    for section in (
        "## Executive Summary",
        "## Timeline",
        "## Regression Analysis",
        "## Root Cause",
        "### User Impact",
        "### Business Impact",
        "### SLO Impact",
        "### What Went Well",
        "### What Could Improve",
        "## Preventive Actions",
        "## Lessons Learned",
        "## Regression Deep Dive",
    ):
        assert section in pir, section


def test_rendering_the_same_data_twice_writes_the_same_bytes(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    data = lifecycle["resolved"]
    first = write_incident_reports(data, tmp_path / "a")
    second = write_incident_reports(data, tmp_path / "b")
    before = tree(tmp_path / "a")
    again = write_incident_reports(data, tmp_path / "a")
    assert [p.relative_to(tmp_path / "a") for p in first] == [
        p.relative_to(tmp_path / "b") for p in second
    ]
    assert again == first
    assert tree(tmp_path / "a") == before == tree(tmp_path / "b")


@pytest.mark.parametrize(
    ("stage", "phase", "sentence"),
    [
        ("detected", "Investigating", "We are currently investigating an issue affecting shop."),
        ("triaged", "Investigating", "We will provide updates every 30 min."),
        ("mitigating", "Identified", "has been identified and a fix is being implemented"),
        ("mitigated", "Monitoring", "we are monitoring the results"),
        # Sent at resolution, before the root cause analysis was recorded.
        ("resolved", "Resolved", "The root cause is still being analysed."),
    ],
)
def test_the_status_page_follows_the_lifecycle(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path, stage: str, phase: str, sentence: str
) -> None:
    data = lifecycle[stage]
    assert status_page_phase(data) == phase
    write_incident_reports(data, tmp_path)
    page = read(tmp_path, "communications/status-page-update.md")
    assert page.startswith(f"# [P1] {ID}: checkout errors ({phase})\n\n")
    assert f" UTC - {phase}\n" in page
    assert sentence in page


def test_communication_files_hold_exactly_the_sent_messages(tmp_path: Path) -> None:
    filed: dict[str, dict[str, str]] = {}
    for stage, inc, extra, sent in stages():
        data = stored(inc, extra)
        root = tmp_path / stage
        write_incident_reports(data, root)
        comms = incident_dir(root) / "communications"
        kinds = sorted(p.stem for p in comms.glob("*.md") if p.stem != "deliveries")
        assert set(kinds) <= set(COMMUNICATION_KINDS)
        assert set(sent) <= set(kinds)
        filed[stage] = {k: (comms / f"{k}.md").read_text(encoding="utf-8") for k in kinds}
        for kind, body in filed[stage].items():
            if kind in sent:  # filed as sent, whatever happened since
                assert body == sent[kind], (stage, kind)
            else:  # due but not sent: what compose() would send now
                subject, text = compose(kind, data)
                assert body == f"# {subject}\n\n{text}", (stage, kind)
            assert body.startswith(f"# [P1] {ID}: checkout errors (")

    # Management only once its escalation fired; a P1 never reaches the executive.
    assert "management-notification" not in filed["mitigated"]
    assert "management-notification" in filed["management"]
    assert all("executive-notification" not in kinds for kinds in filed.values())
    assert "resolution-notification" not in filed["management"]
    assert "resolution-notification" in filed["resolved"]
    # The initial alert stays what was sent at detection.
    alerts = {kinds["initial-alert"] for kinds in filed.values()}
    assert len(alerts) == 1
    alert = alerts.pop()
    assert alert.startswith(f"# [P1] {ID}: checkout errors (Investigating)\n\n")
    assert "- Status: DETECTED\n" in alert and "- Time: 2026-11-21 09:32 UTC\n" in alert
    assert "- Assigned: alice\n" in alert and "- Incident Commander: not assigned yet\n" in alert
    assert "- Next Update: within 30 min (every 30 min)\n" in alert
    management = filed["management"]["management-notification"]
    assert filed["resolved"]["management-notification"] == management
    assert "- Current Status: MITIGATING (Monitoring)\n" in management
    assert f"suspected regression from shop 2.4.1 (rollout {ROLLOUT}, canary)" in management
    resolution = filed["resolved"]["resolution-notification"]
    assert "- Total Duration: 2 h 8 min (detection to resolution)\n" in resolution
    assert "- Root Cause: suspected regression" in resolution  # the RCA came later
    assert "- Next Steps: post-incident review (required) due by 2026-11-23 11:40 UTC\n" in (
        resolution
    )
    # The status page is the latest update sent.
    assert filed["mitigated"]["status-page-update"].startswith(
        f"# [P1] {ID}: checkout errors (Monitoring)\n\n2026-11-21 10:15 UTC - Monitoring\n"
    )


def test_compose_and_the_file_agree_for_data_without_sent_messages(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    data = dict(lifecycle["resolved"])
    data["timeline"] = [e for e in data["timeline"] if e["kind"] != "message"]
    write_incident_reports(data, tmp_path)
    comms = incident_dir(tmp_path) / "communications"
    for kind in ("initial-alert", "status-page-update", "management-notification"):
        subject, text = compose(kind, data)
        assert (comms / f"{kind}.md").read_text(encoding="utf-8") == f"# {subject}\n\n{text}"
    _, text = compose("resolution-notification", data)
    assert f"- Root Cause: confirmed: {ROOT_CAUSE}\n" in text
    page = (comms / "status-page-update.md").read_text(encoding="utf-8")
    assert f"\nRoot cause: {ROOT_CAUSE}.\n" in page


def test_escalation_pages_and_reminders(lifecycle: dict[str, dict[str, Any]]) -> None:
    data = lifecycle["mitigated"]
    page = {
        "kind": "functional",
        "target": "tier2",
        "person": "bob",
        "reason": "P1 unresolved 30 min after detection",
    }
    subject, text = compose("escalation", {**data, "escalation": page})
    assert subject == f"[P1] {ID}: checkout errors (Escalated to tier2)"
    assert "You are paged as tier2 for a P1 incident on shop: checkout errors." in text
    assert "- Reason: P1 unresolved 30 min after detection\n- Paged: bob\n" in text
    assert "- Acknowledged: 2026-11-21 09:35:00 UTC" in text

    # Without the mapping, the latest escalation recorded on the timeline.
    later = lifecycle["management"]
    subject, text = compose("escalation", later)
    assert subject.endswith("(Escalated to management)")
    assert "- Reason: P1 unresolved 2 h after detection\n- Paged: dave\n" in text
    subject, text = compose("renotify", later)
    assert subject.endswith("(Update overdue)")
    assert "acknowledged but no update for" in text and "- Reminded: carol" in text

    with pytest.raises(ValueError, match="unknown message kind"):
        compose("carrier-pigeon", data)


def test_a_bare_incident_says_what_is_not_known_yet(tmp_path: Path) -> None:
    inc = priority.declare(
        id="INC-2026-11-22-003",
        title="slow search",
        service="search",
        detected=datetime(2026, 11, 22, 14, 0, tzinfo=UTC),
        reporter="support",
        urgency=Urgency.LOW,
        detection_method=models.DetectionMethod.USER_REPORT,
    )
    data = stored(inc, {})
    paths = write_incident_reports(data, tmp_path)
    base = tmp_path / "incidents" / inc.id
    assert [str(p.relative_to(base)) for p in paths] == [
        "incident-record.md",
        "timeline.md",
        "triage-assessment.md",
        "communications/initial-alert.md",
    ]
    record = (base / "incident-record.md").read_text()
    assert "- **Severity**: P3" in record
    assert "- **Affected User Count**: UNKNOWN" in record
    assert "- **Incident Commander**: not assigned yet" in record
    assert "| Closed | not reached yet |" in record
    assessment = (base / "triage-assessment.md").read_text()
    assert "| **Low** | P2 | P3 | **P3 (this incident)** |" in assessment
    assert "| Acknowledge | no fixed target | n/a | not reached yet | n/a |" in assessment
    _, text = compose("initial-alert", data)
    assert "as the situation changes (no update cadence for P3)" in text

    # Asked for, the review is a skeleton that states what is missing.
    write_incident_reports(data, tmp_path, pir=True)
    pir = (base / "post-incident-review.md").read_text()
    assert "- **Root Cause**: not recorded yet" in pir
    assert (
        "| MTTR | time to resolve (started to resolved) | not measurable: started and resolved not recorded |"
        in pir
    )
    assert "- **Review Due**: once the incident is resolved" in pir
    assert "No regression triage was recorded for this incident." in pir
    assert "No preventive action recorded yet." in pir
    assert "the start of impact was not recorded" in pir
    assert_clean(tmp_path)


def test_a_partial_triage_and_an_override_are_stated(tmp_path: Path) -> None:
    inc = priority.declare(
        id="INC-2026-11-22-004",
        title="refunds failing",
        service="payments",
        detected=T0,
        reporter="alertmanager",
        urgency=Urgency.HIGH,
        impact=Impact.MEDIUM,
    )
    inc = priority.change_priority(inc, Priority.P0, "refunds are a legal obligation", T0, "carol")
    verdict = triage.regression_verdict(
        triage.Symptoms(started_at=T0, services=("payments",)), [], [], T0 + 5 * MIN
    )
    data = stored(inc, {"triage": {"verdict": to_data(verdict), "at": at(T0 + 5 * MIN)}})
    write_incident_reports(data, tmp_path)
    base = tmp_path / "incidents" / inc.id
    assessment = (base / "triage-assessment.md").read_text()
    assert "| **Medium** | **P1 (this incident)** | P2 | P3 |" in assessment
    assert (
        "Priority P0, overriding the matrix cell P1: Priority P1 -> P0: refunds are a legal obligation."
        in assessment
    )
    analysis = (base / "regression-analysis.md").read_text()
    assert "- **Is this a regression?**: NOT_REGRESSION" in analysis
    assert "No deployment or change reached production in the window before the onset." in analysis
    assert "Rollback feasibility was not assessed." in analysis
    assert "The blast radius was not assessed." in analysis
    assert "No immediate action was recommended." in analysis
    assert "Not registered: only CONFIRMED or LIKELY regressions go into the register." in analysis
    assert_clean(tmp_path)


def test_overdue_actions_and_a_late_review(
    lifecycle: dict[str, dict[str, Any]], tmp_path: Path
) -> None:
    data = lifecycle["resolved"]
    later = T0 + timedelta(days=10)
    write_incident_reports(data, tmp_path, as_of=later)
    actions = read(tmp_path, "preventive-actions.md")
    assert "| PA-1 | Add a contract test for the card payload | bob | 1 week |" in actions
    assert "| open | OVERDUE |" in actions and "| open | no |" in actions
    pir = read(tmp_path, "post-incident-review.md")
    assert (
        "- **Review Status**: LATE: not held by its due time (as of 2026-12-01 09:30:00 UTC)" in pir
    )

    # Closing the incident marks the review held; three days after resolution is late.
    (_, inc, extra, _), *_ = [s for s in stages() if s[0] == "resolved"]
    closed = models.transition(inc, S.CLOSED, T0 + timedelta(days=3), "carol")
    write_incident_reports(stored(closed, extra), tmp_path / "closed")
    pir = read(tmp_path / "closed", "post-incident-review.md")
    assert "- **Review Status**: held by 2026-11-24 09:30:00 UTC (incident closed): LATE" in pir
    assert_clean(tmp_path)


def test_the_register_round_trips_and_summarises(tmp_path: Path) -> None:
    entries = [
        regression_entry("REG-2026-11-21-002", component="search"),
        regression_entry(),
        regression_entry("REG-2026-11-20-001", status=register.RegressionStatus.CLOSED),
    ]
    paths = write_regression_register([e.to_data() for e in entries], tmp_path)
    assert [str(p.relative_to(tmp_path)) for p in paths] == [
        "regression/register/REG-2026-11-20-001.yaml",
        "regression/register/REG-2026-11-21-001.yaml",
        "regression/register/REG-2026-11-21-002.yaml",
        "regression/regression-register-summary.md",
    ]
    for entry in entries:
        path = tmp_path / "regression" / "register" / f"{entry.regression_id}.yaml"
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert list(loaded) == [
            "regression_id",
            "incident_id",
            "detection_date",
            "severity",
            "introduced_change",
            "regression_category",
            "affected_functionality",
            "detection_gap",
            "mitigation_action",
            "mitigation_time",
            "preventive_actions",
            "status",
        ]
        assert register.RegressionEntry.from_data(loaded, str(path)) == entry
    summary = paths[-1].read_text(encoding="utf-8")
    lines = summary.splitlines()
    start = lines.index(register.SUMMARY_HEADER[0])
    assert lines[start : start + 5] == [
        *register.SUMMARY_HEADER,
        register.summary_row(entries[2]),
        register.summary_row(entries[1]),
        register.summary_row(entries[0]),
    ]
    assert "| checkout | 2 | - |" in summary and "| search | 1 | - |" in summary
    assert "| functional | 3 | - |" in summary
    assert "| CLOSED | 1 | - |" in summary and "| MITIGATED | 2 | - |" in summary
    assert "{" not in summary and "None" not in summary
    assert write_regression_register([e.to_data() for e in entries], tmp_path) == paths
