"""The inbox migration goes down and up again on SQLite, keeping the data around it."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from models.db import migrate
from settings import PROJECT_DIR


def test_inbox_table_comes_and_goes_with_its_migration(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    engine = sa.create_engine(url)
    assert "inbox_message" in sa.inspect(engine).get_table_names()
    command.downgrade(config, "0021")
    assert "inbox_message" not in sa.inspect(sa.create_engine(url)).get_table_names()
    command.upgrade(config, "head")
    indexes = {i["name"] for i in sa.inspect(sa.create_engine(url)).get_indexes("inbox_message")}
    assert {"ix_inbox_unread", "ix_inbox_user_id", "ix_inbox_user_kind"} <= indexes
