"""event filings: plans approved, announcements and 公示 published (issue 30)

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-07 03:10:00

Rules other districts' notices add, off by default: an event's plan filed with the district
office for approval before it is invited, a public announcement of a publicly invited event, and
the 公示 of its citizen representatives, each a row of `event_filing`. No existing campaign
turns them on: nothing to backfill.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0039"
down_revision: str | None = "0038"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_filing",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("submitted_by_name", sa.String(length=100), nullable=False),
        sa.Column("submitted_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("decided_by_name", sa.String(length=100), nullable=True),
        sa.Column("decided_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("event_id", "kind", name="uq_event_filing_event_kind"),
    )
    with op.batch_alter_table("event_filing", schema=None) as batch_op:
        batch_op.create_index("ix_event_filing_kind_state", ["kind", "state"], unique=False)
        batch_op.create_index(batch_op.f("ix_event_filing_unit_id"), ["unit_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("event_filing", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_event_filing_unit_id"))
        batch_op.drop_index("ix_event_filing_kind_state")
    op.drop_table("event_filing")
