"""Strategies -> plans: the ordered steps of a rollout and of its rollback.

A plan is data, decided once when the rollout is created and stored with it, so that a
restarted controller follows exactly the plan it started with even if the config changed.
"""

from __future__ import annotations

import math

from watchstander.config.models import StrategyConfig
from watchstander.release.models import Role, Step, StepKind, Strategy

__all__ = ["build_plan", "rollback_plan", "promotion_tail", "estimate_duration"]


def _scale(role: Role, replicas: int, label: str) -> Step:
    return Step(kind=StepKind.SCALE, role=role, replicas=replicas, label=label)


def _analysis(count: int, label: str, *, health_only: bool = False) -> Step:
    return Step(kind=StepKind.ANALYSIS, count=count, label=label, health_only=health_only)


def build_plan(
    strategy: Strategy,
    settings: StrategyConfig,
    *,
    replicas: int,
    analysis_count: int,
    has_smoke: bool,
    has_stable: bool,
    regression_gate: bool = False,
    baseline_checks: bool = False,
    native_rolling: bool = False,
    preview_smoke: bool = True,
) -> tuple[Step, ...]:
    """The steps of a rollout. With `regression_gate`, the pre-deployment checks are run
    against the stable version right after the baseline (`baseline_checks`: when there are
    smoke or journey checks) and the production regression gate follows the observation.

    With `native_rolling` (a target whose own rolling update replaces pods, such as a
    Kubernetes Deployment), the rolling strategy, the first release and an undo move that
    update's template instead of scaling one set of instances per version. Without
    `preview_smoke` (a target that cannot send a request to one version by header), the
    preview smoke tests are left out: they would test the stable version and pass."""
    if native_rolling and (
        not has_stable or strategy in (Strategy.INITIAL, Strategy.UNDO, Strategy.ROLLING)
    ):
        steps = _native(settings, strategy, replicas, analysis_count, has_smoke, has_stable)
        if not has_stable or strategy in (Strategy.INITIAL, Strategy.UNDO):
            return steps
        return _with_gate(steps, regression_gate=regression_gate, baseline_checks=baseline_checks)
    if not has_stable or strategy is Strategy.INITIAL:
        return _initial(replicas, has_smoke, settings.observation)
    if strategy is Strategy.UNDO:
        return _undo(replicas, has_smoke)
    if strategy is Strategy.CANARY:
        steps = _canary(settings, replicas, analysis_count, has_smoke, preview_smoke)
    elif strategy is Strategy.BLUE_GREEN:
        steps = _blue_green(settings, replicas, analysis_count, has_smoke, preview_smoke)
    elif strategy is Strategy.ROLLING:
        steps = _rolling(settings, replicas, analysis_count)
    else:
        raise ValueError(f"no plan for strategy {strategy}")
    return _with_gate(steps, regression_gate=regression_gate, baseline_checks=baseline_checks)


def _with_gate(
    steps: tuple[Step, ...], *, regression_gate: bool, baseline_checks: bool
) -> tuple[Step, ...]:
    if not regression_gate:
        return steps
    out = list(steps)
    if baseline_checks and out and out[0].kind is StepKind.BASELINE:
        out.insert(1, _smoke("baseline"))
    gate = Step(kind=StepKind.GATE, label="production regression gate")
    observe = [i for i, step in enumerate(out) if step.kind is StepKind.OBSERVE]
    if observe:
        out.insert(observe[-1] + 1, gate)
    else:
        # No observation window: the gate goes right after traffic reached 100%
        # (and its smoke tests), before the previous version is retired.
        full = [
            i
            for i, step in enumerate(out)
            if step.kind is StepKind.SET_WEIGHT and (step.weight or 0) >= 100
        ]
        at = full[-1] + 1 if full else len(out)
        while at < len(out) and out[at].kind in (StepKind.SMOKE, StepKind.ANALYSIS):
            at += 1
        out.insert(at, gate)
    return tuple(out)


def estimate_duration(
    plan: tuple[Step, ...], *, interval: float, ready_time: float = 10.0
) -> float:
    """Seconds the plan takes when every analysis passes and nobody pauses it by hand:
    analyses take `count` intervals, observations and timed pauses their duration, and
    each scale step about `ready_time`."""
    total = 0.0
    for step in plan:
        if step.kind is StepKind.ANALYSIS:
            total += (step.count or 1) * interval
        elif step.kind in (StepKind.OBSERVE, StepKind.WAIT, StepKind.PAUSE):
            total += step.duration or 0.0
        elif step.kind in (StepKind.SCALE, StepKind.ROLL):
            total += ready_time
    return total


def _observe(settings: StrategyConfig, label: str) -> tuple[Step, ...]:
    """The observation window, when one is configured."""
    if settings.observation <= 0:
        return ()
    return (Step(kind=StepKind.OBSERVE, duration=settings.observation, label=label),)


