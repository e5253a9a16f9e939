"""The store contract: what every backend of `Store` must do, the same way.

`StoreContract` is a base class of tests; a backend's test module subclasses it and
provides a `store_url` fixture: the URL of an empty database, password included, which
the contract migrates by opening it. The tests talk only to `Store`, so SQLite and
PostgreSQL (test_contract_store_sqlite.py, test_contract_store_postgres.py) are held to
exactly the same behaviour: round trips, leases, idempotent inserts, window sums, time
zones, and concurrent writers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from watchstander.analysis.models import Measurement, Phase
from watchstander.errors import ConflictError, NotFoundError, StoreError
from watchstander.gates.models import IncidentRef
from watchstander.release.models import (
    Command,
    Event,
    Rollout,
    RolloutPhase,
    Severity,
    SmokeResult,
    Step,
    StepKind,
    Strategy,
)
from watchstander.store import Lease, Store, database
from watchstander.store.tables import Base

__all__ = ["StoreContract"]

T0 = datetime(2026, 11, 21, 10, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_rollout(rollout_id: str = "R-20261121-001", **changes: object) -> Rollout:
    base = Rollout(
        id=rollout_id,
        service="shop",
        version="v2",
        stable_version="v1",
        strategy=Strategy.CANARY,
        replicas=4,
        plan=(
            Step(kind=StepKind.BASELINE, label="measure the stable baseline"),
            Step(kind=StepKind.SET_WEIGHT, weight=10.0, label="canary at 10%"),
            Step(kind=StepKind.ANALYSIS, count=3, label="analysis at 10%"),
        ),
        baseline={"error_rate": 0.5, "latency_p99": None},
        baseline_window=(at(-60), at(0)),
        created_at=at(0),
        updated_at=at(0),
    )
    return base.model_copy(update=changes)


def measurement(value: float | None, **changes: object) -> Measurement:
    fields: dict[str, object] = {
        "name": "error-rate",
        "metric": "error_rate",
        "phase": Phase.PASS,
        "value": value,
        "baseline": 0.5,
        "threshold": 2.5,
        "reason": "0.7 <= 2.5",
        "query": 'sum(rate(http_requests_total{version="v2",code=~"5.."}[1m]))',
        "at": at(30),
        "count": 1200,
        "version": "v2",
    }
    fields.update(changes)
    return Measurement(**fields)  # type: ignore[arg-type]


def save_incident(store: Store, incident_id: str, *, version: int, **kw: Any) -> None:
    status = kw.get("status", "DETECTED")
    store.save_incident(
        id=incident_id,
        service="shop",
        priority=kw.get("priority", "P1"),
        status=status,
        title="checkout errors — ünïcode",
        detected_at=kw.get("at", at(0)),
        resolved_at=None,
        data={"id": incident_id, "status": status, "version": version, "tags": ["a", {"b": 1}]},
        expect_version=kw.get("expect"),
    )


def concurrently(workers: int, work: Callable[[int], None]) -> None:
    """Run work(0..workers-1) in threads released at the same moment."""
    start = threading.Barrier(workers)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            start.wait()
            work(i)
        except BaseException as exc:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]


class StoreContract:
    """Tests every store backend passes. Subclasses provide the `store_url` fixture."""

    @pytest.fixture
    def store(self, store_url: str, tmp_path: Path) -> Iterator[Store]:
        """A migrated, empty store."""
        with Store.open(store_url, workdir=tmp_path) as opened:
            yield opened

    @pytest.fixture
    def open_another(self, store_url: str, tmp_path: Path) -> Iterator[Callable[[], Store]]:
        """Open more stores on the same database (like other processes); closed at the end."""
        opened: list[Store] = []

        def make() -> Store:
            opened.append(Store.open(store_url, workdir=tmp_path))
            return opened[-1]

        yield make
        for s in opened:
            s.close()

    # -- schema ----------------------------------------------------------------------

    def test_migrations_reach_head_and_match_the_models(self, store: Store, store_url: str) -> None:
        engine = database.connect(store_url)
        try:
            assert database.current_revision(engine) == database.head_revision()
            with engine.connect() as connection:
                diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
            assert diff == []
            # opening again finds the schema at head and runs nothing
            assert database.migrate(engine) is False
        finally:
            engine.dispose()

    # -- rollouts and their timeline ---------------------------------------------------

    def test_rollouts_and_events_round_trip(self, store: Store) -> None:
        first = make_rollout()
        created = Event(
            at=at(0),
            kind="rollout.created",
            message="rollout of v2 created",
            data={"plan": ["a", "b"], "nested": {"x": [1, 2.5, None]}},
        )
        store.create_rollout(first, [created])
        assert store.get_rollout(first.id) == first
        assert store.events(first.id) == [created]

        done = make_rollout(
            "R-20261121-002",
            version="v3",
            created_at=at(100),
            updated_at=at(200),
            phase=RolloutPhase.SUCCEEDED,
            finished_at=at(200),
        )
        store.create_rollout(done)
        store.create_rollout(make_rollout("R-20261121-003", service="cart", created_at=at(50)))
        assert store.find_rollout("shop") == done
        assert store.find_rollout("shop", version="v2") == first
        assert store.active_rollout("shop") == first
        assert store.active_rollout("nobody") is None
        assert [r.id for r in store.list_rollouts()] == [done.id, "R-20261121-003", first.id]
        assert store.next_rollout_id("shop", at(10)) == "R-20261121-004"
        with pytest.raises(ConflictError, match="already exists"):
            store.create_rollout(first)
        with pytest.raises(NotFoundError):
            store.get_rollout("R-19990101-001")

    def test_save_rollout_writes_everything_or_nothing(self, store: Store) -> None:
        rollout = make_rollout()
        store.create_rollout(rollout)
        moved = rollout.model_copy(update={"phase": RolloutPhase.PROGRESSING, "step_index": 2})
        events = [
            Event(at=at(30), kind="analysis.measured", message="ok"),
            Event(at=at(40), kind="analysis.failed", message="p99", severity=Severity.ERROR),
        ]
        measured = [(2, False, measurement(0.7)), (0, True, measurement(None, count=0))]
        smoke = SmokeResult(
            name="health",
            scope="preview",
            version="v2",
            passed=True,
            detail="200 OK",
            at=at(20),
            duration_ms=12.5,
            status=200,
        )
        store.save_rollout(moved, events=events, measurements=measured, smoke=[(1, smoke)])
        assert store.get_rollout(rollout.id) == moved
        assert store.events(rollout.id) == events
        assert store.measurements(rollout.id) == measured
        assert store.smoke_results(rollout.id) == [(1, smoke)]

        naive = measurement(9.9, at=datetime(2026, 11, 21, 10, 0, 30))  # no tzinfo: refused
        later = moved.model_copy(update={"phase": RolloutPhase.ROLLING_BACK})
        with pytest.raises(StoreError, match="naive datetime"):
            store.save_rollout(
                later,
                events=[Event(at=at(50), kind="rollback.started", message="back")],
                measurements=[(2, False, measurement(0.1)), (2, False, naive)],
            )
        assert store.get_rollout(rollout.id) == moved
        assert store.events(rollout.id) == events
        assert store.measurements(rollout.id) == measured

    def test_commands_queue_and_complete_once(self, store: Store) -> None:
        store.create_rollout(make_rollout())
        pause = Command(rollout_id="R-20261121-001", name="pause", by="alice", at=at(5))
        command_id = store.enqueue_command(pause)
        assert [c.name for c in store.pending_commands("R-20261121-001")] == ["pause"]
        store.complete_command(command_id, at=at(6), result="Paused")
        store.complete_command(command_id, at=at(7), result="late")
        assert store.pending_commands("R-20261121-001") == []
        (record,) = store.commands("R-20261121-001")
        assert (record.done_at, record.result) == (at(6), "Paused")
        with pytest.raises(NotFoundError):
            store.complete_command(999_999, at=at(8), result="x")

    # -- time zones ----------------------------------------------------------------------

    def test_aware_datetimes_round_trip_as_the_same_instant_in_utc(self, store: Store) -> None:
        plus2 = timezone(timedelta(hours=2))
        minus7 = timezone(timedelta(hours=-7, minutes=-30))
        local = datetime(2026, 11, 21, 12, 0, 5, 250, tzinfo=plus2)
        store.create_rollout(make_rollout(created_at=datetime(2026, 11, 21, 2, 30, tzinfo=minus7)))
        rollout = store.get_rollout("R-20261121-001")
        assert rollout.created_at == at(0)  # the same instant (the JSON state keeps its zone)
        store.save_rollout(rollout, measurements=[(2, False, measurement(0.1, at=local))])
        ((_, _, stored),) = store.measurements(rollout.id)
        assert stored.at == local == at(5).replace(microsecond=250)
        assert stored.at.tzinfo is UTC
        # ordering and comparison happen on the instant, not on the written zone
        store.set_stable(service="shop", version="late", rollout_id=None, at=at(100))
        store.set_stable(
            service="shop", version="early", rollout_id=None, at=at(50).astimezone(minus7)
        )
        assert store.stable_version("shop") == "late"

    # -- leases --------------------------------------------------------------------------

    def test_lease_acquire_conflict_expiry_renew_release(self, store: Store) -> None:
        name = "rollout:shop"
        assert store.lease(name) is None
        assert store.acquire_lease(name, holder="a", ttl=30, now=at(0))
        assert store.lease(name) == Lease(name, "a", acquired_at=at(0), expires_at=at(30))
        assert not store.acquire_lease(name, holder="b", ttl=30, now=at(10))
        assert not store.acquire_lease(name, holder="b", ttl=30, now=at(30))  # at expiry
        assert store.acquire_lease(name, holder="a", ttl=30, now=at(20))  # re-acquire extends
        assert store.lease(name) == Lease(name, "a", acquired_at=at(0), expires_at=at(50))
        assert store.renew_lease(name, holder="a", ttl=30, now=at(40))
        assert not store.renew_lease(name, holder="b", ttl=30, now=at(40))
        # expired: anyone may take it, and the old holder can no longer renew
        assert store.acquire_lease(name, holder="b", ttl=30, now=at(71))
        assert store.lease(name) == Lease(name, "b", acquired_at=at(71), expires_at=at(101))
        assert not store.renew_lease(name, holder="a", ttl=30, now=at(72))
        store.release_lease(name, holder="a")  # not the holder: nothing happens
        assert store.lease(name) is not None
        store.release_lease(name, holder="b")
        assert store.lease(name) is None

    def test_steal_lease_only_from_the_expected_holder(self, store: Store) -> None:
        name = "rollout:shop"
        assert store.acquire_lease(name, holder="dead", ttl=300, now=at(0))
        assert not store.steal_lease(name, holder="c", ttl=30, now=at(5), expected_holder="x")
        assert store.steal_lease(name, holder="b", ttl=30, now=at(5), expected_holder="dead")
        assert store.lease(name) == Lease(name, "b", acquired_at=at(5), expires_at=at(35))
        assert not store.steal_lease(name, holder="c", ttl=30, now=at(6), expected_holder="dead")
        assert store.steal_lease("free", holder="c", ttl=30, now=at(6), expected_holder="dead")

    def test_concurrent_acquisitions_have_exactly_one_winner(
        self, store: Store, open_another: Callable[[], Store]
    ) -> None:
        stores = [open_another() for _ in range(5)]
        for round_, name in enumerate(["incidents:shop", "slo:shop", "hypercare:shop"]):
            wins: list[str] = []

            def contend(i: int, name: str = name, wins: list[str] = wins) -> None:
                if stores[i].acquire_lease(name, holder=f"c{i}", ttl=60, now=at(0)):
                    wins.append(f"c{i}")

            concurrently(len(stores), contend)
            assert len(wins) == 1, (round_, wins)
            lease = store.lease(name)
            assert lease is not None and lease.holder == wins[0]

        # an expired lease taken by many at once still goes to exactly one
        expired: list[str] = []

        def take_over(i: int) -> None:
            if stores[i].acquire_lease("slo:shop", holder=f"n{i}", ttl=60, now=at(120)):
                expired.append(f"n{i}")

        concurrently(len(stores), take_over)
        assert len(expired) == 1

    # -- releases, gates -----------------------------------------------------------------

    def test_gates_are_recorded_linked_and_filtered(self, store: Store) -> None:
        store.create_rollout(make_rollout())
        first = store.save_gate(
            service="shop",
            version="v2",
            kind="readiness",
            decision="GO",
            data={"checks": [{"name": "tests", "ok": True}], "score": 0.97},
            at=at(-10),
        )
        second = store.save_gate(
            service="shop", version="v2", kind="staging", decision="NO-GO", data={}, at=at(-5)
        )
        store.link_gates([first, second], "R-20261121-001")
        gates = store.gates(rollout_id="R-20261121-001")
        assert [(g.kind, g.decision) for g in gates] == [("readiness", "GO"), ("staging", "NO-GO")]
        assert gates[0].data == {"checks": [{"name": "tests", "ok": True}], "score": 0.97}
        latest = store.latest_gate(service="shop", version="v2", kind="staging")
        assert latest is not None and latest.id == second
        assert store.gates(service="cart") == []

    # -- incidents -----------------------------------------------------------------------

    def test_incidents_round_trip_under_an_expected_version(self, store: Store) -> None:
        assert store.next_incident_id(at(0)) == "INC-2026-11-21-001"
        save_incident(store, "INC-2026-11-21-001", version=1)
        save_incident(store, "INC-2026-11-21-001", version=2, status="TRIAGED", expect=1)
        with pytest.raises(ConflictError):
            save_incident(store, "INC-2026-11-21-001", version=3, expect=1)
        save_incident(store, "INC-2026-11-21-002", version=1, status="RESOLVED", priority="P0")
        stored = store.incident("INC-2026-11-21-001")
        assert stored == {
            "id": "INC-2026-11-21-001",
            "status": "TRIAGED",
            "version": 2,
            "tags": ["a", {"b": 1}],
        }
        assert [i["id"] for i in store.incidents(open_only=True)] == ["INC-2026-11-21-001"]
        assert store.active_incidents("shop") == [
            IncidentRef(
                id="INC-2026-11-21-001",
                priority="P1",
                status="TRIAGED",
                title="checkout errors — ünïcode",
                service="shop",
            )
        ]
        assert store.next_incident_id(at(0)) == "INC-2026-11-21-003"

    def test_concurrent_versioned_writes_never_interleave(
        self, store: Store, open_another: Callable[[], Store]
    ) -> None:
        save_incident(store, "INC-2026-11-21-001", version=1)
        stores = [open_another() for _ in range(4)]
        won: list[int] = []

        def write(i: int) -> None:
            try:
                save_incident(
                    stores[i], "INC-2026-11-21-001", version=2, expect=1, priority=f"P{i}"
                )
            except ConflictError:
                return
            won.append(i)

        concurrently(len(stores), write)
        assert len(won) == 1
        assert store.incident("INC-2026-11-21-001")["version"] == 2

    def test_the_outbox_keeps_a_message_until_delivered(self, store: Store) -> None:
        save_incident(store, "INC-2026-11-21-001", version=1)
        delivery = store.enqueue_delivery(
            incident_id="INC-2026-11-21-001",
            channel="slack",
            kind="alert",
            message={"text": "P1 declared"},
            at=at(0),
        )
        assert [d["id"] for d in store.due_deliveries(at(0))] == [delivery]
        store.record_attempt(delivery, ok=False, result="503", at=at(1), retry_at=at(31))
        assert store.due_deliveries(at(30)) == []
        (due,) = store.due_deliveries(at(31))
        assert (due["attempts"], due["last_result"], due["message"]) == (
            1,
            "503",
            {"text": "P1 declared"},
        )
        store.record_attempt(delivery, ok=True, result="200", at=at(32), retry_at=None)
        (sent,) = store.deliveries("INC-2026-11-21-001")
        assert (sent["status"], sent["delivered_at"]) == ("sent", at(32))

    # -- SLO buckets and snapshots ---------------------------------------------------------

    def test_slo_buckets_insert_idempotently_and_sum_windows(self, store: Store) -> None:
        buckets = [(at(60 * i), at(60 * (i + 1)), 90.0 + i, 100.0, 0.9) for i in range(10)]
        assert store.add_slo_buckets("avail", buckets[:6]) == 6
        assert store.add_slo_buckets("avail", buckets) == 4  # the first six are kept
        assert store.add_slo_buckets("avail", buckets[3:5]) == 0
        assert store.add_slo_buckets("other", buckets[:1]) == 1
        assert store.last_slo_bucket_end("avail") == at(600)
        assert len(store.slo_buckets("avail", at(0), at(600))) == 10
        sums = store.slo_window_sums("avail", [at(0), at(300), at(540), at(900)], at(600))
        assert sums == [
            (sum(90.0 + i for i in range(10)), 1000.0),
            (sum(90.0 + i for i in range(5, 10)), 500.0),
            (99.0, 100.0),
            (0.0, 0.0),
        ]
        # only buckets starting before `until` count
        assert store.slo_window_sums("avail", [at(0)], at(120)) == [(181.0, 200.0)]
        assert store.slo_window_sums("avail", [], at(600)) == []

    def test_concurrent_bucket_writers_never_count_twice(
        self, store: Store, open_another: Callable[[], Store]
    ) -> None:
        buckets = [(at(60 * i), at(60 * (i + 1)), 1.0, 1.0, 1.0) for i in range(20)]
        stores = [open_another() for _ in range(4)]
        concurrently(len(stores), lambda i: stores[i].add_slo_buckets("avail", buckets))
        assert store.slo_window_sums("avail", [at(0)], at(3600)) == [(20.0, 20.0)]

    def test_snapshots_and_hypercare_days_are_written_once(self, store: Store) -> None:
        assert store.save_slo_snapshot("avail", at(0), True, {"budget": 0.5})
        assert not store.save_slo_snapshot("avail", at(0), False, {"budget": 0.1})
        assert store.save_slo_snapshot("avail", at(60), None, {"budget": 0.4})
        snapshots = store.slo_snapshots("avail", since=at(-1))
        assert [(s["at"], s["met"], s["budget"]) for s in snapshots] == [
            (at(0), True, 0.5),
            (at(60), None, 0.4),
        ]
        assert store.last_slo_snapshot("avail") == at(60)
        store.save_hypercare(
            id="HC-1",
            service="shop",
            version="v2",
            status="active",
            start=at(0),
            data={"id": "HC-1", "revision": 1},
        )
        assert store.save_hypercare_day("HC-1", 1, "2026-11-21", at(0), {"health": "GREEN"})
        assert not store.save_hypercare_day("HC-1", 1, "2026-11-21", at(5), {"health": "RED"})
        assert store.hypercare_days("HC-1") == [
            {"day": 1, "date": "2026-11-21", "written_at": at(0), "health": "GREEN"}
        ]

    # -- errors --------------------------------------------------------------------------

    def test_errors_are_one_line_store_errors(self, store: Store) -> None:
        with pytest.raises(StoreError) as caught:  # the rollout must exist (foreign key)
            store.append_event(
                rollout_id="R-19990101-001",
                service="shop",
                event=Event(at=at(1), kind="note", message="orphan"),
            )
        assert "\n" not in str(caught.value)
