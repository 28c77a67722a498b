"""Accounts: password hashing, bearer tokens, and who may see or change what."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlmodel import Session, select

from models import ApiToken, Role, Unit, User
from workflows.errors import Conflict, DomainError, Forbidden, NotFound

_hasher = PasswordHasher()
TOKEN_PREFIX = "od_"


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the domain needs it (no ORM row)."""

    id: int | None
    name: str
    role: str
    unit_id: int | None

    @property
    def sees_all_units(self) -> bool:
        """Admins, supervisors and viewers see every unit; staff only their own."""
        return self.role in (Role.admin, Role.supervisor, Role.viewer)

    @property
    def can_write(self) -> bool:
        """Viewers are read-only."""
        return self.role != Role.viewer

    @property
    def is_supervisor(self) -> bool:
        """District-office supervisors (and admins) may spot-check and manage campaigns."""
        return self.role in (Role.admin, Role.supervisor)

    def may_see_unit(self, unit_id: int) -> bool:
        """Whether this caller may read anything of the unit."""
        return self.sees_all_units or self.unit_id == unit_id

    def require_write(self) -> None:
        """Refuse any change by a read-only account."""
        if not self.can_write:
            raise Forbidden("read_only", "只读账号不能修改数据", "this account is read-only")

    def require_unit(self, unit_id: int, zh: str, en: str) -> None:
        """Refuse acting for a unit the caller does not belong to (supervisors act for any)."""
        if not self.may_see_unit(unit_id):
            raise Forbidden("other_unit", zh, en)

    def require_supervisor(self) -> None:
        """Refuse callers who are not district-office supervisors or admins."""
        if not self.is_supervisor:
            raise Forbidden(
                "supervisor_required",
                "仅区政府办督查人员或管理员可执行此操作",
                "only district-office supervisors or admins may do this",
            )

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a user row."""
        return cls(id=user.id, name=user.username, role=user.role, unit_id=user.unit_id)


SYSTEM = Actor(id=None, name="system", role=Role.admin, unit_id=None)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    return _hasher.hash(password)


def hash_token(token: str) -> str:
    """Tokens are 256-bit random, so a plain SHA-256 is the right (and fast) lookup key."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(
    session: Session,
    user: User,
    *,
    kind: str,
    now: datetime,
    name: str = "",
    lifetime: timedelta | None = None,
) -> str:
    """Create a token for a user and return it; only its hash is stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    assert user.id is not None
    session.add(
        ApiToken(
            user_id=user.id,
            token_hash=hash_token(token),
            kind=kind,
            name=name,
            created_at=now,
            expires_at=now + lifetime if lifetime else None,
        )
    )
    return token


def authenticate_token(session: Session, token: str, now: datetime) -> User | None:
    """The active user a bearer token belongs to, or None."""
    row = session.exec(
        select(ApiToken, User)
        .join(User, User.id == ApiToken.user_id)  # type: ignore[arg-type]
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or not user.is_active:
        return None
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    return user


def revoke_token(session: Session, token: str, now: datetime) -> None:
    """Revoke a token (logout)."""
    api_token = session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).first()
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = now


def verify_login(session: Session, username: str, password: str) -> User:
    """The user for a username and password, or a 401 that does not say which was wrong."""
    user = session.exec(select(User).where(User.username == username)).first()
    ok = False
    if user is not None and user.password_hash and user.is_active:
        try:
            ok = _hasher.verify(user.password_hash, password)
        except (VerificationError, InvalidHashError):
            ok = False
    if not ok or user is None:
        raise DomainError(
            "invalid_credentials",
            "用户名或密码错误",
            "wrong username or password",
            status=401,
        )
    return user


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    now: datetime,
    unit_name: str | None = None,
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
) -> User:
    """Create an account; unit staff must name their unit, other roles must not."""
    if role not in set(Role):
        raise DomainError(
            "invalid_role",
            f"未知角色“{role}”，可选：{'、'.join(Role)}",
            f"unknown role '{role}'; choose one of {', '.join(Role)}",
            status=422,
        )
    unit_id = None
    if role == Role.unit_staff:
        if not unit_name:
            raise DomainError(
                "unit_required",
                "单位工作人员账号必须指定所属单位（--unit）",
                "a unit_staff account needs its unit (--unit)",
                status=422,
            )
        unit = session.exec(select(Unit).where(Unit.name == unit_name)).first()
        if unit is None:
            raise NotFound(
                "unit_not_found", f"单位“{unit_name}”不存在", f"no unit named '{unit_name}'"
            )
        unit_id = unit.id
    elif unit_name:
        raise DomainError(
            "unit_not_allowed",
            f"角色 {role} 不属于某个单位，不能指定 --unit",
            f"role {role} is not tied to a unit; drop --unit",
            status=422,
        )
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(
            "username_taken", f"用户名“{username}”已存在", f"username '{username}' exists"
        )
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        unit_id=unit_id,
        email=email,
        password_hash=hash_password(password) if password else None,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


# What a user may change of their own profile.
PROFILE_FIELDS = {"display_name", "email"}


def update_profile(session: Session, actor: Actor, changes: dict[str, Any]) -> User:
    """Change one's own display name or e-mail."""
    user = session.get(User, actor.id)
    if user is None:
        raise NotFound("user_not_found", "账号不存在", "no such account")
    for key, value in changes.items():
        if key in PROFILE_FIELDS:
            setattr(user, key, value)
    session.flush()
    return user
