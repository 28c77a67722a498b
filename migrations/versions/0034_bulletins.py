"""weekly bulletins (通报, issue 26)

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-06 23:50:00

The weekly 通报 of each campaign as it was made: its week, the last day counted and the ranked
rows (unique per campaign and week).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0034"
down_revision: str | None = "0033"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "bulletin",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("made_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("rows", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "week_start", name="uq_bulletin_campaign_week"),
    )
    with op.batch_alter_table("bulletin", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_bulletin_campaign_id"), ["campaign_id"], unique=False)


def downgrade() -> None:
    op.drop_table("bulletin")
