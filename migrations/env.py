"""Alembic environment: the URL comes from settings (or the caller's connection)."""

from __future__ import annotations

from alembic import context
from sqlalchemy.engine import Connection
from sqlmodel import SQLModel

import models  # noqa: F401 - registers every table on SQLModel.metadata
from models.db import make_engine
from settings import get_settings

config = context.config
target_metadata = SQLModel.metadata


def _configure(**kwargs: object) -> None:
    context.configure(
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite can only ALTER through table rebuilds
        compare_type=True,
        **kwargs,  # type: ignore[arg-type]
    )


def _settings_url() -> str:
    return get_settings().migrate_url()


def _migration_scope(conn: Connection) -> None:
    """A migration changes rows of every district: on PostgreSQL it works under the named scope
    city:migrate (row-level security holds the tables' owner to its policies too, FORCEd), set
    for the migration's own transaction only."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("SELECT set_config('openday.scope', 'city:migrate', true)")


def run_offline() -> None:
    """Emit SQL without a database (alembic upgrade --sql)."""
    _configure(url=config.get_main_option("sqlalchemy.url") or _settings_url())
    with context.begin_transaction():
        context.run_migrations()


def _sqlite_foreign_keys(conn: Connection, on: bool) -> None:
    """SQLite rebuilds a table to alter it (batch mode: create, copy, DROP, rename); with
    foreign keys enforced, the DROP of a table other rows refer to fails (a database with data,
    e.g. feedback_item with its extension requests). SQLite's documented procedure: keys off for
    the migration (the pragma only takes effect outside a transaction), checked at its end."""
    if conn.dialect.name != "sqlite":
        return
    raw = conn.connection.dbapi_connection
    if raw is not None and not raw.in_transaction:
        raw.execute(f"PRAGMA foreign_keys={'ON' if on else 'OFF'}")


def _check_foreign_keys(conn: Connection) -> None:
    """Refuse to commit a migration that left a reference to a missing row (SQLite)."""
    if conn.dialect.name != "sqlite":
        return
    broken = conn.exec_driver_sql("PRAGMA foreign_key_check").all()
    if broken:
        raise RuntimeError(f"the migration left rows referring to missing rows: {broken[:5]}")


def _migrate(conn: Connection) -> None:
    _sqlite_foreign_keys(conn, on=False)
    try:
        _configure(connection=conn)
        with context.begin_transaction():
            _migration_scope(conn)
            context.run_migrations()
            _check_foreign_keys(conn)
    finally:
        _sqlite_foreign_keys(conn, on=True)


def run_online() -> None:
    """Migrate over a live connection (the caller's, when one is handed in)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    url = config.get_main_option("sqlalchemy.url") or _settings_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
