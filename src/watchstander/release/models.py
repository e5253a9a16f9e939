"""The rollout record: plan, position, phase, weights and analysis progress.

A Rollout is the whole persisted state of one deployment of one version. It is immutable;
every transition returns a new one. Pydantic gives it a JSON form for the store.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "Strategy",
    "RolloutPhase",
    "StepKind",
    "Role",
    "Step",
    "AnalysisProgress",
    "Rollout",
    "Event",
    "Severity",
    "TERMINAL_PHASES",
    "SmokeResult",
    "Command",
    "DeploymentStatus",
]


class Strategy(StrEnum):
    CANARY = "canary"
    BLUE_GREEN = "blue-green"
    ROLLING = "rolling"
    INITIAL = "initial"  # first release of a service: nothing to compare with
    UNDO = "undo"  # back to the previous version of a completed release


class RolloutPhase(StrEnum):
    PENDING = "Pending"
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    ROLLING_BACK = "RollingBack"
    SUCCEEDED = "Succeeded"
    ROLLED_BACK = "RolledBack"
    ABORTED = "Aborted"
    FAILED = "Failed"  # a rollback that could not be verified: CRITICAL


TERMINAL_PHASES = frozenset(
    {RolloutPhase.SUCCEEDED, RolloutPhase.ROLLED_BACK, RolloutPhase.ABORTED, RolloutPhase.FAILED}
)


class Role(StrEnum):
    CANDIDATE = "candidate"
    STABLE = "stable"


class StepKind(StrEnum):
    BASELINE = "baseline"  # measure the stable version before touching anything
    SCALE = "scale"  # make N instances of a version exist and wait for them to be ready
    SET_WEIGHT = "set-weight"  # candidate percent of traffic (stable gets the rest)
    SMOKE = "smoke"  # run smoke checks (preview = candidate only; production = service)
    ANALYSIS = "analysis"  # measure every interval, `count` times, judge under limits
    PAUSE = "pause"  # wait `duration`, or until promoted when duration is None
    OBSERVE = "observe"  # post-promotion / post-deployment window, analysed
    WAIT = "wait"  # plain delay (blue-green scale-down delay)
    VERIFY = "verify"  # rollback verification: weights, smoke, error rate vs baseline
    GATE = "regression-gate"  # production regression gate: now vs the pre-deploy snapshot
    # The target's own rolling update (a Kubernetes Deployment's RollingUpdate strategy):
    ROLL = "roll"  # move the template to the candidate; wait until `replicas` pods run it
    UNDO = "undo"  # rollback: the template back to the previous version, wait until done


class Step(BaseModel):
    model_config = ConfigDict(frozen=True)

    kind: StepKind
    label: str
    role: Role = Role.CANDIDATE
    replicas: int | None = None
    weight: float | None = None  # candidate percent
    duration: float | None = None  # seconds
    count: int | None = None  # analysis measurements
    scope: str | None = None  # smoke: "baseline" | "preview" | "production"
    health_only: bool = False  # analysis without traffic metrics (blue-green preview)
    max_surge: int | None = None  # roll: pods above `replicas` while replacing
    max_unavailable: int | None = None  # roll: pods below `replicas` while replacing


class DeploymentStatus(BaseModel):
    """A target-native rolling update as the target reports it (`kubectl rollout status`):
    what the pod template runs, how far the replacement got, and whether it is paused."""

    model_config = ConfigDict(frozen=True)

    name: str  # the Deployment (or equivalent) that rolls
    version: str | None  # the version of the current pod template
    previous: str | None  # what an undo goes back to
    paused: bool
    replicas: int  # desired
    updated: int  # pods running the current template
    ready: int  # ready pods, any template
    updated_ready: int = 0  # ready pods running the current template
    complete: bool = False  # every pod updated and ready, and the controller saw the change


class AnalysisProgress(BaseModel):
    """Measurement counters of the analysis in the current step (keyed by spec name)."""

    model_config = ConfigDict(frozen=True)

    started_at: datetime | None = None
    measured: int = 0  # measurement rounds done
    last_at: datetime | None = None
    failed: dict[str, int] = Field(default_factory=dict)
    inconclusive: dict[str, int] = Field(default_factory=dict)
    errors: dict[str, int] = Field(default_factory=dict)
    consecutive_errors: dict[str, int] = Field(default_factory=dict)
    passed: dict[str, int] = Field(default_factory=dict)


class Rollout(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    service: str
    version: str  # the candidate
    stable_version: str | None  # what served before; None for the first release
    strategy: Strategy
    replicas: int
    plan: tuple[Step, ...]
    phase: RolloutPhase = RolloutPhase.PENDING
    step_index: int = 0
    step_started_at: datetime | None = None
    wake_at: datetime | None = None  # nothing to do before this time (polling, timers)
    weights: dict[str, float] = Field(default_factory=dict)  # last weights applied
    analysis: AnalysisProgress = AnalysisProgress()
    baseline: dict[str, float | None] = Field(default_factory=dict)  # pre-deploy stable metrics
    baseline_window: tuple[datetime, datetime] | None = None  # for post-switch comparisons
    weights_at: datetime | None = None  # when the weights last changed
    restored_at: datetime | None = None  # rollback: when all traffic was back on stable
    verify_attempts: int = 0
    paused: bool = False
    pause_reason: str | None = None
    rollback_on_regression: bool = True
    regression_threshold: float = 0.0  # percent (--regression-threshold)
    regression_scope: str = "critical"  # the production gate's scope
    baseline_checks: dict[str, bool] = Field(default_factory=dict)  # smoke + journeys, pre-deploy
    rollback_reason: str | None = None
    rollback_plan: tuple[Step, ...] = ()
    rollback_index: int = 0
    rollback_attempts: list[str] = Field(default_factory=list)  # what was tried, for CRITICAL
    abort_requested: bool = False
    full_promote: bool = False
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None
    message: str = ""
    parent_id: str | None = None  # undo / retry of
    deployment: DeploymentStatus | None = None  # last seen, for a target-native rolling update

    @property
    def terminal(self) -> bool:
        return self.phase in TERMINAL_PHASES

    @property
    def rolling_back(self) -> bool:
        return self.phase is RolloutPhase.ROLLING_BACK

    @property
    def current_plan(self) -> tuple[Step, ...]:
        return self.rollback_plan if self.rolling_back else self.plan

    @property
    def current_index(self) -> int:
        return self.rollback_index if self.rolling_back else self.step_index

    @property
    def current_step(self) -> Step | None:
        plan = self.current_plan
        index = self.current_index
        return plan[index] if 0 <= index < len(plan) else None

    def version_of(self, role: Role) -> str | None:
        return self.version if role is Role.CANDIDATE else self.stable_version


class Severity(StrEnum):
    INFO = "INFO"
    WARNING = "WARNING"
    ERROR = "ERROR"
    CRITICAL = "CRITICAL"


class Event(BaseModel):
    """One entry of a rollout's append-only timeline."""

    model_config = ConfigDict(frozen=True)

    at: datetime
    kind: str  # e.g. "step.started", "weights.set", "analysis.failed", "rollback.verified"
    message: str
    severity: Severity = Severity.INFO
    data: dict[str, Any] = Field(default_factory=dict)


class SmokeResult(BaseModel):
    """One smoke check run against one scope."""

    model_config = ConfigDict(frozen=True)

    name: str
    scope: str  # "preview" | "production" | "post-rollback"
    version: str | None
    passed: bool
    detail: str
    at: datetime
    duration_ms: float = 0.0
    status: int | None = None  # HTTP status, or the command's exit code


class Command(BaseModel):
    """A manual control queued for the controller that holds a rollout."""

    model_config = ConfigDict(frozen=True)

    id: int | None = None
    rollout_id: str
    name: str  # pause | resume | promote | abort
    args: dict[str, Any] = Field(default_factory=dict)
    by: str = ""
    at: datetime
