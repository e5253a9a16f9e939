"""The store: every read and write of watchstander's state, one short transaction each.

`Store` is the only way into the database. It speaks domain models (Rollout, Event,
Measurement, SmokeResult, Command) and a few records of its own (Lease, Release,
CommandRecord). Each method is one transaction, so a crash leaves either the whole
change or none of it; `save_rollout` in particular writes a state transition together
with its timeline entries, measurements and smoke results.

Leases are compare-and-set UPDATEs (`... WHERE expires_at < now OR holder = me`), safe
between processes on SQLite (write lock) and PostgreSQL (row lock, predicate re-checked).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, Self, cast

from alembic.util import CommandError
from sqlalchemy import (
    CursorResult,
    Engine,
    case,
    func,
    insert,
    literal,
    make_url,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from watchstander.analysis.models import Measurement
from watchstander.errors import ConflictError, NotFoundError, StoreError, WatchstanderError
from watchstander.gates.models import Approval, Drill, IncidentRef
from watchstander.release.models import TERMINAL_PHASES, Command, Event, Rollout, SmokeResult
from watchstander.store import database, records
from watchstander.store.records import CommandRecord, GateRecord, Lease, Release
from watchstander.store.tables import (
    AlertKeyRow,
    ApprovalRow,
    CommandRow,
    DeliveryRow,
    DrillRow,
    EventRow,
    FeedbackRow,
    GateRow,
    HypercareDayRow,
    HypercareRow,
    IncidentRow,
    LeaseRow,
    MeasurementRow,
    RegressionRow,
    ReleaseRow,
    RolloutRow,
    SloAlertRow,
    SloBucketRow,
    SloDefinitionRow,
    SloSnapshotRow,
    SmokeResultRow,
    UTCDateTime,
)

__all__ = ["Store"]

_TERMINAL = sorted(phase.value for phase in TERMINAL_PHASES)


def _one_line(exc: BaseException) -> str:
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()
    return text[0] if text else type(cause).__name__


def _redact(url: str) -> str:
    """The URL with any password replaced, even when it does not parse."""
    return re.sub(r"(://[^:/@]*):[^@/]*@", r"\1:***@", url)


def _insert_new(session: Session, table: Any, values: Sequence[dict[str, Any]]) -> int:
    """INSERT ... ON CONFLICT DO NOTHING on SQLite and PostgreSQL: a row whose key is
    already there (written meanwhile by another process, too) is kept. Returns how many
    rows were inserted."""
    if not values:
        return 0
    dialect = session.get_bind().dialect.name
    insert_for: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # Counted through RETURNING: drivers do not agree on the rowcount of ON CONFLICT.
    core = table.__table__
    statement = insert_for(core).on_conflict_do_nothing().returning(*core.primary_key.columns)
    return len(session.execute(statement, list(values)).all())


def _rowcount(result: Any) -> int:
    return cast(CursorResult[Any], result).rowcount


class Store:
    """watchstander's state in a SQL database (SQLite by default, PostgreSQL by URL)."""

    def __init__(self, engine: Engine) -> None:
        """Wrap an engine whose schema is already at head; use `Store.open` instead."""
        self._engine = engine

    # -- lifecycle ---------------------------------------------------------------------

    @classmethod
    def open(
        cls, url: str | None = None, *, workdir: Path, password_env: str | None = None
    ) -> Store:
        """Connect to `url` (default `<workdir>/.watchstander/state.db`) and migrate it to
        the newest schema. With `password_env`, the password is read from that environment
        variable (never from config files). Raises StoreError with a one-line reason, the
        URL shown with its password redacted, when it cannot."""
        engine: Engine | None = None
        shown = _redact(url) if url else "<workdir>/.watchstander/state.db"
        try:
            parsed = make_url(url or database.default_url(workdir))
            shown = parsed.render_as_string(hide_password=True)
            if password_env is not None:
                password = os.environ.get(password_env)
                if not password:
                    raise StoreError(f"store.password_env names ${password_env}, which is not set")
                parsed = parsed.set(password=password)
            engine = database.connect(parsed)
            database.migrate(engine)
        except StoreError as exc:
            if engine is not None:
                engine.dispose()
            raise StoreError(f"cannot open the store at {shown}: {exc}") from exc
        except (SQLAlchemyError, CommandError, ImportError, OSError, ValueError) as exc:
            if engine is not None:
                engine.dispose()
            raise StoreError(f"cannot open the store at {shown}: {_one_line(exc)}") from exc
        return cls(engine)

    @property
    def url(self) -> str:
        return self._engine.url.render_as_string(hide_password=True)

    def close(self) -> None:
        """Close every pooled connection."""
        self._engine.dispose()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    @contextmanager
    def _session(self, *, write: bool = False) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back if it raises."""
        try:
            with self._engine.connect() as connection:
                if write:
                    connection.execution_options(**database.WRITE)
                with Session(bind=connection, expire_on_commit=False) as session:
                    with session.begin():
                        yield session
        except WatchstanderError:
            raise
        except SQLAlchemyError as exc:
            raise StoreError(f"store: {_one_line(exc)}") from exc

    # -- rollouts ----------------------------------------------------------------------

    def create_rollout(self, rollout: Rollout, events: Sequence[Event] = ()) -> None:
        """Insert a new rollout with its first timeline entries.
        ConflictError if the id is taken."""
        with self._session(write=True) as session:
            session.add(RolloutRow(id=rollout.id, **records.rollout_columns(rollout)))
            try:
                session.flush()
            except IntegrityError as exc:
                raise ConflictError(f"rollout {rollout.id} already exists") from exc
            session.add_all(
                records.event_row(e, rollout_id=rollout.id, service=rollout.service) for e in events
            )

    def save_rollout(
        self,
        rollout: Rollout,
        *,
        events: Sequence[Event] = (),
        measurements: Sequence[tuple[int, bool, Measurement]] = (),
        smoke: Sequence[tuple[int, SmokeResult]] = (),
    ) -> None:
        """Store a transition in one transaction: the new state, its timeline entries,
        and measurements `(step_index, in_rollback, m)` and smoke results `(step_index, r)`."""
        with self._session(write=True) as session:
            result = session.execute(
                update(RolloutRow)
                .where(RolloutRow.id == rollout.id)
                .values(**records.rollout_columns(rollout))
                .execution_options(synchronize_session=False)
            )
            if _rowcount(result) == 0:
                raise NotFoundError(f"no rollout {rollout.id}")
            session.add_all(
                records.event_row(e, rollout_id=rollout.id, service=rollout.service) for e in events
            )
            session.add_all(
                records.measurement_row(m, rollout_id=rollout.id, step_index=i, in_rollback=rb)
                for i, rb, m in measurements
            )
            session.add_all(
                records.smoke_row(r, rollout_id=rollout.id, step_index=i) for i, r in smoke
            )

    def get_rollout(self, rollout_id: str) -> Rollout:
        with self._session() as session:
            row = session.get(RolloutRow, rollout_id)
            if row is None:
                raise NotFoundError(f"no rollout {rollout_id}")
            return records.rollout_from(row)

    def find_rollout(self, service: str, *, version: str | None = None) -> Rollout | None:
        """The latest rollout of `service` (of `version`, when given)."""
        query = select(RolloutRow).where(RolloutRow.service == service)
        if version is not None:
            query = query.where(RolloutRow.version == version)
        return self._first_rollout(query)

    def list_rollouts(self, *, service: str | None = None, limit: int = 50) -> list[Rollout]:
        """Rollouts, newest first."""
        query = select(RolloutRow)
        if service is not None:
            query = query.where(RolloutRow.service == service)
        query = query.order_by(RolloutRow.created_at.desc(), RolloutRow.id.desc()).limit(limit)
        with self._session() as session:
            return [records.rollout_from(row) for row in session.scalars(query)]

    def active_rollout(self, service: str) -> Rollout | None:
        """The latest rollout of `service` that has not reached a terminal phase."""
        query = select(RolloutRow).where(
            RolloutRow.service == service, RolloutRow.phase.not_in(_TERMINAL)
        )
        return self._first_rollout(query)

    def _first_rollout(self, query: Any) -> Rollout | None:
        query = query.order_by(RolloutRow.created_at.desc(), RolloutRow.id.desc()).limit(1)
        with self._session() as session:
            row = session.scalars(query).first()
            return None if row is None else records.rollout_from(row)

    def next_rollout_id(self, service: str, now: datetime) -> str:
        """The next free id of the day of `now` (UTC), like `R-20261121-001`.

        Ids are global, so the day's sequence is shared by all services; `service` is
        accepted for the callers' symmetry. Two processes may compute the same id:
        `create_rollout` then raises ConflictError for the second and it asks again."""
        del service
        prefix = f"R-{now.astimezone(UTC):%Y%m%d}-"
        with self._session() as session:
            ids = session.scalars(select(RolloutRow.id).where(RolloutRow.id.like(f"{prefix}%")))
            taken = [int(tail) for i in ids if (tail := i[len(prefix) :]).isdigit()]
        return f"{prefix}{max(taken, default=0) + 1:03d}"

    # -- timeline ----------------------------------------------------------------------

    def events(self, rollout_id: str) -> list[Event]:
        """The rollout's timeline in append order."""
        query = select(EventRow).where(EventRow.rollout_id == rollout_id).order_by(EventRow.id)
        with self._session() as session:
            return [records.event_from(row) for row in session.scalars(query)]

    def append_event(self, *, rollout_id: str | None, service: str, event: Event) -> None:
        with self._session(write=True) as session:
            session.add(records.event_row(event, rollout_id=rollout_id, service=service))

    def measurements(self, rollout_id: str) -> list[tuple[int, bool, Measurement]]:
        """`(step_index, in_rollback, measurement)` in recording order."""
        query = (
            select(MeasurementRow)
            .where(MeasurementRow.rollout_id == rollout_id)
            .order_by(MeasurementRow.id)
        )
        with self._session() as session:
            return [records.measurement_from(row) for row in session.scalars(query)]

    def smoke_results(self, rollout_id: str) -> list[tuple[int, SmokeResult]]:
        """`(step_index, result)` in recording order."""
        query = (
            select(SmokeResultRow)
            .where(SmokeResultRow.rollout_id == rollout_id)
            .order_by(SmokeResultRow.id)
        )
        with self._session() as session:
            return [records.smoke_from(row) for row in session.scalars(query)]

    # -- commands ----------------------------------------------------------------------

    def enqueue_command(self, command: Command) -> int:
        """Queue a manual control for the rollout's controller; returns its id."""
        with self._session(write=True) as session:
            row = records.command_row(command)
            session.add(row)
            session.flush()
            return row.id

    def pending_commands(self, rollout_id: str) -> list[Command]:
        """Commands not completed yet, oldest first."""
        query = (
            select(CommandRow)
            .where(CommandRow.rollout_id == rollout_id, CommandRow.done_at.is_(None))
            .order_by(CommandRow.id)
        )
        with self._session() as session:
            return [records.command_from(row) for row in session.scalars(query)]

    def commands(self, rollout_id: str) -> list[CommandRecord]:
        """Every command of the rollout with its outcome, oldest first."""
        query = (
            select(CommandRow).where(CommandRow.rollout_id == rollout_id).order_by(CommandRow.id)
        )
        with self._session() as session:
            return [
                CommandRecord(records.command_from(row), row.done_at, row.result)
                for row in session.scalars(query)
            ]

    def complete_command(self, command_id: int, *, at: datetime, result: str) -> None:
        """Mark a command done. The first completion wins; NotFoundError if unknown."""
        with self._session(write=True) as session:
            done = session.execute(
                update(CommandRow)
                .where(CommandRow.id == command_id, CommandRow.done_at.is_(None))
                .values(done_at=at, result=result)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(done) == 0 and session.get(CommandRow, command_id) is None:
                raise NotFoundError(f"no command {command_id}")

    # -- leases ------------------------------------------------------------------------

    def acquire_lease(self, name: str, *, holder: str, ttl: float, now: datetime) -> bool:
        """Take the lease if it is free, expired, or already ours (then extend it)."""
        expires = now + timedelta(seconds=ttl)
        with self._session(write=True) as session:
            taken = session.execute(
                update(LeaseRow)
                .where(
                    LeaseRow.name == name,
                    or_(LeaseRow.expires_at < now, LeaseRow.holder == holder),
                )
                .values(
                    holder=holder,
                    acquired_at=case(
                        (LeaseRow.holder == holder, LeaseRow.acquired_at),
                        else_=literal(now, UTCDateTime()),
                    ),
                    expires_at=expires,
                )
                .execution_options(synchronize_session=False)
            )
            if _rowcount(taken) == 1:
                return True
            return self._insert_lease(session, name, holder=holder, now=now, expires=expires)

    def renew_lease(self, name: str, *, holder: str, ttl: float, now: datetime) -> bool:
        """Extend our lease to `now + ttl`. False when someone else holds it (or nobody):
        the caller has lost the right to act and must stop."""
        with self._session(write=True) as session:
            renewed = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == holder)
                .values(expires_at=now + timedelta(seconds=ttl))
                .execution_options(synchronize_session=False)
            )
            return _rowcount(renewed) == 1

    def release_lease(self, name: str, *, holder: str) -> None:
        """Give the lease up; a no-op when `holder` does not hold it."""
        with self._session(write=True) as session:
            row = session.get(LeaseRow, name)
            if row is not None and row.holder == holder:
                session.delete(row)

    def lease(self, name: str) -> Lease | None:
        with self._session() as session:
            row = session.get(LeaseRow, name)
            return None if row is None else records.lease_from(row)

    def steal_lease(
        self, name: str, *, holder: str, ttl: float, now: datetime, expected_holder: str
    ) -> bool:
        """Take the lease from `expected_holder` (known dead) even before it expires.
        False when the lease moved to anyone else meanwhile."""
        expires = now + timedelta(seconds=ttl)
        with self._session(write=True) as session:
            stolen = session.execute(
                update(LeaseRow)
                .where(LeaseRow.name == name, LeaseRow.holder == expected_holder)
                .values(holder=holder, acquired_at=now, expires_at=expires)
                .execution_options(synchronize_session=False)
            )
            if _rowcount(stolen) == 1:
                return True
            return self._insert_lease(session, name, holder=holder, now=now, expires=expires)

    @staticmethod
    def _insert_lease(
        session: Session, name: str, *, holder: str, now: datetime, expires: datetime
    ) -> bool:
        """Create the lease row; False if it exists (someone holds it)."""
        try:
            with session.begin_nested():
                session.execute(
                    insert(LeaseRow).values(
                        name=name, holder=holder, acquired_at=now, expires_at=expires
                    )
                )
        except IntegrityError:
            return False
        return True

    # -- releases ----------------------------------------------------------------------

    def set_stable(
        self, *, service: str, version: str, rollout_id: str | None, at: datetime
    ) -> None:
        """Record that `version` became the stable version of `service` at `at`."""
        with self._session(write=True) as session:
            session.add(ReleaseRow(service=service, version=version, rollout_id=rollout_id, at=at))

    def stable_version(self, service: str) -> str | None:
        history = self.release_history(service, limit=1)
        return history[0].version if history else None

    def release_history(self, service: str, *, limit: int | None = None) -> list[Release]:
        """What became stable, newest first."""
        query = (
            select(ReleaseRow)
            .where(ReleaseRow.service == service)
            .order_by(ReleaseRow.at.desc(), ReleaseRow.id.desc())
            .limit(limit)
        )
        with self._session() as session:
            return [records.release_from(row) for row in session.scalars(query)]

    # -- gates, approvals, drills ------------------------------------------------------

    def save_gate(
        self,
        *,
        service: str,
        version: str,
        kind: str,
        decision: str,
        data: dict[str, Any],
        at: datetime,
        rollout_id: str | None = None,
    ) -> int:
        """Record a gate decision with its whole result (JSON-able) and return its id."""
        with self._session(write=True) as session:
            row = GateRow(
                service=service,
                version=version,
                kind=kind,
                decision=decision,
                data=data,
                at=at,
                rollout_id=rollout_id,
            )
            session.add(row)
            session.flush()
            return int(row.id)

    def link_gates(self, gate_ids: Sequence[int], rollout_id: str) -> None:
        if not gate_ids:
            return
        with self._session(write=True) as session:
            session.execute(
                update(GateRow).where(GateRow.id.in_(list(gate_ids))).values(rollout_id=rollout_id)
            )

    def gates(
        self,
        *,
        service: str | None = None,
        version: str | None = None,
        kind: str | None = None,
        rollout_id: str | None = None,
    ) -> list[GateRecord]:
        """Gate records, oldest first, filtered by what is given."""
        query = select(GateRow).order_by(GateRow.at, GateRow.id)
        if service is not None:
            query = query.where(GateRow.service == service)
        if version is not None:
            query = query.where(GateRow.version == version)
        if kind is not None:
            query = query.where(GateRow.kind == kind)
        if rollout_id is not None:
            query = query.where(GateRow.rollout_id == rollout_id)
        with self._session() as session:
            return [records.gate_from(row) for row in session.scalars(query)]

    def latest_gate(self, *, service: str, version: str, kind: str) -> GateRecord | None:
        found = self.gates(service=service, version=version, kind=kind)
        return found[-1] if found else None

    def add_approval(self, approval: Approval) -> None:
        with self._session(write=True) as session:
            session.add(
                ApprovalRow(
                    service=approval.service,
                    version=approval.version,
                    role=approval.role,
                    by=approval.by,
                    at=approval.at,
                    comment=approval.comment,
                )
            )

    def approvals(self, service: str, version: str | None = None) -> list[Approval]:
        query = select(ApprovalRow).where(ApprovalRow.service == service)
        if version is not None:
            query = query.where(ApprovalRow.version == version)
        with self._session() as session:
            return [
                Approval(
                    service=row.service,
                    version=row.version,
                    role=row.role,
                    by=row.by,
                    at=row.at,
                    comment=row.comment,
                )
                for row in session.scalars(query.order_by(ApprovalRow.at, ApprovalRow.id))
            ]

    def add_drill(self, drill: Drill) -> None:
        with self._session(write=True) as session:
            session.add(
                DrillRow(
                    service=drill.service,
                    environment=drill.environment,
                    from_version=drill.from_version,
                    to_version=drill.to_version,
                    at=drill.at,
                    ok=drill.ok,
                    duration=drill.duration,
                    detail=drill.detail,
                )
            )

    def last_drill(self, service: str) -> Drill | None:
        query = (
            select(DrillRow)
            .where(DrillRow.service == service)
            .order_by(DrillRow.at.desc(), DrillRow.id.desc())
            .limit(1)
        )
        with self._session() as session:
            row = session.scalars(query).first()
            if row is None:
                return None
            return Drill(
                service=row.service,
                environment=row.environment,
                from_version=row.from_version,
                to_version=row.to_version,
                at=row.at,
                ok=row.ok,
                duration=row.duration,
                detail=row.detail,
            )

    # -- incidents (the narrow view the deploy gates read) -----------------------------

    def record_incident(
        self,
        incident: IncidentRef,
        *,
        detected_at: datetime,
        resolved_at: datetime | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        """Insert or update an incident's index row."""
        with self._session(write=True) as session:
            row = session.get(IncidentRow, incident.id, with_for_update=True)
            if row is None:
                row = IncidentRow(id=incident.id, data={})
                session.add(row)
            row.service = incident.service
            row.priority = incident.priority
            row.status = incident.status
            row.title = incident.title
            row.detected_at = detected_at
            row.resolved_at = resolved_at
            row.data = data or row.data or {}

    def active_incidents(self, service: str | None = None) -> list[IncidentRef]:
        """Incidents not RESOLVED or CLOSED (of one service, or all), highest priority first."""
        query = select(IncidentRow).where(IncidentRow.status.not_in(("RESOLVED", "CLOSED")))
        if service is not None:
            query = query.where(IncidentRow.service == service)
        with self._session() as session:
            rows = session.scalars(query.order_by(IncidentRow.priority, IncidentRow.detected_at))
            return [
                IncidentRef(
                    id=row.id,
                    priority=row.priority,
                    status=row.status,
                    title=row.title,
                    service=row.service,
                )
                for row in rows
            ]

    # -- incidents (the whole record as JSON, indexed by service, priority, status) ------

    def next_incident_id(self, day: datetime) -> str:
        """INC-{YYYY-MM-DD}-{NNN}: the next free per-day sequence number."""
        prefix = f"INC-{day:%Y-%m-%d}-"
        with self._session() as session:
            ids = session.scalars(select(IncidentRow.id).where(IncidentRow.id.like(f"{prefix}%")))
            used = [int(i.rsplit("-", 1)[1]) for i in ids if i.rsplit("-", 1)[1].isdigit()]
        return f"{prefix}{max(used, default=0) + 1:03d}"

    def save_incident(
        self,
        *,
        id: str,
        service: str,
        priority: str,
        status: str,
        title: str,
        detected_at: datetime,
        resolved_at: datetime | None,
        data: dict[str, Any],
        expect_version: int | None = None,
    ) -> None:
        """Insert or replace an incident. With `expect_version`, refuse (ConflictError)
        when the stored record's data["version"] differs: two writers never interleave."""
        with self._session(write=True) as session:
            row = session.get(IncidentRow, id, with_for_update=True)
            if row is None:
                row = IncidentRow(id=id)
                session.add(row)
            elif expect_version is not None and row.data.get("version") != expect_version:
                raise ConflictError(f"incident {id} changed meanwhile; try again")
            row.service = service
            row.priority = priority
            row.status = status
            row.title = title
            row.detected_at = detected_at
            row.resolved_at = resolved_at
            row.data = data

    def incident(self, incident_id: str) -> dict[str, Any]:
        with self._session() as session:
            row = session.get(IncidentRow, incident_id)
            if row is None:
                raise NotFoundError(f"no incident {incident_id}")
            return dict(row.data)

    def incidents(
        self,
        *,
        service: str | None = None,
        open_only: bool = False,
        since: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Incident records, oldest first."""
        query = select(IncidentRow).order_by(IncidentRow.detected_at, IncidentRow.id)
        if service is not None:
            query = query.where(IncidentRow.service == service)
        if open_only:
            query = query.where(IncidentRow.status.not_in(("RESOLVED", "CLOSED")))
        if since is not None:
            query = query.where(IncidentRow.detected_at >= since)
        with self._session() as session:
            return [dict(row.data) for row in session.scalars(query) if row.data]

    # -- alert deduplication keys ------------------------------------------------------

    def alert_key(self, source: str, key: str) -> tuple[str, str] | None:
        """(incident id, state) for an external alert key, or None."""
        with self._session() as session:
            row = session.get(AlertKeyRow, (source, key))
            return None if row is None else (row.incident_id, row.state)

    def set_alert_key(
        self, source: str, key: str, *, incident_id: str, state: str, at: datetime
    ) -> None:
        with self._session(write=True) as session:
            row = session.get(AlertKeyRow, (source, key), with_for_update=True)
            if row is None:
                session.add(
                    AlertKeyRow(
                        source=source, key=key, incident_id=incident_id, state=state, updated_at=at
                    )
                )
            else:
                row.incident_id, row.state, row.updated_at = incident_id, state, at

    # -- the notification outbox -------------------------------------------------------

    def enqueue_delivery(
        self,
        *,
        incident_id: str,
        channel: str,
        kind: str,
        message: dict[str, Any],
        at: datetime,
    ) -> int:
        with self._session(write=True) as session:
            row = DeliveryRow(
                incident_id=incident_id,
                channel=channel,
                kind=kind,
                message=message,
                status="pending",
                attempts=0,
                created_at=at,
                next_attempt_at=at,
                delivered_at=None,
                last_result="",
            )
            session.add(row)
            session.flush()
            return int(row.id)

    def due_deliveries(self, now: datetime, *, limit: int = 100) -> list[dict[str, Any]]:
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.status == "pending", DeliveryRow.next_attempt_at <= now)
            .order_by(DeliveryRow.next_attempt_at, DeliveryRow.id)
            .limit(limit)
        )
        with self._session() as session:
            return [_delivery(row) for row in session.scalars(query)]

    def deliveries(self, incident_id: str) -> list[dict[str, Any]]:
        query = (
            select(DeliveryRow)
            .where(DeliveryRow.incident_id == incident_id)
            .order_by(DeliveryRow.id)
        )
        with self._session() as session:
            return [_delivery(row) for row in session.scalars(query)]

    def record_attempt(
        self,
        delivery_id: int,
        *,
        ok: bool,
        result: str,
        at: datetime,
        retry_at: datetime | None,
    ) -> None:
        """After one attempt: sent, or pending again at `retry_at` (never dropped)."""
        with self._session(write=True) as session:
            row = session.get(DeliveryRow, delivery_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no delivery {delivery_id}")
            row.attempts += 1
            row.last_result = result
            if ok:
                row.status, row.delivered_at, row.next_attempt_at = "sent", at, None
            else:
                row.next_attempt_at = retry_at

    # -- the regression register -------------------------------------------------------

    def next_regression_id(self, day: datetime) -> str:
        prefix = f"REG-{day:%Y-%m-%d}-"
        with self._session() as session:
            ids = session.scalars(
                select(RegressionRow.id).where(RegressionRow.id.like(f"{prefix}%"))
            )
            used = [int(i.rsplit("-", 1)[1]) for i in ids if i.rsplit("-", 1)[1].isdigit()]
        return f"{prefix}{max(used, default=0) + 1:03d}"

    def save_regression(
        self,
        *,
        id: str,
        incident_id: str | None,
        status: str,
        detected_at: datetime,
        data: dict[str, Any],
    ) -> None:
        with self._session(write=True) as session:
            row = session.get(RegressionRow, id, with_for_update=True)
            if row is None:
                row = RegressionRow(id=id)
                session.add(row)
            row.incident_id, row.status, row.detected_at, row.data = (
                incident_id,
                status,
                detected_at,
                data,
            )

    def regressions(self, *, since: datetime | None = None) -> list[dict[str, Any]]:
        query = select(RegressionRow).order_by(RegressionRow.detected_at, RegressionRow.id)
        if since is not None:
            query = query.where(RegressionRow.detected_at >= since)
        with self._session() as session:
            return [dict(row.data) for row in session.scalars(query)]

    # -- SLOs ----------------------------------------------------------------------------

    def replace_slo_definitions(
        self, definitions: Sequence[dict[str, Any]], *, source: str, at: datetime
    ) -> None:
        """Store imported SLOs (each {"name", "service", ...}) in one transaction: all of
        them or none. An SLO of the same name is replaced."""
        with self._session(write=True) as session:
            for d in definitions:
                row = session.get(SloDefinitionRow, d["name"])
                if row is None:
                    row = SloDefinitionRow(name=d["name"])
                    session.add(row)
                row.service, row.source, row.imported_at, row.data = (
                    d["service"],
                    source,
                    at,
                    d,
                )

    def slo_definitions(self) -> list[dict[str, Any]]:
        with self._session() as session:
            rows = session.scalars(select(SloDefinitionRow).order_by(SloDefinitionRow.name))
            return [dict(row.data) for row in rows]

    def add_slo_buckets(self, slo: str, buckets: Sequence[tuple[Any, ...]]) -> int:
        """Insert (start, end, good, total, value) buckets; one already stored for the same
        start is kept (measuring twice never counts twice). Returns how many were new."""
        if not buckets:
            return 0
        with self._session(write=True) as session:
            starts = [b[0] for b in buckets]
            have = set(
                session.scalars(
                    select(SloBucketRow.start).where(
                        SloBucketRow.slo == slo,
                        SloBucketRow.start >= min(starts),
                        SloBucketRow.start <= max(starts),
                    )
                )
            )
            new = [
                {"slo": slo, "start": b[0], "end": b[1], "good": b[2], "total": b[3], "value": b[4]}
                for b in buckets
                if b[0] not in have
            ]
            return _insert_new(session, SloBucketRow, new)

    def last_slo_bucket_end(self, slo: str) -> datetime | None:
        with self._session() as session:
            row = session.scalars(
                select(SloBucketRow.end)
                .where(SloBucketRow.slo == slo)
                .order_by(SloBucketRow.start.desc())
                .limit(1)
            ).first()
            return row

    def slo_window_sums(
        self, slo: str, since: Sequence[datetime], until: datetime
    ) -> list[tuple[float, float]]:
        """(good, total) summed over the buckets starting in [s, until) for each s in
        `since`, in one query."""
        if not since:
            return []
        columns = []
        for i, s in enumerate(since):
            inside = SloBucketRow.start >= s
            columns.append(func.sum(case((inside, SloBucketRow.good), else_=0.0)).label(f"g{i}"))
            columns.append(func.sum(case((inside, SloBucketRow.total), else_=0.0)).label(f"t{i}"))
        query = select(*columns).where(
            SloBucketRow.slo == slo,
            SloBucketRow.start >= min(since),
            SloBucketRow.start < until,
        )
        with self._session() as session:
            row = session.execute(query).one()
        return [(float(row[2 * i] or 0.0), float(row[2 * i + 1] or 0.0)) for i in range(len(since))]

    def slo_buckets(self, slo: str, since: datetime, until: datetime) -> list[dict[str, Any]]:
        query = (
            select(SloBucketRow)
            .where(SloBucketRow.slo == slo, SloBucketRow.start >= since, SloBucketRow.start < until)
            .order_by(SloBucketRow.start)
        )
        with self._session() as session:
            return [
                {
                    "start": r.start,
                    "end": r.end,
                    "good": r.good,
                    "total": r.total,
                    "value": r.value,
                }
                for r in session.scalars(query)
            ]

    def save_slo_snapshot(
        self, slo: str, at: datetime, met: bool | None, data: dict[str, Any]
    ) -> bool:
        """Record the snapshot at `at` unless one is there already; True when new."""
        with self._session(write=True) as session:
            row = {"slo": slo, "at": at, "met": met, "data": data}
            return _insert_new(session, SloSnapshotRow, [row]) == 1

    def last_slo_snapshot(self, slo: str) -> datetime | None:
        with self._session() as session:
            return session.scalars(
                select(SloSnapshotRow.at)
                .where(SloSnapshotRow.slo == slo)
                .order_by(SloSnapshotRow.at.desc())
                .limit(1)
            ).first()

    def slo_snapshots(
        self, slo: str, *, since: datetime | None = None, until: datetime | None = None
    ) -> list[dict[str, Any]]:
        query = select(SloSnapshotRow).where(SloSnapshotRow.slo == slo)
        if since is not None:
            query = query.where(SloSnapshotRow.at > since)
        if until is not None:
            query = query.where(SloSnapshotRow.at <= until)
        with self._session() as session:
            return [
                {"at": r.at, "met": r.met, **r.data}
                for r in session.scalars(query.order_by(SloSnapshotRow.at))
            ]

    def open_slo_alert(self, slo: str) -> dict[str, Any] | None:
        with self._session() as session:
            row = session.scalars(
                select(SloAlertRow)
                .where(SloAlertRow.slo == slo, SloAlertRow.ended_at.is_(None))
                .order_by(SloAlertRow.id.desc())
                .limit(1)
            ).first()
            return None if row is None else _slo_alert(row)

    def start_slo_alert(self, slo: str, severity: str, at: datetime, data: dict[str, Any]) -> int:
        with self._session(write=True) as session:
            row = SloAlertRow(
                slo=slo,
                severity=severity,
                started_at=at,
                ended_at=None,
                incident_id=None,
                data=data,
            )
            session.add(row)
            session.flush()
            return int(row.id)

    def update_slo_alert(
        self,
        alert_id: int,
        *,
        severity: str | None = None,
        ended_at: datetime | None = None,
        incident_id: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> None:
        with self._session(write=True) as session:
            row = session.get(SloAlertRow, alert_id, with_for_update=True)
            if row is None:
                raise NotFoundError(f"no SLO alert {alert_id}")
            if severity is not None:
                row.severity = severity
            if ended_at is not None:
                row.ended_at = ended_at
            if incident_id is not None:
                row.incident_id = incident_id
            if data is not None:
                row.data = data

    def slo_alerts(self, *, since: datetime | None = None) -> list[dict[str, Any]]:
        query = select(SloAlertRow).order_by(SloAlertRow.started_at, SloAlertRow.id)
        if since is not None:
            query = query.where(or_(SloAlertRow.ended_at.is_(None), SloAlertRow.ended_at >= since))
        with self._session() as session:
            return [_slo_alert(r) for r in session.scalars(query)]

    # -- hypercare -----------------------------------------------------------------------

    def save_hypercare(
        self,
        *,
        id: str,
        service: str,
        version: str,
        status: str,
        start: datetime,
        data: dict[str, Any],
        expect_revision: int | None = None,
    ) -> None:
        """Insert or replace a period; with `expect_revision`, refuse (ConflictError) when
        the stored data["revision"] differs."""
        with self._session(write=True) as session:
            row = session.get(HypercareRow, id, with_for_update=True)
            if row is None:
                row = HypercareRow(id=id)
                session.add(row)
            elif expect_revision is not None and row.data.get("revision") != expect_revision:
                raise ConflictError(f"hypercare period {id} changed meanwhile; try again")
            row.service, row.version, row.status, row.start, row.data = (
                service,
                version,
                status,
                start,
                data,
            )

    def hypercare(self, period_id: str) -> dict[str, Any]:
        with self._session() as session:
            row = session.get(HypercareRow, period_id)
            if row is None:
                raise NotFoundError(f"no hypercare period {period_id}")
            return dict(row.data)

    def hypercare_periods(
        self, *, service: str | None = None, active_only: bool = False
    ) -> list[dict[str, Any]]:
        query = select(HypercareRow).order_by(HypercareRow.start, HypercareRow.id)
        if service is not None:
            query = query.where(HypercareRow.service == service)
        if active_only:
            query = query.where(HypercareRow.status == "active")
        with self._session() as session:
            return [dict(r.data) for r in session.scalars(query)]

    def save_hypercare_day(
        self, period_id: str, day: int, date: str, at: datetime, data: dict[str, Any]
    ) -> bool:
        """Record a day's cycle once; False (and nothing changed) if it is there already."""
        with self._session(write=True) as session:
            row = {"period_id": period_id, "day": day, "date": date, "written_at": at, "data": data}
            return _insert_new(session, HypercareDayRow, [row]) == 1

    def hypercare_days(self, period_id: str) -> list[dict[str, Any]]:
        query = (
            select(HypercareDayRow)
            .where(HypercareDayRow.period_id == period_id)
            .order_by(HypercareDayRow.day)
        )
        with self._session() as session:
            return [
                {"day": r.day, "date": r.date, "written_at": r.written_at, **r.data}
                for r in session.scalars(query)
            ]

    # -- feedback ------------------------------------------------------------------------

    def save_feedback(self, service: str, items: Sequence[dict[str, Any]]) -> tuple[int, int]:
        """Store imported tickets and feedback (each with "id" and "created") in one
        transaction; an item already stored under the same id is replaced.
        Returns (new, replaced)."""
        new = replaced = 0
        with self._session(write=True) as session:
            for item in items:
                row = session.get(FeedbackRow, (service, item["id"]))
                if row is None:
                    session.add(
                        FeedbackRow(
                            service=service,
                            id=item["id"],
                            created=datetime.fromisoformat(item["created"]),
                            data=item,
                        )
                    )
                    new += 1
                else:
                    row.created = datetime.fromisoformat(item["created"])
                    row.data = item
                    replaced += 1
        return new, replaced

    def feedback(self, service: str, *, until: datetime | None = None) -> list[dict[str, Any]]:
        query = select(FeedbackRow).where(FeedbackRow.service == service)
        if until is not None:
            query = query.where(FeedbackRow.created < until)
        with self._session() as session:
            return [dict(r.data) for r in session.scalars(query.order_by(FeedbackRow.created))]


def _slo_alert(row: SloAlertRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "slo": row.slo,
        "severity": row.severity,
        "started_at": row.started_at,
        "ended_at": row.ended_at,
        "incident_id": row.incident_id,
        **row.data,
    }


def _delivery(row: DeliveryRow) -> dict[str, Any]:
    return {
        "id": row.id,
        "incident_id": row.incident_id,
        "channel": row.channel,
        "kind": row.kind,
        "message": dict(row.message),
        "status": row.status,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "next_attempt_at": row.next_attempt_at,
        "delivered_at": row.delivered_at,
        "last_result": row.last_result,
    }
