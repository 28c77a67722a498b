"""registrants' optional e-mail address (encrypted), for messages about their registration

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30 23:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("email_enc", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.drop_column("email_enc")
