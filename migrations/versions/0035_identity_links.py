"""unified sign-in: identity links and sign-ins under way (issue 29)

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-06 23:30:00

OpenID Connect (and later CAS) sign-in: `identity_link` says which outside identity is which
existing account (made by an administrator, never by a sign-in); `identity_sign_in` holds each
sign-in sent to the provider (state hash, nonce, PKCE verifier) until its answer spends it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types

revision: str = "0035"
down_revision: str | None = "0034"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "identity_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=300), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("linked_by_name", sa.String(length=100), nullable=False),
        sa.Column("linked_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_sign_in_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["account.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("provider", "subject", name="uq_identity_link_subject"),
    )
    with op.batch_alter_table("identity_link", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_identity_link_user_id"), ["user_id"], unique=False)
    op.create_table(
        "identity_sign_in",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("state_hash", sa.String(length=64), nullable=False),
        sa.Column("provider", sa.String(length=300), nullable=False),
        sa.Column("nonce", sa.String(length=128), nullable=False),
        sa.Column("code_verifier", sa.String(length=128), nullable=False),
        sa.Column("next_path", sa.String(length=2000), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("used_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("state_hash"),
    )
    with op.batch_alter_table("identity_sign_in", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_identity_sign_in_created_at"), ["created_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("identity_sign_in", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_sign_in_created_at"))
    op.drop_table("identity_sign_in")
    with op.batch_alter_table("identity_link", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_identity_link_user_id"))
    op.drop_table("identity_link")
