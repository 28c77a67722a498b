"""cancellation requests (issue 25)

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-06 20:05:00

Cancelling becomes a request a supervisor decides. Every event cancelled before this revision
(unit staff cancelled directly) gets an approved, direct cancellation row from its `cancel`
audit line (reason, who, when), so the report keeps its reason and it counts as not held.

Big tables: event, transition_log (read). Every cancelled event is joined to its cancel audit lines
and gets one inserted cancellation_request row. Measured at 1M rows (bench/migration_rows.py,
docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cancellation_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("direct", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_by_name", sa.String(length=100), nullable=False),
        sa.Column("requested_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_by_name", sa.String(length=100), nullable=True),
        sa.Column("decided_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column("exempt", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("exempt_reason", sa.Text(), nullable=True),
        sa.Column("exempt_by_name", sa.String(length=100), nullable=True),
        sa.Column("exempt_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["decided_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("cancellation_request", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_cancellation_request_event_id"), ["event_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_cancellation_request_unit_id"), ["unit_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_cancellation_request_state"), ["state"], unique=False)
    _backfill()


def _backfill() -> None:
    """An approved, direct cancellation for every event cancelled so far, from its audit line."""
    from models.types import UTCDateTime

    event = sa.table(
        "event", sa.column("id", sa.Integer), sa.column("unit_id", sa.Integer),
        sa.column("state", sa.String),
    )  # fmt: skip
    log = sa.table(
        "transition_log", sa.column("id", sa.Integer), sa.column("event_id", sa.Integer),
        sa.column("trigger", sa.String), sa.column("actor_id", sa.Integer),
        sa.column("actor_name", sa.String), sa.column("at", UTCDateTime(timezone=True)),
        sa.column("reason", sa.Text),
    )  # fmt: skip
    row = sa.table(
        "cancellation_request", sa.column("event_id", sa.Integer),
        sa.column("unit_id", sa.Integer), sa.column("reason", sa.Text),
        sa.column("state", sa.String), sa.column("direct", sa.Boolean),
        sa.column("requested_by", sa.Integer), sa.column("requested_by_name", sa.String),
        sa.column("requested_at", UTCDateTime(timezone=True)),
        sa.column("decided_by", sa.Integer), sa.column("decided_by_name", sa.String),
        sa.column("decided_at", UTCDateTime(timezone=True)), sa.column("exempt", sa.Boolean),
    )  # fmt: skip
    bind = op.get_bind()
    found = bind.execute(
        sa.select(event.c.id, event.c.unit_id, log.c.actor_id, log.c.actor_name, log.c.at,
                  log.c.reason)
        .join(log, sa.and_(log.c.event_id == event.c.id, log.c.trigger == "cancel"))
        .where(event.c.state == "cancelled")
        .order_by(log.c.id)
    ).all()  # fmt: skip
    seen: dict[int, dict[str, object]] = {}
    for r in found:  # the last cancel line of an event is the one that stands
        seen[r.id] = {
            "event_id": r.id, "unit_id": r.unit_id, "reason": r.reason or "",
            "state": "approved", "direct": True, "requested_by": r.actor_id,
            "requested_by_name": r.actor_name or "", "requested_at": r.at,
            "decided_by": r.actor_id, "decided_by_name": r.actor_name, "decided_at": r.at,
            "exempt": False,
        }  # fmt: skip
    if seen:
        bind.execute(sa.insert(row), list(seen.values()))


def downgrade() -> None:
    with op.batch_alter_table("cancellation_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cancellation_request_state"))
        batch_op.drop_index(batch_op.f("ix_cancellation_request_unit_id"))
        batch_op.drop_index(batch_op.f("ix_cancellation_request_event_id"))
    op.drop_table("cancellation_request")
