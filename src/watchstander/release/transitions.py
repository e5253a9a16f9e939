"""The rollout state machine: (rollout, now) -> action; (rollout, action, result, now) -> next.

The engine loop is: load the rollout, `next_action`, persist the intent, perform it,
`apply` the result, persist the new state with its events and measurements. Restarting the
process re-enters this loop from the stored state; every action is idempotent, so
repeating the one that was in flight when the process died is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from watchstander.analysis.judges import judge
from watchstander.analysis.limits import MetricTally, run_phase
from watchstander.analysis.models import Measurement, MetricSpec, Phase
from watchstander.gates import regression as gate_rules
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
from watchstander.release.health import TargetState, health_samples
from watchstander.release.models import (
    AnalysisProgress,
    Command,
    DeploymentStatus,
    Event,
    Role,
    Rollout,
    RolloutPhase,
    Severity,
    SmokeResult,
    Step,
    StepKind,
)
from watchstander.release.plan import rollback_plan

__all__ = ["Transition", "next_action", "apply", "apply_command", "start", "weights_for"]


@dataclass(frozen=True)
class Transition:
    rollout: Rollout
    events: tuple[Event, ...] = ()
    measurements: tuple[tuple[int, bool, Measurement], ...] = ()
    smoke: tuple[tuple[int, SmokeResult], ...] = ()


def _secs(seconds: float) -> timedelta:
    return timedelta(seconds=seconds)


def _event(
    now: datetime, kind: str, message: str, severity: Severity = Severity.INFO, **data: Any
) -> Event:
    return Event(at=now, kind=kind, message=message, severity=severity, data=data)


def weights_for(r: Rollout, candidate_pct: float) -> dict[str, float]:
    if r.stable_version is None or candidate_pct >= 100:
        return {r.version: 100.0}
    if candidate_pct <= 0:
        return {r.stable_version: 100.0}
    return {r.version: candidate_pct, r.stable_version: round(100.0 - candidate_pct, 4)}


# -- starting and moving between steps -------------------------------------------------


def start(r: Rollout, now: datetime) -> Transition:
    """Pending -> Progressing at the first step."""
    r = r.model_copy(update={"phase": RolloutPhase.PROGRESSING, "updated_at": now})
    msg = f"rollout of {r.service} {r.version} started ({r.strategy.value})"
    if r.stable_version:
        msg += f", replacing {r.stable_version}"
    return _enter_step(r, now, (_event(now, "rollout.started", msg),))


def _enter_step(r: Rollout, now: datetime, events: tuple[Event, ...]) -> Transition:
    """Begin the current step (or finish the plan when there is none)."""
    step = r.current_step
    update: dict[str, Any] = {
        "step_started_at": now,
        "analysis": AnalysisProgress(started_at=now),
        "wake_at": None,
        "updated_at": now,
    }
    if step is None:
        return _finish_plan(r.model_copy(update=update), now, events)
    events = (
        *events,
        _event(
            now,
            "step.started",
            step.label,
            index=r.current_index,
            step_step_kind=step.kind.value,
            rollback=r.rolling_back,
        ),
    )
    if r.full_promote and not r.rolling_back and step.kind in _SKIPPED_BY_FULL_PROMOTE:
        r = r.model_copy(update=update)
        return _advance(
            r,
            now,
            (*events, _event(now, "step.skipped", f"{step.label}: skipped (promote --full)")),
        )
    if step.kind is StepKind.PAUSE and step.duration is None and not r.rolling_back:
        update.update(
            phase=RolloutPhase.PAUSED,
            paused=True,
            pause_reason=f"{step.label}: run 'watchstander rollout promote' to continue",
        )
        events = (*events, _event(now, "rollout.paused", update["pause_reason"], Severity.WARNING))
    return Transition(r.model_copy(update=update), events)


_SKIPPED_BY_FULL_PROMOTE = frozenset(
    {StepKind.ANALYSIS, StepKind.PAUSE, StepKind.OBSERVE, StepKind.GATE}
)


def _advance(r: Rollout, now: datetime, events: tuple[Event, ...] = ()) -> Transition:
    step = r.current_step
    started = r.step_started_at or now
    if step is not None:
        events = (
            *events,
            _event(
                now,
                "step.completed",
                step.label,
                index=r.current_index,
                step_step_kind=step.kind.value,
                seconds=round((now - started).total_seconds(), 3),
                rollback=r.rolling_back,
            ),
        )
    if r.rolling_back:
        r = r.model_copy(update={"rollback_index": r.rollback_index + 1})
    else:
        r = r.model_copy(update={"step_index": r.step_index + 1})
    return _enter_step(r, now, events)


def _finish_plan(r: Rollout, now: datetime, events: tuple[Event, ...]) -> Transition:
    if r.rolling_back:
        # A rollback plan ends with VERIFY, which decides the phase itself; reaching the
        # end means there was nothing to roll back to.
        r = r.model_copy(
            update={
                "phase": RolloutPhase.FAILED,
                "finished_at": now,
                "message": "no previous version to restore",
            }
        )
        return Transition(
            r,
            (
                *events,
                _event(
                    now,
                    "rollback.failed",
                    "CRITICAL: there is no previous version to restore; the new version was stopped",
                    Severity.CRITICAL,
                ),
            ),
        )
    r = r.model_copy(
        update={
            "phase": RolloutPhase.SUCCEEDED,
            "finished_at": now,
            "message": f"{r.version} is live",
        }
    )
    return Transition(
        r, (*events, _event(now, "rollout.succeeded", f"{r.service} {r.version} fully promoted"))
    )


def _start_rollback(
    r: Rollout, now: datetime, reason: str, events: tuple[Event, ...] = ()
) -> Transition:
    if r.rolling_back or r.terminal:
        return Transition(r, events)
    plan = rollback_plan(
        r.strategy,
        replicas=r.replicas,
        has_stable=r.stable_version is not None,
        native_rolling=any(step.kind is StepKind.ROLL for step in r.plan),
    )
    r = r.model_copy(
        update={
            "phase": RolloutPhase.ROLLING_BACK,
            "rollback_reason": reason,
            "rollback_plan": plan,
            "rollback_index": 0,
            "paused": False,
            "pause_reason": None,
        }
    )
    sev = Severity.WARNING if r.abort_requested else Severity.ERROR
    return _enter_step(
        r,
        now,
        (*events, _event(now, "rollback.started", f"rolling back: {reason}", sev, reason=reason)),
    )


def _pause(r: Rollout, now: datetime, reason: str, events: tuple[Event, ...] = ()) -> Transition:
    r = r.model_copy(
        update={
            "phase": RolloutPhase.PAUSED,
            "paused": True,
            "pause_reason": reason,
            "updated_at": now,
        }
    )
    return Transition(r, (*events, _event(now, "rollout.paused", reason, Severity.WARNING)))


def _regression(
    r: Rollout, now: datetime, reason: str, events: tuple[Event, ...], **extra: Any
) -> Transition:
    """A rollback trigger fired: roll back, or hold for a human when that is configured off."""
    if r.rolling_back:
        return Transition(r, events, **extra)
    if r.rollback_on_regression:
        t = _start_rollback(r, now, reason, events)
    else:
        t = _pause(r, now, f"{reason} (rollback on regression is off: promote or abort)", events)
    return replace(t, **extra)


# -- what to do next ---------------------------------------------------------------------


def next_action(r: Rollout, s: Settings, now: datetime) -> Action:
    if r.terminal:
        return Done()
    step = r.current_step
    if (
        step is not None
        and step.kind is StepKind.ROLL
        and r.deployment is not None
        and not r.deployment.paused
        and (r.paused or _hold_reached(r, step))
    ):
        # The target's own update goes on by itself: a paused rollout (or a batch that
        # reached its hold) must pause it, not just stop looking.
        return HoldRoll()
    if r.paused and not r.rolling_back:
        return Wait(None, r.pause_reason or "paused")
    if r.wake_at is not None and r.wake_at > now:
        return Wait(r.wake_at, "polling")
    if step is None:
        return Tick()
    started = r.step_started_at or now
    kind = step.kind
    if kind is StepKind.BASELINE:
        if r.stable_version is None:
            return Tick()
        start_at = now - _secs(s.window)
        metrics = dict.fromkeys([spec.metric for spec in s.specs])
        if any(step.kind is StepKind.GATE for step in r.plan):
            metrics.update(dict.fromkeys([*s.gate_metrics, *s.snapshot_metrics]))
        return Measure(
            tuple(
                Query(f"baseline:{metric}", metric, r.stable_version, start_at, now)
                for metric in metrics
            )
        )
    if kind is StepKind.SCALE:
        version = r.version_of(step.role)
        if version is None:
            return Tick()
        return Scale(version, step.replicas or 0)
    if kind is StepKind.SET_WEIGHT:
        return SetWeights(weights_for(r, step.weight or 0.0))
    if kind is StepKind.SMOKE:
        scope = step.scope or "production"
        if scope == "baseline":
            if r.stable_version is None:
                return Tick()
            return RunSmoke(scope, r.stable_version, journeys=True)
        expected = r.version
        if r.rolling_back and r.stable_version is not None:
            expected = r.stable_version
        return RunSmoke(scope, expected, preview=scope == "preview")
    if kind is StepKind.GATE:
        if r.stable_version is None:
            return Tick()
        begin = r.weights_at or started
        if (now - begin).total_seconds() < 1.0:
            begin = now - _secs(s.window)
        return GateCheck(
            r.version,
            tuple(Query(f"candidate:{m}", m, r.version, begin, now) for m in s.gate_metrics),
        )
    if kind in (StepKind.ANALYSIS, StepKind.OBSERVE):
        due = (r.analysis.last_at or started) + _secs(s.interval)
        if due > now:
            return Wait(due, f"next measurement ({step.label})")
        return Measure(() if step.health_only else _queries(r, s, now))
    if kind in (StepKind.PAUSE, StepKind.WAIT):
        until = started + _secs(step.duration or 0.0)
        return Wait(until, step.label) if until > now else Tick()
    if kind is StepKind.ROLL:
        due = (r.analysis.last_at or started) + _secs(s.interval)
        if r.stable_version is not None and r.deployment is not None and due <= now:
            # Judged while it rolls, every interval: a regression stops it at once.
            return Measure(_queries(r, s, now))
        return Roll(r.version, step.max_surge, step.max_unavailable)
    if kind is StepKind.UNDO:
        if r.stable_version is None:
            return Tick()
        return UndoRoll(r.stable_version)
    if kind is StepKind.VERIFY:
        if r.stable_version is None:
            return Tick()
        restored = r.restored_at or started
        due = max(restored + _secs(s.verify_window), r.wake_at or restored)
        if due > now:
            return Wait(due, "letting traffic settle on the previous version")
        q = Query(
            "stable:error_rate", "error_rate", r.stable_version, now - _secs(s.verify_window), now
        )
        return Verify(r.stable_version, q)
    raise AssertionError(f"unknown step kind {kind}")


def _queries(r: Rollout, s: Settings, now: datetime) -> tuple[Query, ...]:
    """Candidate over the window since the weights last changed; baseline = the stable
    version over the same window while it still serves, else the pre-deployment window."""
    begin = max(now - _secs(s.window), r.weights_at or r.step_started_at or now)
    queries = [
        Query(f"candidate:{spec.metric}", spec.metric, r.version, begin, now) for spec in s.specs
    ]
    stable = r.stable_version
    if stable is not None and r.weights.get(stable, 0.0) > 0:
        queries += [
            Query(f"baseline:{spec.metric}", spec.metric, stable, begin, now)
            for spec in s.specs
            if spec.needs_baseline
        ]
    elif stable is not None and r.baseline_window is not None:
        b0, b1 = r.baseline_window
        queries += [
            Query(f"baseline:{spec.metric}", spec.metric, stable, b0, b1)
            for spec in s.specs
            if spec.needs_baseline
        ]
    # de-duplicate (several specs may share a metric)
    seen: dict[str, Query] = {}
    for q in queries:
        seen.setdefault(q.key, q)
    return tuple(seen.values())


def _expected_ratio(r: Rollout) -> float:
    """How much of the baseline's throughput the candidate should serve."""
    share = r.weights.get(r.version, 0.0)
    stable = r.stable_version
    if stable is not None and r.weights.get(stable, 0.0) > 0:
        return share / r.weights[stable]
    return share / 100.0


