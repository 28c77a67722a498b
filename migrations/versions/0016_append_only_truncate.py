"""PostgreSQL refuses TRUNCATE on the append-only tables too

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-01 03:20:00

The row triggers refuse UPDATE and DELETE, but TRUNCATE fires no row trigger: one statement
(or a `TRUNCATE event CASCADE`) emptied the audit log and the sample draws. A statement trigger
on TRUNCATE now raises the same "append-only" error. SQLite has no TRUNCATE (its DELETE without
WHERE fires the row triggers already).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

APPEND_ONLY = ("transition_log", "change_log", "sample_draw")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {table}_append_only()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in APPEND_ONLY:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_truncate ON {table}")
