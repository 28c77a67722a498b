"""The audit log is tamper-evident (hash chain, `openday audit verify`) and append-only on both
databases: UPDATE, DELETE and REPLACE/upsert are refused for every append-only table."""

from __future__ import annotations

import hashlib
import importlib.util
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from models import ChangeLog, Event, SampleDraw, TransitionLog
from settings import PROJECT_DIR
from tests.conftest import Walker
from workflows.event import machine as event_machine
from workflows.kernel import audit
from workflows.kernel.visibility import SYSTEM

APPEND_ONLY = ("transition_log", "change_log", "sample_draw")
SYSTEM_NOW = datetime(2022, 9, 16, 2, tzinfo=UTC)
CHAINS = (("transition_log", TransitionLog), ("change_log", ChangeLog))


def _openday(engine: Engine, *args: str) -> subprocess.CompletedProcess:
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("OPENDAY_")},
        "OPENDAY_DATABASE_URL": engine.url.render_as_string(hide_password=False),
    }
    return subprocess.run(
        # This checkout's code and its var/audit.key (the installed `openday` script may be
        # another checkout's: a git worktree sharing one virtualenv).
        [sys.executable, "-m", "cli", "audit", *args],
        env=env,
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


@contextmanager
def _behind_its_back(engine: Engine, table: str) -> Iterator[sa.Connection]:
    """A connection that bypasses the append-only triggers (test only: what a DBA could do)."""
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
            yield conn
            return
        # The test's SQLite file is a private copy: drop the guards for good.
        for action in ("update", "delete", "replace"):
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
        yield conn


def _some_history(walker: Walker) -> int:
    """Moves (transition_log) and account and unit changes (change_log)."""
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"no_opinions": True})
    other = walker.create_event()
    assert (
        walker.move(other["id"], "cancel", who="supervisor", reason="场地改造").status_code == 200
    )
    headers = walker.world.headers["secadmin"]
    for name in ("jia", "yi"):
        body = {"username": f"viewer-{name}", "role": "viewer", "display_name": name}
        assert walker.client.post("/api/v1/users", json=body, headers=headers).status_code == 201
    return int(event["id"])


def _rows(engine: Engine, model: type) -> list:
    """A table's rows in chain order: by event, then seq, for the transition log."""
    order = (model.event_id, model.seq) if model is TransitionLog else (model.seq,)  # type: ignore[attr-defined]
    with Session(engine) as session:
        return list(session.exec(select(model).order_by(*order)).all())


def _chains(rows: list) -> list[list]:
    """Rows grouped into their chains: one per event for the transition log."""
    chains: dict[object, list] = {}
    for row in rows:
        chains.setdefault(
            getattr(row, "event_id", None) if isinstance(row, TransitionLog) else None, []
        ).append(row)
    return list(chains.values())


def _fingerprint(moves: list) -> str:
    """What verify reports for the transition log: sha256 over every event's head."""
    lines = "".join(f"{c[-1].event_id}:{c[-1].seq}:{c[-1].row_hash}\n" for c in _chains(moves))
    return hashlib.sha256(lines.encode()).hexdigest()


def test_every_audit_row_is_chained_and_verify_counts_them(walker: Walker, engine: Engine) -> None:
    _some_history(walker)
    moves, changes = _rows(engine, TransitionLog), _rows(engine, ChangeLog)
    assert len(moves) >= 6 and len(changes) >= 2
    event_chains = _chains(moves)
    assert len(event_chains) == len({m.event_id for m in moves}) >= 2
    assert len(_chains(changes)) == 1
    for rows in [*event_chains, changes]:
        assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
        assert rows[0].prev_hash == audit.GENESIS
        assert all(b.prev_hash == a.row_hash for a, b in zip(rows, rows[1:], strict=False))
    with Session(engine) as session:
        reports = {r.table: r for r in audit.verify(session)}
    assert (reports["transition_log"].rows, reports["transition_log"].chains) == (
        len(moves),
        len(event_chains),
    )
    assert reports["transition_log"].head_hash == _fingerprint(moves)
    assert reports["change_log"].rows == len(changes)
    assert reports["change_log"].head_hash == changes[-1].row_hash
    assert all(r.broken is None for r in reports.values())
    done = _openday(engine, "verify")
    assert done.returncode == 0, done.stderr
    assert (
        f"intact: transition_log {len(moves)} rows, {len(event_chains)} chains (one per event)"
        in done.stderr
    )
    assert _fingerprint(moves) in done.stderr
    assert f"intact: change_log {len(changes)} rows, head seq {len(changes)}" in done.stderr