# -- folding results in ------------------------------------------------------------------


def apply(r: Rollout, s: Settings, action: Action, result: Result, now: datetime) -> Transition:
    r = r.model_copy(update={"updated_at": now})
    if isinstance(result, ActionFailed):
        return _action_failed(r, s, action, result, now)
    step = r.current_step
    if isinstance(action, Done) or step is None:
        return _enter_step(r, now, ()) if step is None and not r.terminal else Transition(r)
    if isinstance(action, Wait):
        return Transition(r.model_copy(update={"wake_at": None}))
    if isinstance(action, Tick):
        return _advance(r, now)
    if isinstance(action, Scale) and isinstance(result, TargetState):
        return _scaled(r, s, step, action, result, now)
    if isinstance(action, SetWeights) and isinstance(result, TargetState | type(None)):
        return _weights_set(r, action, now)
    if isinstance(action, RunSmoke) and isinstance(result, tuple):
        return _smoked(r, s, step, result, now)
    if isinstance(action, Measure) and isinstance(result, MeasureResult):
        if step.kind is StepKind.BASELINE:
            return _baseline(r, s, action, result, now)
        return _measured(r, s, step, result, now)
    if isinstance(action, Verify) and isinstance(result, VerifyResult):
        return _verified(r, s, result, now)
    if isinstance(action, Roll | HoldRoll) and isinstance(result, RollResult):
        return _rolled(r, s, step, result, now)
    if isinstance(action, UndoRoll) and isinstance(result, RollResult):
        return _undone(r, s, action, result, now)
    if isinstance(action, GateCheck) and isinstance(result, GateResult):
        return _gated(r, s, action, result, now)
    raise AssertionError(
        f"result {type(result).__name__} does not fit action {type(action).__name__}"
    )


