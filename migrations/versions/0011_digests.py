"""daily digests: notifications and timers not tied to one event, per-recipient delivery mode

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30 23:40:00

Big tables: notification, timer. On SQLite both are copied (columns made nullable, a foreign key
added); on PostgreSQL these are catalogue changes. Before release 0016: not measured.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=True)
        batch_op.alter_column("unit_id", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("digest_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_notification_digest_id", "notification", ["digest_id"], ["id"]
        )
        batch_op.create_index("ix_notification_digest_id", ["digest_id"], unique=False)
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=True)
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_delivery", sa.String(length=16), nullable=True))
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("escalation_delivery", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_column("escalation_delivery")
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_column("escalation_delivery")
    op.execute("DELETE FROM timer WHERE event_id IS NULL")
    with op.batch_alter_table("timer", schema=None) as batch_op:
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=False)
    op.execute("UPDATE notification SET digest_id = NULL")
    op.execute("DELETE FROM notification WHERE event_id IS NULL")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_digest_id")
        batch_op.drop_constraint("fk_notification_digest_id", type_="foreignkey")
        batch_op.drop_column("digest_id")
        batch_op.alter_column("unit_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("event_id", existing_type=sa.Integer(), nullable=False)
