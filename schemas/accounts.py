"""Accounts: sign-in and one's own profile."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class LoginIn(BaseModel):
    """A username and password."""

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class UserOut(BaseModel):
    """An account as its owner and supervisors see it."""

    model_config = ConfigDict(from_attributes=True)
    id: int
    username: str
    display_name: str
    role: str
    unit_id: int | None
    email: str | None


class MePatch(BaseModel):
    """What a user may change of their own profile."""

    model_config = ConfigDict(extra="forbid")
    display_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: str | None = Field(
        default=None,
        max_length=200,
        pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
        description="where escalations addressed to this account go",
    )


class LoginOut(BaseModel):
    """A session token."""

    token: str
    token_type: str = "bearer"
    expires_at: datetime
    user: UserOut
