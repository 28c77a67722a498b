"""backup runs: each backup taken, and the nightly one claimed once a day (issue 31)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-06 20:10:00

A new, empty table: `openday backup` and the scheduler's nightly backup record when they ran,
where the archive went and how it ended; /readyz and /metrics show the last success. The
nightly run claims its day by a unique `claim` ("nightly:<day>"), so of several schedulers one
takes it. Nothing existing changes.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    op.create_table(
        "backup_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("claim", sa.String(length=40), nullable=True),
        sa.Column("state", sa.String(length=20), nullable=False),
        sa.Column("started_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("path", sa.String(length=1000), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("claim"),
    )


def downgrade() -> None:
    op.drop_table("backup_run")
