"""Re-sealing the audit chains under another MAC, in place (issue 29: the 国密 switch).

The transition log and the change log are append-only: database triggers refuse every UPDATE.
Re-sealing has to rewrite each row's prev_hash and row_hash, so it lifts the UPDATE guard for
its own transaction only, the way migration 0018 did when it keyed the chains: on PostgreSQL
`ALTER TABLE … DISABLE TRIGGER` (the tables' owner only; the ALTER holds an ACCESS EXCLUSIVE
lock to commit, so no other session reads or writes either table meanwhile, and the trigger is
enabled again before the commit — a rollback restores it too); on SQLite the UPDATE trigger is
dropped and re-created from its own stored SQL inside the one write transaction SQLite allows.
Seq, the chain key and every hashed field stay; a chain resuming from an archive anchor keeps
its first row's link to the anchor (the archived row's hash, verified before).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from models import AuditAnchor
from workflows.kernel import audit

PAGE = 2000


@contextmanager
def guards_lifted(connection: Connection, tables: Sequence[str]) -> Iterator[None]:
    """UPDATE let through on these append-only tables until the block ends (same transaction);
    on PostgreSQL the tables are locked exclusively from here to the commit."""
    if connection.dialect.name == "postgresql":
        for table in tables:
            connection.exec_driver_sql(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")
        yield
        for table in tables:
            connection.exec_driver_sql(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        return
    stored: list[str] = []
    for table in tables:
        sql = connection.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :n"),
            {"n": f"{table}_no_update"},
        ).scalar()
        if sql:
            stored.append(str(sql))
            connection.exec_driver_sql(f"DROP TRIGGER {table}_no_update")
    yield
    for sql in stored:
        connection.exec_driver_sql(sql)


def _pages(connection: Connection, table: sa.Table) -> Iterator[list[dict[str, Any]]]:
    """A table's rows in chain order, a keyset page at a time (the pages stay put under the
    writes: seq and the chain key are never changed)."""
    order = ["event_id", "seq"] if table.name in audit.PER_EVENT else ["seq"]
    keys = [table.c[name] for name in order]
    names = {"id", "prev_hash", "row_hash", *audit.HASHED_FIELDS[table.name]}
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(*(table.c[n] for n in sorted(names)))
        if last is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*last))
        page = connection.execute(query.order_by(*keys).limit(PAGE)).mappings().all()
        if not page:
            return
        yield [dict(row) for row in page]
        last = tuple(page[-1][name] for name in order)


def reseal_table(connection: Connection, model: type[Any], algorithm: str) -> int:
    """Every row's prev_hash and row_hash again under `algorithm`, in chain order; the rows
    whose stored hash changed. Call it with the guards lifted, after the chain verified."""
    table = audit._table(model)
    per_event = table.name in audit.PER_EVENT
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(prev_hash=sa.bindparam("new_prev"), row_hash=sa.bindparam("new_hash"))
    )
    chain: object = object()  # no chain yet
    prev, changed = audit.GENESIS, 0
    for page in _pages(connection, table):
        changes = []
        for row in page:
            key = row["event_id"] if per_event else None
            if key != chain:  # a chain's first row keeps its link: genesis, or its anchor
                chain, prev = key, str(row["prev_hash"])
            new = audit.row_digest(table, row, prev, algorithm=algorithm)
            if new != row["row_hash"] or prev != row["prev_hash"]:
                changes.append({"row_id": row["id"], "new_prev": prev, "new_hash": new})
            prev = new
        if changes:
            connection.execute(update, changes)
            changed += len(changes)
    return changed


def census(connection: Connection) -> dict[str, dict[str, int]]:
    """Stored MACs per algorithm, per chained table and for the archive anchors (the tag of
    each hash: "sm3:" is HMAC-SM3, 64 hex digits HMAC-SHA256)."""
    found: dict[str, dict[str, int]] = {}
    columns = [(audit._table(m), "row_hash") for m in audit.CHAINED]
    columns.append((audit._table(AuditAnchor), "anchor_hash"))
    for table, column in columns:
        sm3 = sa.func.count().filter(table.c[column].like(audit.SM3_TAG + "%"))
        total, tagged = connection.execute(sa.select(sa.func.count(), sm3)).one()
        counts = {audit.SHA256: int(total) - int(tagged or 0), audit.SM3: int(tagged or 0)}
        found[table.name] = {k: n for k, n in counts.items() if n}
    return found
