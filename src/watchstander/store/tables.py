"""The SQL tables of the store, as typed SQLAlchemy 2 declarative classes.

These classes describe the schema for queries and for Alembic autogenerate; the schema
itself is only ever created or changed by the migrations in `migrations/versions/`. A test
checks that the two agree.

Timestamps go through `UTCDateTime`: aware datetimes in, aware UTC datetimes out, stored
as UTC on every backend (naive UTC text on SQLite, `timestamptz` on PostgreSQL). A naive
datetime is refused rather than guessed at.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Dialect, ForeignKey, Index, MetaData, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "UTCDateTime",
    "Base",
    "RolloutRow",
    "MeasurementRow",
    "EventRow",
    "SmokeResultRow",
    "CommandRow",
    "LeaseRow",
    "ReleaseRow",
    "GateRow",
    "ApprovalRow",
    "DrillRow",
    "IncidentRow",
    "DeliveryRow",
    "AlertKeyRow",
    "RegressionRow",
    "SloDefinitionRow",
    "SloBucketRow",
    "SloSnapshotRow",
    "SloAlertRow",
    "HypercareRow",
    "HypercareDayRow",
    "FeedbackRow",
]


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware datetime stored as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the store needs aware times")
        value = value.astimezone(UTC)
        # SQLite has no time zone type: keep UTC wall time so text order is time order.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# Deterministic constraint names, so migrations can refer to them on every backend.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON()}


class RolloutRow(Base):
    """One rollout: a few columns to query by, and the whole Rollout as JSON."""

    __tablename__ = "rollouts"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    stable_version: Mapped[str | None] = mapped_column(String(200))
    strategy: Mapped[str] = mapped_column(String(32))
    phase: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]
    state: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_rollouts_service_created", "service", "created_at"),)


class MeasurementRow(Base):
    __tablename__ = "measurements"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id"), index=True)
    step_index: Mapped[int]
    in_rollback: Mapped[bool]
    name: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(100))
    phase: Mapped[str] = mapped_column(String(16))
    value: Mapped[float | None]
    baseline: Mapped[float | None]
    threshold: Mapped[float | None]
    reason: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    count: Mapped[int]
    version: Mapped[str] = mapped_column(String(200))


class EventRow(Base):
    """The append-only timeline; `id` order is append order."""

    __tablename__ = "events"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rollout_id: Mapped[str | None] = mapped_column(ForeignKey("rollouts.id"), index=True)
    service: Mapped[str] = mapped_column(String(200), index=True)
    at: Mapped[datetime]
    kind: Mapped[str] = mapped_column(String(100))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]]


class SmokeResultRow(Base):
    __tablename__ = "smoke_results"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id"), index=True)
    step_index: Mapped[int]
    name: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(32))
    version: Mapped[str | None] = mapped_column(String(200))
    passed: Mapped[bool]
    detail: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]
    duration_ms: Mapped[float]
    status: Mapped[int | None]


class CommandRow(Base):
    """A manual control queued for the controller; `done_at` is set once it acted."""

    __tablename__ = "commands"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    rollout_id: Mapped[str] = mapped_column(ForeignKey("rollouts.id"), index=True)
    name: Mapped[str] = mapped_column(String(32))
    args: Mapped[dict[str, Any]]
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    done_at: Mapped[datetime | None]
    result: Mapped[str | None] = mapped_column(Text)


class LeaseRow(Base):
    """Who drives what until when: one row per lease name."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class ReleaseRow(Base):
    """What became the stable version of a service, and when; the newest row is current."""

    __tablename__ = "releases"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(200))
    rollout_id: Mapped[str | None] = mapped_column(ForeignKey("rollouts.id"))
    at: Mapped[datetime]


class GateRow(Base):
    """One gate decision (strategy recommendation, readiness, staging or production
    regression gate, regression check) with its whole result as JSON; reports render
    from these rows."""

    __tablename__ = "gates"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    decision: Mapped[str] = mapped_column(String(32))
    rollout_id: Mapped[str | None] = mapped_column(ForeignKey("rollouts.id"), index=True)
    at: Mapped[datetime]
    data: Mapped[dict[str, Any]]

    __table_args__ = (Index("ix_gates_service_version_kind", "service", "version", "kind"),)


class ApprovalRow(Base):
    """A sign-off of one version by one role (`watchstander approve`)."""

    __tablename__ = "approvals"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(200))
    version: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    by: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    comment: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_approvals_service_version", "service", "version"),)