def _action_failed(
    r: Rollout, s: Settings, action: Action, failed: ActionFailed, now: datetime
) -> Transition:
    """The target or metric source failed: record it and try again after a pause. A
    rollback keeps a list of what it tried, for the CRITICAL report if it never works."""
    wait = max(s.poll, 1.0)
    step = r.current_step
    started = r.step_started_at or now
    if (
        step is not None
        and step.kind is StepKind.ROLL
        and not r.rolling_back
        and now - started > _secs(s.ready_timeout)
    ):
        # The update never got going: like a Deployment's progress deadline.
        ev = _event(
            now,
            "action.failed",
            f"{type(action).__name__} failed: {failed.message}",
            Severity.ERROR,
        )
        msg = f"progress deadline exceeded after {s.ready_timeout:g}s: {failed.message}"
        return _regression(r, now, msg, (ev,))
    update: dict[str, Any] = {"wake_at": now + _secs(wait)}
    if r.rolling_back:
        update["rollback_attempts"] = [
            *r.rollback_attempts,
            f"{now.isoformat()}: {type(action).__name__}: {failed.message}",
        ]
    sev = Severity.ERROR
    return Transition(
        r.model_copy(update=update),
        (
            _event(
                now,
                "action.failed",
                f"{type(action).__name__} failed: {failed.message}",
                sev,
                retry_in=wait,
            ),
        ),
    )