def _smoke(scope: str) -> Step:
    return Step(kind=StepKind.SMOKE, scope=scope, label=f"smoke tests ({scope})")


def _initial(replicas: int, has_smoke: bool, observation: float) -> tuple[Step, ...]:
    steps = [
        _scale(Role.CANDIDATE, replicas, f"start {replicas} instances"),
        Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="route 100% of traffic"),
    ]
    if has_smoke:
        steps.append(_smoke("production"))
    return tuple(steps)


def _undo(replicas: int, has_smoke: bool) -> tuple[Step, ...]:
    # The "candidate" of an undo is the previous version; the fast path skips analysis
    # like Argo's rollbackWindow: it is a version that already ran in production.
    steps = [
        _scale(Role.CANDIDATE, replicas, f"start {replicas} instances of the previous version"),
        Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="switch all traffic back"),
        _scale(Role.STABLE, 0, "stop the undone version"),
    ]
    if has_smoke:
        steps.append(_smoke("production"))
    return tuple(steps)


def promotion_tail(settings: StrategyConfig, replicas: int, *, has_smoke: bool) -> tuple[Step, ...]:
    """What follows 100%: full capacity, production smoke, observation, retire the old."""
    steps = [
        _scale(Role.CANDIDATE, replicas, f"scale the new version to {replicas} instances"),
        Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="route 100% of traffic"),
    ]
    if has_smoke:
        steps.append(_smoke("production"))
    steps.extend(_observe(settings, "post-deployment observation"))
    steps.append(_scale(Role.STABLE, 0, "retire the previous version"))
    return tuple(steps)


def _canary(
    settings: StrategyConfig,
    replicas: int,
    analysis_count: int,
    has_smoke: bool,
    preview_smoke: bool = True,
) -> tuple[Step, ...]:
    cfg = settings.canary
    weights = [w for w in cfg.steps if w < 100]
    first = cfg.replicas or max(1, math.ceil(replicas * (weights[0] if weights else 100) / 100))
    steps: list[Step] = [
        Step(kind=StepKind.BASELINE, label="measure the stable baseline"),
        _scale(Role.CANDIDATE, first, f"start {first} canary instance(s)"),
    ]
    if has_smoke and preview_smoke:
        steps.append(_smoke("preview"))
    current = first
    for weight in weights:
        needed = cfg.replicas or max(1, math.ceil(replicas * weight / 100))
        if needed > current:
            steps.append(_scale(Role.CANDIDATE, needed, f"scale canary to {needed} instance(s)"))
            current = needed
        steps.append(Step(kind=StepKind.SET_WEIGHT, weight=weight, label=f"canary at {weight:g}%"))
        if cfg.pause is not None or not cfg.analysis:
            steps.append(
                Step(kind=StepKind.PAUSE, duration=cfg.pause, label=_pause_label(cfg.pause))
            )
        if cfg.analysis:
            steps.append(_analysis(analysis_count, f"analysis at {weight:g}%"))
    return (*steps, *promotion_tail(settings, replicas, has_smoke=has_smoke))


def _pause_label(duration: float | None) -> str:
    return "pause until promoted" if duration is None else f"pause {duration:g}s"


def _blue_green(
    settings: StrategyConfig,
    replicas: int,
    analysis_count: int,
    has_smoke: bool,
    preview_smoke: bool = True,
) -> tuple[Step, ...]:
    cfg = settings.blue_green
    steps: list[Step] = [
        Step(kind=StepKind.BASELINE, label="measure the blue (stable) baseline"),
        _scale(Role.CANDIDATE, replicas, f"start green: {replicas} instances beside blue"),
    ]
    if has_smoke and preview_smoke:
        steps.append(_smoke("preview"))
    if cfg.pre_promotion_analysis:
        steps.append(_analysis(analysis_count, "pre-promotion analysis of green", health_only=True))
    if not cfg.auto_promote:
        steps.append(Step(kind=StepKind.PAUSE, label="wait for promotion"))
    steps.append(Step(kind=StepKind.SET_WEIGHT, weight=100.0, label="switch traffic to green"))
    if has_smoke:
        steps.append(_smoke("production"))
    steps.extend(_observe(settings, "post-promotion observation"))
    if cfg.scale_down_delay > 0:
        steps.append(
            Step(
                kind=StepKind.WAIT,
                duration=cfg.scale_down_delay,
                label="keep blue for instant rollback",
            )
        )
    steps.append(_scale(Role.STABLE, 0, "retire blue"))
    return tuple(steps)


