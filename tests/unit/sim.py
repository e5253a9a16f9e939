"""A pure, in-memory world for driving the rollout state machine in unit tests.

It answers the machine's actions the way a target and a metric source would, with no IO
and virtual time, so a whole canary runs in milliseconds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from watchstander.analysis.models import Measurement, Sample
from watchstander.analysis.specs import build_specs
from watchstander.config.models import AnalysisConfig, StrategyConfig, TriggerConfig
from watchstander.release import transitions
from watchstander.release.actions import (
    Done,
    HoldRoll,
    Measure,
    MeasureResult,
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
from watchstander.release.health import InstanceState, TargetState
from watchstander.release.models import (
    Command,
    DeploymentStatus,
    Event,
    Rollout,
    SmokeResult,
    Strategy,
)
from watchstander.release.plan import build_plan

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)

MetricFn = Callable[[str, str], Sample]  # (version, metric) -> Sample


@dataclass
class SimDeployment:
    """A target-native rolling update in miniature: each poll while not paused replaces one
    old pod with a ready new one (maxSurge 1, maxUnavailable 0)."""

    replicas: int = 3
    version: str | None = None
    previous: str | None = None
    paused: bool = False
    pods: dict[str, int] = field(default_factory=dict)  # version -> ready pods
    polls: int = 0

    def roll(self, version: str) -> None:
        if self.version != version:
            self.previous, self.version = self.version, version
        self.paused = False

    def undo(self, expected: str) -> None:
        assert self.previous == expected, f"undo to {self.previous}, not {expected}"
        self.version = self.previous
        self.paused = False

    def progress(self) -> None:
        self.polls += 1
        if self.paused or self.version is None or self.pods.get(self.version, 0) >= self.replicas:
            return
        old = next((v for v, n in self.pods.items() if v != self.version and n > 0), None)
        if old is not None:
            self.pods[old] -= 1
            if not self.pods[old]:
                del self.pods[old]
        self.pods[self.version] = self.pods.get(self.version, 0) + 1

    def status(self) -> DeploymentStatus:
        new = self.pods.get(self.version or "", 0)
        return DeploymentStatus(
            name="svc",
            version=self.version,
            previous=self.previous,
            paused=self.paused,
            replicas=self.replicas,
            updated=new,
            ready=sum(self.pods.values()),
            updated_ready=new,
            complete=new == self.replicas and sum(self.pods.values()) == self.replicas,
        )


def healthy(version: str, metric: str) -> Sample:
    values = {"error_rate": 0.001, "latency_p99": 50.0, "latency_p50": 10.0, "latency_p95": 30.0}
    if metric == "throughput":
        return Sample(value=100.0, count=1000, query=f"{metric}{{{version}}}")
    return Sample(value=values.get(metric, 1.0), count=1000, query=f"{metric}{{{version}}}")


@dataclass
class World:
    metrics: MetricFn = healthy
    replicas: dict[str, int] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    restarts: dict[str, list[float]] = field(default_factory=dict)
    oom: dict[str, int] = field(default_factory=dict)
    never_ready: set[str] = field(default_factory=set)
    smoke_fails: set[str] = field(default_factory=set)  # scopes whose smoke fails
    weights_ignored: bool = False  # a broken router: set_weights does nothing
    actions: list[object] = field(default_factory=list)
    history: list[tuple[datetime, dict[str, float]]] = field(default_factory=list)
    rps: float = 100.0
    deployment: SimDeployment | None = None  # a target-native rolling update

    def rolled(self, now: datetime) -> RollResult:
        """After a Roll / HoldRoll / UndoRoll: the update moves on, traffic follows pods."""
        dep = self.deployment
        assert dep is not None, "a native rolling action, but the world has no deployment"
        dep.progress()
        self.replicas = dict(dep.pods)
        total = sum(dep.pods.values())
        weights = {v: round(100.0 * n / total, 4) for v, n in dep.pods.items() if n}
        if weights != self.weights:
            self.weights = weights
            self.history.append((now, dict(weights)))
        return RollResult(status=dep.status(), state=self.state(now))

    def throughput(self, version: str, start: datetime) -> Sample:
        """Requests follow the weights in force at the window's start."""
        weights = {version: 100.0} if not self.history else {}
        for at, w in self.history:
            if at <= start:
                weights = w
        if not self.history or start < self.history[0][0]:
            weights = self.initial
        return Sample(value=self.rps * weights.get(version, 0.0) / 100.0, count=1000)

    @property
    def initial(self) -> dict[str, float]:
        return self._initial

    def __post_init__(self) -> None:
        self._initial = dict(self.weights) or {v: 100.0 / len(self.replicas) for v in self.replicas}

    def state(self, now: datetime) -> TargetState:
        instances = []
        for version, n in self.replicas.items():
            for i in range(n):
                instances.append(
                    InstanceState(
                        id=f"{version}-{i}",
                        version=version,
                        address=f"127.0.0.1:{9000 + i}",
                        running=True,
                        ready=version not in self.never_ready,
                        restarts=len(self.restarts.get(version, [])),
                        restart_times=tuple(self.restarts.get(version, [])) if i == 0 else (),
                        oom_kills=self.oom.get(version, 0) if i == 0 else 0,
                    )
                )
        return TargetState(
            instances=tuple(instances), weights=dict(self.weights), observed_at=now.timestamp()
        )


