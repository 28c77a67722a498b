"""Invitations people answer and check-in at the door (issue 27)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-06 20:05:00

An invitee gets an e-mail address (for the invitation), a short code (shown at the door and in
the QR code), the answer to the invitation (yes | no, by the signed link or taken by phone) and
the moment they checked in. Invitees already on a list get a code each; nothing else changes.

Big tables: invitee. One UPDATE per invitee (a new code each), then a unique index on the codes.
Measured at 1M rows (bench/migration_rows.py, docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.codes import new_code
    from models.types import UTCDateTime

    with op.batch_alter_table("invitee", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("code", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("answer", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("answered_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("answer_via", sa.String(length=8), nullable=True))
        batch_op.add_column(sa.Column("checked_in_at", UTCDateTime(timezone=True), nullable=True))
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM invitee"))]
    for invitee_id in ids:
        conn.execute(
            sa.text("UPDATE invitee SET code = :code WHERE id = :id"),
            {"code": new_code(), "id": invitee_id},
        )
    with op.batch_alter_table("invitee", schema=None) as batch_op:
        batch_op.create_index("ix_invitee_code", ["code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("invitee", schema=None) as batch_op:
        batch_op.drop_index("ix_invitee_code")
        for column in ("checked_in_at", "answer_via", "answered_at", "answer", "code", "email"):
            batch_op.drop_column(column)
