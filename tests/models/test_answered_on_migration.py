"""The answered_on migration keeps what was recorded: an existing answer's day given is the
Shanghai day it was typed in, its operator the one on the answer's audit line (issue 25)."""

from __future__ import annotations

import importlib.util
from datetime import date
from types import ModuleType

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import FeedbackItem
from settings import PROJECT_DIR
from tests.conftest import Walker, local


def _migration() -> ModuleType:
    (path,) = (PROJECT_DIR / "migrations" / "versions").glob("*_answered_on.py")
    spec = importlib.util.spec_from_file_location("m_answered_on", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_upgrade_gives_existing_answers_their_day_and_operator(
    engine: Engine, walker: Walker, clock
) -> None:
    event, _ = walker.held_event()
    r = walker.move(
        event["id"], "collect_feedback", data={"items": [{"content": "甲"}, {"content": "乙"}]}
    )
    assert r.status_code == 200, r.text
    with Session(engine) as s:
        first, second = s.exec(select(FeedbackItem).order_by(FeedbackItem.id)).all()
    # 2022-10-10 00:30 in Shanghai is still 10-09 in UTC: the day is Shanghai's.
    clock.set(local(2022, 10, 10, 0, 30))
    r = walker.client.post(
        f"/api/v1/feedback/{first.id}/transitions",
        json={"trigger": "answer", "expected_version": first.version, "data": {"answer": "好"}},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    with Session(engine) as s:  # as a database made before the migration had it
        item = s.get(FeedbackItem, first.id)
        assert item is not None
        item.answered_on = item.answered_by = None
        s.add(item)
        s.commit()
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        _migration()._backfill()
    with Session(engine) as s:
        done = s.get(FeedbackItem, first.id)
        open_ = s.get(FeedbackItem, second.id)
        assert done is not None and open_ is not None
        assert done.answered_on == date(2022, 10, 10) and done.answered_by == "housing"
        assert done.added_late is False
        assert open_.answered_on is None and open_.answered_by is None


def test_the_migration_goes_down_and_up_again(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """On SQLite (batch mode): the three columns go with the downgrade and come back."""
    import sqlalchemy as sa
    from alembic import command
    from alembic.config import Config

    from models.db import migrate

    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate(url)
    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url)
    module = _migration()

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(sa.create_engine(url)).get_columns("feedback_item")}

    assert {"answered_on", "answered_by", "added_late"} <= columns()
    command.downgrade(config, module.down_revision)
    assert not {"answered_on", "answered_by", "added_late"} & columns()
    command.upgrade(config, "head")
    assert {"answered_on", "answered_by", "added_late"} <= columns()
