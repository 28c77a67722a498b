"""Accounts, roles and API tokens."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import UTCDateTime


class Role(StrEnum):
    """What an account may do."""

    admin = "admin"  # everything, including accounts
    supervisor = "supervisor"  # 区政府办: every unit's events, spot checks
    unit_staff = "unit_staff"  # their own unit's events only
    viewer = "viewer"  # read-only, every unit
    # 三员分立 (等保 level 3): administrator powers split three ways; no account holds two (one
    # role per account), the last active one of each cannot be disabled or demoted.
    system_admin = "system_admin"  # settings, working-day calendar, imports, units
    security_admin = "security_admin"  # accounts, roles, sessions
    audit_admin = "audit_admin"  # reads and exports the audit, runs verify; changes nothing


class User(SQLModel, table=True):
    """A person (or service) using the API."""

    __tablename__ = "account"  # "user" is reserved in PostgreSQL

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(sa_type=sa.String(64), unique=True)
    display_name: str = Field(default="", sa_type=sa.String(100))
    role: str = Field(sa_type=sa.String(16))
    # The level the account acts at: its district, or NULL for the city (city supervisors read
    # every district; a city admin manages districts). Unit staff: their unit's district.
    # workflows.accounts.service.create_user puts new accounts in district 1 unless told.
    district_id: int | None = Field(default=None, foreign_key="district.id", index=True)
    unit_id: int | None = Field(default=None, foreign_key="unit.id")
    email: str | None = Field(default=None, sa_type=sa.String(200))  # supervisors get escalations
    # individual | digest for this supervisor's e-mail; unset: the campaign's setting.
    escalation_delivery: str | None = Field(default=None, sa_type=sa.String(16))
    password_hash: str | None = Field(default=None, sa_type=sa.String(255))
    is_active: bool = True
    created_at: datetime = Field(sa_type=UTCDateTime)
    # Set by an administrator's reset: the one-time password must be replaced at next sign-in.
    must_change_password: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false()}
    )
    password_changed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # Second factor (TOTP, RFC 6238): the secret encrypted with the personal-data key; enabled
    # once a code from it was confirmed; the last time step accepted (a code is used once).
    totp_secret_enc: str | None = Field(default=None, sa_type=sa.String(255))
    totp_enabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    totp_last_step: int | None = Field(default=None, sa_type=sa.BigInteger)
    # 等保: the previous sign-in, shown after the next one; failures in a row and the lockout.
    last_sign_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_sign_in_address: str | None = Field(default=None, sa_type=sa.String(64))
    failed_sign_ins: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    locked_until: datetime | None = Field(default=None, sa_type=UTCDateTime)


class RecoveryCode(SQLModel, table=True):
    """A one-time recovery code of the second factor; only its SHA-256 is stored."""

    __tablename__ = "recovery_code"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    code_hash: str = Field(sa_type=sa.String(64))
    created_at: datetime = Field(sa_type=UTCDateTime)
    used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class PasswordHistory(SQLModel, table=True):
    """An earlier password's hash (Argon2id), so the last few are not reused."""

    __tablename__ = "password_history"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    password_hash: str = Field(sa_type=sa.String(255))
    created_at: datetime = Field(sa_type=UTCDateTime)


class ApiToken(SQLModel, table=True):
    """A bearer token; only its SHA-256 is stored, the token itself is shown once."""

    __tablename__ = "api_token"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="account.id", index=True)
    token_hash: str = Field(sa_type=sa.String(64), unique=True)
    kind: str = Field(sa_type=sa.String(16))  # "api" (long-lived) or "session" (password login)
    name: str = Field(default="", sa_type=sa.String(100))
    created_at: datetime = Field(sa_type=UTCDateTime)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # When the token was last used (to the LAST_USE_STEP), for its owner's and managers' lists.
    last_used_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # The address a session was signed in from (its owner's list of sessions shows it).
    address: str | None = Field(default=None, sa_type=sa.String(64))
