"""The audit chains are keyed (HMAC-SHA256, key outside the database) and every event's version
and state must be accounted for by its chain (issue 29): a history deleted whole, or a row
rewritten and every later row re-hashed with plain SHA-256, no longer verifies."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ChangeLog, TransitionLog
from tests.conftest import Walker
from tests.kernel.test_audit_chain import (
    _behind_its_back,
    _migration,
    _openday,
    _rows,
    _some_history,
)
from workflows.kernel import audit


def test_an_events_whole_history_deleted_is_reported(walker: Walker, engine: Engine) -> None:
    event_id = _some_history(walker)
    with Session(engine) as session:
        assert audit.unmatched_events(session) == []
    with _behind_its_back(engine, "transition_log") as conn:
        conn.execute(sa.text("DELETE FROM transition_log WHERE event_id = :e"), {"e": event_id})
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))  # no link is broken...
        missing = audit.unmatched_events(session)  # ...but the event has no history
    assert [(m.event_id, m.chain_version) for m in missing] == [(event_id, None)]
    done = _openday(engine, "verify")
    assert done.returncode == 1
    assert f"unmatched: event {event_id} is at version" in done.stderr
    assert "no history at all" in done.stderr


def test_a_history_cut_short_is_reported(walker: Walker, engine: Engine) -> None:
    event_id = _some_history(walker)
    rows = [r for r in _rows(engine, TransitionLog) if r.event_id == event_id]
    assert len(rows) >= 2
    with _behind_its_back(engine, "transition_log") as conn:
        conn.execute(sa.text("DELETE FROM transition_log WHERE id = :i"), {"i": rows[-1].id})
    with Session(engine) as session:
        missing = audit.unmatched_events(session)
    assert [(m.event_id, m.chain_version) for m in missing] == [(event_id, rows[-2].version)]


def test_a_rewrite_rehashed_with_plain_sha256_is_reported(walker: Walker, engine: Engine) -> None:
    """The attacker re-hashes the changed row and every later row with unkeyed SHA-256: the
    first of them no longer matches its keyed hash."""
    _some_history(walker)
    rows = _rows(engine, ChangeLog)
    table = ChangeLog.__table__  # type: ignore[attr-defined]
    with _behind_its_back(engine, "change_log") as conn:
        prev = rows[0].prev_hash
        for n, row in enumerate(rows):
            values = {k: getattr(row, k) for k in audit.HASHED_FIELDS["change_log"]}
            if n == 0:
                values["actor_name"] = "someone else"
            digest = audit.plain_digest(table, values, prev)
            conn.execute(
                sa.text(
                    "UPDATE change_log SET actor_name = :n, prev_hash = :p, row_hash = :h "
                    "WHERE id = :id"
                ),
                {"n": values["actor_name"], "p": prev, "h": digest, "id": row.id},
            )
            prev = digest
    with Session(engine) as session:
        chain = audit.verify(session, [ChangeLog])[0]
    assert chain.broken is not None
    assert (chain.broken.row_id, chain.broken.what) == (rows[0].id, "row_hash")
    done = _openday(engine, "verify")
    assert done.returncode == 1 and f"broken: change_log row id {rows[0].id}" in done.stderr


def test_the_migration_reseals_a_sound_unkeyed_chain_and_records_the_switch(
    walker: Walker, engine: Engine
) -> None:
    _some_history(walker)
    m0018 = _migration("0018_audit_chain_keyed")
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        m0018._reseal(audit.plain_digest)  # the chains as they were before 0018
    with Session(engine) as session:
        assert all(r.broken is not None for r in audit.verify(session))  # unkeyed: not accepted
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        m0018.upgrade()
    with Session(engine) as session:
        assert all(r.broken is None for r in audit.verify(session))
        last = session.exec(select(ChangeLog).order_by(ChangeLog.seq.desc())).first()  # type: ignore[union-attr]
    assert last is not None and last.action == "audit_chain_keyed"
    assert (last.before, last.after["algorithm"]) == ({"algorithm": "sha256"}, "hmac-sha256")
    assert _openday(engine, "verify").returncode == 0


def test_the_migration_refuses_a_broken_unkeyed_chain(walker: Walker, engine: Engine) -> None:
    _some_history(walker)
    m0018 = _migration("0018_audit_chain_keyed")
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        m0018._reseal(audit.plain_digest)
    target = _rows(engine, ChangeLog)[0]
    with _behind_its_back(engine, "change_log") as conn:
        conn.execute(sa.text("UPDATE change_log SET action = 'x' WHERE id = :i"), {"i": target.id})
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        with pytest.raises(RuntimeError, match=f"broken at row id {target.id}"):
            m0018.upgrade()


def test_the_key_comes_from_the_setting_or_a_file_generated_once(tmp_path) -> None:
    assert audit.load_key("from-the-setting", tmp_path) == b"from-the-setting"
    first = audit.load_key(None, tmp_path)
    assert len(first) >= 32 and audit.load_key(None, tmp_path) == first
    assert (tmp_path / "audit.key").stat().st_mode & 0o077 == 0
    row = {"seq": 1, "at": datetime(2022, 9, 1, tzinfo=UTC), "actor_name": "a", "entity": "unit",
           "action": "create", "before": {}, "after": {}}  # fmt: skip
    table = ChangeLog.__table__  # type: ignore[attr-defined]
    assert audit.row_digest(table, row, audit.GENESIS, b"k1") != audit.row_digest(
        table, row, audit.GENESIS, b"k2"
    )
