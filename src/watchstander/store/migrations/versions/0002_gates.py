"""Gates, approvals, rollback drills and the incident index read by the readiness gate.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

A frozen copy of the schema: it does not import `tables.py`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "gates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("decision", sa.String(32), nullable=False),
        sa.Column(
            "rollout_id",
            sa.String(64),
            sa.ForeignKey("rollouts.id", name="fk_gates_rollout_id_rollouts"),
            nullable=True,
        ),
        _at("at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_gates"),
    )
    op.create_index("ix_gates_rollout_id", "gates", ["rollout_id"])
    op.create_index("ix_gates_service_version_kind", "gates", ["service", "version", "kind"])

    op.create_table(
        "approvals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("by", sa.String(200), nullable=False),
        _at("at"),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_approvals"),
    )
    op.create_index("ix_approvals_service_version", "approvals", ["service", "version"])

    op.create_table(
        "drills",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("environment", sa.String(64), nullable=False),
        sa.Column("from_version", sa.String(200), nullable=False),
        sa.Column("to_version", sa.String(200), nullable=False),
        _at("at"),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("duration", sa.Float(), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_drills"),
    )
    op.create_index("ix_drills_service", "drills", ["service"])

    op.create_table(
        "incidents",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("priority", sa.String(8), nullable=False),
        sa.Column("status", sa.String(32), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        _at("detected_at"),
        _at("resolved_at", nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_incidents"),
    )
    op.create_index("ix_incidents_service", "incidents", ["service"])


def downgrade() -> None:
    for table in ("incidents", "drills", "approvals", "gates"):
        op.drop_table(table)
