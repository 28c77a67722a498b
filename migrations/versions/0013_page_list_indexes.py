"""indexes for the pages' lists: events by date (keyset paging), the board's funnel and queue

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 23:55:00
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.create_index("ix_event_date_latest_id", ["date_latest", "id"], unique=False)
        batch_op.create_index(
            "ix_event_unit_date_latest_id", ["unit_id", "date_latest", "id"], unique=False
        )
        batch_op.create_index("ix_event_campaign_state", ["campaign_id", "state"], unique=False)
        batch_op.create_index("ix_event_state_updated_at", ["state", "updated_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_index("ix_event_state_updated_at")
        batch_op.drop_index("ix_event_campaign_state")
        batch_op.drop_index("ix_event_unit_date_latest_id")
        batch_op.drop_index("ix_event_date_latest_id")
