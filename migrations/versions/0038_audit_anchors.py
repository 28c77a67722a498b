"""audit retention: anchors, and a DELETE let through only below a chain's anchor (issue 29)

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-07 03:00:00

Audit lines are kept at least 180 days (OPENDAY_AUDIT_RETENTION_DAYS); `openday audit archive`
exports older lines to a verifiable archive and then removes them. The append-only triggers of
the transition log and the change log refused every DELETE; now a DELETE passes only for a row
at or below its chain's anchor (`audit_anchor`, itself append-only, each anchor MAC'd under the
audit key and naming the archive that holds the rows). UPDATE, TRUNCATE and every other DELETE
are refused as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0038"
down_revision: str | None = "0037"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The anchor a row's DELETE must be covered by, per table (SQL over OLD).
_COVERED = {
    "change_log": "SELECT max(seq) FROM audit_anchor WHERE table_name = 'change_log'",
    "transition_log": "SELECT max(seq) FROM audit_anchor WHERE table_name = 'transition_log' "
    "AND event_id = OLD.event_id",
}


def _sqlite() -> bool:
    return op.get_bind().dialect.name == "sqlite"


def upgrade() -> None:
    op.create_table(
        "audit_anchor",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("row_hash", sa.String(length=64), nullable=False),
        sa.Column("cutoff", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("archive_name", sa.String(length=200), nullable=False),
        sa.Column("archive_sha256", sa.String(length=64), nullable=False),
        sa.Column("at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("anchor_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_audit_anchor_chain", "audit_anchor", ["table_name", "event_id", "seq"], unique=False
    )
    if _sqlite():
        _sqlite_guards(covered=True)
    else:
        _postgres_guards(covered=True)


def downgrade() -> None:
    if _sqlite():
        _sqlite_guards(covered=False)
        for action in ("update", "delete", "replace"):
            op.execute(f"DROP TRIGGER IF EXISTS audit_anchor_no_{action}")
    else:
        _postgres_guards(covered=False)
        op.execute("DROP TRIGGER IF EXISTS audit_anchor_append_only ON audit_anchor")
        op.execute("DROP TRIGGER IF EXISTS audit_anchor_no_truncate ON audit_anchor")
        op.execute("DROP FUNCTION IF EXISTS audit_anchor_append_only()")
    op.drop_index("ix_audit_anchor_chain", table_name="audit_anchor")
    op.drop_table("audit_anchor")


def _sqlite_guards(covered: bool) -> None:
    for table, anchor in _COVERED.items():
        op.execute(f"DROP TRIGGER IF EXISTS {table}_no_delete")
        when = f"WHEN OLD.seq > coalesce(({anchor}), 0) " if covered else ""
        op.execute(
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} {when}"
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        )
    if not covered:
        return
    message = "'audit_anchor is append-only'"
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER audit_anchor_no_{action.lower()} BEFORE {action} ON audit_anchor "
            f"BEGIN SELECT RAISE(ABORT, {message}); END"
        )
    op.execute(
        "CREATE TRIGGER audit_anchor_no_replace BEFORE INSERT ON audit_anchor WHEN "
        "EXISTS (SELECT 1 FROM audit_anchor WHERE id = NEW.id) "
        f"BEGIN SELECT RAISE(ABORT, {message}); END"
    )


def _postgres_guards(covered: bool) -> None:
    for table, anchor in _COVERED.items():
        let_through = (
            f"IF TG_OP = 'DELETE' THEN IF OLD.seq <= coalesce(({anchor}), 0) THEN RETURN OLD; "
            "END IF; END IF; "
            if covered
            else ""
        )
        op.execute(
            f"CREATE OR REPLACE FUNCTION {table}_append_only() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN {let_through}"
            f"RAISE EXCEPTION '{table} is append-only'; END $$"
        )
    if not covered:
        return
    op.execute(
        "CREATE FUNCTION audit_anchor_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'audit_anchor is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER audit_anchor_append_only BEFORE UPDATE OR DELETE ON audit_anchor "
        "FOR EACH ROW EXECUTE FUNCTION audit_anchor_append_only()"
    )
    op.execute(
        "CREATE TRIGGER audit_anchor_no_truncate BEFORE TRUNCATE ON audit_anchor "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_anchor_append_only()"
    )
