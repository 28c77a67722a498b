"""Unified sign-in (统一身份认证): which outside identity is which account; sign-ins under way."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class IdentityLink(SQLModel, table=True):
    """An administrator's statement that the identity `subject` at `provider` is this account.

    `subject` is the value of the configured claim (OPENDAY_OIDC_CLAIM, `sub` by default; a CAS
    adapter's user name). Accounts are never created from a sign-in: no link, no session."""

    __tablename__ = "identity_link"
    __table_args__ = (sa.UniqueConstraint("provider", "subject", name="uq_identity_link_subject"),)

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(sa_type=sa.String(300))  # the issuer URL (or CAS server URL)
    subject: str = Field(sa_type=sa.String(255))
    user_id: int = Field(foreign_key="account.id", index=True)
    linked_by_name: str = Field(sa_type=sa.String(100))
    linked_at: datetime = Field(sa_type=UTCDateTime)
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class IdentitySignIn(SQLModel, table=True):
    """One sign-in sent to the provider and not yet back: what its answer must match. Spent on
    its first return, so a replayed answer finds nothing to match."""

    __tablename__ = "identity_sign_in"

    id: int | None = Field(default=None, primary_key=True)
    state_hash: str = Field(sa_type=sa.String(64), unique=True)  # SHA-256 of the `state`
    provider: str = Field(sa_type=sa.String(300))
    nonce: str = Field(sa_type=sa.String(128))
    code_verifier: str = Field(sa_type=sa.String(128))  # PKCE
    next_path: str = Field(sa_type=sa.String(2000))
    created_at: datetime = Field(sa_type=UTCDateTime, index=True)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
