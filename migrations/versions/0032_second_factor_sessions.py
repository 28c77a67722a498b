"""second factor, sign-in record, lockout, password history (issue 29)

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-06 23:20:00

Accounts get a TOTP second factor (secret encrypted with the personal-data key, the last step
accepted so a code is used once, hashed one-time recovery codes), the previous sign-in's time
and address, failures in a row with a lockout, and the hashes of earlier passwords (no reuse of
the last five). Session tokens record the address they were signed in from. Nothing existing
changes: every new column is empty (or 0) for existing rows.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from models.types import UTCDateTime

revision: str = "0032"
down_revision: str | None = "0031"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_secret_enc", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("totp_enabled_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("last_sign_in_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("last_sign_in_address", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("failed_sign_ins", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("locked_until", UTCDateTime(timezone=True), nullable=True))
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address", sa.String(length=64), nullable=True))
    op.create_table(
        "recovery_code",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_recovery_code_user_id", "recovery_code", ["user_id"], unique=False)
    op.create_table(
        "password_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_password_history_user_id", "password_history", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_password_history_user_id", table_name="password_history")
    op.drop_table("password_history")
    op.drop_index("ix_recovery_code_user_id", table_name="recovery_code")
    op.drop_table("recovery_code")
    with op.batch_alter_table("api_token", schema=None) as batch_op:
        batch_op.drop_column("address")
    with op.batch_alter_table("account", schema=None) as batch_op:
        for name in ("locked_until", "failed_sign_ins", "last_sign_in_address", "last_sign_in_at",
                     "totp_last_step", "totp_enabled_at", "totp_secret_enc"):  # fmt: skip
            batch_op.drop_column(name)
