"""Engine and session handling: one owner per transaction."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, create_engine, select

# Execution option naming a read transaction: on SQLite it begins DEFERRED (a shared read of the
# WAL snapshot, never the write lock); every other transaction begins IMMEDIATE.
READ_OPTION = "openday_read"


def reading(engine: Engine) -> Engine:
    """The engine for read-only work (GET requests, checking a password before the write).

    One per engine, made once: per-engine caches (the working-day calendar) key on the engine
    object, and a new option engine per request made every GET rebuild them.
    """
    found: Engine | None = getattr(engine, "_openday_reader", None)
    if found is None:
        found = engine.execution_options(**{READ_OPTION: True})
        engine._openday_reader = found  # type: ignore[attr-defined]  # a cycle the GC collects
    return found


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets foreign keys, WAL and write-serialising transactions."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No pre-ping (it costs a round trip per checkout); a connection found dead answers that
    # one request with 503, SQLAlchemy then invalidates the pool and the next one reconnects.
    kwargs.setdefault("pool_recycle", 1800)
    # Fail fast when the server is unreachable, so callers answer 503 instead of hanging; no
    # JIT compilation: every statement here reads or writes a few rows by index, yet a count
    # whose estimate crosses jit_above_cost (the board's overdue counts at 100k events) spent
    # 25-33 ms compiling to run for 7; and prepared statements (kept: see release) planned for
    # their parameters each time, as unprepared ones are: the generic plan PostgreSQL settles on
    # after five runs took the overdue list's keyset pages from 0.14 to 3.6 ms a statement
    # (docs/operations.md, "PostgreSQL settings").
    kwargs["connect_args"] = {
        "connect_timeout": 5,
        "options": "-c jit=off -c plan_cache_mode=force_custom_plan",
        **kwargs.get("connect_args", {}),
    }
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine) -> None:
    """Make SQLite behave under concurrent requests in one process.

    pysqlite's deferred BEGIN lets two transactions read, then fail on upgrade to a write lock
    ("database is locked"). Taking the write lock at BEGIN IMMEDIATE serialises transactions
    instead, so a move reads the row it is about to change under the lock (SQLAlchemy's
    documented pysqlite recipe). Reads (a connection from :func:`reading`) begin DEFERRED: in WAL
    mode they read their snapshot beside the writer and never queue behind it. Writers wait for
    the lock (busy_timeout) instead of failing at once.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        if engine.url.database not in (None, "", ":memory:"):
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        read = connection.get_execution_options().get(READ_OPTION, False)
        connection.exec_driver_sql("BEGIN" if read else "BEGIN IMMEDIATE")


# Whether the transaction wrote anything: PostgreSQL assigns a transaction id at the first write.
_WROTE = "SELECT txid_current_if_assigned() IS NOT NULL"


def release(session: Session) -> None:
    """End the session's open transaction and close it: rolled back, except on PostgreSQL when
    the transaction wrote nothing, which ends in COMMIT instead (the same to the database).

    psycopg forgets every prepared statement at each ROLLBACK (one may have undone what they
    were planned against), so a service whose reads all end in ROLLBACK never keeps one: every
    statement of every page was parsed and planned afresh (on the board at 100,000 events,
    about 5 ms of planning a request). The COMMIT goes to the driver's connection, not through
    the session, so nothing pending in the session is flushed by it; a transaction that failed
    or wrote is rolled back as before.
    """
    try:
        if session.in_transaction():
            connection = session.connection()
            if (
                connection.dialect.name == "postgresql"
                and not connection.exec_driver_sql(_WROTE).scalar()
            ):
                connection.connection.dbapi_connection.commit()  # type: ignore[union-attr]
    except SQLAlchemyError:
        pass  # an aborted transaction, a lost connection: rolled back (or invalidated) below
    finally:
        session.rollback()  # after the COMMIT a no-op: the driver's connection is idle
        session.close()


TENANT_KEY = "openday.tenant"
"""Where a session keeps the tenant its transactions work for (workflows/kernel/tenancy.py)."""


@contextmanager
def session_scope(engine: Engine, *, tenant: Any) -> Iterator[Session]:
    """A session that commits on success, rolls back on error, always closes (CLI, workers);
    its transactions work for `tenant` (a workflows.kernel.tenancy.Tenant: a district or a
    named city-wide scope; PostgreSQL's row-level security shows nothing without one)."""
    session = Session(engine, expire_on_commit=False)
    session.info[TENANT_KEY] = tenant
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def migrate(url: str) -> None:
    """Bring the database at `url` to the newest schema (Alembic `upgrade head`); a database
    already at the newest revision is left as it is without loading Alembic (models/revisions.py:
    what `upgrade head` would find, in a few milliseconds)."""
    if url.startswith("sqlite:///"):
        from pathlib import Path

        database = url.removeprefix("sqlite:///")
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
    if _at_head(url):
        return
    from alembic import command
    from alembic.config import Config

    from settings import PROJECT_DIR

    config = Config(str(PROJECT_DIR / "alembic.ini"))
    config.set_main_option("script_location", str(PROJECT_DIR / "migrations"))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


def _at_head(url: str) -> bool:
    """The database at `url` is at the newest revision (a fresh one, or one that cannot be
    read, is not: Alembic then migrates it, or says why it cannot)."""
    from models.revisions import at_head

    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return at_head(conn)
    except Exception:  # noqa: BLE001 - whatever it is, `alembic upgrade` will say it properly
        return False
    finally:
        engine.dispose()


def core_connection(session: Session) -> Connection:
    """The session's connection, for a prebuilt Core statement on a hot path (no ORM layer:
    building, keying and running an ORM select costs several times the round trip).

    Flushes first when the session would autoflush before a query of its own, so the statement
    sees what the session has pending just as `session.execute` would.
    """
    if session.autoflush:
        session.flush()  # a no-op when nothing is pending
    return session.connection()


def lock_by_id(session: Session, model: Any, ids: Any, *where: Any) -> list[Any]:
    """Rows of `model` with these ids (and `where`), locked FOR UPDATE in id order (so
    concurrent lockers never deadlock) and read fresh, not from the session's identity map."""
    id_column = model.id
    return list(
        session.exec(
            select(model)
            .where(id_column.in_(sorted(ids)), *where)
            .order_by(id_column)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).all()
    )
