"""The initial schema: rollouts, measurements, events, smoke results, commands, leases,
releases.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

A frozen copy of the schema: it does not import `tables.py`, so later edits to the models
cannot change what this revision creates.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _rollout_fk(table: str, *, nullable: bool = False) -> sa.Column[str]:
    fk = sa.ForeignKey("rollouts.id", name=f"fk_{table}_rollout_id_rollouts")
    return sa.Column("rollout_id", sa.String(64), fk, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "rollouts",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("stable_version", sa.String(200), nullable=True),
        sa.Column("strategy", sa.String(32), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        _at("created_at"),
        _at("updated_at"),
        _at("finished_at", nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_rollouts"),
    )
    op.create_index("ix_rollouts_service_created", "rollouts", ["service", "created_at"])

    op.create_table(
        "measurements",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _rollout_fk("measurements"),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("in_rollback", sa.Boolean(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("metric", sa.String(100), nullable=False),
        sa.Column("phase", sa.String(16), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("threshold", sa.Float(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("query", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_measurements"),
    )
    op.create_index("ix_measurements_rollout_id", "measurements", ["rollout_id"])

    op.create_table(
        "events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _rollout_fk("events", nullable=True),
        sa.Column("service", sa.String(200), nullable=False),
        _at("at"),
        sa.Column("kind", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_events"),
    )
    op.create_index("ix_events_rollout_id", "events", ["rollout_id"])
    op.create_index("ix_events_service", "events", ["service"])

    op.create_table(
        "smoke_results",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _rollout_fk("smoke_results"),
        sa.Column("step_index", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("version", sa.String(200), nullable=True),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        _at("at"),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("status", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_smoke_results"),
    )
    op.create_index("ix_smoke_results_rollout_id", "smoke_results", ["rollout_id"])

    op.create_table(
        "commands",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _rollout_fk("commands"),
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("args", sa.JSON(), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        _at("at"),
        _at("done_at", nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_commands"),
    )
    op.create_index("ix_commands_rollout_id", "commands", ["rollout_id"])

    op.create_table(
        "leases",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        _at("acquired_at"),
        _at("expires_at"),
        sa.PrimaryKeyConstraint("name", name="pk_leases"),
    )

    op.create_table(
        "releases",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        _rollout_fk("releases", nullable=True),
        _at("at"),
        sa.PrimaryKeyConstraint("id", name="pk_releases"),
    )
    op.create_index("ix_releases_service", "releases", ["service"])


def downgrade() -> None:
    for table in (
        "releases",
        "leases",
        "commands",
        "smoke_results",
        "events",
        "measurements",
        "rollouts",
    ):
        op.drop_table(table)
