"""units keep their history: dated names and merges (issue 30)

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-07 00:15:00

`unit_name` keeps each name a unit had before a rename, valid until the day of the rename, so a
campaign's report shows the name the unit had then; `unit.merged_into_id` / `merged_on` record a
unit merged into another, whose history the year-over-year report counts as that unit's.
Existing units have one name and no merge: nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0037"
down_revision: str | None = "0036"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.add_column(sa.Column("merged_into_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("merged_on", sa.Date(), nullable=True))
        batch_op.create_foreign_key(
            "fk_unit_merged_into_id_unit", "unit", ["merged_into_id"], ["id"]
        )
    op.create_table(
        "unit_name",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("valid_until", sa.Date(), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("unit_name", schema=None) as batch_op:
        batch_op.create_index("ix_unit_name_unit_until", ["unit_id", "valid_until"], unique=False)


def downgrade() -> None:
    op.drop_table("unit_name")
    with op.batch_alter_table("unit", schema=None) as batch_op:
        batch_op.drop_constraint("fk_unit_merged_into_id_unit", type_="foreignkey")
        batch_op.drop_column("merged_on")
        batch_op.drop_column("merged_into_id")