def _rolling(settings: StrategyConfig, replicas: int, analysis_count: int) -> tuple[Step, ...]:
    cfg = settings.rolling
    batch = min(cfg.batch_size, replicas)
    # With max_unavailable >= batch the old instances go first (no extra capacity);
    # otherwise the new ones start first (surge), so capacity never drops below
    # replicas - max_unavailable.
    old_first = cfg.max_unavailable >= batch
    steps: list[Step] = [Step(kind=StepKind.BASELINE, label="measure the baseline")]
    new = 0
    batch_no = 0
    while new < replicas:
        batch_no += 1
        new = min(replicas, new + batch)
        old = replicas - new
        up = _scale(Role.CANDIDATE, new, f"batch {batch_no}: {new}/{replicas} new instances")
        down = _scale(Role.STABLE, old, f"batch {batch_no}: {old} old instances left")
        weight = Step(
            kind=StepKind.SET_WEIGHT,
            weight=round(100.0 * new / replicas, 2),
            label=f"batch {batch_no}: {100.0 * new / replicas:.0f}% of traffic to new",
        )
        steps.extend([down, up, weight] if old_first else [up, weight, down])
        steps.append(_analysis(analysis_count, f"health and analysis after batch {batch_no}"))
        if cfg.manual_gate and new < replicas:
            steps.append(Step(kind=StepKind.PAUSE, label=f"manual gate after batch {batch_no}"))
    steps.extend(_observe(settings, "post-deployment observation"))
    return tuple(steps)


def _native(
    settings: StrategyConfig,
    strategy: Strategy,
    replicas: int,
    analysis_count: int,
    has_smoke: bool,
    has_stable: bool,
) -> tuple[Step, ...]:
    """Rolling by the target's own update strategy. Its maxSurge and maxUnavailable come
    from `strategy.rolling` (batch_size new pods at a time, or old ones first when
    max_unavailable >= batch_size). The pods' health is judged at every poll and the
    metrics every interval while it rolls; a failure rolls back at once. With
    `manual_gate` the update is paused once the first batch runs, analysed, and waits for
    `promote`. After the update completes: an analysis, then the observation window."""
    cfg = settings.rolling
    batch = min(cfg.batch_size, replicas)
    old_first = cfg.max_unavailable >= batch
    surge, unavailable = (0, cfg.max_unavailable) if old_first else (batch, cfg.max_unavailable)

    def roll(until: int, label: str) -> Step:
        return Step(
            kind=StepKind.ROLL,
            replicas=until,
            max_surge=surge,
            max_unavailable=unavailable,
            label=label,
        )

    how = f"maxSurge {surge}, maxUnavailable {unavailable}"
    if not has_stable or strategy is Strategy.INITIAL:
        steps = [roll(replicas, f"start {replicas} pods with the target's rolling update")]
        if has_smoke:
            steps.append(_smoke("production"))
        return tuple(steps)
    if strategy is Strategy.UNDO:
        steps = [roll(replicas, f"roll all {replicas} pods back to the previous version ({how})")]
        if has_smoke:
            steps.append(_smoke("production"))
        return tuple(steps)
    steps = [Step(kind=StepKind.BASELINE, label="measure the baseline")]
    if cfg.manual_gate and batch < replicas:
        steps += [
            roll(batch, f"roll until {batch}/{replicas} pods are new, then hold ({how})"),
            _analysis(analysis_count, f"analysis with {batch}/{replicas} pods new"),
            Step(kind=StepKind.PAUSE, label="manual gate after the first batch"),
        ]
    steps += [
        roll(replicas, f"roll all {replicas} pods to the new version ({how})"),
        _analysis(analysis_count, "analysis after the rolling update"),
        *_observe(settings, "post-deployment observation"),
    ]
    return tuple(steps)


def rollback_plan(
    strategy: Strategy, *, replicas: int, has_stable: bool, native_rolling: bool = False
) -> tuple[Step, ...]:
    """Strategy-specific rollback: stable at full capacity with all traffic, candidate gone,
    then verified. A target-native rolling update is undone by that same update."""
    verify = Step(kind=StepKind.VERIFY, label="verify the rollback")
    if native_rolling and has_stable:
        undo = Step(
            kind=StepKind.UNDO,
            replicas=replicas,
            label=f"undo: all {replicas} pods back to the previous version",
        )
        return (undo, verify)
    if not has_stable:
        return (
            Step(
                kind=StepKind.SCALE,
                role=Role.CANDIDATE,
                replicas=0,
                label="stop the failed version",
            ),
        )
    restore = _scale(Role.STABLE, replicas, f"previous version at {replicas} instances")
    back = Step(kind=StepKind.SET_WEIGHT, weight=0.0, label="all traffic to the previous version")
    remove = _scale(Role.CANDIDATE, 0, "stop the new version")
    if strategy is Strategy.ROLLING:
        # undo: bring every old instance back before moving traffic, then drain the new.
        return (restore, back, remove, verify)
    # canary abort / blue-green switch back: traffic first (instant), capacity after.
    return (back, restore, remove, verify)
