"""The rolling strategy on a target with its own rolling update (a Kubernetes
Deployment): plans, and the state machine driven through the pure sim's SimDeployment."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.unit.sim import T0, SimDeployment, World, drive, healthy, new_rollout, settings
from watchstander.analysis.models import Sample
from watchstander.config.models import RollingConfig, StrategyConfig
from watchstander.release import transitions
from watchstander.release.actions import (
    HoldRoll,
    Measure,
    MeasureResult,
    Roll,
    Scale,
    UndoRoll,
    Wait,
)
from watchstander.release.models import Command, RolloutPhase, StepKind, Strategy
from watchstander.release.plan import build_plan, rollback_plan


def plan(strategy: Strategy, rolling: RollingConfig | None = None, **kw: object):
    cfg = StrategyConfig(observation=600, rolling=rolling or RollingConfig())
    return build_plan(
        strategy,
        cfg,
        replicas=4,
        analysis_count=2,
        has_smoke=True,
        has_stable=True,
        native_rolling=True,
        **kw,  # type: ignore[arg-type]
    )


def kinds(steps) -> list[StepKind]:
    return [s.kind for s in steps]


def test_native_plans() -> None:
    rolling = plan(Strategy.ROLLING)
    assert kinds(rolling) == [StepKind.BASELINE, StepKind.ROLL, StepKind.ANALYSIS, StepKind.OBSERVE]
    assert rolling[1].replicas == 4 and (rolling[1].max_surge, rolling[1].max_unavailable) == (1, 0)
    assert "maxSurge 1, maxUnavailable 0" in rolling[1].label
    # max_unavailable >= batch: old pods go first, no surge (like the engine's own batches)
    old_first = plan(Strategy.ROLLING, RollingConfig(batch_size=2, max_unavailable=2))
    assert (old_first[1].max_surge, old_first[1].max_unavailable) == (0, 2)
    gated = plan(Strategy.ROLLING, RollingConfig(batch_size=1, manual_gate=True))
    assert kinds(gated) == [
        StepKind.BASELINE,
        StepKind.ROLL,
        StepKind.ANALYSIS,
        StepKind.PAUSE,
        StepKind.ROLL,
        StepKind.ANALYSIS,
        StepKind.OBSERVE,
    ]
    assert [s.replicas for s in gated if s.kind is StepKind.ROLL] == [1, 4]
    with_gate = plan(Strategy.ROLLING, regression_gate=True)
    assert kinds(with_gate)[-1] is StepKind.GATE
    # The first release and an undo roll too; canary and blue-green keep their own plans.
    assert kinds(plan(Strategy.INITIAL)) == [StepKind.ROLL, StepKind.SMOKE]
    assert kinds(plan(Strategy.UNDO)) == [StepKind.ROLL, StepKind.SMOKE]
    assert StepKind.ROLL not in kinds(plan(Strategy.CANARY))
    assert StepKind.ROLL not in kinds(plan(Strategy.BLUE_GREEN))
    undo = rollback_plan(Strategy.ROLLING, replicas=4, has_stable=True, native_rolling=True)
    assert kinds(undo) == [StepKind.UNDO, StepKind.VERIFY]
    assert kinds(
        rollback_plan(Strategy.ROLLING, replicas=4, has_stable=False, native_rolling=True)
    ) == [StepKind.SCALE]


def native_world() -> World:
    dep = SimDeployment(replicas=3, version="1.0.0", pods={"1.0.0": 3})
    return World(replicas={"1.0.0": 3}, weights={"1.0.0": 100.0}, deployment=dep)


def test_a_healthy_native_rolling_update_completes_through_the_deployment() -> None:
    world = native_world()
    run = drive(new_rollout(Strategy.ROLLING, native_rolling=True), world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED, run.rollout.message
    assert world.deployment is not None and world.deployment.pods == {"1.1.0": 3}
    assert world.deployment.previous == "1.0.0"
    assert not any(isinstance(a, Scale) for a in world.actions), "the engine scaled nothing"
    rolls = [a for a in world.actions if isinstance(a, Roll)]
    assert rolls and all(a == Roll("1.1.0", 1, 0) for a in rolls)
    k = run.kinds()
    assert k.index("deployment.rolling") < k.index("deployment.rolled") < k.index("analysis.passed")
    assert run.rollout.weights == {"1.1.0": 100.0}
    assert run.rollout.deployment is not None and run.rollout.deployment.complete


def test_a_regression_while_rolling_undoes_it() -> None:
    def slow(version: str, metric: str) -> Sample:
        if version == "1.1.0" and metric == "latency_p99":
            return Sample(value=400.0, count=500)
        return healthy(version, metric)

    world = native_world()
    # The deployment replaces a pod only every poll; analysis is due every 60 s and polls
    # come every second, so the update is judged long before it completes.
    world.deployment = SimDeployment(replicas=3, version="1.0.0", pods={"1.0.0": 3})
    world.metrics = slow
    rollout = new_rollout(Strategy.ROLLING, native_rolling=True, replicas=3)
    run = drive(rollout, world, settings(interval=0.5))
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK, run.rollout.message
    assert "latency-p99" in (run.rollout.rollback_reason or "")
    assert [a for a in world.actions if isinstance(a, UndoRoll)][0] == UndoRoll("1.0.0")
    assert world.deployment.pods == {"1.0.0": 3} and world.deployment.version == "1.0.0"
    k = run.kinds()
    assert k.index("deployment.undone") < k.index("traffic.restored") < k.index("rollback.verified")


def test_a_pod_that_never_gets_ready_hits_the_progress_deadline() -> None:
    world = native_world()
    world.never_ready = {"1.1.0"}

    class Stuck(SimDeployment):
        def progress(self) -> None:  # the new pod never becomes ready: nothing moves
            self.polls += 1
            if self.version == "1.1.0":
                self.pods.setdefault("1.1.0", 0)

    world.deployment = Stuck(replicas=3, version="1.0.0", pods={"1.0.0": 3})
    run = drive(
        new_rollout(Strategy.ROLLING, native_rolling=True), world, settings(ready_timeout=30)
    )
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "progress deadline exceeded: svc has 0/3 pods of 1.1.0 ready after 30s" in (
        run.rollout.rollback_reason or ""
    )


def test_pause_holds_the_deployment_and_resume_restarts_the_deadline() -> None:
    world = native_world()
    s = settings()
    r = transitions.start(new_rollout(Strategy.ROLLING, native_rolling=True), T0).rollout
    now = T0
    for _ in range(2):  # the baseline, then the first poll of the roll
        action = transitions.next_action(r, s, now)
        if isinstance(action, Roll):
            assert world.deployment is not None
            world.deployment.roll(action.version)
            result: object = world.rolled(now)
        else:
            result = _measure(world, action, now)
        r = transitions.apply(r, s, action, result, now).rollout  # type: ignore[arg-type]
    assert r.current_step is not None and r.current_step.kind is StepKind.ROLL
    assert r.deployment is not None and not r.deployment.paused
    r = transitions.apply_command(r, Command(rollout_id=r.id, name="pause", at=now), now).rollout
    action = transitions.next_action(r, s, now)
    assert isinstance(action, HoldRoll), "a paused rollout pauses the Deployment"
    assert world.deployment is not None
    world.deployment.paused = True
    r = transitions.apply(r, s, action, world.rolled(now), now).rollout
    assert r.deployment is not None and r.deployment.paused
    assert transitions.next_action(r, s, now) == Wait(None, r.pause_reason or "paused")
    later = now + timedelta(hours=2)
    resumed = transitions.apply_command(
        r, Command(rollout_id=r.id, name="resume", at=later), later
    ).rollout
    assert resumed.step_started_at == later, "time paused does not count toward the deadline"
    assert isinstance(transitions.next_action(resumed, s, later), Roll)


def _measure(world: World, action: object, now: datetime) -> MeasureResult:
    assert isinstance(action, Measure)
    return MeasureResult(
        samples={q.key: world.metrics(q.version, q.metric) for q in action.queries},
        state=world.state(now),
    )