def settings(**overrides: object) -> Settings:
    specs = build_specs(AnalysisConfig(count=2, interval=60, window=300), TriggerConfig())
    base = Settings(
        specs=tuple(s for s in specs if not s.from_target),
        health=tuple(s for s in specs if s.from_target),
        interval=60.0,
        window=300.0,
        poll=1.0,
        ready_timeout=300.0,
        verify_window=30.0,
    )
    return Settings(**{**base.__dict__, **overrides})  # type: ignore[arg-type]


def new_rollout(
    strategy: Strategy = Strategy.CANARY,
    *,
    stable: str | None = "1.0.0",
    version: str = "1.1.0",
    replicas: int = 3,
    strategy_config: StrategyConfig | None = None,
    smoke: bool = True,
    rollback_on_regression: bool = True,
    native_rolling: bool = False,
) -> Rollout:
    cfg = strategy_config or StrategyConfig(observation=600)
    plan = build_plan(
        strategy,
        cfg,
        replicas=replicas,
        analysis_count=2,
        has_smoke=smoke,
        has_stable=stable is not None,
        native_rolling=native_rolling,
    )
    return Rollout(
        id="R-1",
        service="svc",
        version=version,
        stable_version=stable,
        strategy=strategy if stable else Strategy.INITIAL,
        replicas=replicas,
        plan=plan,
        created_at=T0,
        updated_at=T0,
        rollback_on_regression=rollback_on_regression,
    )


@dataclass
class Run:
    rollout: Rollout
    events: list[Event]
    measurements: list[Measurement]
    smoke: list[SmokeResult]
    now: datetime

    def kinds(self) -> list[str]:
        return [e.kind for e in self.events]


def drive(
    rollout: Rollout,
    world: World,
    s: Settings | None = None,
    *,
    now: datetime = T0,
    max_actions: int = 5000,
    commands: dict[int, Command] | None = None,
    stop_when_paused: bool = True,
) -> Run:
    """Run the machine to a terminal phase (or an indefinite pause)."""
    s = s or settings()
    events: list[Event] = []
    measurements: list[Measurement] = []
    smoke: list[SmokeResult] = []
    if rollout.phase.value == "Pending":
        t = transitions.start(rollout, now)
        rollout = t.rollout
        events += t.events
    for n in range(max_actions):
        if commands and n in commands:
            t = transitions.apply_command(rollout, commands[n], now)
            rollout = t.rollout
            events += t.events
        action = transitions.next_action(rollout, s, now)
        world.actions.append(action)
        if isinstance(action, Done):
            break
        result: object = None
        if isinstance(action, Wait):
            if action.until is None:
                if stop_when_paused:
                    break
                continue
            now = max(now, action.until)
        elif isinstance(action, Scale):
            world.replicas[action.version] = action.replicas
            if action.replicas == 0:
                world.replicas.pop(action.version)
            result = world.state(now)
        elif isinstance(action, SetWeights):
            if not world.weights_ignored:
                world.weights = dict(action.weights)
                world.history.append((now, dict(action.weights)))
            result = world.state(now)
        elif isinstance(action, Measure):
            result = MeasureResult(
                samples={
                    q.key: (
                        world.throughput(q.version, q.start)
                        if q.metric == "throughput" and world.metrics is healthy
                        else world.metrics(q.version, q.metric)
                    )
                    for q in action.queries
                },
                state=world.state(now),
            )
        elif isinstance(action, RunSmoke):
            result = (
                SmokeResult(
                    name="health",
                    scope=action.scope,
                    version=action.version,
                    passed=action.scope not in world.smoke_fails,
                    detail="ok" if action.scope not in world.smoke_fails else "500",
                    at=now,
                ),
            )
        elif isinstance(action, Verify):
            result = VerifyResult(
                state=world.state(now),
                smoke=(
                    SmokeResult(
                        name="health",
                        scope="post-rollback",
                        version=action.stable,
                        passed="post-rollback" not in world.smoke_fails,
                        detail="ok",
                        at=now,
                    ),
                ),
                error_rate=world.metrics(action.stable, "error_rate"),
            )
        elif isinstance(action, Roll):
            assert world.deployment is not None
            world.deployment.roll(action.version)
            result = world.rolled(now)
        elif isinstance(action, HoldRoll):
            assert world.deployment is not None
            world.deployment.paused = True
            result = world.rolled(now)
        elif isinstance(action, UndoRoll):
            assert world.deployment is not None
            world.deployment.undo(action.version)
            result = world.rolled(now)
        elif isinstance(action, Tick):
            result = None
        t = transitions.apply(rollout, s, action, result, now)  # type: ignore[arg-type]
        rollout = t.rollout
        events += t.events
        measurements += [m for _, _, m in t.measurements]
        smoke += [r for _, r in t.smoke]
        now = now + timedelta(milliseconds=1)
    else:
        raise AssertionError("the rollout did not settle")
    return Run(rollout, events, measurements, smoke, now)
