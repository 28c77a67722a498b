"""the audit hash chains are keyed: HMAC-SHA256 with a key outside the database

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 17:40:00

An unkeyed SHA-256 chain proves nothing against whoever can write the tables: change a row and
re-hash it and every later row, and `openday audit verify` says intact (issue 29). Each row's
hash is now HMAC-SHA256 under the audit key (OPENDAY_AUDIT_KEY, else var/audit.key, generated
once), which the database does not hold.

The existing chains are verified first with the old unkeyed hash, and the upgrade stops if any
is broken: re-sealing a tampered log would launder it. Then every row's prev_hash and row_hash
are re-computed under the key, in chain order, and the switch is recorded as a change-log line
(sealed under the key like any other). A database with no audit rows has nothing to switch.
The downgrade verifies under the key and re-seals unkeyed.

Big tables: transition_log, change_log. Both chains are verified, then every row re-hashed and
UPDATEd (pages of 2000) with the append-only triggers off: the slowest step of an upgrade from
release 0016. Measured at 1M rows (bench/migration_rows.py, docs/operations.md "Migrations that
rewrite big tables").
"""

from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAGE = 2000
Digest = Callable[[sa.Table, dict[str, Any], str], str]


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _models() -> list[Any]:
    import models

    return [models.TransitionLog, models.ChangeLog]


def _check(digest: Digest, what: str) -> int:
    """Rows in every chain; RuntimeError naming the first broken link under `digest`."""
    from workflows.kernel.audit import verify_table

    rows = 0
    for model in _models():
        report = verify_table(op.get_bind(), model, digest=digest)
        if report.broken is not None:
            b = report.broken
            raise RuntimeError(
                f"{b.table}'s hash chain ({what}) is broken at row id {b.row_id} (seq {b.seq}): "
                "run `openday audit verify`, and restore the log from a backup before "
                "upgrading; re-sealing it now would hide the change"
            )
        rows += report.rows
    return rows


def _pages(table: sa.Table, order: Sequence[str], columns: Sequence[str]) -> Iterator[list[Any]]:
    keys = [table.c[name] for name in order]
    last: tuple[Any, ...] | None = None
    while True:
        query = sa.select(table.c.id, *(table.c[n] for n in columns if n != "id"))
        if last is not None:
            query = query.where(sa.tuple_(*keys) > sa.tuple_(*last))
        page = op.get_bind().execute(query.order_by(*keys).limit(_PAGE)).mappings().all()
        if not page:
            return
        yield [dict(row) for row in page]
        last = tuple(page[-1][name] for name in order)


def _guards(table: str, on: bool) -> None:
    """UPDATE refused (on) or allowed (off) on an append-only table."""
    if not _sqlite():
        op.execute(
            f"ALTER TABLE {table} {'ENABLE' if on else 'DISABLE'} TRIGGER {table}_append_only"
        )
        return
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_update")
    if on:
        op.execute(
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )


def _reseal(digest: Digest) -> None:
    """Every row's prev_hash and row_hash again under `digest`, in chain order (seq and the
    chain key are kept, so the keyset pages stay put under the writes)."""
    from workflows.kernel.audit import GENESIS, HASHED_FIELDS, PER_EVENT

    for model in _models():
        table = model.__table__
        per_event = table.name in PER_EVENT
        order = ["event_id", "seq"] if per_event else ["seq"]
        update = (
            sa.update(table)
            .where(table.c.id == sa.bindparam("row_id"))
            .values(prev_hash=sa.bindparam("new_prev"), row_hash=sa.bindparam("new_hash"))
        )
        _guards(table.name, on=False)
        chain, prev = None, GENESIS
        for page in _pages(table, order, HASHED_FIELDS[table.name]):
            changes = []
            for row in page:
                if per_event and row["event_id"] != chain:
                    chain, prev = row["event_id"], GENESIS
                new = digest(table, row, prev)
                changes.append({"row_id": row["id"], "new_prev": prev, "new_hash": new})
                prev = new
            op.get_bind().execute(update, changes)
        _guards(table.name, on=True)


def _record(before: str, after: str) -> None:
    """The switch, as a change-log line chained (under the current digest) after the last."""
    import models
    from workflows.kernel.audit import _chain

    table = models.ChangeLog.__table__
    row: dict[str, Any] = {
        "at": datetime.now(UTC),
        "actor_id": None,
        "actor_name": "system",
        "entity": "audit",
        "entity_id": None,
        "unit_id": None,
        "action": "audit_chain_keyed",
        "before": {"algorithm": before},
        "after": {"algorithm": after, "key": "OPENDAY_AUDIT_KEY or var/audit.key"},
    }
    _chain(op.get_bind(), table, [row])
    op.get_bind().execute(sa.insert(table).values(**row))


def upgrade() -> None:
    from workflows.kernel.audit import plain_digest, row_digest

    if _check(plain_digest, "unkeyed sha256") == 0:
        return
    _reseal(row_digest)
    _record("sha256", "hmac-sha256")


def downgrade() -> None:
    from workflows.kernel.audit import plain_digest, row_digest

    if _check(row_digest, "hmac-sha256") == 0:
        return
    _reseal(plain_digest)
