"""Revision 0020 keeps what was recorded: a held event's day becomes its first and last day held,
its planned forms the forms held; an event not yet held is left alone (issue 25)."""

from __future__ import annotations

import importlib.util
from datetime import date

from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Session

from models import Event
from settings import PROJECT_DIR
from tests.conftest import Walker


def _migration() -> object:
    spec = importlib.util.spec_from_file_location(
        "m0020", PROJECT_DIR / "migrations" / "versions" / "0020_hold_record.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_upgrade_fills_the_last_day_and_forms_held_of_held_events(
    engine: Engine, walker: Walker
) -> None:
    held = walker.create_event()["id"]
    planned = walker.create_event(theme="另一个活动")["id"]
    with Session(engine) as session:
        event = session.get(Event, held)
        assert event is not None
        event.held_on, event.forms = date(2022, 9, 16), ["dialogue", "site_visit"]
        event.held_until = event.forms_held = None
        session.add(event)
        session.commit()
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        _migration()._backfill()  # type: ignore[attr-defined]
    with Session(engine) as session:
        event = session.get(Event, held)
        assert event is not None
        assert event.held_until == date(2022, 9, 16)
        assert event.forms_held == ["dialogue", "site_visit"]
        assert event.met_by is None
        other = session.get(Event, planned)
        assert other is not None and other.held_until is None and other.forms_held is None
