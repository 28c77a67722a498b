"""rectification after a spot check found lacking; visits linked to a round (issue 25)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-06 20:10:00

强化督查，严格问责: a round found lacking gets a rectification notice with its own due day,
the unit's report (and files), the supervisor's closing. An on-site visit may name the round it
informed and mark its findings as a problem. Existing visits keep their findings, link to no
round and are not marked (no deduction appears for them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    op.create_table(
        "rectification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("unit_id", sa.Integer(), nullable=False),
        sa.Column("spot_check_id", sa.Integer(), nullable=False),
        sa.Column("notice", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.Column("due_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("due_provisional", sa.Boolean(), nullable=False),
        sa.Column("report", sa.Text(), nullable=False),
        sa.Column("reported_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("reported_by", sa.Integer(), nullable=True),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("send_back_reasons", sa.Text(), nullable=True),
        sa.Column("closed_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("closed_by", sa.Integer(), nullable=True),
        sa.Column("issued_by", sa.Integer(), nullable=True),
        sa.Column("issued_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("last_notified_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["unit_id"], ["unit.id"]),
        sa.ForeignKeyConstraint(["spot_check_id"], ["spot_check.id"]),
        sa.ForeignKeyConstraint(["reported_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["closed_by"], ["account.id"]),
        sa.ForeignKeyConstraint(["issued_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("spot_check_id"),
    )
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rectification_event_id"), ["event_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rectification_unit_id"), ["unit_id"], unique=False)
    op.create_table(
        "rectification_file",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("rectification_id", sa.Integer(), nullable=False),
        sa.Column("filename", sa.String(length=255), nullable=False),
        sa.Column("content_type", sa.String(length=100), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=255), nullable=False),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["rectification_id"], ["rectification.id"]),
        sa.ForeignKeyConstraint(["uploaded_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rectification_file", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_rectification_file_rectification_id"),
            ["rectification_id"],
            unique=False,
        )
    # Plain ALTER TABLE … ADD COLUMN on both databases: a batch copy of site_visit on SQLite
    # would drop the table its photos refer to. The round is a plain reference (no database
    # constraint: visits.record checks it is a round of the same event).
    op.add_column("site_visit", sa.Column("spot_check_id", sa.Integer(), nullable=True))
    op.add_column(
        "site_visit",
        sa.Column("problem", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_index(op.f("ix_site_visit_spot_check_id"), "site_visit", ["spot_check_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_site_visit_spot_check_id"), table_name="site_visit")
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): no copy of the table its photos refer to.
    op.execute("ALTER TABLE site_visit DROP COLUMN problem")
    op.execute("ALTER TABLE site_visit DROP COLUMN spot_check_id")
    with op.batch_alter_table("rectification_file", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_file_rectification_id"))
    op.drop_table("rectification_file")
    with op.batch_alter_table("rectification", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rectification_unit_id"))
        batch_op.drop_index(batch_op.f("ix_rectification_event_id"))
    op.drop_table("rectification")
