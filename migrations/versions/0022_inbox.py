"""The in-app inbox (站内信) (issue 26)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-06 20:05:00

One row per notification delivered on the `inbox` channel to one staff account, read or not.
A new table: existing data is untouched.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    op.create_table(
        "inbox_message",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("level", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("read_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"]),
        sa.ForeignKeyConstraint(["notification_id"], ["notification.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("notification_id"),
    )
    op.create_index(
        "ix_inbox_unread",
        "inbox_message",
        ["user_id"],
        postgresql_where=sa.text("read_at IS NULL"),
        sqlite_where=sa.text("read_at IS NULL"),
    )
    op.create_index("ix_inbox_user_id", "inbox_message", ["user_id", "id"])
    op.create_index("ix_inbox_user_kind", "inbox_message", ["user_id", "kind", "id"])


def downgrade() -> None:
    op.drop_index("ix_inbox_user_kind", table_name="inbox_message")
    op.drop_index("ix_inbox_user_id", table_name="inbox_message")
    op.drop_index("ix_inbox_unread", table_name="inbox_message")
    op.drop_table("inbox_message")