def test_verify_leaves_its_connection_as_it_found_it(walker: Walker, engine: Engine) -> None:
    """Streaming is asked for on verify's own statements: migration 0018 verifies on Alembic's
    connection and then updates rows and alembic_version on it, which a connection left
    streaming turned into `DECLARE … CURSOR FOR UPDATE` on PostgreSQL."""
    _some_history(walker)
    with engine.connect() as conn:
        before = dict(conn.get_execution_options())
        audit.verify_table(conn, TransitionLog)
        audit.verify_table(conn, ChangeLog)
        assert dict(conn.get_execution_options()) == before
        conn.execute(sa.update(Event).where(Event.id == -1).values(version=Event.version))


def test_a_row_changed_behind_its_back_is_named(walker: Walker, engine: Engine) -> None:
    _some_history(walker)
    target = _rows(engine, TransitionLog)[2]
    with _behind_its_back(engine, "transition_log") as conn:
        conn.execute(
            sa.text("UPDATE transition_log SET reason = 'rewritten' WHERE id = :id"),
            {"id": target.id},
        )
    with Session(engine) as session:
        chain = audit.verify(session)[0]
    assert chain.broken is not None
    assert (chain.broken.table, chain.broken.row_id, chain.broken.what) == (
        "transition_log",
        target.id,
        "row_hash",
    )
    assert chain.broken.found == target.row_hash and chain.broken.expected != target.row_hash
    assert chain.rows == 2
    done = _openday(engine, "verify")
    assert done.returncode == 1
    where = f"event {target.event_id}, seq {target.seq}"
    assert f"broken: transition_log row id {target.id} ({where}): row_hash" in done.stderr
    assert f"found {target.row_hash}" in done.stderr


def test_a_rehashed_row_breaks_the_next_link(walker: Walker, engine: Engine) -> None:
    """Recomputing the changed row's own hash is not enough: the next row points at the old."""
    _some_history(walker)
    rows = _rows(engine, ChangeLog)
    target, following = rows[0], rows[1]
    forged = {**{n: getattr(target, n) for n in audit.HASHED_FIELDS["change_log"]}}
    forged["actor_name"] = "someone else"
    digest = audit.row_digest(ChangeLog.__table__, forged, target.prev_hash)  # type: ignore[attr-defined]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(
            sa.text("UPDATE change_log SET actor_name = :n, row_hash = :h WHERE id = :id"),
            {"n": "someone else", "h": digest, "id": target.id},
        )
    with Session(engine) as session:
        chain = audit.verify(session, [ChangeLog])[0]
    assert chain.broken is not None
    assert (chain.broken.row_id, chain.broken.what) == (following.id, "prev_hash")
    assert (chain.broken.expected, chain.broken.found) == (digest, target.row_hash)


def test_a_deleted_row_is_named_by_the_gap(walker: Walker, engine: Engine) -> None:
    _some_history(walker)
    rows = _rows(engine, TransitionLog)
    assert rows[1].event_id == rows[2].event_id  # the held event's history: create, invite, …
    with _behind_its_back(engine, "transition_log") as conn:
        conn.execute(sa.text("DELETE FROM transition_log WHERE id = :id"), {"id": rows[1].id})
    with Session(engine) as session:
        chain = audit.verify(session, [TransitionLog])[0]
    assert chain.broken is not None
    assert (chain.broken.row_id, chain.broken.what) == (rows[2].id, "seq")
    assert (chain.broken.expected, chain.broken.found) == ("2", "3")


def test_imported_events_are_chained_too(walker: Walker, engine: Engine) -> None:
    """The schedule import writes its creation lines in bulk (Core INSERT): sealed as well."""
    walker.create_event()
    csv = "序号,单位名称,活动主题,开展时间\n" + "".join(
        f"{n},测试{n}镇,开放日第{n}场,9月16日\n" for n in range(1, 4)
    )
    done = walker.client.post(
        f"/api/v1/campaigns/{walker.world.campaign_id}/schedule-imports",
        files={"file": ("t.csv", csv.encode(), "text/csv")},
        headers=walker.world.headers["supervisor"],
    )
    assert done.status_code == 201, done.text
    walker.create_event()
    rows = _rows(engine, TransitionLog)
    assert [r.trigger for r in rows] == ["create"] * 5
    assert [r.seq for r in rows] == [1] * 5  # five events, five chains
    with Session(engine) as session:
        chain = audit.verify(session, [TransitionLog])[0]
    assert (chain.rows, chain.chains, chain.broken) == (5, 5, None)