def _ready(state: TargetState, version: str, replicas: int) -> bool:
    instances = state.of(version)
    if replicas == 0:
        return not instances
    live = [i for i in instances if not i.draining]
    return (
        len(instances) == replicas
        and state.ready_count(version) >= replicas
        and len(live) == replicas
    )


def _scaled(
    r: Rollout, s: Settings, step: Step, action: Scale, state: TargetState, now: datetime
) -> Transition:
    if _ready(state, action.version, action.replicas):
        events: tuple[Event, ...] = (
            _event(
                now,
                "instances.ready",
                f"{action.version}: {action.replicas} instance(s) ready",
                version=action.version,
                replicas=action.replicas,
            ),
        )
        return _advance(r, now, events)
    started = r.step_started_at or now
    if step.role is Role.CANDIDATE and action.replicas > 0 and not r.rolling_back:
        failed = _start_failure(r, s, state, action.version, now)
        if failed is not None:
            return failed
    if now - started > _secs(s.ready_timeout):
        ready = state.ready_count(action.version)
        msg = (
            f"progress deadline exceeded: {action.version} has {ready}/{action.replicas} ready "
            f"instance(s) after {s.ready_timeout:g}s"
        )
        if r.rolling_back or step.role is Role.STABLE and action.replicas == 0:
            # Retiring or restoring slowly is not a reason to roll back (again): note it, move on.
            update: dict[str, Any] = {}
            if r.rolling_back:
                update["rollback_attempts"] = [*r.rollback_attempts, f"{now.isoformat()}: {msg}"]
            return _advance(
                r.model_copy(update=update),
                now,
                (_event(now, "step.timeout", msg, Severity.ERROR),),
            )
        return _regression(r, now, msg, ())
    return Transition(r.model_copy(update={"wake_at": now + _secs(s.poll)}))


def _hold_reached(r: Rollout, step: Step) -> bool:
    """A ROLL step that stops short of every pod (`manual_gate`) has enough new pods."""
    d = r.deployment
    until = step.replicas or 0
    return (
        d is not None and until < r.replicas and d.version == r.version and d.updated_ready >= until
    )


def _seen(r: Rollout, result: RollResult) -> Rollout:
    """Record a poll of the target's own update: its status, and traffic by ready pods."""
    update: dict[str, Any] = {"deployment": result.status, "wake_at": None}
    if result.state.weights:
        update["weights"] = dict(result.state.weights)
    return r.model_copy(update=update)


def _rolled_out(r: Rollout, d: DeploymentStatus) -> bool:
    return d.version == r.version and d.complete


def _rolled(r: Rollout, s: Settings, step: Step, result: RollResult, now: datetime) -> Transition:
    """A poll of the target's own rolling update (after Roll or HoldRoll)."""
    d, state = result.status, result.state
    first = r.deployment is None or r.deployment.version != d.version
    previous = r.deployment
    r = _seen(r, result)
    events: list[Event] = []
    if first:
        events.append(
            _event(
                now,
                "deployment.rolling",
                f"{d.name}: pod template at {d.version}, replacing pods by its own strategy"
                + (f" (previous {d.previous})" if d.previous else ""),
                deployment=d.name,
                version=d.version,
                previous=d.previous,
            )
        )
    if previous is not None and d.paused != previous.paused:
        verb = "paused" if d.paused else "resumed"
        events.append(
            _event(
                now,
                f"deployment.{verb}",
                f"{d.name} {verb} at {d.updated_ready}/{d.replicas} new pods ready",
                deployment=d.name,
            )
        )
    progress = f"{d.updated_ready}/{d.replicas} pods of {r.version} ready"
    if step.kind is StepKind.ROLL and (step.replicas or 0) >= r.replicas and _rolled_out(r, d):
        r = r.model_copy(update={"weights": {r.version: 100.0}, "weights_at": now})
        ev = _event(now, "deployment.rolled", f"{d.name}: {progress}", deployment=d.name)
        return _advance(r, now, (*events, ev))
    if _hold_reached(r, step):
        if d.paused:
            ev = _event(
                now,
                "deployment.held",
                f"{d.name} held at {progress} (asked for {step.replicas})",
                deployment=d.name,
                updated=d.updated_ready,
            )
            return _advance(r, now, (*events, ev))
        return Transition(r, tuple(events))  # next: HoldRoll
    if r.paused:
        return Transition(r, tuple(events))  # held by `rollout pause`; waits for resume
    failed = _start_failure(r, s, state, r.version, now)
    if failed is not None:
        return replace(failed, events=(*events, *failed.events))
    started = r.step_started_at or now
    if now - started > _secs(s.ready_timeout):
        msg = f"progress deadline exceeded: {d.name} has {progress} after {s.ready_timeout:g}s"
        return _regression(r, now, msg, tuple(events))
    return Transition(r.model_copy(update={"wake_at": now + _secs(s.poll)}), tuple(events))


