"""spot check rounds: a summary sent back for rework is checked again

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30 21:20:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# 0001 created the unique constraint without a name; on SQLite a naming convention lets the
# batch (copy-and-move) migration find it, on PostgreSQL it has the server's default name.
_CONVENTION = {"uq": "uq_%(table_name)s_%(column_0_name)s"}


def upgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    name = "uq_spot_check_event_id" if sqlite else "spot_check_event_id_key"
    with op.batch_alter_table("spot_check", naming_convention=_CONVENTION) as batch_op:
        batch_op.drop_constraint(name, type_="unique")
        batch_op.add_column(sa.Column("round", sa.Integer(), nullable=False, server_default="1"))
        batch_op.create_index("ix_spot_check_event_id", ["event_id"], unique=False)
    with op.batch_alter_table("spot_check") as batch_op:
        batch_op.alter_column("round", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("spot_check") as batch_op:
        batch_op.drop_index("ix_spot_check_event_id")
        batch_op.drop_column("round")
        batch_op.create_unique_constraint("spot_check_event_id_key", ["event_id"])
