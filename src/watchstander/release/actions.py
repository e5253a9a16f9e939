"""What the state machine asks the engine to do, and what the engine reports back.

Actions are requests for IO; results are plain data. The engine performs an action and
hands its result to `transitions.apply`; nothing else crosses the pure/IO line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from watchstander.analysis.models import MetricSpec, Sample
from watchstander.gates.regression import HardLimits, Tolerances
from watchstander.release.health import TargetState
from watchstander.release.models import DeploymentStatus, SmokeResult

__all__ = [
    "Settings",
    "Scale",
    "SetWeights",
    "Query",
    "Measure",
    "RunSmoke",
    "Verify",
    "GateCheck",
    "GateResult",
    "Wait",
    "Tick",
    "Done",
    "Roll",
    "HoldRoll",
    "UndoRoll",
    "RollResult",
    "Action",
    "MeasureResult",
    "VerifyResult",
    "ActionFailed",
    "Result",
]


@dataclass(frozen=True)
class Settings:
    """Everything the state machine needs from the config, as plain values."""

    specs: tuple[MetricSpec, ...]  # judged from the metric source
    health: tuple[MetricSpec, ...]  # judged from the target's instance states
    interval: float = 60.0  # seconds between measurements
    window: float = 300.0  # how far back a measurement looks
    poll: float = 0.5  # how often to look at the target while waiting for instances
    ready_timeout: float = 600.0  # progress deadline for instances to become ready
    restart_window: float = 300.0
    verify_window: float = 10.0  # traffic observed on stable before verifying a rollback
    verify_attempts: int = 2
    error_rate_pp: float = 2.0  # rollback verification: back within baseline + this
    smoke_failure_rolls_back: bool = True
    # The production regression gate.
    gate_metrics: tuple[str, ...] = ("error_rate", "latency_p99", "throughput")
    snapshot_metrics: tuple[str, ...] = ("latency_p50", "latency_p95")  # recorded, not gated
    tolerances: Tolerances = Tolerances()
    hard_limits: HardLimits = HardLimits()
    critical_tests: tuple[str, ...] = ()
    min_requests: int = 20  # fewer requests behind a gate metric: no data


@dataclass(frozen=True)
class Scale:
    version: str
    replicas: int


@dataclass(frozen=True)
class SetWeights:
    weights: Mapping[str, float]


@dataclass(frozen=True)
class Query:
    key: str  # "candidate:error_rate", "baseline:latency_p99"
    metric: str
    version: str
    start: datetime
    end: datetime


@dataclass(frozen=True)
class Measure:
    queries: tuple[Query, ...]


@dataclass(frozen=True)
class RunSmoke:
    scope: str  # preview | production | post-rollback
    version: str  # the version that should answer
    preview: bool = False  # reach `version` directly (by header), not through the weights
    journeys: bool = False  # also run the user-journey checks (baseline snapshot)


@dataclass(frozen=True)
class GateCheck:
    """The production regression gate: measure the live service since the switch and run
    the smoke and user-journey checks, to compare with the pre-deployment snapshot."""

    version: str
    queries: tuple[Query, ...]


@dataclass(frozen=True)
class Verify:
    stable: str
    error_rate: Query


@dataclass(frozen=True)
class Wait:
    until: datetime | None  # None: until a command arrives
    reason: str


@dataclass(frozen=True)
class Tick:
    """No IO: a timer elapsed; `apply` moves on."""


@dataclass(frozen=True)
class Done:
    pass


@dataclass(frozen=True)
class Roll:
    """Set the target's own rolling update going toward `version` (idempotent: the pod
    template moves once) and make sure it is not paused; report how far it got."""

    version: str
    max_surge: int | None = None
    max_unavailable: int | None = None


@dataclass(frozen=True)
class HoldRoll:
    """Pause the target's own rolling update where it is (a held batch, or `rollout pause`)."""


@dataclass(frozen=True)
class UndoRoll:
    """Rollback of a target-native rolling update: the template back to `version`, which
    must be the one the target recorded as previous, unpaused."""

    version: str


Action = (
    Scale
    | SetWeights
    | Measure
    | RunSmoke
    | Verify
    | GateCheck
    | Roll
    | HoldRoll
    | UndoRoll
    | Wait
    | Tick
    | Done
)


@dataclass(frozen=True)
class MeasureResult:
    samples: Mapping[str, Sample]
    state: TargetState | None  # None when the target could not be read


@dataclass(frozen=True)
class VerifyResult:
    state: TargetState
    smoke: tuple[SmokeResult, ...]
    error_rate: Sample


@dataclass(frozen=True)
class GateResult:
    samples: Mapping[str, Sample]
    checks: tuple[SmokeResult, ...]


@dataclass(frozen=True)
class RollResult:
    status: DeploymentStatus
    state: TargetState


@dataclass(frozen=True)
class ActionFailed:
    message: str
    details: Mapping[str, str] = field(default_factory=dict)


Result = (
    TargetState
    | MeasureResult
    | VerifyResult
    | GateResult
    | RollResult
    | tuple[SmokeResult, ...]
    | ActionFailed
    | None
)
