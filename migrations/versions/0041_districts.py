"""districts: one deployment for a whole city (issue 28)

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-07 03:10:00

A `district` table; `district_id` on `unit` and `campaign` (NOT NULL) and on `account` (NULL:
the city level). An existing single-district database becomes district 1 (雁江区, the founding
notice's), every unit, campaign and account of it in that district, so it keeps working
unchanged. Unit names and campaign document numbers become unique per district.

Big tables: none. One UPDATE of `account`; SQLite copies the small `unit` and `campaign` tables.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0041"
down_revision: str | None = "0040"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 created these unique constraints without a name; on SQLite a naming convention lets the
# batch (copy-and-move) migration find them, on PostgreSQL they have the server's default name.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def _unnamed(table: str, column: str) -> str:
    sqlite = op.get_bind().dialect.name == "sqlite"
    return f"uq_{table}_{column}" if sqlite else f"{table}_{column}_key"


def upgrade() -> None:
    district = op.create_table(
        "district",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("city_name", sa.String(length=50), nullable=False),
        sa.Column("office_name", sa.String(length=100), nullable=False),
        sa.Column("contact_name", sa.String(length=50), nullable=True),
        sa.Column("contact_phone", sa.String(length=32), nullable=True),
        sa.Column("contact_email", sa.String(length=200), nullable=True),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code", name="uq_district_code"),
        sa.UniqueConstraint("name", name="uq_district_name"),
    )
    op.bulk_insert(
        district,
        [
            {
                "id": 1,
                "code": "yanjiang",
                "name": "雁江区",
                "city_name": "资阳市",
                "office_name": "资阳市雁江区人民政府办公室",
                "created_at": datetime.now(UTC),
            }
        ],
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("SELECT setval('district_id_seq', (SELECT max(id) FROM district))")
    with op.batch_alter_table("unit", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_constraint(_unnamed("unit", "name"), type_="unique")
        batch_op.add_column(
            sa.Column("district_id", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.create_foreign_key("fk_unit_district_id", "district", ["district_id"], ["id"])
        batch_op.create_index("ix_unit_district_id", ["district_id"], unique=False)
        batch_op.create_unique_constraint("uq_unit_district_name", ["district_id", "name"])
    with op.batch_alter_table("campaign", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_constraint(_unnamed("campaign", "doc_number"), type_="unique")
        batch_op.add_column(
            sa.Column("district_id", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.create_foreign_key("fk_campaign_district_id", "district", ["district_id"], ["id"])
        batch_op.create_index("ix_campaign_district_id", ["district_id"], unique=False)
        batch_op.create_unique_constraint(
            "uq_campaign_district_doc_number", ["district_id", "doc_number"]
        )
    with op.batch_alter_table("account") as batch_op:
        batch_op.add_column(sa.Column("district_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key("fk_account_district_id", "district", ["district_id"], ["id"])
        batch_op.create_index("ix_account_district_id", ["district_id"], unique=False)
    # Every account of the single-district deployment acts in that district, as it did.
    op.execute("UPDATE account SET district_id = 1")


def downgrade() -> None:
    with op.batch_alter_table("account") as batch_op:
        batch_op.drop_index("ix_account_district_id")
        batch_op.drop_constraint("fk_account_district_id", type_="foreignkey")
        batch_op.drop_column("district_id")
    with op.batch_alter_table("campaign") as batch_op:
        batch_op.drop_constraint("uq_campaign_district_doc_number", type_="unique")
        batch_op.drop_index("ix_campaign_district_id")
        batch_op.drop_constraint("fk_campaign_district_id", type_="foreignkey")
        batch_op.drop_column("district_id")
        batch_op.create_unique_constraint(_unnamed("campaign", "doc_number"), ["doc_number"])
    with op.batch_alter_table("unit") as batch_op:
        batch_op.drop_constraint("uq_unit_district_name", type_="unique")
        batch_op.drop_index("ix_unit_district_id")
        batch_op.drop_constraint("fk_unit_district_id", type_="foreignkey")
        batch_op.drop_column("district_id")
        batch_op.create_unique_constraint(_unnamed("unit", "name"), ["name"])
    op.drop_table("district")
