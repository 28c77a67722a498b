"""API tokens expire and record their last use (issue 29)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 17:50:00

Tokens made without an expiry lived for ever. `last_used_at` is added, and every live token
without an expiry gets one counted from its issue: OPENDAY_API_TOKEN_DAYS (30 by default) after
`created_at` (one already older than that expires at once; its owner makes a new one).

Big tables: none. Updates api_token, one row per live token without an expiry.
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    from models.types import UTCDateTime

    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", UTCDateTime(timezone=True), nullable=True))
    _backfill()


def _backfill() -> None:
    """Every live token without an expiry gets one, counted from its issue."""
    from models.types import UTCDateTime
    from settings import Settings

    lifetime = timedelta(days=Settings().api_token_days)
    token = sa.table(
        "api_token",
        sa.column("id", sa.Integer),
        sa.column("created_at", UTCDateTime(timezone=True)),
        sa.column("expires_at", UTCDateTime(timezone=True)),
        sa.column("revoked_at", UTCDateTime(timezone=True)),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(token.c.id, token.c.created_at).where(
            token.c.expires_at.is_(None), token.c.revoked_at.is_(None)
        )
    ).all()
    if rows:
        bind.execute(
            sa.update(token)
            .where(token.c.id == sa.bindparam("row_id"))
            .values(expires_at=sa.bindparam("until")),
            [{"row_id": r.id, "until": r.created_at + lifetime} for r in rows],
        )


def downgrade() -> None:
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("last_used_at")
