"""Incident model and triage (watchstander.incident.models, watchstander.incident.priority)."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest

from watchstander.incident import models, priority
from watchstander.incident.models import (
    Impact,
    Incident,
    IncidentStatus,
    Milestone,
    Milestones,
    Priority,
    Role,
    TimelineKind,
    Urgency,
)
from watchstander.incident.priority import MATRIX, SLAS, cell_for

S = IncidentStatus
T0 = datetime(2026, 1, 15, 7, 50, tzinfo=UTC)
MIN = timedelta(minutes=1)


def declare(**overrides: Any) -> Incident:
    args: dict[str, Any] = {
        "id": "INC-2026-01-15-001",
        "title": "checkout returns 500",
        "service": "checkout",
        "detected": T0,
        "reporter": "alertmanager",
        "urgency": Urgency.HIGH,
        "impact": Impact.HIGH,
        "started": T0 - 6 * MIN,
    }
    args.update(overrides)
    return priority.declare(**args)


def at_status(status: IncidentStatus) -> Incident:
    """An incident in `status`, with the milestones that status needs."""
    inc = declare()
    stamps = Milestones(
        started=inc.milestones.started,
        detected=T0,
        resolved=T0 + 60 * MIN if status in (S.RESOLVED, S.CLOSED) else None,
        closed=T0 + 120 * MIN if status is S.CLOSED else None,
    )
    return replace(inc, status=status, milestones=stamps)


# -- the matrix -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("impact", "urgency", "expected"),
    [
        (Impact.HIGH, Urgency.HIGH, Priority.P0),
        (Impact.HIGH, Urgency.MEDIUM, Priority.P1),
        (Impact.HIGH, Urgency.LOW, Priority.P2),
        (Impact.MEDIUM, Urgency.HIGH, Priority.P1),
        (Impact.MEDIUM, Urgency.MEDIUM, Priority.P2),
        (Impact.MEDIUM, Urgency.LOW, Priority.P3),
        (Impact.LOW, Urgency.HIGH, Priority.P2),
        (Impact.LOW, Urgency.MEDIUM, Priority.P3),
        (Impact.LOW, Urgency.LOW, Priority.P3),
    ],
)
def test_matrix_cell(impact: Impact, urgency: Urgency, expected: Priority) -> None:
    assert priority.priority(impact, urgency) is expected
    assert MATRIX[impact, urgency] is expected


@pytest.mark.parametrize("prio", list(Priority))
def test_cell_for_gives_back_its_priority(prio: Priority) -> None:
    impact, urgency = cell_for(prio)
    assert MATRIX[impact, urgency] is prio


def test_cell_for_uses_a_different_cell_per_priority() -> None:
    assert len({cell_for(p) for p in Priority}) == len(Priority)


def test_matrix_covers_exactly_the_nine_cells() -> None:
    assert set(MATRIX) == set(itertools.product(Impact, Urgency))


@pytest.mark.parametrize(
    ("pct", "outage", "data_loss", "expected"),
    [
        (None, False, False, Impact.LOW),  # unknown: no evidence of a wide impact
        (0.0, False, False, Impact.LOW),
        (9.99, False, False, Impact.LOW),
        (10.0, False, False, Impact.MEDIUM),  # "10-50%"
        (50.0, False, False, Impact.MEDIUM),
        (50.01, False, False, Impact.HIGH),  # ">50%"
        (1.0, True, False, Impact.HIGH),  # complete outage
        (None, False, True, Impact.HIGH),  # data loss
    ],
)
def test_impact_from_the_flow_criteria(
    pct: float | None, outage: bool, data_loss: bool, expected: Impact
) -> None:
    assert priority.impact_from(pct, outage, data_loss) is expected


def test_impact_from_degradation_is_medium() -> None:
    assert priority.impact_from(2.0, severe_degradation=True) is Impact.MEDIUM
    assert priority.impact_from(None, critical_feature_unavailable=True) is Impact.MEDIUM


# -- SLAs -------------------------------------------------------------------------------------


def test_slas() -> None:
    assert SLAS[Priority.P0] == priority.Sla(
        timedelta(0), 15 * MIN, 2 * timedelta(hours=1), 15 * MIN, timedelta(hours=24), True
    )
    p1 = SLAS[Priority.P1]
    assert (p1.acknowledge, p1.engage, p1.resolve, p1.update_every) == (
        5 * MIN,
        30 * MIN,
        timedelta(hours=4),
        30 * MIN,
    )
    assert (p1.review_within, p1.review_required) == (timedelta(hours=48), True)
    p2 = SLAS[Priority.P2]
    assert (p2.acknowledge, p2.engage, p2.resolve, p2.update_every) == (
        30 * MIN,
        timedelta(hours=4),
        timedelta(hours=24),
        timedelta(days=1),
    )
    assert not p2.review_required
    p3 = SLAS[Priority.P3]
    assert (p3.acknowledge, p3.engage, p3.resolve, p3.update_every) == (None, None, None, None)
    assert "business day" in p3.note


# -- priorities -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("P0", Priority.P0),
        ("p1", Priority.P1),
        (" P3 ", Priority.P3),
        ("SEV1", Priority.P0),
        ("sev2", Priority.P1),
        ("Sev-3", Priority.P2),
        ("SEV4", Priority.P3),
    ],
)
def test_priority_parse(text: str, expected: Priority) -> None:
    assert Priority.parse(text) is expected


@pytest.mark.parametrize("text", ["P4", "SEV0", "SEV5", "", "high"])
def test_priority_parse_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="unknown priority"):
        Priority.parse(text)


def test_priority_rank() -> None:
    assert [p.rank for p in Priority] == [0, 1, 2, 3]


def test_declare_takes_the_matrix_and_logs_the_detection() -> None:
    inc = declare(impact=None, users_affected_pct=30.0, urgency=Urgency.HIGH)
    assert (inc.impact, inc.priority, inc.status) == (Impact.MEDIUM, Priority.P1, S.DETECTED)
    assert inc.milestones == Milestones(started=T0 - 6 * MIN, detected=T0)
    (entry,) = inc.timeline
    assert (entry.at, entry.kind, entry.actor) == (T0, TimelineKind.CREATED, "alertmanager")
    assert entry.data["priority"] == "P1"


def test_triage_sets_priority_and_status() -> None:
    inc = priority.triage(
        declare(), impact=Impact.MEDIUM, urgency=Urgency.MEDIUM, at=T0 + 3 * MIN, by="ivy"
    )
    assert (inc.priority, inc.status) == (Priority.P2, S.TRIAGED)
    assert [e.kind for e in inc.timeline] == [
        TimelineKind.CREATED,
        TimelineKind.IMPACT_CHANGED,
        TimelineKind.STATUS_CHANGED,
    ]


@pytest.mark.parametrize("reason", ["", "   "])
def test_priority_change_requires_a_reason(reason: str) -> None:
    with pytest.raises(ValueError, match="needs a reason"):
        priority.change_priority(declare(), Priority.P1, reason, T0 + MIN, "ivy")


def test_priority_change_is_recorded() -> None:
    inc = priority.change_priority(declare(), Priority.P1, "only EU affected", T0 + MIN, "ivy")
    assert inc.priority is Priority.P1
    entry = inc.timeline[-1]
    assert entry.kind is TimelineKind.PRIORITY_CHANGED
    assert entry.summary == "Priority P0 -> P1: only EU affected"
    assert entry.data == {"from": "P0", "to": "P1"}


def test_priority_change_to_the_same_priority_changes_nothing() -> None:
    inc = declare()
    assert priority.change_priority(inc, Priority.P0, "no-op", T0 + MIN, "ivy") is inc


def test_priority_of_a_closed_incident_is_final() -> None:
    with pytest.raises(ValueError, match="closed"):
        priority.change_priority(at_status(S.CLOSED), Priority.P3, "later", T0, "ivy")


# -- lifecycle --------------------------------------------------------------------------------


def test_transition_table() -> None:
    assert models.TRANSITIONS == {
        S.DETECTED: {S.TRIAGED, S.INVESTIGATING, S.MITIGATING, S.RESOLVED},
        S.TRIAGED: {S.INVESTIGATING, S.MITIGATING, S.RESOLVED},
        S.INVESTIGATING: {S.MITIGATING, S.RESOLVED},
        S.MITIGATING: {S.INVESTIGATING, S.RESOLVED},
        S.RESOLVED: {S.CLOSED, S.INVESTIGATING},
        S.CLOSED: set(),
    }


@pytest.mark.parametrize(
    ("start", "to"),
    [
        (a, b)
        for a, b in itertools.product(IncidentStatus, IncidentStatus)
        if b not in models.TRANSITIONS[a]
    ],
)
def test_illegal_transitions_are_refused(start: IncidentStatus, to: IncidentStatus) -> None:
    inc = at_status(start)
    with pytest.raises(ValueError, match=f"cannot move from {start} to {to}"):
        models.transition(inc, to, T0 + 3 * 60 * MIN, "ivy", "because")


@pytest.mark.parametrize(
    ("start", "to"),
    [(a, b) for a in IncidentStatus for b in sorted(models.TRANSITIONS[a])],
)
def test_legal_transitions(start: IncidentStatus, to: IncidentStatus) -> None:
    inc = models.transition(at_status(start), to, T0 + 3 * 60 * MIN, "ivy", "because")
    assert inc.status is to
    entry = inc.timeline[-1]
    assert (entry.kind, entry.data["from"], entry.data["to"]) == (
        TimelineKind.STATUS_CHANGED,
        start.value,
        to.value,
    )


def test_closed_is_final_and_says_so() -> None:
    with pytest.raises(ValueError, match="none: it is final"):
        models.transition(at_status(S.CLOSED), S.INVESTIGATING, T0, "ivy", "again")


def test_resolving_and_closing_stamp_milestones() -> None:
    inc = models.transition(declare(), S.INVESTIGATING, T0 + 10 * MIN, "ivy")
    inc = models.transition(inc, S.RESOLVED, T0 + 90 * MIN, "ivy", "rolled back")
    assert inc.milestones.resolved == T0 + 90 * MIN
    closed = models.transition(inc, S.CLOSED, T0 + 26 * 60 * MIN, "ivy", "PIR done")
    assert closed.milestones.closed == T0 + 26 * 60 * MIN
    # A stamp set beforehand is kept.
    inc = models.set_milestone(inc, Milestone.CLOSED, T0 + 25 * 60 * MIN, "ivy")
    closed = models.transition(inc, S.CLOSED, T0 + 26 * 60 * MIN, "ivy", "PIR done")
    assert closed.milestones.closed == T0 + 25 * 60 * MIN


def test_reopening_needs_a_reason_and_clears_resolved() -> None:
    inc = models.transition(declare(), S.RESOLVED, T0 + 90 * MIN, "ivy", "fixed")
    with pytest.raises(ValueError, match="reopening .* needs a reason"):
        models.transition(inc, S.INVESTIGATING, T0 + 5 * 60 * MIN, "ivy")
    inc = models.transition(inc, S.INVESTIGATING, T0 + 5 * 60 * MIN, "ivy", "errors are back")
    assert inc.milestones.resolved is None
    assert inc.timeline[-1].data["previously_resolved"] == (T0 + 90 * MIN).isoformat()


def test_acknowledge_keeps_the_first_and_ignores_resolved_incidents() -> None:
    inc = models.acknowledge(declare(), T0 + 2 * MIN, "bob")
    inc = models.acknowledge(inc, T0 + 4 * MIN, "carol")
    assert inc.milestones.acknowledged == T0 + 2 * MIN
    assert [e.actor for e in inc.timeline if e.kind is TimelineKind.ACKNOWLEDGED] == [
        "bob",
        "carol",
    ]
    resolved = models.transition(inc, S.RESOLVED, T0 + 30 * MIN, "ivy")
    assert models.acknowledge(resolved, T0 + 31 * MIN, "dave") is resolved


def test_roles_milestones_and_links_append_entries() -> None:
    inc = models.assign_role(declare(), Role.INCIDENT_COMMANDER, "ivy", T0 + MIN, "bob")
    inc = models.assign_role(inc, Role.INCIDENT_COMMANDER, "judy", T0 + 2 * MIN, "bob")
    inc = models.set_milestone(inc, Milestone.ENGAGED, T0 + 9 * MIN, "carol")
    inc = models.link_rollout(inc, "ro-42", T0 + 10 * MIN, "triage")
    inc = models.add_dedup_key(inc, '{}:{alertname="HighErrorRate"}', T0 + 10 * MIN, "am")
    assert models.add_dedup_key(inc, '{}:{alertname="HighErrorRate"}', T0, "am") is inc
    assert inc.roles == {Role.INCIDENT_COMMANDER: "judy"}
    assert inc.milestones.engaged == T0 + 9 * MIN
    assert inc.rollout_id == "ro-42"
    assert [e.kind for e in inc.timeline[1:]] == [
        TimelineKind.ROLE_ASSIGNED,
        TimelineKind.ROLE_ASSIGNED,
        TimelineKind.MILESTONE,
        TimelineKind.LINKED,
        TimelineKind.LINKED,
    ]
    assert inc.timeline[2].summary == "Incident commander: judy (was ivy)"


def test_record_refuses_kinds_that_change_state() -> None:
    inc = models.record(declare(), TimelineKind.DECISION, T0, "ivy", "roll back")
    assert inc.timeline[-1].kind is TimelineKind.DECISION
    with pytest.raises(ValueError, match="own function"):
        models.record(inc, TimelineKind.STATUS_CHANGED, T0, "ivy", "resolved")


def test_set_flags_records_only_changes() -> None:
    inc = declare()
    assert models.set_flags(inc, at=T0, by="ivy", reason="", outage=False) is inc
    inc = models.set_flags(inc, at=T0 + MIN, by="sec", reason="tokens leaked", security_breach=True)
    assert inc.security_breach
    assert inc.timeline[-1].data == {"security_breach": True}


# -- milestones and ids -----------------------------------------------------------------------


def test_started_must_be_earliest() -> None:
    with pytest.raises(ValueError, match="'started' must be the earliest"):
        Milestones(started=T0, detected=T0 - MIN)
    with pytest.raises(ValueError, match="'started' must be the earliest"):
        Milestones(started=T0, resolved=T0 - MIN)


def test_response_milestones_follow_detection_and_each_other() -> None:
    with pytest.raises(ValueError, match="'acknowledged' .* is before detection"):
        Milestones(detected=T0, acknowledged=T0 - MIN)
    with pytest.raises(ValueError, match="'resolved' .* is before 'mitigated'"):
        Milestones(detected=T0, mitigated=T0 + 10 * MIN, resolved=T0 + 5 * MIN)
    with pytest.raises(ValueError, match="'closed' .* is before 'resolved'"):
        Milestones(detected=T0, resolved=T0 + 10 * MIN, closed=T0 + 5 * MIN)


def test_milestones_are_utc() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Milestones(detected=datetime(2026, 1, 15, 7, 50))
    berlin_winter = timezone(timedelta(hours=1))
    m = Milestones(detected=datetime(2026, 1, 15, 8, 50, tzinfo=berlin_winter))
    assert m.detected == T0 and m.detected.tzinfo is UTC


def test_set_milestone_validates() -> None:
    with pytest.raises(ValueError, match="before detection"):
        models.set_milestone(declare(), Milestone.ACKNOWLEDGED, T0 - MIN, "bob")


def test_incident_id() -> None:
    assert models.incident_id(date(2026, 1, 15), 7) == "INC-2026-01-15-007"
    assert models.incident_id(date(2026, 1, 15), 1234) == "INC-2026-01-15-1234"
    with pytest.raises(ValueError, match="starts at 1"):
        models.incident_id(date(2026, 1, 15), 0)
    with pytest.raises(ValueError, match="INC-YYYY-MM-DD-NNN"):
        declare(id="INC-42")


def test_incident_invariants() -> None:
    with pytest.raises(ValueError, match="0..100"):
        declare(users_affected_pct=120.0)
    with pytest.raises(ValueError, match="needs the resolved milestone"):
        replace(declare(), status=S.RESOLVED)
