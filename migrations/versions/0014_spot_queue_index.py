"""the spot-check queue pages by (updated_at, id): its index carries the id too

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01 00:15:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_state_updated_at")
        batch_op.create_index(
            "ix_event_state_updated_at_id", ["state", "updated_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_state_updated_at_id")
        batch_op.create_index("ix_event_state_updated_at", ["state", "updated_at"], unique=False)
