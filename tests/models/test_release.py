"""`models.db.release`, how every request's session ends: a transaction that wrote nothing ends
in COMMIT on PostgreSQL, so psycopg keeps the statements it prepared (it forgets them all at a
ROLLBACK); one that wrote, failed or left objects pending in the session is rolled back, on both
backends, and nothing pending is flushed by the release."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy import Engine, func
from sqlmodel import Session, select

from models import Unit, UnitKind
from models.db import make_engine, release

NOW = datetime(2022, 9, 1, tzinfo=UTC)
READ = select(Unit.id).where(Unit.name == "释放测试")


def _prepared_after_reads(url: str, end: str) -> int:
    """The statements the server holds prepared after eight read-only sessions on one pooled
    connection, each ended by `release` or by the plain rollback-and-close."""
    engine = make_engine(url, pool_size=1, max_overflow=0)
    try:
        for _ in range(8):
            session = Session(engine)
            session.exec(READ).all()
            if end == "release":
                release(session)
            else:
                session.rollback()
                session.close()
        with engine.connect() as connection:
            return int(
                connection.exec_driver_sql("SELECT count(*) FROM pg_prepared_statements").scalar()
                or 0
            )
    finally:
        engine.dispose()


def test_reads_keep_their_prepared_statements_on_postgresql(postgres_url: str) -> None:
    # The driver prepares a statement at its fifth use on a connection; a rollback drops them.
    assert _prepared_after_reads(postgres_url, "rollback") == 0
    assert _prepared_after_reads(postgres_url, "release") >= 1


def _units(engine: Engine) -> int:
    with Session(engine) as session:
        return int(
            session.exec(
                select(func.count()).select_from(Unit).where(Unit.name == "释放测试")
            ).one()
        )


def test_a_transaction_that_wrote_is_rolled_back(engine: Engine) -> None:
    session = Session(engine)
    session.add(Unit(name="释放测试", kind=UnitKind.department, created_at=NOW))
    session.flush()  # written to the database, not committed
    release(session)
    assert _units(engine) == 0


def test_objects_pending_in_the_session_are_not_flushed(engine: Engine) -> None:
    session = Session(engine)
    session.exec(READ).all()  # a transaction that has read
    session.add(Unit(name="释放测试", kind=UnitKind.department, created_at=NOW))
    release(session)
    assert _units(engine) == 0


def test_a_failed_transaction_is_released_and_its_connection_reused(engine: Engine) -> None:
    session = Session(engine)
    with pytest.raises(sa.exc.DBAPIError):
        session.execute(sa.text("SELECT * FROM no_such_table"))
    release(session)  # no error: rolled back
    again = Session(engine)
    assert again.exec(READ).all() == []
    release(again)


def test_connections_plan_for_their_parameters_without_jit(postgres_url: str) -> None:
    """Every connection the service makes: no JIT, and a prepared statement planned for its
    parameters each run, never the generic plan (docs/operations.md, PostgreSQL settings)."""
    engine = make_engine(postgres_url)
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("SHOW jit").scalar() == "off"
            assert connection.exec_driver_sql("SHOW plan_cache_mode").scalar() == (
                "force_custom_plan"
            )
    finally:
        engine.dispose()