def _undone(
    r: Rollout, s: Settings, action: UndoRoll, result: RollResult, now: datetime
) -> Transition:
    """A poll of the undo: done when every pod runs the previous version again."""
    d = result.status
    r = _seen(r, result)
    if d.complete and (d.version == action.version or d.replicas == 0):
        # Every pod back on the previous version, or none of the update's pods runs.
        r = r.model_copy(update={"restored_at": now, "weights_at": now})
        events = (
            _event(
                now,
                "deployment.undone",
                f"{d.name}: all {d.replicas} pods back on {action.version}"
                if d.replicas
                else f"{d.name}: no pod of the update runs; {action.version} serves as before",
                deployment=d.name,
            ),
            _event(now, "traffic.restored", f"all traffic back on {action.version}"),
        )
        return _advance(r, now, events)
    started = r.step_started_at or now
    if now - started > _secs(s.ready_timeout):
        msg = (
            f"progress deadline exceeded: {d.name} has {d.updated_ready}/{d.replicas} pods of "
            f"{action.version} ready after {s.ready_timeout:g}s"
        )
        attempts = [*r.rollback_attempts, f"{now.isoformat()}: {msg}"]
        return _advance(
            r.model_copy(update={"rollback_attempts": attempts}),
            now,
            (_event(now, "step.timeout", msg, Severity.ERROR),),
        )
    return Transition(r.model_copy(update={"wake_at": now + _secs(s.poll)}))


def _start_failure(
    r: Rollout, s: Settings, state: TargetState, version: str, now: datetime
) -> Transition | None:
    """A new version that crash-loops or is OOM-killed while starting is a rollback trigger."""
    samples = health_samples(state, version, now=now.timestamp(), restart_window=s.restart_window)
    for spec in s.health:
        if spec.metric == "unhealthy_pct":
            continue
        m = judge(spec, samples[spec.metric], None, at=now, version=version)
        if m.phase is Phase.FAIL:
            reason = f"{spec.name}: {m.reason} while starting {version}"
            return _regression(r, now, reason, (), measurements=((r.current_index, False, m),))
    return None


def _weights_set(r: Rollout, action: SetWeights, now: datetime) -> Transition:
    weights = dict(action.weights)
    update: dict[str, Any] = {"weights": weights, "weights_at": now}
    events = [
        _event(
            now,
            "weights.set",
            "traffic: " + ", ".join(f"{v} {w:g}%" for v, w in sorted(weights.items())),
            weights=weights,
        )
    ]
    if r.rolling_back and r.stable_version and weights.get(r.stable_version) == 100.0:
        update["restored_at"] = now
        events.append(_event(now, "traffic.restored", f"all traffic back on {r.stable_version}"))
    return _advance(r.model_copy(update=update), now, tuple(events))


def _smoked(
    r: Rollout, s: Settings, step: Step, results: tuple[SmokeResult, ...], now: datetime
) -> Transition:
    rows = tuple((r.current_index, res) for res in results)
    failed = [res for res in results if not res.passed]
    passed = len(results) - len(failed)
    scope = step.scope or "production"
    if scope == "baseline":
        return replace(_baseline_checks(r, results, now), smoke=rows)
    if not failed:
        ev = _event(now, "smoke.passed", f"smoke tests ({scope}): {passed}/{len(results)} passed")
        return replace(_advance(r, now, (ev,)), smoke=rows)
    summary = "; ".join(f"{res.name}: {res.detail}" for res in failed)
    ev = _event(
        now,
        "smoke.failed",
        f"smoke tests ({scope}): {passed}/{len(results)} passed; failed: {summary}",
        Severity.ERROR,
    )
    if r.rolling_back:
        return replace(_advance(r, now, (ev,)), smoke=rows)
    if not s.smoke_failure_rolls_back:
        return replace(_advance(r, now, (ev,)), smoke=rows)
    return _regression(r, now, f"smoke test failure ({scope}): {summary}", (ev,), smoke=rows)


def _baseline_checks(r: Rollout, results: tuple[SmokeResult, ...], now: datetime) -> Transition:
    """The smoke and journey checks against the stable version, before anything changes:
    the production regression gate compares with these. A check that already fails here
    cannot regress; it is noted, not held against the rollout."""
    checks = {res.name: res.passed for res in results}
    failing = sorted(name for name, ok in checks.items() if not ok)
    msg = f"pre-deployment checks on {r.stable_version}: {len(checks) - len(failing)}/{len(checks)} passed"
    if failing:
        msg += f" (already failing: {', '.join(failing)})"
    ev = _event(
        now,
        "baseline.checks",
        msg,
        Severity.WARNING if failing else Severity.INFO,
        checks=checks,
        details={res.name: res.detail for res in results},
    )
    return _advance(r.model_copy(update={"baseline_checks": checks}), now, (ev,))


