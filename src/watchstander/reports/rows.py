"""What the report templates see: display-ready rows, every field a finished string.

`views.build` fills these from stored records; the templates only lay them out. No field
is ever None, so a template cannot print "None" by accident.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

__all__ = [
    "fmt_time",
    "fmt_duration",
    "fmt_seconds",
    "fmt_number",
    "fmt_data",
    "EventRow",
    "StepRow",
    "MeasurementRow",
    "AnalysisGroup",
    "SloRow",
    "SmokeRow",
    "CommandRow",
    "Pair",
    "RollbackView",
    "RolloutReport",
]


def fmt_time(at: datetime | None, missing: str = "not reached") -> str:
    return missing if at is None else at.strftime("%Y-%m-%d %H:%M:%S UTC")


def fmt_duration(start: datetime | None, end: datetime | None, missing: str = "n/a") -> str:
    if start is None or end is None:
        return missing
    return fmt_seconds((end - start).total_seconds())


def fmt_seconds(seconds: float) -> str:
    total = max(0, round(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m {secs:02d}s"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def fmt_number(value: float | None, missing: str = "no data") -> str:
    return missing if value is None else f"{value:.6g}"


def fmt_data(data: dict[str, Any]) -> str:
    def one(value: Any) -> str:
        return value if isinstance(value, str) else json.dumps(value, sort_keys=True)

    return ", ".join(f"{key}={one(data[key])}" for key in sorted(data)) or "-"


@dataclass(frozen=True)
class EventRow:
    at: str
    kind: str
    severity: str
    message: str
    data: str


@dataclass(frozen=True)
class StepRow:
    plan: str  # "deploy" | "rollback"
    number: int
    kind: str
    label: str
    started: str
    ended: str
    duration: str
    outcome: str


@dataclass(frozen=True)
class MeasurementRow:
    at: str
    name: str
    metric: str
    version: str
    value: str
    baseline: str
    threshold: str
    phase: str
    reason: str
    query: str
    count: int


@dataclass(frozen=True)
class AnalysisGroup:
    title: str
    started: str
    tally: str
    verdict: str
    rows: tuple[MeasurementRow, ...]


@dataclass(frozen=True)
class SloRow:
    step: str
    name: str
    metric: str
    baseline: str
    latest: str
    range: str
    threshold: str
    tally: str
    status: str  # PASS | BREACH | INCONCLUSIVE | ERROR


@dataclass(frozen=True)
class SmokeRow:
    step: str
    name: str
    scope: str
    version: str
    result: str  # PASS | FAIL
    status: str
    duration: str
    detail: str
    at: str


@dataclass(frozen=True)
class CommandRow:
    at: str
    name: str
    args: str
    by: str
    done_at: str
    result: str


@dataclass(frozen=True)
class Pair:
    """A labelled value: milestones, weights reached, baseline figures, health maxima."""

    label: str
    value: str
    extra: str = ""


@dataclass(frozen=True)
class RollbackView:
    status: str  # ROLLED BACK | CRITICAL: rollback failed
    trigger: str  # slo-breach | smoke-test-failure | manual | deployment-error
    reason: str
    started: str
    duration: str
    success: str  # YES | NO
    smoke_after: str  # PASS | FAIL | not run
    weights: str
    attempts: tuple[str, ...]
    failing: tuple[MeasurementRow, ...]
    verification: tuple[MeasurementRow, ...]
    steps: tuple[StepRow, ...]
    events: tuple[EventRow, ...]


@dataclass(frozen=True)
class RolloutReport:
    id: str
    project: str
    service: str
    version: str
    previous: str
    strategy: str
    phase: str
    status: str
    terminal: bool
    date: str
    started: str
    ended: str
    duration: str
    duration_minutes: str
    replicas: int
    message: str
    weights: str
    serving: str
    config_hash: str
    events: tuple[EventRow, ...]
    issues: tuple[EventRow, ...]
    readiness: tuple[EventRow, ...]
    regression: tuple[EventRow, ...]
    rollback_on_regression: str  # on | off
    steps: tuple[StepRow, ...]
    milestones: tuple[Pair, ...]
    strategy_details: tuple[Pair, ...]
    baseline: tuple[Pair, ...]
    baseline_window: str
    analysis: tuple[AnalysisGroup, ...]
    slo: tuple[SloRow, ...]
    smoke: tuple[SmokeRow, ...]
    smoke_summary: tuple[Pair, ...]
    smoke_passed: int
    failed_measurements: int
    health: tuple[Pair, ...]
    commands: tuple[CommandRow, ...]
    promotion: str
    went_well: tuple[str, ...]
    could_improve: tuple[str, ...]
    actions: tuple[str, ...]
    rollback: RollbackView | None
