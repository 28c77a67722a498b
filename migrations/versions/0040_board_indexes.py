"""indexes for the board's costliest queries at 100k events (issue 32)

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-07 03:10:00

EXPLAIN (ANALYZE, BUFFERS) of the board at 100,000 events (bench/page_queries.py) showed three
statements scanning whole tables: the count of answers not yet told (every opinion), the flagged
events (every event, newest first, when few are flagged) and the units in schedule order (every
event, grouped by unit). A partial index for each of the first two, and (unit_id, seq) for the
third, which now asks each unit's lowest 序号 by one index probe.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0040"
down_revision: str | None = "0039"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOT_TOLD = "state = 'answered' AND told_at IS NULL"
FLAGGED = "flags IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_feedback_item_answered_not_told",
        "feedback_item",
        ["event_id"],
        postgresql_where=sa.text(NOT_TOLD),
        sqlite_where=sa.text(NOT_TOLD),
    )
    op.create_index(
        "ix_event_flagged_id",
        "event",
        ["id"],
        postgresql_where=sa.text(FLAGGED),
        sqlite_where=sa.text(FLAGGED),
    )
    op.create_index("ix_event_unit_seq", "event", ["unit_id", "seq"])


def downgrade() -> None:
    op.drop_index("ix_event_unit_seq", table_name="event")
    op.drop_index("ix_event_flagged_id", table_name="event")
    op.drop_index("ix_feedback_item_answered_not_told", table_name="feedback_item")
