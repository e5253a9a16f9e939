"""The store's incident records, alert keys, notification outbox and regression register
on a real SQLite database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from watchstander.errors import ConflictError, NotFoundError
from watchstander.store.repository import Store

DAY = datetime(2026, 11, 21, 9, 30, tzinfo=UTC)


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(None, workdir=tmp_path) as s:
        yield s


def save(store: Store, incident_id: str, status: str = "DETECTED", version: int = 1, **kw):
    store.save_incident(
        id=incident_id,
        service="shop",
        priority=kw.get("priority", "P1"),
        status=status,
        title="checkout errors",
        detected_at=kw.get("at", DAY),
        resolved_at=None,
        data={"id": incident_id, "status": status, "version": version},
        expect_version=kw.get("expect"),
    )


def test_incident_ids_count_per_day(store: Store) -> None:
    assert store.next_incident_id(DAY) == "INC-2026-11-21-001"
    save(store, "INC-2026-11-21-001")
    save(store, "INC-2026-11-21-002")
    assert store.next_incident_id(DAY) == "INC-2026-11-21-003"
    assert store.next_incident_id(DAY + timedelta(days=1)) == "INC-2026-11-22-001"


def test_incidents_are_replaced_under_an_expected_version(store: Store) -> None:
    save(store, "INC-2026-11-21-001")
    save(store, "INC-2026-11-21-001", status="TRIAGED", version=2, expect=1)
    assert store.incident("INC-2026-11-21-001")["status"] == "TRIAGED"
    with pytest.raises(ConflictError):
        save(store, "INC-2026-11-21-001", status="INVESTIGATING", version=3, expect=1)
    with pytest.raises(NotFoundError):
        store.incident("INC-2026-11-21-009")
    save(store, "INC-2026-11-21-002", status="RESOLVED")
    assert [i["id"] for i in store.incidents(open_only=True)] == ["INC-2026-11-21-001"]
    assert [i.id for i in store.active_incidents("shop")] == ["INC-2026-11-21-001"]


def test_alert_keys_map_to_incidents(store: Store) -> None:
    save(store, "INC-2026-11-21-001")
    assert store.alert_key("alertmanager", '{}:{alertname="X"}') is None
    store.set_alert_key(
        "alertmanager",
        '{}:{alertname="X"}',
        incident_id="INC-2026-11-21-001",
        state="firing",
        at=DAY,
    )
    store.set_alert_key(
        "alertmanager",
        '{}:{alertname="X"}',
        incident_id="INC-2026-11-21-001",
        state="resolved",
        at=DAY,
    )
    assert store.alert_key("alertmanager", '{}:{alertname="X"}') == (
        "INC-2026-11-21-001",
        "resolved",
    )


def test_the_outbox_keeps_a_message_until_it_is_delivered(store: Store) -> None:
    save(store, "INC-2026-11-21-001")
    did = store.enqueue_delivery(
        incident_id="INC-2026-11-21-001",
        channel="slack",
        kind="initial-alert",
        message={"subject": "P1"},
        at=DAY,
    )
    assert [d["id"] for d in store.due_deliveries(DAY)] == [did]
    store.record_attempt(
        did, ok=False, result="HTTP 503", at=DAY, retry_at=DAY + timedelta(seconds=30)
    )
    assert store.due_deliveries(DAY + timedelta(seconds=29)) == []
    (due,) = store.due_deliveries(DAY + timedelta(seconds=30))
    assert due["attempts"] == 1 and due["last_result"] == "HTTP 503"
    store.record_attempt(
        did, ok=True, result="HTTP 200", at=DAY + timedelta(seconds=31), retry_at=None
    )
    assert store.due_deliveries(DAY + timedelta(days=1)) == []
    (sent,) = store.deliveries("INC-2026-11-21-001")
    assert sent["status"] == "sent" and sent["attempts"] == 2


def test_the_regression_register(store: Store) -> None:
    save(store, "INC-2026-11-21-001")
    assert store.next_regression_id(DAY) == "REG-2026-11-21-001"
    store.save_regression(
        id="REG-2026-11-21-001",
        incident_id="INC-2026-11-21-001",
        status="OPEN",
        detected_at=DAY,
        data={"regression_id": "REG-2026-11-21-001"},
    )
    assert store.next_regression_id(DAY) == "REG-2026-11-21-002"
    assert store.regressions(since=DAY - timedelta(days=90)) == [
        {"regression_id": "REG-2026-11-21-001"}
    ]
    assert store.regressions(since=DAY + timedelta(seconds=1)) == []
