"""The rollout controller: drives one rollout from its stored state to a terminal phase.

Loop: load -> apply queued commands -> next_action (pure) -> persist intent -> perform
(idempotent IO) -> apply (pure) -> persist state, events and measurements in one
transaction. A lease in the store makes sure only one controller drives a service's
rollout; a controller that dies leaves the data plane at the last weights and any other
process can pick the rollout up (`watchstander rollout resume`, or a `watchstander watch`
controller, which adopts it by itself).

Which controller drives a rollout is part of its timeline: the first one records
`controller.acquired`, and any other that continues it later records `controller.takeover`
naming the holder it took over from and why (its lease expired, or its process is gone).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from watchstander.clock import Clock
from watchstander.config.models import Config
from watchstander.engine.lease import LEASE_TTL, ServiceLease, Taken, holder_id
from watchstander.errors import WatchstanderError
from watchstander.providers.metrics.base import MetricQuery, MetricSource, Sample
from watchstander.providers.smoke import run_smoke
from watchstander.providers.targets.base import NativeRolling, Target
from watchstander.release import transitions
from watchstander.release.actions import (
    Action,
    ActionFailed,
    Done,
    GateCheck,
    GateResult,
    HoldRoll,
    Measure,
    MeasureResult,
    Query,
    Result,
    Roll,
    RollResult,
    RunSmoke,
    Scale,
    Settings,
    SetWeights,
    Tick,
    UndoRoll,
    Verify,
    VerifyResult,
    Wait,
)
from watchstander.release.models import Event, Rollout, RolloutPhase, Severity, Strategy
from watchstander.store.repository import Store

__all__ = ["RolloutController", "apply_commands", "CLAIM_KINDS", "driving_holder"]

CLAIM_KINDS = ("controller.acquired", "controller.takeover")
_WHY = {"expired": "its lease expired", "holder gone": "its process is gone"}

_SLICE = 0.2  # longest uninterrupted sleep: commands and lease renewal are checked this often


@dataclass
class RolloutController:
    store: Store
    target: Target
    metrics: MetricSource
    config: Config
    settings: Settings
    clock: Clock
    reports_root: Path | None = None
    on_event: Callable[[Rollout, Event], None] | None = None
    holder: str = field(default_factory=holder_id)
    lease_ttl: float = LEASE_TTL
    smoke_transport: httpx.AsyncBaseTransport | None = None

    # -- lease -------------------------------------------------------------------------

    def __post_init__(self) -> None:
        self.lease = ServiceLease(self.store, self.clock, self.holder, self.lease_ttl)

    def acquire(self, service: str) -> Taken:
        return self.lease.acquire(service)

    def release(self, service: str) -> None:
        self.lease.release(service)

    # -- the loop ----------------------------------------------------------------------

    async def run(self, rollout_id: str, *, taken: Taken | None = None) -> Rollout:
        """Drive the rollout to a terminal phase; the caller holds the lease (`taken`
        says how it got it, for the timeline)."""
        rollout = self.store.get_rollout(rollout_id)
        if not rollout.terminal:
            self._claim(rollout, taken)
        while True:
            self.lease.renew(rollout.service)
            rollout = self.apply_commands(self.store.get_rollout(rollout_id))
            now = self.clock.now()
            if rollout.phase is RolloutPhase.PENDING:
                rollout = self._save(transitions.start(rollout, now))
                continue
            action = transitions.next_action(rollout, self.settings, now)
            if isinstance(action, Done):
                break
            if isinstance(action, Wait):
                await self._wait(rollout, action)
            else:
                if isinstance(action, Scale | SetWeights | Roll | HoldRoll | UndoRoll):
                    self._intent(rollout, action, now)
                result = await self._perform(rollout, action)
                rollout = self._save(
                    transitions.apply(rollout, self.settings, action, result, self.clock.now())
                )
                continue
            rollout = self._save(
                transitions.apply(rollout, self.settings, action, None, self.clock.now())
            )
        self._finish(rollout)
        return rollout

    def apply_commands(self, rollout: Rollout) -> Rollout:
        return apply_commands(self.store, rollout, self.clock, self.on_event)

    def _claim(self, rollout: Rollout, taken: Taken | None) -> None:
        """Record that this controller drives the rollout from now on, unless it is the
        one the timeline already names."""
        previous = driving_holder(self.store.events(rollout.id))
        if previous == self.holder:
            return
        now = self.clock.now()
        if previous is None:
            event = Event(
                at=now,
                kind="controller.acquired",
                message=f"controller {self.holder} drives the rollout",
                data={"holder": self.holder},
            )
        else:
            why = _WHY.get(taken.reason, "it let go") if taken is not None else "it let go"
            event = Event(
                at=now,
                kind="controller.takeover",
                message=f"controller {self.holder} took over from {previous} ({why})",
                severity=Severity.WARNING,
                data={"holder": self.holder, "from": previous, "reason": why},
            )
        self._emit(rollout, event)

    async def _wait(self, rollout: Rollout, action: Wait) -> None:
        """Sleep until `action.until`, waking early for a queued command."""
        while True:
            now = self.clock.now()
            remaining = None if action.until is None else (action.until - now).total_seconds()
            if remaining is not None and remaining <= 0:
                return
            await self.clock.sleep(_SLICE if remaining is None else min(_SLICE, remaining))
            self.lease.renew(rollout.service)
            if self.store.pending_commands(rollout.id):
                return

    def _intent(self, rollout: Rollout, action: Action, now: datetime) -> None:
        if isinstance(action, Scale):
            msg = f"scale {action.version} to {action.replicas} instance(s)"
        elif isinstance(action, SetWeights):
            msg = "set traffic " + ", ".join(
                f"{v} {w:g}%" for v, w in sorted(action.weights.items())
            )
        elif isinstance(action, Roll):
            msg = f"roll the target's update to {action.version}"
        elif isinstance(action, HoldRoll):
            msg = "pause the target's rolling update"
        elif isinstance(action, UndoRoll):
            msg = f"undo the target's rolling update back to {action.version}"
        else:
            return
        # The intent is recorded before acting so that a crash in between is visible in
        # the timeline; the action is idempotent and is simply re-issued on resume.
        # (A controller taking over records itself in between: look past that.)
        last = [e for e in self.store.events(rollout.id) if e.kind not in CLAIM_KINDS][-1:]
        if last and last[0].kind == "action.intent" and last[0].message == msg:
            return
        self._emit(rollout, Event(at=now, kind="action.intent", message=msg))

    def _emit(self, rollout: Rollout, event: Event) -> None:
        self.store.append_event(rollout_id=rollout.id, service=rollout.service, event=event)
        if self.on_event is not None:
            self.on_event(rollout, event)

    def _save(self, t: transitions.Transition) -> Rollout:
        self.store.save_rollout(
            t.rollout, events=t.events, measurements=t.measurements, smoke=t.smoke
        )
        if self.on_event is not None:
            for event in t.events:
                self.on_event(t.rollout, event)
        return t.rollout

    # -- performing actions ------------------------------------------------------------

    async def _perform(self, rollout: Rollout, action: Action) -> Result:
        try:
            if isinstance(action, Scale):
                await self.target.scale(action.version, action.replicas)
                return await self.target.state()
            if isinstance(action, SetWeights):
                await self.target.set_weights(action.weights)
                return await self.target.state()
            if isinstance(action, Roll | HoldRoll | UndoRoll):
                return await self._roll(action)
            if isinstance(action, Measure):
                return await self._measure(rollout, action)
            if isinstance(action, RunSmoke):
                checks = [*self.config.smoke]
                if action.journeys:
                    checks += self.config.regression.journeys
                return await run_smoke(
                    checks,
                    endpoint=self.target.endpoint(action.version if action.preview else None),
                    scope=action.scope,
                    version=action.version,
                    now=self.clock.now(),
                    transport=self.smoke_transport,
                )
            if isinstance(action, Verify):
                state = await self.target.state()
                smoke = await run_smoke(
                    self.config.smoke,
                    endpoint=self.target.endpoint(None),
                    scope="post-rollback",
                    version=action.stable,
                    now=self.clock.now(),
                    transport=self.smoke_transport,
                )
                q = action.error_rate
                sample = await self.metrics.query(
                    MetricQuery(q.metric, rollout.service, q.version, q.start, q.end)
                )
                return VerifyResult(state=state, smoke=smoke, error_rate=sample)
            if isinstance(action, GateCheck):
                measured = await self._measure(rollout, Measure(action.queries))
                outcomes = await run_smoke(
                    [*self.config.smoke, *self.config.regression.journeys],
                    endpoint=self.target.endpoint(None),
                    scope="gate",
                    version=action.version,
                    now=self.clock.now(),
                    transport=self.smoke_transport,
                )
                return GateResult(samples=measured.samples, checks=outcomes)
            if isinstance(action, Tick):
                return None
        except (WatchstanderError, httpx.HTTPError, OSError) as exc:
            return ActionFailed(message=str(exc) or type(exc).__name__)
        raise AssertionError(f"cannot perform {action!r}")

    async def _roll(self, action: Roll | HoldRoll | UndoRoll) -> Result:
        target = self.target
        if not isinstance(target, NativeRolling):
            return ActionFailed(
                message=f"target {self.config.target.type} has no rolling update of its own"
            )
        if isinstance(action, Roll):
            await target.roll(
                action.version,
                max_surge=action.max_surge,
                max_unavailable=action.max_unavailable,
            )
            await target.resume_rollout()
        elif isinstance(action, HoldRoll):
            await target.pause_rollout()
        else:
            await target.undo_rollout(action.version)
            await target.resume_rollout()
        return RollResult(status=await target.rollout_status(), state=await target.state())

    async def _measure(self, rollout: Rollout, action: Measure) -> MeasureResult:
        async def one(q: Query) -> tuple[str, Sample]:
            query = MetricQuery(q.metric, rollout.service, q.version, q.start, q.end)
            return q.key, await self.metrics.query(query)

        pairs = await asyncio.gather(*(one(q) for q in action.queries))
        try:
            state = await self.target.state()
        except (WatchstanderError, httpx.HTTPError, OSError):
            state = None
        return MeasureResult(samples=dict(pairs), state=state)

    # -- the end -----------------------------------------------------------------------

    def _finish(self, rollout: Rollout) -> None:
        now = self.clock.now()
        if (
            rollout.phase is RolloutPhase.SUCCEEDED
            and self.store.stable_version(rollout.service) != rollout.version
        ):
            self.store.set_stable(
                service=rollout.service, version=rollout.version, rollout_id=rollout.id, at=now
            )
            if rollout.strategy is Strategy.UNDO:
                self._emit(
                    rollout,
                    Event(
                        at=now, kind="release.undone", message=f"{rollout.version} is live again"
                    ),
                )
        already = {e.kind for e in self.store.events(rollout.id)}
        if rollout.phase is RolloutPhase.FAILED and "escalation.required" not in already:
            self._emit(
                rollout,
                Event(
                    at=now,
                    kind="escalation.required",
                    message="rollback failed: escalate to the incident commander",
                    severity=Severity.CRITICAL,
                ),
            )
        if self.reports_root is not None:
            from watchstander.reports.writer import write_rollout_reports

            write_rollout_reports(
                store=self.store,
                rollout_id=rollout.id,
                root=self.reports_root,
                project=self.config.reports.project or self.config.service.name,
            )


def driving_holder(events: list[Event]) -> str | None:
    """The holder id of the controller the timeline says drives the rollout (the last
    `controller.acquired` or `controller.takeover`), or None."""
    for event in reversed(events):
        if event.kind in CLAIM_KINDS:
            holder = event.data.get("holder")
            return holder if isinstance(holder, str) else None
    return None


def apply_commands(
    store: Store,
    rollout: Rollout,
    clock: Clock,
    on_event: Callable[[Rollout, Event], None] | None = None,
) -> Rollout:
    """Apply the rollout's queued manual commands, oldest first (the caller holds the lease)."""
    for cmd in store.pending_commands(rollout.id):
        t = transitions.apply_command(rollout, cmd, clock.now())
        store.save_rollout(t.rollout, events=t.events)
        rollout = t.rollout
        if on_event is not None:
            for event in t.events:
                on_event(rollout, event)
        if cmd.id is not None:
            store.complete_command(cmd.id, at=clock.now(), result=rollout.phase.value)
    return rollout
