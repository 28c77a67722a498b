"""a declined public registrant is blocked for the event until the unit lifts it (issue 25)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-06 20:30:00

A person the unit declined could register for the same event again at once. Registering is now
refused while a declined registration of the same phone or ID number stands for the event;
`decline_lifted_at` records when the unit lifted that. Existing declined registrations block
from now on (NULL: not lifted), which is what their decline meant.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("decline_lifted_at", UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.drop_column("decline_lifted_at")
