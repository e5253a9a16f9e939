"""The store against real SQLite files: round trips, migrations, two processes, leases."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from store_contract import at, make_rollout  # the contract's rollout and times

from watchstander.analysis.models import Measurement, Phase
from watchstander.errors import ConflictError, NotFoundError, StoreError
from watchstander.release.models import (
    Command,
    Event,
    RolloutPhase,
    Severity,
    SmokeResult,
)
from watchstander.store import Lease, Release, Store, database
from watchstander.store.tables import Base

pytestmark = pytest.mark.integration


def measurement(value: float | None, *, seconds: float = 30, **changes: object) -> Measurement:
    fields: dict[str, object] = {
        "name": "error-rate",
        "metric": "error_rate",
        "phase": Phase.PASS,
        "value": value,
        "baseline": 0.5,
        "threshold": 2.5,
        "reason": "0.7 <= 2.5",
        "query": 'sum(rate(http_requests_total{version="v2",code=~"5.."}[1m]))',
        "at": at(seconds),
        "count": 1200,
        "version": "v2",
    }
    fields.update(changes)
    return Measurement(**fields)  # type: ignore[arg-type]


def smoke(passed: bool = True) -> SmokeResult:
    return SmokeResult(
        name="health",
        scope="preview",
        version="v2",
        passed=passed,
        detail="200 OK" if passed else "503",
        at=at(20),
        duration_ms=12.5,
        status=200 if passed else 503,
    )


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(workdir=tmp_path) as opened:
        yield opened


# -- opening and migrating ------------------------------------------------------------


def test_open_creates_the_default_file_in_wal_mode(tmp_path: Path) -> None:
    with Store.open(workdir=tmp_path) as store:
        assert store.url.endswith("/.watchstander/state.db")
    path = tmp_path / ".watchstander" / "state.db"
    assert path.is_file()
    engine = database.connect(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            timeout = connection.exec_driver_sql("PRAGMA busy_timeout").scalar()
            assert timeout == database.BUSY_TIMEOUT_MS
            assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


def test_opening_twice_migrates_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with Store.open(workdir=tmp_path) as store:
        store.create_rollout(make_rollout())

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("upgrade ran on a database already at head")

    monkeypatch.setattr(command, "upgrade", refuse)
    with Store.open(workdir=tmp_path) as store:
        assert store.get_rollout("R-20261121-001") == make_rollout()
    engine = database.connect(f"sqlite:///{tmp_path / '.watchstander' / 'state.db'}")
    try:
        assert database.current_revision(engine) == database.head_revision() == "0004"
    finally:
        engine.dispose()


def test_migrations_create_exactly_the_tables_of_the_models(tmp_path: Path) -> None:
    Store.open(workdir=tmp_path).close()
    engine = database.connect(f"sqlite:///{tmp_path / '.watchstander' / 'state.db'}")
    try:
        with engine.connect() as connection:
            diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    finally:
        engine.dispose()
    assert diff == []


def test_an_explicit_url_is_used(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere' / 'x.db'}"
    with Store.open(url, workdir=tmp_path) as store:
        store.create_rollout(make_rollout())
    assert (tmp_path / "elsewhere" / "x.db").is_file()
    assert not (tmp_path / ".watchstander").exists()


@pytest.mark.parametrize(
    "url",
    ["nosuchdialect://host/db", "sqlite:///{tmp}/a-file/state.db"],
    ids=["unknown-dialect", "parent-is-a-file"],
)
def test_open_failures_are_one_line_store_errors(tmp_path: Path, url: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    with pytest.raises(StoreError) as caught:
        Store.open(url.replace("{tmp}", str(tmp_path)), workdir=tmp_path)
    assert "\n" not in str(caught.value)
    assert str(caught.value).startswith("cannot open the store at ")


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path) -> None:
    Store.open(workdir=tmp_path).close()
    engine = database.connect(f"sqlite:///{tmp_path / '.watchstander' / 'state.db'}")
    try:
        with engine.begin() as connection:
            connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    finally:
        engine.dispose()
    with pytest.raises(StoreError, match="revision 9999, newer than this watchstander"):
        Store.open(workdir=tmp_path)


# -- rollouts, timeline, measurements, smoke ------------------------------------------


def test_rollout_round_trip_and_queries(store: Store) -> None:
    first = make_rollout()
    created = Event(at=at(0), kind="rollout.created", message="rollout of v2 created")
    store.create_rollout(first, [created])
    assert store.get_rollout(first.id) == first
    assert store.events(first.id) == [created]

    done = make_rollout(
        "R-20261121-002",
        version="v3",
        stable_version="v2",
        created_at=at(100),
        updated_at=at(200),
        phase=RolloutPhase.SUCCEEDED,
        finished_at=at(200),
    )
    store.create_rollout(done)
    other = make_rollout("R-20261121-003", service="cart", created_at=at(50), updated_at=at(50))
    store.create_rollout(other)

    assert store.find_rollout("shop") == done
    assert store.find_rollout("shop", version="v2") == first
    assert store.find_rollout("shop", version="v9") is None
    assert store.active_rollout("shop") == first
    assert store.active_rollout("nobody") is None
    assert [r.id for r in store.list_rollouts()] == [done.id, other.id, first.id]
    assert [r.id for r in store.list_rollouts(service="shop", limit=1)] == [done.id]
    assert store.next_rollout_id("shop", at(10)) == "R-20261121-004"
    assert store.next_rollout_id("shop", at(86_400)) == "R-20261122-001"

    with pytest.raises(ConflictError, match="R-20261121-001 already exists"):
        store.create_rollout(first)
    with pytest.raises(NotFoundError, match="no rollout R-19990101-001"):
        store.get_rollout("R-19990101-001")
    with pytest.raises(NotFoundError):
        store.save_rollout(make_rollout("R-19990101-001"))


def test_save_rollout_writes_state_timeline_measurements_and_smoke(store: Store) -> None:
    rollout = make_rollout()
    store.create_rollout(rollout)
    moved = rollout.model_copy(
        update={"phase": RolloutPhase.PROGRESSING, "step_index": 2, "updated_at": at(40)}
    )
    events = [
        Event(at=at(30), kind="analysis.measured", message="error rate ok"),
        Event(
            at=at(40),
            kind="analysis.failed",
            message="p99 over the limit",
            severity=Severity.ERROR,
            data={"metric": "latency_p99", "values": [1.5, None]},
        ),
    ]
    measured = [
        (2, False, measurement(0.7)),
        (2, False, measurement(None, phase=Phase.INCONCLUSIVE, reason="no data", count=0)),
        (0, True, measurement(3.1, phase=Phase.FAIL, baseline=None, threshold=None)),
    ]
    smoked = [(1, smoke()), (1, smoke(passed=False))]
    store.save_rollout(moved, events=events, measurements=measured, smoke=smoked)

    assert store.get_rollout(rollout.id) == moved
    assert store.events(rollout.id) == events
    assert store.measurements(rollout.id) == measured
    assert store.smoke_results(rollout.id) == smoked
    assert store.active_rollout("shop") == moved


def test_save_rollout_is_one_transaction(store: Store) -> None:
    rollout = make_rollout()
    store.create_rollout(rollout)
    failed = rollout.model_copy(update={"phase": RolloutPhase.ROLLING_BACK, "updated_at": at(9)})
    naive = measurement(9.9, at=datetime(2026, 11, 21, 10, 0, 30))  # no tzinfo: refused
    with pytest.raises(StoreError, match="naive datetime"):
        store.save_rollout(
            failed,
            events=[Event(at=at(9), kind="rollback.started", message="rolling back")],
            measurements=[(2, False, measurement(0.7)), (2, False, naive)],
            smoke=[(1, smoke())],
        )
    assert store.get_rollout(rollout.id) == rollout
    assert store.events(rollout.id) == []
    assert store.measurements(rollout.id) == []
    assert store.smoke_results(rollout.id) == []


def test_times_in_other_zones_come_back_as_the_same_instant_in_utc(store: Store) -> None:
    rollout = make_rollout()
    store.create_rollout(rollout)
    plus2 = timezone(timedelta(hours=2))
    local = datetime(2026, 11, 21, 12, 0, 5, 250, tzinfo=plus2)
    store.save_rollout(rollout, measurements=[(2, False, measurement(0.1, at=local))])
    ((_, _, stored),) = store.measurements(rollout.id)
    assert stored.at == local
    assert stored.at.tzinfo is UTC
    assert stored.at == at(5).replace(microsecond=250)


def test_service_events_without_a_rollout(store: Store) -> None:
    store.create_rollout(make_rollout())
    store.append_event(
        rollout_id=None,
        service="shop",
        event=Event(at=at(1), kind="service.note", message="not tied to a rollout"),
    )
    tied = Event(at=at(2), kind="note", message="tied", severity=Severity.WARNING)
    store.append_event(rollout_id="R-20261121-001", service="shop", event=tied)
    assert store.events("R-20261121-001") == [tied]
    with pytest.raises(StoreError):  # the rollout must exist (foreign key)
        store.append_event(rollout_id="R-19990101-001", service="shop", event=tied)


# -- commands -------------------------------------------------------------------------


def test_commands_queue_and_complete(store: Store) -> None:
    store.create_rollout(make_rollout())
    pause = Command(rollout_id="R-20261121-001", name="pause", by="alice", at=at(5))
    promote = Command(
        rollout_id="R-20261121-001", name="promote", args={"full": True}, by="bob", at=at(6)
    )
    first = store.enqueue_command(pause)
    second = store.enqueue_command(promote)
    assert second > first
    assert store.pending_commands("R-20261121-001") == [
        pause.model_copy(update={"id": first}),
        promote.model_copy(update={"id": second}),
    ]

    store.complete_command(first, at=at(7), result="paused")
    store.complete_command(first, at=at(8), result="ignored: already done")
    assert [c.id for c in store.pending_commands("R-20261121-001")] == [second]
    records = store.commands("R-20261121-001")
    assert [(r.command.name, r.done_at, r.result) for r in records] == [
        ("pause", at(7), "paused"),
        ("promote", None, None),
    ]
    assert records[1].command.args == {"full": True}
    with pytest.raises(NotFoundError, match="no command 999"):
        store.complete_command(999, at=at(9), result="x")


# -- two processes on one file --------------------------------------------------------


def test_two_stores_on_one_file_see_each_others_writes(tmp_path: Path) -> None:
    with Store.open(workdir=tmp_path) as deployer, Store.open(workdir=tmp_path) as operator:
        rollout = make_rollout(phase=RolloutPhase.PROGRESSING)
        deployer.create_rollout(rollout)
        assert operator.active_rollout("shop") == rollout

        command_id = operator.enqueue_command(
            Command(rollout_id=rollout.id, name="pause", by="operator", at=at(3))
        )
        (pending,) = deployer.pending_commands(rollout.id)
        assert pending.id == command_id

        paused = rollout.model_copy(update={"phase": RolloutPhase.PAUSED, "paused": True})
        deployer.save_rollout(
            paused, events=[Event(at=at(4), kind="rollout.paused", message="paused by operator")]
        )
        deployer.complete_command(command_id, at=at(4), result="paused")
        assert operator.get_rollout(rollout.id).paused
        assert operator.pending_commands(rollout.id) == []
        assert [e.kind for e in operator.events(rollout.id)] == ["rollout.paused"]

        assert deployer.acquire_lease("rollout/shop", holder="deployer", ttl=30, now=at(0))
        assert not operator.acquire_lease("rollout/shop", holder="operator", ttl=30, now=at(1))


def test_concurrent_acquisitions_have_exactly_one_winner(tmp_path: Path) -> None:
    Store.open(workdir=tmp_path).close()
    stores = [Store.open(workdir=tmp_path) for _ in range(6)]
    wins: list[str] = []
    start = threading.Barrier(len(stores))

    def contend(i: int) -> None:
        start.wait()
        if stores[i].acquire_lease("rollout/shop", holder=f"c{i}", ttl=60, now=at(0)):
            wins.append(f"c{i}")

    threads = [threading.Thread(target=contend, args=(i,)) for i in range(len(stores))]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(wins) == 1
        lease = stores[0].lease("rollout/shop")
        assert lease is not None and lease.holder == wins[0]
    finally:
        for s in stores:
            s.close()


# -- leases ---------------------------------------------------------------------------


def test_lease_acquire_contend_expire_renew_release(store: Store) -> None:
    name = "rollout/shop"
    assert store.lease(name) is None
    assert store.acquire_lease(name, holder="a", ttl=30, now=at(0))
    assert store.lease(name) == Lease(name, "a", acquired_at=at(0), expires_at=at(30))

    assert not store.acquire_lease(name, holder="b", ttl=30, now=at(10))
    assert not store.acquire_lease(name, holder="b", ttl=30, now=at(30))  # expires_at itself
    # the holder re-acquiring extends the lease and keeps when it first got it
    assert store.acquire_lease(name, holder="a", ttl=30, now=at(20))
    assert store.lease(name) == Lease(name, "a", acquired_at=at(0), expires_at=at(50))

    assert store.renew_lease(name, holder="a", ttl=30, now=at(40))
    assert not store.renew_lease(name, holder="b", ttl=30, now=at(40))
    lease = store.lease(name)
    assert lease is not None and lease.expires_at == at(70)
    assert lease.held_at(at(70)) and not lease.held_at(at(71))

    # expired: anyone may take it, and the old holder can no longer renew
    assert store.acquire_lease(name, holder="b", ttl=30, now=at(71))
    assert store.lease(name) == Lease(name, "b", acquired_at=at(71), expires_at=at(101))
    assert not store.renew_lease(name, holder="a", ttl=30, now=at(72))

    store.release_lease(name, holder="a")  # not the holder: nothing happens
    assert store.lease(name) is not None
    store.release_lease(name, holder="b")
    assert store.lease(name) is None
    assert store.acquire_lease(name, holder="c", ttl=5, now=at(80))


def test_renewing_an_expired_lease_nobody_took_succeeds(store: Store) -> None:
    assert store.acquire_lease("x", holder="a", ttl=10, now=at(0))
    assert store.renew_lease("x", holder="a", ttl=10, now=at(100))
    lease = store.lease("x")
    assert lease is not None and lease.expires_at == at(110)


def test_steal_lease_from_a_dead_holder(store: Store) -> None:
    name = "rollout/shop"
    assert store.acquire_lease(name, holder="dead", ttl=300, now=at(0))
    assert not store.steal_lease(name, holder="c", ttl=30, now=at(5), expected_holder="other")
    assert store.steal_lease(name, holder="b", ttl=30, now=at(5), expected_holder="dead")
    assert store.lease(name) == Lease(name, "b", acquired_at=at(5), expires_at=at(35))
    # a second thief expecting the same dead holder loses: the lease moved on
    assert not store.steal_lease(name, holder="c", ttl=30, now=at(6), expected_holder="dead")
    # no row at all: stealing simply takes it
    assert store.steal_lease("free", holder="c", ttl=30, now=at(6), expected_holder="dead")


# -- releases -------------------------------------------------------------------------


def test_release_history_and_stable_version(store: Store) -> None:
    assert store.stable_version("shop") is None
    assert store.release_history("shop") == []
    store.create_rollout(make_rollout())
    store.set_stable(service="shop", version="v1", rollout_id=None, at=at(-100))
    store.set_stable(service="shop", version="v2", rollout_id="R-20261121-001", at=at(300))
    store.set_stable(service="cart", version="c7", rollout_id=None, at=at(400))
    assert store.stable_version("shop") == "v2"
    assert store.release_history("shop") == [
        Release("shop", "v2", "R-20261121-001", at(300)),
        Release("shop", "v1", None, at(-100)),
    ]
