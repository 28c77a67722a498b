"""event flags: deviations recorded instead of refused (issue 25)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 17:10:00

A rule the notice words 原则上 / 不低于 / 左右 (about 15 invitees, citizens at least a third) has a
mode: `refuse` the move, or record it and flag the deviation. The flags live on the event (JSON,
SQL NULL when there are none) and in the move's audit line. Existing events were all checked
in refuse mode, so they have none.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("flags", sa.JSON(none_as_null=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("flags")
