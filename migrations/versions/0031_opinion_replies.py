"""opinion replies: telling the person, satisfaction, appeals (issue 26)

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-06 23:30:00

`opinion_reply` holds one row per answer round of an opinion: how the person who raised it is
told, when, their rating and the unit's appeal. `feedback_item.told_at` is when the answer
reached the person; every opinion answered before this revision counts as told when answered
(the tracking page was the only way), so reports keep their figures.

Big tables: feedback_item. told_at is set from answered_at on every answered opinion, in one UPDATE.
Measured at 1M rows (bench/migration_rows.py, docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0031"
down_revision: str | None = "0030"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    utc = models.types.UTCDateTime(timezone=True)
    op.create_table(
        "opinion_reply",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("answer", sa.Text(), nullable=False),
        sa.Column("answered_on", sa.Date(), nullable=True),
        sa.Column("invitee_id", sa.Integer(), nullable=True),
        sa.Column("how", sa.String(length=32), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=True),
        sa.Column("late_workdays", sa.Integer(), nullable=True),
        sa.Column("told_at", utc, nullable=True),
        sa.Column("told_via", sa.String(length=16), nullable=True),
        sa.Column("letter_posted_at", utc, nullable=True),
        sa.Column("letter_posted_by", sa.String(length=100), nullable=True),
        sa.Column("rating", sa.String(length=16), nullable=True),
        sa.Column("rating_comment", sa.Text(), nullable=True),
        sa.Column("rated_at", utc, nullable=True),
        sa.Column("rated_via", sa.String(length=16), nullable=True),
        sa.Column("rated_by", sa.String(length=100), nullable=True),
        sa.Column("appeal_state", sa.String(length=16), nullable=True),
        sa.Column("appeal_reason", sa.Text(), nullable=True),
        sa.Column("appealed_at", utc, nullable=True),
        sa.Column("appeal_decided_by", sa.String(length=100), nullable=True),
        sa.Column("appeal_decided_at", utc, nullable=True),
        sa.Column("appeal_note", sa.Text(), nullable=True),
        sa.Column("public_consent", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("created_at", utc, nullable=False),
        sa.ForeignKeyConstraint(["feedback_item_id"], ["feedback_item.id"]),
        sa.ForeignKeyConstraint(["invitee_id"], ["invitee.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("feedback_item_id", "round", name="uq_opinion_reply"),
    )
    with op.batch_alter_table("opinion_reply", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_opinion_reply_feedback_item_id"), ["feedback_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_opinion_reply_unit_id"), ["unit_id"], unique=False)
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("told_at", utc, nullable=True))
    item = sa.table("feedback_item", sa.column("answered_at", utc), sa.column("told_at", utc))
    op.get_bind().execute(
        sa.update(item).where(item.c.answered_at.is_not(None)).values(told_at=item.c.answered_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_column("told_at")
    with op.batch_alter_table("opinion_reply", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_opinion_reply_unit_id"))
        batch_op.drop_index(batch_op.f("ix_opinion_reply_feedback_item_id"))
    op.drop_table("opinion_reply")
