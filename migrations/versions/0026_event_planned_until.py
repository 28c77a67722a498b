"""an event planned over several days records its last planned day (issue 25)

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-06 20:20:00

A schedule row such as 9月16日、17日 names the days of one event held over both; `planned_until`
keeps its last day (its first is `date_earliest`). Existing events were each planned as one day
within their window, so the column starts NULL for all of them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("planned_until", sa.Date(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("planned_until")
