"""The incident codec: an exact round trip, and KEYS naming exactly what it writes."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from watchstander.incident import codec, escalation, models, priority
from watchstander.incident.models import Role, Urgency

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def busy_incident() -> models.Incident:
    inc = priority.declare(
        id="INC-2026-11-21-001",
        title="checkout errors",
        service="shop",
        detected=T0,
        started=T0 - timedelta(minutes=3),
        reporter="alertmanager",
        urgency=Urgency.HIGH,
        users_affected_pct=40.0,
        dedup_keys=['{}:{alertname="X"}'],
        rollout_id="R-20261121-002",
    )
    inc = models.acknowledge(inc, T0 + timedelta(minutes=2), "ann")
    inc = models.assign_role(inc, Role.INCIDENT_COMMANDER, "ivy", T0 + timedelta(minutes=3), "ann")
    due = escalation.due(
        inc, escalation.DEFAULT_POLICY, escalation.Roster((), ()), T0 + timedelta(minutes=30)
    )
    return escalation.apply(inc, due, T0 + timedelta(minutes=30))


def test_round_trip_is_exact_through_json() -> None:
    inc = busy_incident()
    data = json.loads(json.dumps(codec.to_data(inc, version=7)))
    assert data["version"] == 7
    assert codec.from_data(data) == inc


def test_keys_are_what_to_data_writes() -> None:
    assert set(codec.to_data(busy_incident())) == codec.KEYS
