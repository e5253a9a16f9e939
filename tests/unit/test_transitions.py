"""The rollout state machine, driven through a pure in-memory world (milliseconds each)."""

from __future__ import annotations

from datetime import timedelta

from tests.unit.sim import T0, World, drive, healthy, new_rollout, settings
from watchstander.analysis.models import Sample
from watchstander.config.models import BlueGreenConfig, CanaryConfig, RollingConfig, StrategyConfig
from watchstander.release import transitions
from watchstander.release.actions import Measure, RunSmoke, Scale, SetWeights, Wait
from watchstander.release.models import Command, RolloutPhase, Severity, StepKind, Strategy


def weights_applied(world: World) -> list[dict[str, float]]:
    return [dict(a.weights) for a in world.actions if isinstance(a, SetWeights)]


def test_healthy_canary_walks_the_default_plan_and_retires_stable() -> None:
    world = World(replicas={"1.0.0": 3}, weights={"1.0.0": 100.0})
    run = drive(new_rollout(), world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED
    canary = [w.get("1.1.0") for w in weights_applied(world)]
    assert canary == [5.0, 25.0, 50.0, 100.0]
    assert world.replicas == {"1.1.0": 3}
    assert world.weights == {"1.1.0": 100.0}
    assert "rollout.succeeded" in run.kinds()
    # two measurements per analysis step, three analysis steps, plus the observation
    assert run.kinds().count("analysis.passed") == 4
    assert run.rollout.baseline["error_rate"] == 0.001


def test_canary_replicas_follow_the_traffic_share() -> None:
    world = World(replicas={"1.0.0": 10}, weights={"1.0.0": 100.0})
    drive(new_rollout(replicas=10), world)
    scales = [a.replicas for a in world.actions if isinstance(a, Scale) and a.version == "1.1.0"]
    assert [n for i, n in enumerate(scales) if i == 0 or n != scales[i - 1]] == [1, 3, 5, 10]


def slow_canary(version: str, metric: str) -> Sample:
    if version == "1.1.0" and metric == "latency_p99":
        return Sample(value=210.0, count=500, query="p99")
    return healthy(version, metric)


def test_latency_regression_rolls_back_at_the_first_step() -> None:
    world = World(metrics=slow_canary, replicas={"1.0.0": 3}, weights={"1.0.0": 100.0})
    run = drive(new_rollout(), world)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "latency-p99" in (run.rollout.rollback_reason or "")
    assert [w.get("1.1.0") for w in weights_applied(world)] == [5.0, None]
    assert world.weights == {"1.0.0": 100.0} and "1.1.0" not in world.replicas
    failing = [m for m in run.measurements if m.phase.value == "FAIL"]
    assert failing and failing[0].baseline == 50.0 and failing[0].threshold == 60.0
    assert "210.0 ms > 60.0 ms" in failing[0].reason
    assert run.kinds()[-1] == "rollback.verified"
    assert "traffic.restored" in run.kinds()


def test_latency_noise_floor_ignores_small_absolute_changes() -> None:
    def jitter(version: str, metric: str) -> Sample:
        if metric == "latency_p99":
            return Sample(value=1.0 if version == "1.0.0" else 1.5, count=500)
        return healthy(version, metric)

    run = drive(new_rollout(), World(metrics=jitter, replicas={"1.0.0": 3}))
    assert run.rollout.phase is RolloutPhase.SUCCEEDED


def error_rate(value: float):
    def fn(version: str, metric: str) -> Sample:
        if version == "1.1.0" and metric == "error_rate":
            return Sample(value=value, count=1000)
        return healthy(version, metric)

    return fn


def test_error_rate_two_points_above_baseline_rolls_back() -> None:
    run = drive(new_rollout(), World(metrics=error_rate(0.05), replicas={"1.0.0": 3}))
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "error-rate" in (run.rollout.rollback_reason or "")


def test_error_rate_within_two_points_passes() -> None:
    run = drive(new_rollout(), World(metrics=error_rate(0.02), replicas={"1.0.0": 3}))
    assert run.rollout.phase is RolloutPhase.SUCCEEDED


def throughput(canary_rps: float):
    def fn(version: str, metric: str) -> Sample:
        if metric == "throughput" and version == "1.1.0":
            return Sample(value=canary_rps, count=1000)
        if metric == "throughput":
            return Sample(value=95.0, count=1000)
        return healthy(version, metric)

    return fn


def test_throughput_is_judged_against_the_traffic_share() -> None:
    # At 5% the canary should serve 95 * 5/95 = 5 req/s; 30% below is 3.5.
    failed = drive(new_rollout(), World(metrics=throughput(3.0), replicas={"1.0.0": 3}))
    assert failed.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "throughput" in (failed.rollout.rollback_reason or "")
    m = next(m for m in failed.measurements if m.name == "throughput")
    assert m.baseline is not None and abs(m.baseline - 5.0) < 1e-9
    assert m.threshold is not None and abs(m.threshold - 3.5) < 1e-9


def test_restarts_over_three_in_the_window_roll_back() -> None:
    world = World(replicas={"1.0.0": 3}, restarts={"1.1.0": [T0.timestamp() + i for i in range(4)]})
    run = drive(new_rollout(), world)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "restarts" in (run.rollout.rollback_reason or "")


def test_three_restarts_or_old_restarts_do_not_trigger() -> None:
    old = [T0.timestamp() - 3600 + i for i in range(10)]
    recent = [T0.timestamp() + i for i in range(3)]
    run = drive(new_rollout(), World(replicas={"1.0.0": 3}, restarts={"1.1.0": old + recent}))
    assert run.rollout.phase is RolloutPhase.SUCCEEDED


def test_any_oom_kill_rolls_back() -> None:
    run = drive(new_rollout(), World(replicas={"1.0.0": 3}, oom={"1.1.0": 1}))
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "oom-kills" in (run.rollout.rollback_reason or "")


def test_instances_that_never_get_ready_hit_the_progress_deadline() -> None:
    run = drive(new_rollout(), World(replicas={"1.0.0": 3}, never_ready={"1.1.0"}))
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "progress deadline exceeded" in (run.rollout.rollback_reason or "")


def test_preview_smoke_failure_rolls_back_before_any_traffic() -> None:
    world = World(replicas={"1.0.0": 3}, smoke_fails={"preview"})
    run = drive(new_rollout(), world)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "smoke" in (run.rollout.rollback_reason or "")
    assert [w.get("1.1.0") for w in weights_applied(world)] == [None]
    smoke = [a for a in world.actions if isinstance(a, RunSmoke)]
    assert smoke[0].preview and smoke[0].version == "1.1.0"


def few_requests(version: str, metric: str) -> Sample:
    if version == "1.1.0":
        return Sample(value=0.0, count=3)
    return healthy(version, metric)


def test_no_data_is_inconclusive_and_pauses_for_a_human() -> None:
    run = drive(new_rollout(), World(metrics=few_requests, replicas={"1.0.0": 3}))
    assert run.rollout.phase is RolloutPhase.PAUSED
    assert "INCONCLUSIVE" in (run.rollout.pause_reason or "")
    assert any("only 3 requests" in m.reason for m in run.measurements)


def broken_query(version: str, metric: str) -> Sample:
    if version == "1.1.0" and metric == "error_rate":
        return Sample(value=None, error="connection refused")
    return healthy(version, metric)


def test_consecutive_query_errors_past_the_limit_roll_back() -> None:
    s = settings()
    specs = tuple(sp.__class__(**{**sp.__dict__, "consecutive_error_limit": 1}) for sp in s.specs)
    s = settings(specs=specs)
    rollout = new_rollout(
        strategy_config=StrategyConfig(canary=CanaryConfig(steps=[50, 100]), observation=0)
    )
    run = drive(rollout, World(metrics=broken_query, replicas={"1.0.0": 3}), s)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert "ERROR" in [m.phase.value for m in run.measurements]
    assert "query failed: connection refused" in (run.rollout.rollback_reason or "")


def test_without_rollback_on_regression_a_failure_pauses_then_abort_restores_stable() -> None:
    world = World(metrics=slow_canary, replicas={"1.0.0": 3})
    run = drive(new_rollout(rollback_on_regression=False), world)
    assert run.rollout.phase is RolloutPhase.PAUSED
    assert world.weights == {"1.1.0": 5.0, "1.0.0": 95.0}
    t = transitions.apply_command(
        run.rollout, Command(rollout_id="R-1", name="abort", by="ana", at=run.now), run.now
    )
    assert t.rollout.phase is RolloutPhase.ROLLING_BACK
    done = drive(t.rollout, world, now=run.now)
    assert done.rollout.phase is RolloutPhase.ABORTED
    assert world.weights == {"1.0.0": 100.0}


def test_indefinite_pause_waits_for_promote() -> None:
    cfg = StrategyConfig(
        canary=CanaryConfig(steps=[20, 100], pause=None, analysis=False), observation=0
    )
    rollout = new_rollout(strategy_config=cfg)
    assert [s.kind for s in rollout.plan].count(StepKind.PAUSE) == 1
    world = World(replicas={"1.0.0": 3})
    run = drive(rollout, world)
    assert run.rollout.phase is RolloutPhase.PAUSED and world.weights["1.1.0"] == 20.0
    assert transitions.next_action(run.rollout, settings(), run.now) == Wait(
        None, run.rollout.pause_reason or ""
    )
    t = transitions.apply_command(
        run.rollout, Command(rollout_id="R-1", name="promote", at=run.now), run.now
    )
    done = drive(t.rollout, world, now=run.now)
    assert done.rollout.phase is RolloutPhase.SUCCEEDED


def test_manual_pause_and_resume() -> None:
    world = World(replicas={"1.0.0": 3})
    rollout = transitions.start(new_rollout(), T0).rollout
    paused = transitions.apply_command(
        rollout, Command(rollout_id="R-1", name="pause", by="bo", at=T0), T0
    )
    assert paused.rollout.phase is RolloutPhase.PAUSED and "by bo" in (
        paused.rollout.pause_reason or ""
    )
    again = transitions.apply_command(
        paused.rollout, Command(rollout_id="R-1", name="pause", at=T0), T0
    )
    assert again.events[0].kind == "command.ignored"
    resumed = transitions.apply_command(
        paused.rollout, Command(rollout_id="R-1", name="resume", at=T0), T0
    )
    assert resumed.rollout.phase is RolloutPhase.PROGRESSING
    assert drive(resumed.rollout, world).rollout.phase is RolloutPhase.SUCCEEDED


def test_promote_full_skips_the_remaining_analysis() -> None:
    world = World(replicas={"1.0.0": 3})
    rollout = transitions.start(new_rollout(), T0).rollout
    t = transitions.apply_command(
        rollout, Command(rollout_id="R-1", name="promote", args={"full": True}, at=T0), T0
    )
    run = drive(t.rollout, world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED
    assert not [
        a
        for a in world.actions
        if isinstance(a, Measure) and a.queries and a.queries[0].key.startswith("candidate")
    ]
    assert run.kinds().count("step.skipped") >= 4


def test_a_rollback_that_cannot_restore_traffic_fails_critically() -> None:
    # a router that ignores weight changes: the canary is judged slow, the rollback's
    # switch back never takes effect, and verification must notice
    world = World(metrics=slow_canary, replicas={"1.0.0": 3}, weights_ignored=True)
    run = drive(new_rollout(), world)
    assert run.rollout.phase is RolloutPhase.FAILED
    critical = [e for e in run.events if e.severity is Severity.CRITICAL]
    assert critical and "rollback failed" in critical[-1].message
    assert len(run.rollout.rollback_attempts) == 2  # verified twice before giving up


def test_commands_on_a_finished_rollout_are_ignored() -> None:
    run = drive(new_rollout(), World(replicas={"1.0.0": 3}))
    t = transitions.apply_command(
        run.rollout, Command(rollout_id="R-1", name="abort", at=run.now), run.now
    )
    assert t.rollout.phase is RolloutPhase.SUCCEEDED and t.events[0].kind == "command.ignored"


def test_blue_green_switches_instantly_and_keeps_blue_for_the_delay() -> None:
    cfg = StrategyConfig(blue_green=BlueGreenConfig(scale_down_delay=120), observation=300)
    world = World(replicas={"1.0.0": 3}, weights={"1.0.0": 100.0})
    run = drive(new_rollout(Strategy.BLUE_GREEN, strategy_config=cfg), world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED
    assert weights_applied(world) == [{"1.1.0": 100.0}]
    events = {e.kind: e.at for e in run.events}
    switched = next(e.at for e in run.events if e.kind == "weights.set")
    retired = [
        e.at for e in run.events if e.kind == "instances.ready" and e.data.get("replicas") == 0
    ][-1]
    assert retired - switched >= timedelta(seconds=420)
    assert "rollout.succeeded" in events and world.replicas == {"1.1.0": 3}


def test_blue_green_failure_after_the_switch_goes_back_to_blue() -> None:
    world = World(metrics=slow_canary, replicas={"1.0.0": 3}, weights={"1.0.0": 100.0})
    run = drive(new_rollout(Strategy.BLUE_GREEN), world)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert weights_applied(world) == [{"1.1.0": 100.0}, {"1.0.0": 100.0}]
    # after the switch the baseline is blue's pre-deployment window
    m = next(m for m in run.measurements if m.name == "latency-p99")
    assert m.baseline == 50.0


def test_blue_green_without_auto_promote_waits_for_a_human() -> None:
    cfg = StrategyConfig(blue_green=BlueGreenConfig(auto_promote=False))
    world = World(replicas={"1.0.0": 3})
    run = drive(new_rollout(Strategy.BLUE_GREEN, strategy_config=cfg), world)
    assert run.rollout.phase is RolloutPhase.PAUSED and world.weights == {}


def test_rolling_replaces_batches_and_shifts_traffic_by_instance_share() -> None:
    world = World(replicas={"1.0.0": 3}, weights={"1.0.0": 100.0})
    run = drive(new_rollout(Strategy.ROLLING), world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED
    assert [round(w["1.1.0"]) for w in weights_applied(world)] == [33, 67, 100]
    assert world.replicas == {"1.1.0": 3}
    # surge first (max_unavailable 0): new instance up before an old one goes
    scales = [(a.version, a.replicas) for a in world.actions if isinstance(a, Scale)]
    assert scales.index(("1.1.0", 1)) < scales.index(("1.0.0", 2))


def test_rolling_with_max_unavailable_stops_old_first() -> None:
    cfg = StrategyConfig(rolling=RollingConfig(batch_size=1, max_unavailable=1))
    world = World(replicas={"1.0.0": 3})
    drive(new_rollout(Strategy.ROLLING, strategy_config=cfg), world)
    scales = [(a.version, a.replicas) for a in world.actions if isinstance(a, Scale)]
    assert scales.index(("1.0.0", 2)) < scales.index(("1.1.0", 1))


def test_rolling_crash_loop_is_undone_on_every_instance() -> None:
    world = World(replicas={"1.0.0": 3}, restarts={"1.1.0": [T0.timestamp() + i for i in range(5)]})
    run = drive(new_rollout(Strategy.ROLLING), world)
    assert run.rollout.phase is RolloutPhase.ROLLED_BACK
    assert world.replicas == {"1.0.0": 3} and world.weights == {"1.0.0": 100.0}
    restore = [s.label for s in run.rollout.rollback_plan]
    assert restore[0].startswith("previous version at 3")


def test_rolling_manual_gate_pauses_between_batches() -> None:
    cfg = StrategyConfig(rolling=RollingConfig(manual_gate=True))
    run = drive(new_rollout(Strategy.ROLLING, strategy_config=cfg), World(replicas={"1.0.0": 3}))
    assert run.rollout.phase is RolloutPhase.PAUSED and "manual gate after batch 1" in (
        run.rollout.pause_reason or ""
    )


def test_first_release_has_no_baseline_and_succeeds() -> None:
    world = World()
    run = drive(new_rollout(stable=None, version="1.0.0"), world)
    assert run.rollout.phase is RolloutPhase.SUCCEEDED
    assert world.weights == {"1.0.0": 100.0} and world.replicas == {"1.0.0": 3}


def test_first_release_that_cannot_start_fails_with_nothing_to_restore() -> None:
    run = drive(new_rollout(stable=None, version="1.0.0"), World(never_ready={"1.0.0"}))
    assert run.rollout.phase is RolloutPhase.FAILED
    assert "no previous version" in run.rollout.message


def test_next_action_is_a_pure_function_of_the_stored_state() -> None:
    rollout = transitions.start(new_rollout(), T0).rollout
    s = settings()
    assert transitions.next_action(rollout, s, T0) == transitions.next_action(
        rollout.model_copy(), s, T0
    )
    # after a restart the same stored state asks for the same (idempotent) action again
    clone = type(rollout).model_validate_json(rollout.model_dump_json())
    assert transitions.next_action(clone, s, T0) == transitions.next_action(rollout, s, T0)
