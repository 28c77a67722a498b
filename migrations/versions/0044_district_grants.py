"""district grants: a district lets a named city supervisor act in it (issue 28)

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-07 07:00:00

A `district_grant` table (district, city supervisor's account, who granted it and when, when
revoked, the reason). Shared like `account` (read with the supervisor's token, before a
district is known), so outside row-level security; docs/tenancy.md.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0044"
down_revision: str | None = "0043"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "district_grant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("district.id"), nullable=False),
        sa.Column("account_id", sa.Integer(), sa.ForeignKey("account.id"), nullable=False),
        sa.Column("granted_by", sa.Integer(), sa.ForeignKey("account.id"), nullable=True),
        sa.Column("granted_at", models.types.UTCDateTime(), nullable=False),
        sa.Column("revoked_at", models.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.Integer(), sa.ForeignKey("account.id"), nullable=True),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
    )
    op.create_index("ix_district_grant_district_id", "district_grant", ["district_id"])
    op.create_index("ix_district_grant_account_id", "district_grant", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_district_grant_account_id", table_name="district_grant")
    op.drop_index("ix_district_grant_district_id", table_name="district_grant")
    op.drop_table("district_grant")
