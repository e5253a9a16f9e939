"""The `watchstander watch` controller: timers, ticks and rollouts, safe to run several times.

Any number of `watch` processes may share one store (PostgreSQL, or SQLite on one host).
Every piece of work is owned through a lease (engine/lease.py), so exactly one process
acts on it and another takes over within one lease period when the owner dies:

- `rollout:<service>`: each scan (every second) a controller adopts the service's active
  rollout if it can take the lease (free, expired, or the holder's pid on this host is
  gone) and drives it to its end in a task of the loop, exactly as `deploy` would, resuming
  from the stored state. The timeline records which controller took it, and from whom
  (`controller.acquired` / `controller.takeover`).
- `slo:<service>`, `incidents:<service>`, `hypercare:<service>`: every `interval`, the SLO
  monitor tick, the incident desk tick (escalation timers, outbox) and the hypercare tick
  run only in the process holding their lease.

A renewer task extends every held lease each ttl/4, independently of slow ticks or slow
rollout actions; a lease that cannot be renewed is dropped, and a rollout whose lease was
lost is stopped at once (its new owner resumes it from the store). On the way out every
lease is released, so the others take over at the next scan instead of after expiry.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from watchstander.clock import Clock
from watchstander.config.models import Config
from watchstander.engine import operations
from watchstander.engine.controller import RolloutController
from watchstander.engine.lease import (
    LEASE_TTL,
    ServiceLease,
    Taken,
    holder_id,
    lease_name,
    tick_lease_name,
)
from watchstander.engine.settings import settings_from_config
from watchstander.errors import WatchstanderError
from watchstander.providers.metrics.base import MetricSource
from watchstander.providers.targets.base import Target
from watchstander.release.models import Event, Rollout
from watchstander.store.repository import Store

__all__ = ["Watcher", "TICKS", "SCAN_INTERVAL"]

TICKS = ("slo", "incidents", "hypercare")
SCAN_INTERVAL = 1.0  # how often a controller looks for a rollout to adopt

Say = Callable[[str], None]
EventSink = Callable[[Rollout, Event], None]


@dataclass
class Watcher:
    """One `watch` process. `ticks` maps "slo" | "incidents" | "hypercare" to the coroutine
    function doing that tick once; `on_tick(kind, result)` reports each result."""

    ws: operations.Workspace
    store: Store
    clock: Clock
    ticks: dict[str, Callable[[], Awaitable[Any]]]
    on_tick: Callable[[str, Any], None] = lambda kind, result: None
    on_event: EventSink | None = None
    say: Say = lambda message: None
    holder: str = field(default_factory=holder_id)
    lease_ttl: float = LEASE_TTL
    scan_interval: float = SCAN_INTERVAL
    make_target: Callable[[Config], Target] = operations.make_target
    make_metrics: Callable[[Config], MetricSource] = operations.make_metrics
    held: set[str] = field(default_factory=set)
    _driving: dict[str, asyncio.Task[None]] = field(default_factory=dict)
    _problems: dict[str, str] = field(default_factory=dict)
    _strict: bool = False

    def __post_init__(self) -> None:
        self.leases = ServiceLease(self.store, self.clock, self.holder, self.lease_ttl)

    @property
    def service(self) -> str:
        return self.ws.config.service.name

    # -- the loop ----------------------------------------------------------------------

    async def run(self, *, interval: float, once: bool = False) -> None:
        """Scan for rollouts every second and run the ticks every `interval` seconds,
        until cancelled; with `once`, one scan and one round of ticks (a failing tick
        raises), and any rollout adopted is driven to its end before returning."""
        self._strict = once
        renewer = asyncio.create_task(self._renew_forever())
        try:
            next_tick = self.clock.now()
            while True:
                self.adopt()
                if self.clock.now() >= next_tick:
                    await self.tick()
                    next_tick = self.clock.now() + timedelta(seconds=interval)
                if once:
                    await asyncio.gather(*self._driving.values(), return_exceptions=True)
                    return
                await self.clock.sleep(min(self.scan_interval, interval))
                await asyncio.sleep(0)  # a virtual clock's sleep does not yield
        finally:
            renewer.cancel()
            await self.stop()

    async def stop(self) -> None:
        """Stop driving (the rollouts stay where the store says) and release every lease."""
        tasks = list(self._driving.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for name in sorted(self.held):
            with contextlib.suppress(WatchstanderError):
                self.leases.give_up(name)
        self.held.clear()

    # -- rollouts ----------------------------------------------------------------------

    def adopt(self) -> Rollout | None:
        """Take the service's active rollout if its lease can be had, and start driving it
        in a task; returns the rollout adopted now, if any."""
        name = lease_name(self.service)
        running = self._driving.get(name)
        if running is not None and not running.done():
            return None
        try:
            active = self.store.active_rollout(self.service)
            if active is None:
                return None
            taken = self.leases.take(name)
        except WatchstanderError as exc:
            self._report("adopt", f"cannot look for rollouts: {exc}")
            return None
        if taken is None:
            return None
        self.held.add(name)
        try:
            still = not self.store.get_rollout(active.id).terminal
        except WatchstanderError:
            still = False
        if not still:  # it ended between the look and the lease: nothing to drive
            self.held.discard(name)
            with contextlib.suppress(WatchstanderError):
                self.leases.give_up(name)
            return None
        task = asyncio.create_task(self._drive(active, taken))
        self._driving[name] = task
        # A task cancelled before it started never runs its own cleanup.
        task.add_done_callback(lambda done: self._forget(name, done))
        return active

    def _forget(self, name: str, task: asyncio.Task[None]) -> None:
        if self._driving.get(name) is task:
            del self._driving[name]

    async def _drive(self, rollout: Rollout, taken: Taken) -> None:
        name = taken.name
        target = self.make_target(self.ws.config)
        metrics = self.make_metrics(self.ws.config)
        controller = RolloutController(
            store=self.store,
            target=target,
            metrics=metrics,
            config=self.ws.config,
            settings=settings_from_config(self.ws.config),
            clock=self.clock,
            reports_root=self.ws.reports_root,
            on_event=self.on_event,
            holder=self.holder,
            lease_ttl=self.lease_ttl,
        )
        release = True
        try:
            await target.ping()
            self.say(
                f"driving {rollout.id} ({rollout.service} {rollout.version})"
                + (f", taken over from {taken.previous}" if taken.previous else "")
            )
            done = await controller.run(rollout.id, taken=taken)
            await operations.declare_incident(self.ws, self.store, done, self.clock, self.on_event)
            self.say(f"{done.id} ended {done.phase.value}")
            self._problems.pop("drive", None)
        except asyncio.CancelledError:
            release = name in self.held  # cancelled for a lost lease: it is not ours to give
            raise
        except WatchstanderError as exc:
            # The rollout stays as stored; this or another controller retries it later.
            self._report("drive", f"stopped driving {rollout.id}: {exc}")
        except Exception as exc:  # noqa: BLE001 - one rollout's failure must not end `watch`
            self._report("drive", f"stopped driving {rollout.id}: {type(exc).__name__}: {exc}")
        finally:
            if release and name in self.held:
                self.held.discard(name)
                with contextlib.suppress(WatchstanderError):
                    self.leases.give_up(name)
            with contextlib.suppress(Exception):
                await target.aclose()
            with contextlib.suppress(Exception):
                await metrics.aclose()

    # -- ticks -------------------------------------------------------------------------

    async def tick(self) -> list[str]:
        """Run each tick whose lease this process holds (or can take); returns their kinds."""
        ran: list[str] = []
        for kind, run in self.ticks.items():
            name = tick_lease_name(kind, self.service)
            try:
                taken = self.leases.take(name)
            except WatchstanderError as exc:
                self._report(kind, f"{kind} tick skipped: {exc}")
                continue
            if taken is None:
                self.held.discard(name)
                continue
            if name not in self.held and taken.previous is not None:
                self.say(f"took the {kind} timers over from {taken.previous}")
            self.held.add(name)
            try:
                result = await run()
            except WatchstanderError as exc:
                if self._strict:
                    raise
                self._report(kind, f"{kind} tick failed: {exc}")
                continue
            self._problems.pop(kind, None)
            ran.append(kind)
            self.on_tick(kind, result)
        return ran

    # -- leases ------------------------------------------------------------------------

    async def _renew_forever(self) -> None:
        while True:
            await self.clock.sleep(self.lease_ttl / 4)
            await asyncio.sleep(0)  # a virtual clock's sleep does not yield
            self.renew()

    def renew(self) -> None:
        """Extend every held lease; drop the ones lost, stopping a rollout whose lease went."""
        for name in sorted(self.held):
            try:
                kept = self.leases.keep(name)
            except WatchstanderError as exc:
                self._report("renew", f"cannot renew {name}: {exc}")
                continue  # the store is unreachable: try again; it expires if this lasts
            if kept:
                continue
            self.held.discard(name)
            self.say(f"lost the lease {name} to another controller")
            task = self._driving.get(name)
            if task is not None:
                task.cancel()

    def _report(self, key: str, message: str) -> None:
        """Say a problem once, not every scan while it lasts."""
        if self._problems.get(key) != message:
            self._problems[key] = message
            self.say(message)
