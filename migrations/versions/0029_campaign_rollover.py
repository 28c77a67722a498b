"""next year's campaign copied from last year's; the old one closed (issue 30)

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-06 23:30:00

`campaign.closed_at` marks a campaign read-only once next year's is copied from it, and
`campaign.copied_from_id` names the campaign a copy came from. `campaign_unit` is a campaign's
roster: the units taking part that year with that year's contacts, robot and usual forms.
Existing campaigns stay open and have no roster rows (their units are those of their events).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0029"
down_revision: str | None = "0028"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("closed_at", models.types.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("copied_from_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            "fk_campaign_copied_from_id_campaign", "campaign", ["copied_from_id"], ["id"]
        )
    op.create_table(
        "campaign_unit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("contact_email", sa.String(length=200), nullable=True),
        sa.Column("head_name", sa.String(length=50), nullable=True),
        sa.Column("head_phone", sa.String(length=32), nullable=True),
        sa.Column("head_email", sa.String(length=200), nullable=True),
        sa.Column("webhook_url", sa.String(length=500), nullable=True),
        sa.Column("webhook_format", sa.String(length=16), nullable=False),
        sa.Column("forms", sa.JSON(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("campaign_id", "unit_id", name="uq_campaign_unit"),
    )
    with op.batch_alter_table("campaign_unit", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_campaign_unit_campaign_id"), ["campaign_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("campaign_unit")
    with op.batch_alter_table("campaign", schema=None) as batch_op:
        batch_op.drop_constraint("fk_campaign_copied_from_id_campaign", type_="foreignkey")
        batch_op.drop_column("copied_from_id")
        batch_op.drop_column("closed_at")