@pytest.mark.postgresql
def test_concurrent_moves_on_postgresql_make_one_chain(
    walker: Walker, engine: Engine, clock
) -> None:
    """Sixteen threads move sixteen events at once: sixteen unbroken chains, no fork, no gap."""
    ids = [walker.create_event()["id"] for _ in range(16)]
    start = threading.Barrier(len(ids))
    errors: list[BaseException] = []

    def move(event_id: int) -> None:
        try:
            start.wait(10)
            for n in range(3):
                with Session(engine) as s:
                    row = s.exec(select(Event).where(Event.id == event_id).with_for_update()).one()
                    day = date(2022, 9, 17 + n).isoformat()
                    event_machine.fire(
                        s, row, "reschedule", expected_version=row.version, actor=SYSTEM,
                        now=clock.now(), reason=f"第{n}次", data={"date": day},
                    )  # fmt: skip
                    s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=move, args=(i,)) for i in ids]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    with Session(engine) as session:
        chain = audit.verify(session, [TransitionLog])[0]
    assert (chain.rows, chain.chains, chain.broken) == (16 + 16 * 3, 16, None)


# ---- append-only, on both databases ----------------------------------------------------------


def _one_row_each(walker: Walker, engine: Engine, clock) -> dict[str, int]:
    _some_history(walker)
    with Session(engine) as session:
        draw = SampleDraw(
            campaign_id=walker.world.campaign_id, method="sha256-rank-v1", size_mode="count",
            size_value="1", seed="s", population_sha256="0" * 64, drawn_at=clock.now(),
        )  # fmt: skip
        session.add(draw)
        session.commit()
    with engine.connect() as conn:
        return {
            t: conn.exec_driver_sql(f"SELECT min(id) FROM {t}").scalar_one() for t in APPEND_ONLY
        }


def _copy_of_row(engine: Engine, table: str, row_id: int, *, new_id: bool = False) -> str:
    """`SELECT` of the row's columns with its text column replaced (the "rewritten" row)."""
    columns = [c.name for c in SQLModel.metadata.tables[table].columns]
    text_column = {"transition_log": "reason", "change_log": "actor_name", "sample_draw": "note"}
    values = [
        "'rewritten'" if c == text_column[table] else ("NULL" if c == "id" and new_id else c)
        for c in columns
    ]
    return f"({', '.join(columns)}) SELECT {', '.join(values)} FROM {table} WHERE id = {row_id}"


def _refused(engine: Engine, statement: str) -> str:
    with pytest.raises(sa.exc.DatabaseError) as info, engine.begin() as conn:
        conn.exec_driver_sql(statement)
    return str(info.value)


def test_update_delete_and_replace_are_refused_on_every_append_only_table(
    walker: Walker, engine: Engine, clock
) -> None:
    first = _one_row_each(walker, engine, clock)
    sqlite = engine.dialect.name == "sqlite"
    for table, row_id in first.items():
        with engine.connect() as conn:
            before = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id").all()
        copy = _copy_of_row(engine, table, row_id)
        statements = [
            f"UPDATE {table} SET id = id WHERE id = {row_id}",
            f"DELETE FROM {table} WHERE id = {row_id}",
            f"INSERT INTO {table} {copy} ON CONFLICT (id) DO UPDATE SET id = excluded.id",
        ]
        if sqlite:
            statements += [
                f"INSERT OR REPLACE INTO {table} {copy}",
                f"REPLACE INTO {table} {copy}",
                f"UPDATE OR REPLACE {table} SET id = id WHERE id = {row_id}",
            ]
            if table != "sample_draw":  # a new id that collides on the chain position
                fresh_id = _copy_of_row(engine, table, row_id, new_id=True)
                statements.append(f"INSERT OR REPLACE INTO {table} {fresh_id}")
        if not sqlite:  # one statement, no row triggers: a statement trigger refuses it
            statements += [f"TRUNCATE {table}", "TRUNCATE event CASCADE"]
        for statement in statements:
            assert "append-only" in _refused(engine, statement), statement
        with engine.connect() as conn:
            after = conn.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id").all()
        assert after == before, table
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))


