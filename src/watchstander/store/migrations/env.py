"""Alembic environment of the store.

`watchstander.store.database.migrate` runs this with the store's own connection in
`config.attributes["connection"]`, so the SQLite pragmas and the write lock apply. Run by
hand (`alembic -c <ini>`), it connects to `sqlalchemy.url` instead.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, create_engine

from watchstander.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


def _main() -> None:
    if context.is_offline_mode():
        context.configure(
            url=config.get_main_option("sqlalchemy.url"),
            target_metadata=target_metadata,
            literal_binds=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    try:
        with engine.begin() as own:
            _run(own)
    finally:
        engine.dispose()


_main()
