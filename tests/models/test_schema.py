"""The migrations produce exactly the models' schema, and the audit log is append-only."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from tests.conftest import Walker


def test_migrated_schema_matches_the_models(engine: Engine) -> None:
    """Alembic finds nothing to change between the migrated database and the SQLModel tables."""
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_transition_log_refuses_update_and_delete(walker: Walker, engine: Engine) -> None:
    """The database itself refuses to rewrite or remove an audit line."""
    walker.create_event()
    for statement in (
        "UPDATE transition_log SET reason = 'rewritten'",
        "DELETE FROM transition_log",
    ):
        with Session(engine) as session, pytest.raises(sa.exc.DatabaseError) as info:
            session.execute(sa.text(statement))
            session.commit()
        assert "append-only" in str(info.value)
    with Session(engine) as session:
        assert session.execute(sa.text("SELECT count(*) FROM transition_log")).scalar() == 1