def _gated(
    r: Rollout, s: Settings, action: GateCheck, result: GateResult, now: datetime
) -> Transition:
    """The production regression gate: the live service now against the snapshot taken
    before the rollout (metrics and checks), under the rollout's threshold."""
    baseline_metrics = {m: r.baseline.get(m) for m in s.gate_metrics}
    candidate_metrics: dict[str, float | None] = {}
    for q in action.queries:
        sample = result.samples.get(q.key)
        # Too few requests say nothing about a rate, a quantile or a throughput: no data.
        enough = sample is not None and sample.has_data and sample.count >= s.min_requests
        candidate_metrics[q.metric] = sample.value if enough and sample is not None else None
    now_checks = {res.name: res.passed for res in result.checks}
    has_checks = bool(r.baseline_checks) and bool(now_checks)
    outcome = gate_rules.evaluate(
        baseline=gate_rules.checks_as_run(r.baseline_checks, ref="production-pre-deploy")
        if has_checks
        else None,
        candidate=gate_rules.checks_as_run(now_checks, ref="production-post-deploy")
        if has_checks
        else None,
        baseline_metrics=baseline_metrics,
        candidate_metrics=candidate_metrics,
        threshold=r.regression_threshold,
        scope=r.regression_scope,
        tolerances=s.tolerances,
        hard=s.hard_limits,
        critical_patterns=s.critical_tests,
        baseline_ref="production-pre-deploy",
        candidate_ref="production-post-deploy",
        metric_names=s.gate_metrics,
    )
    data = gate_rules.to_json(
        outcome,
        baseline_timestamp=r.baseline_window[1].isoformat() if r.baseline_window else None,
        current_timestamp=now.isoformat(),
    )
    data["checks"] = {"baseline": dict(r.baseline_checks), "current": now_checks}
    data["details"] = {res.name: res.detail for res in result.checks}
    data["versions"] = {"baseline": r.stable_version, "candidate": r.version}
    rows = tuple((r.current_index, res) for res in result.checks)
    if outcome.passed:
        ev = _event(
            now,
            "regression.production",
            f"production regression gate: PASS (regression {outcome.regression_rate:.1f}% "
            f"<= threshold {outcome.threshold:g}%)",
            result=data,
        )
        return replace(_advance(r, now, (ev,)), smoke=rows)
    sev = outcome.severity.value if outcome.severity is not None else "HIGH"
    reason = "production regression gate: " + "; ".join(outcome.blockers)
    ev = _event(
        now,
        "regression.production",
        f"production regression gate: FAIL ({sev}): " + "; ".join(outcome.blockers),
        Severity.ERROR,
        result=data,
    )
    return replace(_regression(r, now, reason, (ev,)), smoke=rows)


def _baseline(
    r: Rollout, s: Settings, action: Measure, result: MeasureResult, now: datetime
) -> Transition:
    values = {
        q.metric: result.samples[q.key].value for q in action.queries if q.key in result.samples
    }
    start_at = min((q.start for q in action.queries), default=now)
    r = r.model_copy(update={"baseline": values, "baseline_window": (start_at, now)})
    shown = ", ".join(f"{k}={_show(v)}" for k, v in sorted(values.items()))
    return _advance(
        r,
        now,
        (
            _event(
                now,
                "baseline.measured",
                f"baseline of {r.stable_version}: {shown}",
                baseline=values,
            ),
        ),
    )


def _show(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.4g}"


