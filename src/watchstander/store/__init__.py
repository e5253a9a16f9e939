"""The state store: SQLAlchemy tables, the `Store` repository and Alembic migrations.

The single source of truth of watchstander (rollouts, timelines, measurements, smoke
results, commands, leases, releases). SQLite at `<workdir>/.watchstander/state.db` by
default, any SQLAlchemy URL otherwise; the schema only changes through the migrations
shipped in `migrations/`, applied by `Store.open`.
"""

from __future__ import annotations

from watchstander.store.records import CommandRecord, Lease, Release
from watchstander.store.repository import Store

__all__ = ["Store", "Lease", "Release", "CommandRecord"]
