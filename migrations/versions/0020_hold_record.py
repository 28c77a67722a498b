"""what was held: days, forms, who met the visitors; correction requests (issue 24/25)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-06 20:05:00

A hold records its last day (`held_until`, an event held over several days), the forms actually
held (`forms_held`) and who met the visitors (`met_by`). Events held before this revision keep
their day as both first and last day, and their planned forms as the forms held (the only record
there is of them); who met the visitors stays unrecorded (NULL). `correction_request` holds a
clerk's request to correct a record after the unit's correction days, and the supervisor's
decision.

Big tables: event. Every held event is UPDATEd (held_until, forms_held), one statement per row in
one executemany. Measured at 1M rows (bench/migration_rows.py, docs/operations.md).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(sa.Column("held_until", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("forms_held", sa.JSON(none_as_null=True), nullable=True))
        batch_op.add_column(sa.Column("met_by", sa.JSON(none_as_null=True), nullable=True))
    _backfill()
    op.create_table(
        "correction_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.Integer(), nullable=True),
        sa.Column("requested_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("decided_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["requested_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["decided_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("correction_request", schema=None) as batch_op:
        batch_op.create_index("ix_correction_request_event_id", ["event_id"], unique=False)
        batch_op.create_index("ix_correction_request_unit_id", ["unit_id"], unique=False)
        batch_op.create_index("ix_correction_request_state_id", ["state", "id"], unique=False)


def _backfill() -> None:
    """Held events: the last day is the day held; the forms held are the planned forms."""
    event = sa.table(
        "event",
        sa.column("id", sa.Integer),
        sa.column("held_on", sa.Date),
        sa.column("held_until", sa.Date),
        sa.column("forms", sa.JSON),
        sa.column("forms_held", sa.JSON(none_as_null=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(event.c.id, event.c.held_on, event.c.forms).where(event.c.held_on.is_not(None))
    ).all()
    if rows:
        bind.execute(
            sa.update(event)
            .where(event.c.id == sa.bindparam("row_id"))
            .values(held_until=sa.bindparam("last"), forms_held=sa.bindparam("held")),
            [{"row_id": r.id, "last": r.held_on, "held": list(r.forms or [])} for r in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table("correction_request", schema=None) as batch_op:
        batch_op.drop_index("ix_correction_request_state_id")
        batch_op.drop_index("ix_correction_request_unit_id")
        batch_op.drop_index("ix_correction_request_event_id")
    op.drop_table("correction_request")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("met_by")
        batch_op.drop_column("forms_held")
        batch_op.drop_column("held_until")