def _measured(
    r: Rollout, s: Settings, step: Step, result: MeasureResult, now: datetime
) -> Transition:
    measurements: list[Measurement] = []
    specs: list[MetricSpec] = []
    if step.kind is not StepKind.ANALYSIS or not step.health_only:
        ratio = _expected_ratio(r)
        for spec in s.specs:
            cand = result.samples.get(f"candidate:{spec.metric}")
            if cand is None or (step.kind is StepKind.ROLL and spec.metric == "throughput"):
                # While pods are replaced the split moves within the window: a throughput
                # share has no fixed expectation until the update completes.
                continue
            base = result.samples.get(f"baseline:{spec.metric}") if spec.needs_baseline else None
            measurements.append(
                judge(
                    spec,
                    cand,
                    base,
                    at=now,
                    version=r.version,
                    expected_ratio=ratio if spec.metric == "throughput" else 1.0,
                )
            )
            specs.append(spec)
    if result.state is not None:
        samples = health_samples(
            result.state, r.version, now=now.timestamp(), restart_window=s.restart_window
        )
        for spec in s.health:
            if step.kind is StepKind.ROLL and spec.metric == "unhealthy_pct":
                continue  # pods still starting are not unhealthy; the deadline covers that
            measurements.append(judge(spec, samples[spec.metric], None, at=now, version=r.version))
            specs.append(spec)
    progress = _count(r.analysis, measurements, now)
    started = r.step_started_at or now
    if step.kind is StepKind.OBSERVE:
        complete = now - started >= _secs(step.duration or 0.0)
    elif step.kind is StepKind.ROLL:
        complete = False  # judged while it rolls: only a failure decides anything here
    else:
        complete = progress.measured >= (step.count or 1)
    tallies = {
        name: MetricTally(
            total=progress.measured,
            passed=progress.passed.get(name, 0),
            failed=progress.failed.get(name, 0),
            inconclusive=progress.inconclusive.get(name, 0),
            errors=progress.errors.get(name, 0),
            consecutive_errors=progress.consecutive_errors.get(name, 0),
        )
        for name in {sp.name for sp in specs}
    }
    verdict, deciding = run_phase(specs, tallies, complete=complete)
    r = r.model_copy(update={"analysis": progress})
    rows = tuple((r.current_index, r.rolling_back, m) for m in measurements)
    summary = ", ".join(f"{m.name} {m.phase.value}" for m in measurements) or "no metrics"
    events: tuple[Event, ...] = (
        _event(
            now,
            "analysis.measured",
            f"{step.label} #{progress.measured}: {summary}",
            Severity.INFO if all(m.phase is Phase.PASS for m in measurements) else Severity.WARNING,
            round=progress.measured,
            phases={m.name: m.phase.value for m in measurements},
        ),
    )
    if verdict is None:
        return Transition(r, events, measurements=rows)
    if verdict is Phase.PASS:
        ev = _event(
            now, "analysis.passed", f"{step.label}: PASS after {progress.measured} measurement(s)"
        )
        return replace(_advance(r, now, (*events, ev)), measurements=rows)
    reasons = "; ".join(
        f"{m.name} {m.phase.value}: {m.reason}"
        for m in measurements
        if m.name in deciding and m.phase is not Phase.PASS
    ) or ", ".join(deciding)
    ev = _event(
        now,
        f"analysis.{verdict.value.lower()}",
        f"{step.label}: {verdict.value} ({reasons})",
        Severity.ERROR if verdict in (Phase.FAIL, Phase.ERROR) else Severity.WARNING,
        metrics=deciding,
    )
    if verdict is Phase.INCONCLUSIVE:
        return replace(
            _pause(
                r,
                now,
                f"{step.label} is INCONCLUSIVE ({reasons}): promote to continue or abort",
                (*events, ev),
            ),
            measurements=rows,
        )
    return _regression(r, now, f"{step.label}: {reasons}", (*events, ev), measurements=rows)


def _count(p: AnalysisProgress, measurements: list[Measurement], now: datetime) -> AnalysisProgress:
    failed, inconclusive, errors, consec, passed = (
        dict(p.failed),
        dict(p.inconclusive),
        dict(p.errors),
        dict(p.consecutive_errors),
        dict(p.passed),
    )
    for m in measurements:
        n = m.name
        if m.phase is Phase.PASS:
            passed[n] = passed.get(n, 0) + 1
        elif m.phase is Phase.FAIL:
            failed[n] = failed.get(n, 0) + 1
        elif m.phase is Phase.INCONCLUSIVE:
            inconclusive[n] = inconclusive.get(n, 0) + 1
        consec[n] = consec.get(n, 0) + 1 if m.phase is Phase.ERROR else 0
        if m.phase is Phase.ERROR:
            errors[n] = errors.get(n, 0) + 1
    return p.model_copy(
        update={
            "measured": p.measured + 1,
            "last_at": now,
            "failed": failed,
            "inconclusive": inconclusive,
            "errors": errors,
            "consecutive_errors": consec,
            "passed": passed,
        }
    )


