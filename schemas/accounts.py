"""Accounts: sign-in, one's own profile, password and tokens, and managing accounts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from schemas.common import Id

RoleName = Literal[
    "admin", "supervisor", "unit_staff", "viewer", "system_admin", "security_admin", "audit_admin"
]
EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
USERNAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{1,63}$"


class LoginIn(BaseModel):
    """A username and password, and the second factor's code where the account has one or its
    role needs one (a 6-digit TOTP code or a recovery code)."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    code: str | None = Field(default=None, max_length=32)


class UserOut(BaseModel):
    """An account as its owner and supervisors see it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    email: str | None
    escalation_delivery: str | None = None
    is_active: bool = True
    must_change_password: bool = Field(
        default=False, description="signed in with a one-time password: set a new one"
    )
    created_at: datetime | None = None
    password_changed_at: datetime | None = None
    disabled_at: datetime | None = None


class MePatch(BaseModel):
    """What a user may change of their own profile (viewers: nothing)."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(
        default=None,
        max_length=200,
        pattern=EMAIL_PATTERN,
        description="where escalations addressed to this account go",
    )
    escalation_delivery: Literal["individual", "digest"] | None = Field(
        default=None,
        description="individual | digest (催办汇总 once a day) for escalations to this account's "
        "e-mail; null: the campaign's setting",
    )


class LoginOut(BaseModel):
    """A session token."""

    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut


class PasswordChangeIn(BaseModel):
    """One's own password change: the current password, then the new one."""

    model_config = ConfigDict(extra="forbid")
    old_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=1, max_length=256, description="at least 10 characters")


class PasswordChangeOut(BaseModel):
    """How many of the caller's other sessions and tokens were revoked."""

    revoked_tokens: int


class TokenIn(BaseModel):
    """A new named API token, with an optional expiry."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    expires_at: datetime | None = Field(
        default=None, description="unset: OPENDAY_API_TOKEN_DAYS from now (30 days by default)"
    )


class TokenOut(BaseModel):
    """A token as its owner sees it (never the token itself, except once at creation)."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    name: str
    kind: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None = None


class TokenCreatedOut(TokenOut):
    """A new token: `token` is shown only in this answer."""

    token: str


class UserIn(BaseModel):
    """A new account; without a password a one-time password is made and shown once."""

    model_config = ConfigDict(extra="forbid")
    username: str = Field(pattern=USERNAME_PATTERN, description="letters, digits, . _ -")
    role: RoleName
    unit_id: Id | None = Field(default=None, description="required for unit_staff only")
    display_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=200, pattern=EMAIL_PATTERN)
    password: str | None = Field(default=None, min_length=1, max_length=256)


class UserPatch(BaseModel):
    """An administrator's change of an account: role and unit together, name, e-mail."""

    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    unit_id: Id | None = None
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(default=None, max_length=200, pattern=EMAIL_PATTERN)


class UserCreatedOut(UserOut):
    """A new account; `one_time_password` is set (and shown only here) when none was given."""

    one_time_password: str | None = None


class PasswordResetOut(BaseModel):
    """A reset: the one-time password, shown only in this answer; every token was revoked."""

    user: UserOut
    one_time_password: str


class RevokedOut(BaseModel):
    """How many tokens were revoked."""

    revoked_tokens: int
