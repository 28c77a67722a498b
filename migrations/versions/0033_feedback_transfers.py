"""sign-for and transfers of opinions (issue 26)

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-06 23:30:00

An opinion is signed for (签收) by the unit holding it, or transferred (转办) to the unit that
must answer it; the receiving unit signs for it or sends it back, and a supervisor decides.
Opinions recorded before this revision count as signed when they were collected (nothing owed).

Big tables: feedback_item. signed_at and signed_by are set on every collected opinion, in one
UPDATE. Measured at 1M rows (bench/migration_rows.py, docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0033"
down_revision: str | None = "0032"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("sign_due_on", sa.Date(), nullable=True))
        batch_op.add_column(
            sa.Column("signed_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("signed_by", sa.String(length=100), nullable=True))
    op.execute(
        "UPDATE feedback_item SET signed_at = created_at, signed_by = 'system' "
        "WHERE collected_on IS NOT NULL"
    )
    op.create_table(
        "feedback_transfer",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_item_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("from_unit_id", sa.Integer(), nullable=False),
        sa.Column("to_unit_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("transferred_by", sa.String(length=100), nullable=False),
        sa.Column("transferred_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_by", sa.String(length=100), nullable=True),
        sa.Column("accepted_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("returned_reason", sa.Text(), nullable=True),
        sa.Column("returned_by", sa.String(length=100), nullable=True),
        sa.Column("returned_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.String(length=100), nullable=True),
        sa.Column("decided_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("new_due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["feedback_item_id"], ["feedback_item.id"]),
        sa.ForeignKeyConstraint(["from_unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["to_unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("feedback_transfer", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_feedback_transfer_feedback_item_id"), ["feedback_item_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_feedback_transfer_state"), ["state"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_feedback_transfer_to_unit_id"), ["to_unit_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("feedback_transfer")
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_column("signed_by")
        batch_op.drop_column("signed_at")
        batch_op.drop_column("sign_due_on")
