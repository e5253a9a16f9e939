"""The `watch` controller's leases with a real SQLite store, test doubles (FakeTarget,
FakeMetricSource) and virtual time: several watchers on one store, one owner for each
rollout and each timer, and takeover when the owner stops renewing."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from watchstander.analysis.models import MetricQuery, Sample
from watchstander.clock import FakeClock
from watchstander.config.loader import parse_config
from watchstander.engine.controller import CLAIM_KINDS
from watchstander.engine.operations import Workspace, create_rollout
from watchstander.engine.watch import Watcher
from watchstander.providers.metrics.fake import FakeMetricSource
from watchstander.providers.targets.fake import FakeTarget
from watchstander.release.models import Event, Rollout, RolloutPhase, Strategy
from watchstander.store.repository import Store

CONFIG = """\
service: {name: shop}
target:
  type: local
  command: ["serve", "{port}"]
  replicas: 2
strategy: {observation: 1m}
analysis: {interval: 30s, count: 1}
"""

ELSEWHERE = "otherhost:4242:deadbeef"  # a controller on another host: no pid check


def healthy(q: MetricQuery) -> Sample:
    values = {"error_rate": 0.001, "latency_p99": 40.0, "throughput": 50.0}
    return Sample(value=values.get(q.metric, 1.0), count=500, query=q.metric)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(tmp_path: Path) -> Iterator[Store]:
    with Store.open(None, workdir=tmp_path) as s:
        yield s


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    return Workspace(root=tmp_path, config_path=tmp_path / "w.yaml", config=parse_config(CONFIG))


class Counter:
    def __init__(self) -> None:
        self.calls: dict[str, int] = {}

    def tick(self, kind: str) -> Any:
        async def run() -> str:
            self.calls[kind] = self.calls.get(kind, 0) + 1
            return kind

        return run


def watcher(
    name: str, ws: Workspace, store: Store, clock: FakeClock, counter: Counter, target: FakeTarget
) -> Watcher:
    said: list[str] = []
    w = Watcher(
        ws=ws,
        store=store,
        clock=clock,
        ticks={k: counter.tick(f"{name}:{k}") for k in ("slo", "incidents", "hypercare")},
        say=said.append,
        holder=f"otherhost:{name}:0",
        make_target=lambda config: target,
        make_metrics=lambda config: FakeMetricSource(healthy),
    )
    w.said = said  # type: ignore[attr-defined]
    return w


def detached(store: Store, ws: Workspace, clock: FakeClock, version: str) -> Rollout:
    return create_rollout(
        store=store, config=ws.config, version=version, strategy=Strategy.CANARY, now=clock.now()
    )


async def test_each_timer_fires_in_one_watcher_until_it_stops_renewing(
    ws: Workspace, store: Store, clock: FakeClock
) -> None:
    counter = Counter()
    target = FakeTarget(clock=clock)
    a = watcher("a", ws, store, clock, counter, target)
    b = watcher("b", ws, store, clock, counter, target)
    assert await a.tick() == ["slo", "incidents", "hypercare"]
    assert await b.tick() == []
    clock.advance(10)
    a.renew()
    assert await b.tick() == []
    assert await a.tick() == ["slo", "incidents", "hypercare"]
    assert counter.calls == {"a:slo": 2, "a:incidents": 2, "a:hypercare": 2}

    clock.advance(a.lease_ttl + 1)  # a hangs: no renewal for longer than a lease
    assert await b.tick() == ["slo", "incidents", "hypercare"]
    assert "took the incidents timers over from otherhost:a:0" in b.said  # type: ignore[attr-defined]
    a.renew()
    assert a.held == set()
    assert "lost the lease incidents:shop to another controller" in a.said  # type: ignore[attr-defined]
    assert await a.tick() == []
    assert counter.calls["b:incidents"] == 1 and counter.calls["a:incidents"] == 2


async def test_one_watcher_adopts_a_detached_rollout_and_drives_it(
    ws: Workspace, store: Store, clock: FakeClock
) -> None:
    counter = Counter()
    target = FakeTarget(clock=clock)
    a = watcher("a", ws, store, clock, counter, target)
    b = watcher("b", ws, store, clock, counter, target)
    first = detached(store, ws, clock, "v1")  # the initial release: a short plan
    assert a.adopt() == first
    assert b.adopt() is None
    assert a.adopt() is None  # already driving it
    await a._driving["rollout:shop"]
    done = store.get_rollout(first.id)
    assert done.phase is RolloutPhase.SUCCEEDED
    assert store.lease("rollout:shop") is None  # released when done
    claims = [(e.kind, e.data) for e in store.events(first.id) if e.kind in CLAIM_KINDS]
    assert claims == [("controller.acquired", {"holder": "otherhost:a:0"})]
    assert a.adopt() is None and b.adopt() is None  # nothing active any more


async def test_a_rollout_whose_controller_stops_renewing_is_taken_over(
    ws: Workspace, store: Store, clock: FakeClock
) -> None:
    counter = Counter()
    target = FakeTarget(clock=clock)
    store.set_stable(service="shop", version="v1", rollout_id=None, at=clock.now())
    rollout = detached(store, ws, clock, "v2")
    # another host's controller took it and then went silent
    assert store.acquire_lease("rollout:shop", holder=ELSEWHERE, ttl=15, now=clock.now())
    store.append_event(
        rollout_id=rollout.id,
        service="shop",
        event=Event(
            at=clock.now(),
            kind="controller.acquired",
            message="controller elsewhere drives the rollout",
            data={"holder": ELSEWHERE},
        ),
    )
    b = watcher("b", ws, store, clock, counter, target)
    assert b.adopt() is None
    clock.advance(16)
    assert b.adopt() == rollout
    await b._driving["rollout:shop"]
    assert store.get_rollout(rollout.id).phase is RolloutPhase.SUCCEEDED
    takeover = [e for e in store.events(rollout.id) if e.kind == "controller.takeover"]
    assert [(e.data["holder"], e.data["from"], e.data["reason"]) for e in takeover] == [
        ("otherhost:b:0", ELSEWHERE, "its lease expired")
    ]


async def test_a_lost_rollout_lease_stops_driving_at_once(
    ws: Workspace, store: Store, clock: FakeClock
) -> None:
    counter = Counter()
    target = FakeTarget(clock=clock)
    store.set_stable(service="shop", version="v1", rollout_id=None, at=clock.now())
    rollout = detached(store, ws, clock, "v2")
    a = watcher("a", ws, store, clock, counter, target)
    assert a.adopt() == rollout
    task = a._driving["rollout:shop"]
    # someone else owns it now (e.g. a's lease expired while it was stuck)
    assert store.steal_lease(
        "rollout:shop", holder=ELSEWHERE, ttl=15, now=clock.now(), expected_holder="otherhost:a:0"
    )
    a.renew()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert a._driving == {}
    lease = store.lease("rollout:shop")
    assert lease is not None and lease.holder == ELSEWHERE  # not released by the loser
    assert not store.get_rollout(rollout.id).terminal
    assert a.adopt() is None  # while the other holds it
    await a.stop()
    assert store.lease("rollout:shop") == lease
    clock.advance(16)  # the other went silent too: a takes it back and finishes it
    assert a.adopt() == rollout
    await a._driving["rollout:shop"]
    assert store.get_rollout(rollout.id).phase is RolloutPhase.SUCCEEDED
