"""SLOs and hypercare: imported SLO definitions, SLI buckets, hourly snapshots, burn-rate
alert episodes, hypercare periods and days, imported feedback.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

A frozen copy of the schema: it does not import `tables.py`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "slo_definitions",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        _at("imported_at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_slo_definitions"),
    )
    op.create_table(
        "slo_buckets",
        sa.Column("slo", sa.String(200), nullable=False),
        _at("start"),
        _at("end"),
        sa.Column("good", sa.Float(), nullable=False),
        sa.Column("total", sa.Float(), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("slo", "start", name="pk_slo_buckets"),
    )
    op.create_table(
        "slo_snapshots",
        sa.Column("slo", sa.String(200), nullable=False),
        _at("at"),
        sa.Column("met", sa.Boolean(), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("slo", "at", name="pk_slo_snapshots"),
    )
    op.create_table(
        "slo_alerts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("slo", sa.String(200), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        _at("started_at"),
        _at("ended_at", nullable=True),
        sa.Column("incident_id", sa.String(64), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_slo_alerts"),
    )
    op.create_index("ix_slo_alerts_slo", "slo_alerts", ["slo"])
    op.create_table(
        "hypercare_periods",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("version", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        _at("start"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_hypercare_periods"),
    )
    op.create_index("ix_hypercare_periods_service", "hypercare_periods", ["service"])
    op.create_table(
        "hypercare_days",
        sa.Column(
            "period_id",
            sa.String(64),
            sa.ForeignKey(
                "hypercare_periods.id", name="fk_hypercare_days_period_id_hypercare_periods"
            ),
            nullable=False,
        ),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("date", sa.String(10), nullable=False),
        _at("written_at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("period_id", "day", name="pk_hypercare_days"),
    )
    op.create_table(
        "feedback",
        sa.Column("service", sa.String(200), nullable=False),
        sa.Column("id", sa.String(200), nullable=False),
        _at("created"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("service", "id", name="pk_feedback"),
    )


def downgrade() -> None:
    for table in (
        "feedback",
        "hypercare_days",
        "hypercare_periods",
        "slo_alerts",
        "slo_snapshots",
        "slo_buckets",
        "slo_definitions",
    ):
        op.drop_table(table)
