"""Engines and migrations: how the store reaches its database and brings it to head.

SQLite is the default and must serve two processes at once (a deploying CLI and a
`rollout pause` CLI): WAL mode lets readers run beside the writer, a busy timeout makes a
second writer wait instead of failing, and write transactions start with
`BEGIN IMMEDIATE` so they take the write lock up front and never fail half-way when
upgrading a read lock. pysqlite's own transaction handling is switched off for this
(the SQLAlchemy "serializable isolation / savepoints" recipe).

PostgreSQL (`postgresql+psycopg://...`) needs none of that: row locks and READ COMMITTED
make the store's compare-and-set UPDATEs safe between any number of processes. Its
connections get a connect timeout (a dead server is a one-line error, not a hang) and a
small pool each, since several controllers share one server.

The schema is only created through Alembic: `migrate` runs `alembic upgrade head` with a
Config built in code over the migrations shipped inside this package, and skips it when
the database is already at head.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event, make_url, text

from watchstander.errors import StoreError

__all__ = [
    "MIGRATIONS_DIR",
    "BUSY_TIMEOUT_MS",
    "WRITE",
    "default_url",
    "connect",
    "migrate",
    "head_revision",
    "current_revision",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
BUSY_TIMEOUT_MS = 15_000
CONNECT_TIMEOUT_S = 10
# Any constant: the PostgreSQL advisory lock that serialises migrations between processes.
_MIGRATION_LOCK = 0x77617463  # "watc"
# Execution options of a connection that will write: BEGIN IMMEDIATE on SQLite.
WRITE: dict[str, Any] = {"watchstander_begin": "IMMEDIATE"}


def default_url(workdir: Path) -> str:
    """`<workdir>/.watchstander/state.db`, creating the directory."""
    directory = workdir / ".watchstander"
    directory.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(directory / 'state.db').as_posix()}"


def connect(url: str | URL) -> Engine:
    """An engine for `url`; SQLite files get WAL, a busy timeout and foreign keys;
    PostgreSQL connections a connect timeout and the process's application name."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql":
        return create_engine(
            parsed,
            pool_pre_ping=True,
            pool_size=2,
            max_overflow=4,
            connect_args={
                "connect_timeout": CONNECT_TIMEOUT_S,
                "application_name": f"watchstander:{os.getpid()}",
            },
        )
    if parsed.get_backend_name() != "sqlite":
        return create_engine(parsed, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(parsed)
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    # We emit BEGIN ourselves (see _sqlite_begin); the driver must not.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    mode = connection.get_execution_options().get("watchstander_begin", "DEFERRED")
    connection.exec_driver_sql(f"BEGIN {mode}")


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine) -> bool:
    """Bring the schema to head; False when it already was (nothing run)."""
    config = _config()
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    current = current_revision(engine)
    if current == head:
        return False
    if current is not None and current not in {rev.revision for rev in script.walk_revisions()}:
        raise StoreError(
            f"the database schema is at revision {current}, newer than this watchstander "
            f"knows (head {head}): upgrade watchstander"
        )
    # Alembic re-reads the revision inside the write lock (SQLite) or the advisory lock
    # (PostgreSQL, held to the end of the transaction), so a second process that raced us
    # here finds the schema at head and does nothing.
    with engine.connect() as connection:
        connection.execution_options(**WRITE)
        with connection.begin():
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK}
                )
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    return True