class DrillRow(Base):
    """A rollback drill run on a non-production target (`watchstander rollback drill`)."""

    __tablename__ = "drills"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    service: Mapped[str] = mapped_column(String(200), index=True)
    environment: Mapped[str] = mapped_column(String(64))
    from_version: Mapped[str] = mapped_column(String(200))
    to_version: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]
    ok: Mapped[bool]
    duration: Mapped[float]
    detail: Mapped[str] = mapped_column(Text)


class IncidentRow(Base):
    """Incidents, as far as the deploy gates read them: id, priority, status. Incident
    response keeps the whole record in `data`."""

    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(200), index=True)
    priority: Mapped[str] = mapped_column(String(8))
    status: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(Text)
    detected_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    data: Mapped[dict[str, Any]]


class DeliveryRow(Base):
    """The notification outbox: a message to one channel, kept until delivered. Failures
    are retried with backoff (`next_attempt_at`); nothing is ever dropped."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    channel: Mapped[str] = mapped_column(String(100))
    kind: Mapped[str] = mapped_column(String(64))
    message: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16))  # pending | sent | failed (given up: never)
    attempts: Mapped[int]
    created_at: Mapped[datetime]
    next_attempt_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    last_result: Mapped[str] = mapped_column(Text)

    __table_args__ = (Index("ix_deliveries_status_next", "status", "next_attempt_at"),)


class AlertKeyRow(Base):
    """Which incident an external alert key (Alertmanager groupKey, PagerDuty dedup_key)
    belongs to, and its state, for deduplication."""

    __tablename__ = "alert_keys"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    key: Mapped[str] = mapped_column(String(512), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"))
    state: Mapped[str] = mapped_column(String(16))
    updated_at: Mapped[datetime]


class RegressionRow(Base):
    """The regression register (REG-YYYY-MM-DD-NNN), the whole entry as JSON."""

    __tablename__ = "regressions"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    incident_id: Mapped[str | None] = mapped_column(ForeignKey("incidents.id"))
    status: Mapped[str] = mapped_column(String(16))
    detected_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class SloDefinitionRow(Base):
    """SLOs imported from OpenSLO files (those in watchstander.yaml live there)."""

    __tablename__ = "slo_definitions"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    service: Mapped[str] = mapped_column(String(200))
    source: Mapped[str] = mapped_column(Text)
    imported_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class SloBucketRow(Base):
    """The SLI over one stretch of time: good and total events (or slices). Any window
    is a sum of buckets; `value` is the measurement behind it, None for no data."""

    __tablename__ = "slo_buckets"

    slo: Mapped[str] = mapped_column(String(200), primary_key=True)
    start: Mapped[datetime] = mapped_column(primary_key=True)
    end: Mapped[datetime]
    good: Mapped[float]
    total: Mapped[float]
    value: Mapped[float | None]


class SloSnapshotRow(Base):
    """An SLO's state at the end of one snapshot period (hourly by default)."""

    __tablename__ = "slo_snapshots"

    slo: Mapped[str] = mapped_column(String(200), primary_key=True)
    at: Mapped[datetime] = mapped_column(primary_key=True)
    met: Mapped[bool | None]
    data: Mapped[dict[str, Any]]


class SloAlertRow(Base):
    """One burn-rate alert episode: from the first evaluation it fired to the first it did
    not, and the incident it opened."""

    __tablename__ = "slo_alerts"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=True)
    slo: Mapped[str] = mapped_column(String(200), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    incident_id: Mapped[str | None] = mapped_column(String(64))
    data: Mapped[dict[str, Any]]


class HypercareRow(Base):
    """A hypercare period; the whole record in `data`."""

    __tablename__ = "hypercare_periods"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    service: Mapped[str] = mapped_column(String(200), index=True)
    version: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16))
    start: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class HypercareDayRow(Base):
    """What the daily cycle measured and wrote for one hypercare day (once per day)."""

    __tablename__ = "hypercare_days"

    period_id: Mapped[str] = mapped_column(ForeignKey("hypercare_periods.id"), primary_key=True)
    day: Mapped[int] = mapped_column(primary_key=True)
    date: Mapped[str] = mapped_column(String(10))
    written_at: Mapped[datetime]
    data: Mapped[dict[str, Any]]


class FeedbackRow(Base):
    """Support tickets and user feedback imported for a service."""

    __tablename__ = "feedback"

    service: Mapped[str] = mapped_column(String(200), primary_key=True)
    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    created: Mapped[datetime]
    data: Mapped[dict[str, Any]]
