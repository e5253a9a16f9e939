"""Incident response: the notification outbox, alert deduplication keys, the regression
register.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21

A frozen copy of the schema: it does not import `tables.py`.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None


def _at(name: str, *, nullable: bool = False) -> sa.Column[datetime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _incident_fk(table: str, *, nullable: bool = False) -> sa.Column[str]:
    fk = sa.ForeignKey("incidents.id", name=f"fk_{table}_incident_id_incidents")
    return sa.Column("incident_id", sa.String(64), fk, nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        _incident_fk("deliveries"),
        sa.Column("channel", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("message", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _at("created_at"),
        _at("next_attempt_at", nullable=True),
        _at("delivered_at", nullable=True),
        sa.Column("last_result", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_deliveries"),
    )
    op.create_index("ix_deliveries_incident_id", "deliveries", ["incident_id"])
    op.create_index("ix_deliveries_status_next", "deliveries", ["status", "next_attempt_at"])

    op.create_table(
        "alert_keys",
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("key", sa.String(512), nullable=False),
        _incident_fk("alert_keys"),
        sa.Column("state", sa.String(16), nullable=False),
        _at("updated_at"),
        sa.PrimaryKeyConstraint("source", "key", name="pk_alert_keys"),
    )

    op.create_table(
        "regressions",
        sa.Column("id", sa.String(64), nullable=False),
        _incident_fk("regressions", nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        _at("detected_at"),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_regressions"),
    )


def downgrade() -> None:
    for table in ("regressions", "alert_keys", "deliveries"):
        op.drop_table(table)
