"""Records the store returns that are not domain models, and row <-> model conversions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from watchstander.analysis.models import Measurement, Phase
from watchstander.release.models import Command, Event, Rollout, Severity, SmokeResult
from watchstander.store.tables import (
    CommandRow,
    EventRow,
    GateRow,
    LeaseRow,
    MeasurementRow,
    ReleaseRow,
    RolloutRow,
    SmokeResultRow,
)

__all__ = ["Lease", "Release", "CommandRecord", "GateRecord"]


@dataclass(frozen=True)
class Lease:
    """Who holds a named lease, and until when."""

    name: str
    holder: str
    acquired_at: datetime
    expires_at: datetime

    def held_at(self, now: datetime) -> bool:
        return now <= self.expires_at


@dataclass(frozen=True)
class Release:
    """A version that became the stable version of a service."""

    service: str
    version: str
    rollout_id: str | None
    at: datetime


@dataclass(frozen=True)
class CommandRecord:
    """A queued command and what became of it (`done_at` None: still pending)."""

    command: Command
    done_at: datetime | None
    result: str | None


@dataclass(frozen=True)
class GateRecord:
    """A stored gate decision; `data` is the whole result as the gate wrote it."""

    id: int
    service: str
    version: str
    kind: str  # strategy | readiness | staging | production | regression-check | baseline
    decision: str
    rollout_id: str | None
    at: datetime
    data: dict[str, Any]


def gate_from(row: GateRow) -> GateRecord:
    return GateRecord(
        id=row.id,
        service=row.service,
        version=row.version,
        kind=row.kind,
        decision=row.decision,
        rollout_id=row.rollout_id,
        at=row.at,
        data=dict(row.data),
    )


def rollout_columns(rollout: Rollout) -> dict[str, object]:
    return {
        "service": rollout.service,
        "version": rollout.version,
        "stable_version": rollout.stable_version,
        "strategy": rollout.strategy.value,
        "phase": rollout.phase.value,
        "created_at": rollout.created_at,
        "updated_at": rollout.updated_at,
        "finished_at": rollout.finished_at,
        "state": rollout.model_dump(mode="json"),
    }


def rollout_from(row: RolloutRow) -> Rollout:
    return Rollout.model_validate(row.state)


def event_row(event: Event, *, rollout_id: str | None, service: str) -> EventRow:
    return EventRow(
        rollout_id=rollout_id,
        service=service,
        at=event.at,
        kind=event.kind,
        severity=event.severity.value,
        message=event.message,
        data=event.model_dump(mode="json")["data"],
    )


def event_from(row: EventRow) -> Event:
    return Event(
        at=row.at,
        kind=row.kind,
        message=row.message,
        severity=Severity(row.severity),
        data=row.data,
    )


def measurement_row(
    m: Measurement, *, rollout_id: str, step_index: int, in_rollback: bool
) -> MeasurementRow:
    return MeasurementRow(
        rollout_id=rollout_id,
        step_index=step_index,
        in_rollback=in_rollback,
        name=m.name,
        metric=m.metric,
        phase=m.phase.value,
        value=m.value,
        baseline=m.baseline,
        threshold=m.threshold,
        reason=m.reason,
        query=m.query,
        at=m.at,
        count=m.count,
        version=m.version,
    )


def measurement_from(row: MeasurementRow) -> tuple[int, bool, Measurement]:
    m = Measurement(
        name=row.name,
        metric=row.metric,
        phase=Phase(row.phase),
        value=row.value,
        baseline=row.baseline,
        threshold=row.threshold,
        reason=row.reason,
        query=row.query,
        at=row.at,
        count=row.count,
        version=row.version,
    )
    return row.step_index, row.in_rollback, m


def smoke_row(result: SmokeResult, *, rollout_id: str, step_index: int) -> SmokeResultRow:
    return SmokeResultRow(
        rollout_id=rollout_id,
        step_index=step_index,
        name=result.name,
        scope=result.scope,
        version=result.version,
        passed=result.passed,
        detail=result.detail,
        at=result.at,
        duration_ms=result.duration_ms,
        status=result.status,
    )


def smoke_from(row: SmokeResultRow) -> tuple[int, SmokeResult]:
    result = SmokeResult(
        name=row.name,
        scope=row.scope,
        version=row.version,
        passed=row.passed,
        detail=row.detail,
        at=row.at,
        duration_ms=row.duration_ms,
        status=row.status,
    )
    return row.step_index, result


def command_row(command: Command) -> CommandRow:
    return CommandRow(
        rollout_id=command.rollout_id,
        name=command.name,
        args=command.model_dump(mode="json")["args"],
        by=command.by,
        at=command.at,
        done_at=None,
        result=None,
    )


def command_from(row: CommandRow) -> Command:
    return Command(
        id=row.id, rollout_id=row.rollout_id, name=row.name, args=row.args, by=row.by, at=row.at
    )


def lease_from(row: LeaseRow) -> Lease:
    return Lease(
        name=row.name, holder=row.holder, acquired_at=row.acquired_at, expires_at=row.expires_at
    )


def release_from(row: ReleaseRow) -> Release:
    return Release(service=row.service, version=row.version, rollout_id=row.rollout_id, at=row.at)
