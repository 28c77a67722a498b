"""Alembic environment: the URL comes from settings (or the caller's connection)."""

from __future__ import annotations

from alembic import context
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
    return get_settings().database_url.get_secret_value()


def run_offline() -> None:
    """Emit SQL without a database (alembic upgrade --sql)."""
    _configure(url=config.get_main_option("sqlalchemy.url") or _settings_url())
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    """Migrate over a live connection (the caller's, when one is handed in)."""
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection=connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or _settings_url()
    engine = make_engine(url)
    with engine.connect() as conn:
        _configure(connection=conn)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
