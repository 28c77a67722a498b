"""hash-chained audit rows; SQLite refuses REPLACE into append-only tables

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30 23:30:00

transition_log and change_log get seq / prev_hash / row_hash (workflows/audit.py); existing rows
are chained in id order. On SQLite an `INSERT OR REPLACE` deletes the row it replaces without
firing DELETE triggers (unless recursive_triggers is on), so a BEFORE INSERT trigger now refuses
any insert that would collide with an existing row of an append-only table.

Big tables: transition_log, change_log. Every row is hashed and UPDATEd in id order, then the hash
columns made NOT NULL (SQLite copies both tables). Before release 0016: not measured.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHAINED = ("transition_log", "change_log")
_PAGE = 2000


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def _guards_off(table: str) -> None:
    if _sqlite():
        for action in ("update", "delete", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action}")
    else:
        op.execute(f"ALTER TABLE {table} DISABLE TRIGGER {table}_append_only")


def _guards_on(table: str, unique: Sequence[str]) -> None:
    """UPDATE and DELETE refused (as since 0001/0006/0008); on SQLite also a replacing INSERT."""
    if not _sqlite():
        op.execute(f"ALTER TABLE {table} ENABLE TRIGGER {table}_append_only")
        return
    message = f"'{table} is append-only'"
    for action in ("UPDATE", "DELETE"):
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_{action.lower()}")
        op.execute(
            f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
            f"BEGIN SELECT RAISE(ABORT, {message}); END"
        )
    collides = " OR ".join(
        f"EXISTS (SELECT 1 FROM {table} WHERE {c} = NEW.{c})" for c in ("id", *unique)
    )
    op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
    op.execute(
        f"CREATE TRIGGER {table}_no_replace BEFORE INSERT ON {table} WHEN {collides} "
        f"BEGIN SELECT RAISE(ABORT, {message}); END"
    )


def _backfill(table_name: str) -> None:
    """Chain the rows already there, in id order, exactly as new rows are chained."""
    import models
    from workflows.kernel.audit import GENESIS, HASHED_FIELDS
    from workflows.kernel.audit import plain_digest as row_digest

    model = {"transition_log": models.TransitionLog, "change_log": models.ChangeLog}[table_name]
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    bind = op.get_bind()
    update = (
        sa.update(table)
        .where(table.c.id == sa.bindparam("row_id"))
        .values(
            seq=sa.bindparam("new_seq"),
            prev_hash=sa.bindparam("new_prev"),
            row_hash=sa.bindparam("new_hash"),
        )
    )
    last_id, seq, prev = 0, 0, GENESIS
    while True:
        page = (
            bind.execute(
                sa.select(
                    table.c.id, *(table.c[n] for n in HASHED_FIELDS[table_name] if n != "seq")
                )
                .where(table.c.id > last_id)
                .order_by(table.c.id)
                .limit(_PAGE)
            )
            .mappings()
            .all()
        )
        if not page:
            return
        changes = []
        for row in page:
            seq += 1
            values = {**row, "seq": seq}
            digest = row_digest(table, values, prev)
            changes.append(
                {"row_id": row["id"], "new_seq": seq, "new_prev": prev, "new_hash": digest}
            )
            prev = digest
        bind.execute(update, changes)
        last_id = page[-1]["id"]


def upgrade() -> None:
    for table in CHAINED:
        _guards_off(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
            batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
            batch_op.add_column(sa.Column("row_hash", sa.String(length=64), nullable=True))
        _backfill(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column("seq", existing_type=sa.BigInteger(), nullable=False)
            batch_op.alter_column("prev_hash", existing_type=sa.String(length=64), nullable=False)
            batch_op.alter_column("row_hash", existing_type=sa.String(length=64), nullable=False)
            batch_op.create_index(f"ux_{table}_seq", ["seq"], unique=True)
        _guards_on(table, ["seq"])
    if _sqlite():
        _guards_on("sample_draw", [])


def downgrade() -> None:
    if _sqlite():
        op.execute("DROP TRIGGER IF EXISTS sample_draw_no_replace")
    for table in CHAINED:
        _guards_off(table)
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_index(f"ux_{table}_seq")
            batch_op.drop_column("row_hash")
            batch_op.drop_column("prev_hash")
            batch_op.drop_column("seq")
        if _sqlite():
            _guards_on(table, [])
            op.execute(f"DROP TRIGGER IF EXISTS {table}_no_replace")
        else:
            _guards_on(table, [])
