"""Answers carry the day they were given; opinions may be added after collection (issue 25)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-06 20:05:00

`answered_on` is the day a person says the answer was given (lateness counts from it),
`answered_by` who typed it in, `added_late` marks an opinion added after the collect_feedback
move. Existing answers keep what they said: answered_on is the Asia/Shanghai day of answered_at,
answered_by the operator of the answer's audit line.

Big tables: feedback_item. Every answered opinion is UPDATEd (answered_on, answered_by), after one
read of every answer line of transition_log. Measured at 1M rows (bench/migration_rows.py,
docs/operations.md).
"""

from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answered_on", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(100), nullable=True))
        batch_op.add_column(
            sa.Column("added_late", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    _backfill()


def _backfill() -> None:
    """Every answer given before: its day from when it was typed, its operator from the log."""
    from models.types import UTCDateTime

    local = ZoneInfo("Asia/Shanghai")
    item = sa.table(
        "feedback_item",
        sa.column("id", sa.Integer),
        sa.column("answered_at", UTCDateTime(timezone=True)),
        sa.column("answered_on", sa.Date),
        sa.column("answered_by", sa.String),
    )
    log = sa.table(
        "transition_log",
        sa.column("id", sa.Integer),
        sa.column("feedback_item_id", sa.Integer),
        sa.column("trigger", sa.String),
        sa.column("actor_name", sa.String),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(item.c.id, item.c.answered_at).where(item.c.answered_at.is_not(None))
    ).all()
    if not rows:
        return
    who = dict(
        bind.execute(
            sa.select(log.c.feedback_item_id, log.c.actor_name)
            .where(log.c.trigger == "feedback.answer")
            .order_by(log.c.id)
        ).all()
    )
    bind.execute(
        sa.update(item)
        .where(item.c.id == sa.bindparam("row_id"))
        .values(answered_on=sa.bindparam("day"), answered_by=sa.bindparam("who")),
        [
            {
                "row_id": r.id,
                "day": r.answered_at.astimezone(local).date(),
                "who": (who.get(r.id) or None) and str(who[r.id])[:100],
            }
            for r in rows
        ],
    )


def downgrade() -> None:
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_column("added_late")
        batch_op.drop_column("answered_by")
        batch_op.drop_column("answered_on")
