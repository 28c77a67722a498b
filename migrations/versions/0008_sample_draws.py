"""spot-check sample draws

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 21:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "sample_draw",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("method", sa.String(length=32), nullable=False),
        sa.Column("size_mode", sa.String(length=8), nullable=False),
        sa.Column("size_value", sa.String(length=32), nullable=False),
        sa.Column("strata", sa.String(length=32), nullable=True),
        sa.Column("seed", sa.String(length=64), nullable=False),
        sa.Column("population", sa.JSON(), nullable=False),
        sa.Column("population_sha256", sa.String(length=64), nullable=False),
        sa.Column("excluded", sa.JSON(), nullable=False),
        sa.Column("selected", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("drawn_by", sa.Integer(), nullable=True),
        sa.Column("drawn_by_name", sa.String(length=100), nullable=False),
        sa.Column("drawn_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["drawn_by"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sample_draw", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sample_draw_campaign_id"), ["campaign_id"], unique=False
        )
    _append_only()


def _append_only() -> None:
    """A draw is never redone in place: UPDATE and DELETE are refused by the database."""
    if op.get_bind().dialect.name == "sqlite":
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER sample_draw_no_{action.lower()} BEFORE {action} "
                "ON sample_draw BEGIN SELECT RAISE(ABORT, 'sample_draw is append-only'); END"
            )
        return
    op.execute(
        "CREATE FUNCTION sample_draw_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE EXCEPTION 'sample_draw is append-only'; END $$"
    )
    op.execute(
        "CREATE TRIGGER sample_draw_append_only BEFORE UPDATE OR DELETE ON sample_draw "
        "FOR EACH ROW EXECUTE FUNCTION sample_draw_append_only()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS sample_draw_append_only ON sample_draw")
        op.execute("DROP FUNCTION IF EXISTS sample_draw_append_only()")
    with op.batch_alter_table("sample_draw", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_draw_campaign_id"))
    op.drop_table("sample_draw")