# ---- the migrations chain what was there ------------------------------------------------------


def _migration(name: str):  # noqa: ANN202 - a module loaded from its file
    path = PROJECT_DIR / "migrations" / "versions" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(f"migration_{name}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_backfill_chains_rows_as_the_service_does(
    walker: Walker, engine: Engine
) -> None:
    """Migration 0010's backfill (one chain per table), 0015's re-chaining (one per event) and
    0018's re-sealing under the key, run over rows whose chain columns were scrambled, give
    every row exactly the seq and hash the service gave it (and the chains verify)."""
    _some_history(walker)
    original = {t: [(r.id, r.seq, r.row_hash) for r in _rows(engine, m)] for t, m in CHAINS}
    m0010, m0015 = _migration("0010_audit_hash_chain"), _migration("0015_audit_chain_per_event")
    for table, _ in CHAINS:
        with _behind_its_back(engine, table) as conn:
            conn.execute(sa.text(f"UPDATE {table} SET seq = -id, prev_hash = 'x', row_hash = 'y'"))
            with Operations.context(MigrationContext.configure(conn)):
                m0010._backfill(table)
                if table == "transition_log":
                    one_chain = conn.execute(sa.text("SELECT seq FROM transition_log")).scalars()
                    assert sorted(one_chain) == list(range(1, len(original[table]) + 1))
                    m0015._check_single_chain()
                    m0015._rechain(["event_id", "id"], per_event=True)
    m0018 = _migration("0018_audit_chain_keyed")
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        assert m0018._check(audit.plain_digest, "unkeyed") > 0  # as 0010 and 0015 left them
        m0018._reseal(audit.row_digest)  # 0018: the same chains, sealed under the key
    assert {t: [(r.id, r.seq, r.row_hash) for r in _rows(engine, m)] for t, m in CHAINS} == original
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))


def test_the_per_event_migration_refuses_to_rechain_a_broken_log(
    walker: Walker, engine: Engine
) -> None:
    """Re-chaining a log someone rewrote would launder the change: 0015 stops and names it."""
    _some_history(walker)
    m0010, m0015 = _migration("0010_audit_hash_chain"), _migration("0015_audit_chain_per_event")
    with _behind_its_back(engine, "transition_log") as conn:
        with Operations.context(MigrationContext.configure(conn)):
            m0010._backfill("transition_log")  # the log as it was before 0015: one chain
        target = conn.execute(sa.text("SELECT id FROM transition_log WHERE seq = 4")).scalar_one()
        conn.execute(
            sa.text("UPDATE transition_log SET reason = 'rewritten' WHERE id = :id"), {"id": target}
        )
        with Operations.context(MigrationContext.configure(conn)):
            with pytest.raises(RuntimeError, match=f"broken at row id {target} \\(seq 4\\)"):
                m0015._check_single_chain()


@pytest.mark.postgresql
def test_two_appends_to_one_event_chain_wait_for_each_other(
    walker: Walker, engine: Engine, clock
) -> None:
    """Without the event's row lock, a second writer of the same event's history waits on the
    chain lock and then reads the first writer's row as the tail: no fork, no unique error."""
    event_id = walker.create_event()["id"]
    first_flushed, second_started = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def line(n: int) -> TransitionLog:
        return TransitionLog(
            event_id=event_id, trigger="note", from_state="planned", to_state="planned",
            version=1, actor_name="测试", at=clock.now(), data={"n": n},
        )  # fmt: skip

    def second() -> None:
        try:
            first_flushed.wait(10)
            with Session(engine) as s:
                second_started.set()
                audit.append(s, line(2))  # blocks on the chain lock until the first commits
                s.commit()
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    thread = threading.Thread(target=second)
    thread.start()
    with Session(engine) as s:
        audit.append(s, line(1))
        first_flushed.set()
        second_started.wait(10)
        thread.join(0.5)
        assert thread.is_alive()  # still waiting for the chain lock
        s.commit()
    thread.join(10)
    assert errors == []
    rows = [r for r in _rows(engine, TransitionLog) if r.event_id == event_id]
    assert [r.data.get("n") for r in rows[-2:]] == [1, 2]
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    with Session(engine) as session:
        assert audit.verify(session, [TransitionLog])[0].broken is None
