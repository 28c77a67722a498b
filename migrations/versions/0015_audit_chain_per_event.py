"""the transition log's hash chain becomes one chain per event

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-01 03:00:00

One chain for every move of every event made each move wait for one advisory lock held to its
commit (issue 15: 8–12 of 16 connections queued on it). An event's history is its own chain now:
`seq` counts within the event, unique on (event_id, seq), and PostgreSQL gets
`openday_audit_tails(ids)`, which takes the chains' locks in id order and reads their tails in
one round trip (its query runs after the locks are held, so it sees the previous holder's row).

The existing rows are re-chained per event, in their old chain order. The old chain is verified
first, and the upgrade stops if it is broken: re-chaining a tampered log would launder it.

Big tables: transition_log. Every row is re-chained per event (one UPDATE per row) after the old
chain is verified. Before release 0016: not measured.
"""

from collections.abc import Iterator, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000
_LOCK_CLASS = 0x6F64  # workflows/audit.py EVENT_CHAIN_LOCK_CLASS

TAILS_FUNCTION = f"""
CREATE OR REPLACE FUNCTION openday_audit_tails(ids integer[])
RETURNS TABLE (chain_event_id integer, tail_seq bigint, tail_hash varchar)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({_LOCK_CLASS}, s.id)
    FROM (SELECT DISTINCT unnest(ids) AS id ORDER BY 1) AS s;
    RETURN QUERY
    SELECT DISTINCT ON (t.event_id) t.event_id, t.seq, t.row_hash
    FROM transition_log AS t
    WHERE t.event_id = ANY (ids)
    ORDER BY t.event_id, t.seq DESC;
END
$$
"""


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _table() -> sa.Table:
    import models

    return models.TransitionLog.__table__  # type: ignore[attr-defined,no-any-return]


def _pages(order: Sequence[str], columns: Sequence[str]) -> Iterator[list[dict[str, Any]]]:
    """The transition log in `order` (a unique key), a page at a time, by keyset."""
    table = _table()
    keys = [table.c[name] for name in order]
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table.c.id, *(table.c[n] for n in columns if n not in ("id",)))
        if last is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*last))
        page = op.get_bind().execute(query.order_by(*keys).limit(_PAGE)).mappings().all()
        if not page:
            return
        yield [dict(row) for row in page]
        last = tuple(page[-1][name] for name in order)


def _check_single_chain() -> None:
    """The old chain (one for the table, in seq order) must hold before it is rewritten."""
    from workflows.kernel.audit import GENESIS, HASHED_FIELDS
    from workflows.kernel.audit import plain_digest as row_digest

    table, expected, prev = _table(), 1, GENESIS
    for page in _pages(["seq"], [*HASHED_FIELDS["transition_log"], "prev_hash", "row_hash"]):
        for row in page:
            digest = row_digest(table, row, prev)
            if row["seq"] != expected or row["prev_hash"] != prev or row["row_hash"] != digest:
                raise RuntimeError(
                    f"transition_log's hash chain is broken at row id {row['id']} (seq "
                    f"{row['seq']}): run `openday audit verify`, and restore the log from a "
                    "backup before upgrading; re-chaining it now would hide the change"
                )
            expected, prev = expected + 1, digest


def _rechain(order: Sequence[str], per_event: bool) -> None:
    """Give every row its seq, prev_hash and row_hash again, chained in `order` (a unique key
    of columns this does not change, so the keyset pages stay put under the writes)."""
    from workflows.kernel.audit import GENESIS, HASHED_FIELDS
    from workflows.kernel.audit import plain_digest as row_digest

    table = _table()
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            seq=sa.bindparam("new_seq"),
            prev_hash=sa.bindparam("new_prev"),
            row_hash=sa.bindparam("new_hash"),
        )
    )
    chain, seq, prev = None, 0, GENESIS
    for page in _pages(order, HASHED_FIELDS["transition_log"]):
        changes = []
        for row in page:
            if per_event and row["event_id"] != chain:
                chain, seq, prev = row["event_id"], 0, GENESIS
            seq += 1
            digest = row_digest(table, {**row, "seq": seq}, prev)
            changes.append(
                {"row_id": row["id"], "new_seq": seq, "new_prev": prev, "new_hash": digest}
            )
            prev = digest
        op.get_bind().execute(update, changes)


def _guards_off() -> None:
    if _sqlite():
        for action in ("update", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS transition_log_no_{action}")
    else:
        op.execute("ALTER TABLE transition_log DISABLE TRIGGER transition_log_append_only")


def _guards_on(chain_key: str) -> None:
    """UPDATE refused again; on SQLite a replacing INSERT refused on id or chain position."""
    if not _sqlite():
        op.execute("ALTER TABLE transition_log ENABLE TRIGGER transition_log_append_only")
        return
    message = "'transition_log is append-only'"
    op.execute(
        "CREATE TRIGGER transition_log_no_update BEFORE UPDATE ON transition_log "
        f"BEGIN SELECT RAISE(ABORT, {message}); END"
    )
    op.execute(
        "CREATE TRIGGER transition_log_no_replace BEFORE INSERT ON transition_log WHEN "
        "EXISTS (SELECT 1 FROM transition_log WHERE id = NEW.id) OR "
        f"EXISTS (SELECT 1 FROM transition_log WHERE {chain_key}) "
        f"BEGIN SELECT RAISE(ABORT, {message}); END"
    )


def upgrade() -> None:
    _check_single_chain()
    _guards_off()
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.drop_index("ux_transition_log_seq")
    # Within an event, id order is the old chain's order (a row's seq and its id were both taken
    # under the one chain lock); the keyset uses columns the rewrite does not change.
    _rechain(["event_id", "id"], per_event=True)
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.create_index("ux_transition_log_event_seq", ["event_id", "seq"], unique=True)
    _guards_on("event_id = NEW.event_id AND seq = NEW.seq")
    if not _sqlite():
        op.execute(TAILS_FUNCTION)


def downgrade() -> None:
    if not _sqlite():
        op.execute("DROP FUNCTION IF EXISTS openday_audit_tails(integer[])")
    _guards_off()
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.drop_index("ux_transition_log_event_seq")
    _rechain(["id"], per_event=False)  # one chain again, in insert (id) order as 0010 made it
    with op.batch_alter_table("transition_log", schema=None) as batch_op:
        batch_op.create_index("ux_transition_log_seq", ["seq"], unique=True)
    _guards_on("seq = NEW.seq")