def _verified(r: Rollout, s: Settings, v: VerifyResult, now: datetime) -> Transition:
    stable = r.stable_version
    assert stable is not None
    problems: list[str] = []
    weight = v.state.weights.get(stable, 0.0)
    if weight < 100.0:
        problems.append(f"{stable} serves {weight:g}% of traffic, not 100%")
    if v.state.ready_count(stable) < 1:
        problems.append(f"{stable} has no ready instance")
    failed_smoke = [x for x in v.smoke if not x.passed]
    if failed_smoke:
        problems.append(
            "smoke tests failed: " + "; ".join(f"{x.name}: {x.detail}" for x in failed_smoke)
        )
    base = r.baseline.get("error_rate")
    err = v.error_rate
    if err.error is not None:
        problems.append(f"error rate could not be measured: {err.error}")
    elif err.value is not None:
        limit = (base or 0.0) + s.error_rate_pp / 100.0
        if err.value > limit:
            problems.append(
                f"error rate {err.value:.2%} is above baseline {(base or 0):.2%} + {s.error_rate_pp:g} pp"
            )
    smoke_rows = tuple((r.current_index, x) for x in v.smoke)
    checks: dict[str, Any] = {
        "weights": f"{stable} {weight:g}%",
        "ready": v.state.ready_count(stable),
        "smoke": f"{len(v.smoke) - len(failed_smoke)}/{len(v.smoke)}",
        "error_rate": err.value,
        "baseline_error_rate": base,
    }
    if not problems:
        phase = RolloutPhase.ABORTED if r.abort_requested else RolloutPhase.ROLLED_BACK
        r = r.model_copy(
            update={
                "phase": phase,
                "finished_at": now,
                "message": f"rolled back to {stable}: {r.rollback_reason}",
            }
        )
        return Transition(
            r,
            (
                _event(
                    now,
                    "step.completed",
                    "verify the rollback",
                    index=r.rollback_index,
                    step_kind="verify",
                    rollback=True,
                ),
                _event(
                    now,
                    "rollback.verified",
                    f"{stable} serves 100%, smoke tests pass, error rate at baseline",
                    **checks,
                ),
            ),
            smoke=smoke_rows,
        )
    attempts = [*r.rollback_attempts, f"{now.isoformat()}: verification: " + "; ".join(problems)]
    if r.verify_attempts + 1 < s.verify_attempts:
        r = r.model_copy(
            update={
                "verify_attempts": r.verify_attempts + 1,
                "rollback_attempts": attempts,
                "wake_at": now + _secs(s.verify_window),
            }
        )
        return Transition(
            r,
            (
                _event(
                    now,
                    "rollback.verify_retry",
                    "rollback not verified yet: " + "; ".join(problems),
                    Severity.WARNING,
                    **checks,
                ),
            ),
            smoke=smoke_rows,
        )
    r = r.model_copy(
        update={
            "phase": RolloutPhase.FAILED,
            "finished_at": now,
            "rollback_attempts": attempts,
            "message": "rollback failed: " + "; ".join(problems),
        }
    )
    return Transition(
        r,
        (
            _event(
                now,
                "rollback.failed",
                "CRITICAL: rollback failed verification: "
                + "; ".join(problems)
                + " -- escalate to the incident commander",
                Severity.CRITICAL,
                tried=attempts,
                **checks,
            ),
        ),
        smoke=smoke_rows,
    )


# -- manual controls ---------------------------------------------------------------------


def apply_command(r: Rollout, cmd: Command, now: datetime) -> Transition:
    """pause | resume | promote (args full) | abort. Returns the rollout unchanged, with
    an event saying why, when the command does not apply in the current phase."""
    by = f" by {cmd.by}" if cmd.by else ""
    r = r.model_copy(update={"updated_at": now})
    if r.terminal:
        return Transition(
            r, (_event(now, "command.ignored", f"{cmd.name}{by}: rollout already {r.phase.value}"),)
        )
    if cmd.name == "abort":
        r = r.model_copy(update={"abort_requested": True})
        if r.rolling_back:
            return Transition(
                r, (_event(now, "command.abort", f"abort{by}: already rolling back"),)
            )
        return _start_rollback(
            r, now, f"aborted{by}", (_event(now, "command.abort", f"abort{by}", Severity.WARNING),)
        )
    if r.rolling_back:
        return Transition(
            r, (_event(now, "command.ignored", f"{cmd.name}{by}: a rollback is in progress"),)
        )
    if cmd.name == "pause":
        if r.paused:
            return Transition(r, (_event(now, "command.ignored", f"pause{by}: already paused"),))
        return _pause(r, now, f"paused{by}")
    if cmd.name == "resume":
        if not r.paused:
            return Transition(r, (_event(now, "command.ignored", f"resume{by}: not paused"),))
        step = r.current_step
        r = r.model_copy(
            update={"paused": False, "pause_reason": None, "phase": RolloutPhase.PROGRESSING}
        )
        ev = _event(now, "rollout.resumed", f"resumed{by}")
        if (
            step is not None
            and step.kind in (StepKind.ANALYSIS, StepKind.OBSERVE)
            and r.analysis.measured
        ):
            # An analysis that stopped on a verdict starts over: its old counts decided already.
            return _enter_step(r, now, (ev,))
        if step is not None and step.kind is StepKind.PAUSE and step.duration is None:
            return _advance(r, now, (ev,))
        if step is not None and step.kind is StepKind.ROLL:
            # Like a Deployment's progress deadline, time spent paused does not count.
            r = r.model_copy(update={"step_started_at": now})
        return Transition(r, (ev,))
    if cmd.name == "promote":
        full = bool(cmd.args.get("full"))
        r = r.model_copy(
            update={
                "paused": False,
                "pause_reason": None,
                "phase": RolloutPhase.PROGRESSING,
                "full_promote": full or r.full_promote,
            }
        )
        step = r.current_step
        ev = _event(now, "rollout.promoted", f"promote{' --full' if full else ''}{by}", full=full)
        if step is not None and step.kind in _SKIPPED_BY_FULL_PROMOTE:
            return _advance(r, now, (ev,))
        return Transition(r, (ev,))
    return Transition(r, (_event(now, "command.ignored", f"unknown command {cmd.name!r}"),))
