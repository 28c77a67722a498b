"""Signing in: the password check with the 等保 lockout, and starting a session — the one
place every way of signing in (a password today, OpenID Connect and other portals beside it)
turns a known account into a session token.

Pages call `pages.auth.begin_session`, which asks for the second factor when the account has
one or its role needs one (workflows.accounts.second_factor) and then calls `start_session`
here; so a new way of signing in gets the second factor, the sign-in record and its audit by
ending there rather than issuing a token itself.

Every sign-in, failure, lockout and session end is an audit line (entity "account").
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.exc import OperationalError
from sqlmodel import Session, col, select

from models import ApiToken, User
from workflows.accounts.service import (
    PENDING,
    PENDING_LIFETIME,
    SessionRules,
    hash_token,
    issue_token,
    verify_login,
)
from workflows.kernel import audit, tenancy
from workflows.kernel.daywords import moment_zh
from workflows.kernel.errors import DomainError, NotFound
from workflows.kernel.visibility import Actor

log = structlog.get_logger("openday.accounts")

# How the person proved who they are, as the session records it.
METHODS = frozenset({"password", "oidc"})
ADDRESS_LENGTH = 64


@dataclass(frozen=True)
class Lockout:
    """Wrong passwords or codes in a row that lock an account, and for how long (settings
    OPENDAY_LOCKOUT_FAILURES, OPENDAY_LOCKOUT_MINUTES); failures 0 turns it off."""

    failures: int = 5
    minutes: int = 30

    @classmethod
    def of(cls, settings: Any) -> Lockout:
        """The lockout the service's settings ask for."""
        return cls(settings.lockout_failures, settings.lockout_minutes)


def _line(session: Session, user: User | None, action: str, now: datetime, **after: Any) -> None:
    actor = Actor.of(user) if user is not None else Actor(None, "anonymous", "", None)
    tenancy.for_access_line(session, user.district_id if user is not None else None)
    audit.record(session, actor, entity="account", entity_id=user.id if user else None,
                 unit_id=user.unit_id if user else None, action=action, now=now,
                 after=after)  # fmt: skip


def _locked(user: User, now: datetime) -> DomainError:
    until = user.locked_until or now
    return DomainError(
        "account_locked",
        f"连续登录失败次数过多，账号已锁定，请于 {moment_zh(until)} 后再试，或联系安全管理员解锁",
        f"too many failed sign-ins in a row; the account is locked until {until.isoformat()}",
        status=423,
        details={"locked_until": until.isoformat()},
    )


def require_unlocked(user: User, now: datetime) -> None:
    """Refuse an account locked by failures in a row (423)."""
    if user.locked_until is not None and user.locked_until > now:
        raise _locked(user, now)


def record_failure(
    session: Session,
    username: str,
    now: datetime,
    *,
    address: str,
    lockout: Lockout,
    what: str = "password",
) -> None:
    """Audit a failed sign-in and count it against the account; the lockout falls on the
    failure that reaches `lockout.failures`. The caller commits."""
    user = session.exec(select(User).where(User.username == username[:64])).first()
    _line(session, user, "sign_in_failure", now, username=username[:64],
          address=address[:ADDRESS_LENGTH], factor=what)  # fmt: skip
    if user is None or lockout.failures <= 0:
        return
    user.failed_sign_ins = (user.failed_sign_ins or 0) + 1
    if user.failed_sign_ins >= lockout.failures:
        user.locked_until = now + timedelta(minutes=lockout.minutes)
        user.failed_sign_ins = 0
        _line(session, user, "account_locked", now, locked_until=user.locked_until.isoformat())
    session.flush()


def password_sign_in(
    session: Session, username: str, password: str, now: datetime, *, address: str, lockout: Lockout
) -> User:
    """The account for a username and password (401 otherwise, 423 while locked); a failure is
    audited and counted (flushed: the caller commits it even though it refuses)."""
    try:
        user = verify_login(session, username, password)
        require_unlocked(user, now)
    except DomainError as exc:
        if exc.code == "account_locked":
            raise
        _try_record_failure(session, username, now, address=address, lockout=lockout)
        raise
    return user


def _try_record_failure(
    session: Session, username: str, now: datetime, *, address: str, lockout: Lockout
) -> None:
    """Record a failure in a savepoint. When the database cannot take the write at once
    (SQLite's write lock held by another writer: the password check reads on a deferred
    connection), the 401 still goes out at once and the failure is only logged: a wrong
    password must never wait for, or fail on, the lock (the throttle still counts it)."""
    try:
        with session.begin_nested():
            record_failure(session, username, now, address=address, lockout=lockout)
    except OperationalError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else ""
        log.warning("sign_in_failure_not_recorded", username=username[:64], error=reason)


def pending_session(session: Session, user: User, now: datetime, *, method: str) -> str:
    """A token good only for the second step of signing in (PENDING_LIFETIME)."""
    return issue_token(session, user, kind=PENDING, now=now, name=method, lifetime=PENDING_LIFETIME)


def start_session(
    session: Session,
    user: User,
    now: datetime,
    *,
    lifetime: timedelta,
    method: str = "password",
    name: str = "页面登录",
    address: str = "",
) -> str:
    """Issue a session token for `user`, who has just proved who they are by `method` (and
    their second factor where one is needed); the token is returned (only its hash is stored).
    The sign-in is recorded on the account and audited. The caller commits."""
    if method not in METHODS:
        raise ValueError(f"unknown sign-in method {method!r}")
    require_unlocked(user, now)
    token = issue_token(session, user, kind="session", now=now, name=name, lifetime=lifetime)
    session.flush()
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).one()
    row.address = address[:ADDRESS_LENGTH] or None
    user.last_sign_in_at = now
    user.last_sign_in_address = address[:ADDRESS_LENGTH] or None
    user.failed_sign_ins = 0
    user.locked_until = None
    _line(session, user, "sign_in", now, method=method, address=address[:ADDRESS_LENGTH])
    session.flush()
    return token


def previous_sign_in(session: Session, user_id: int) -> ApiToken | None:
    """The session before the newest one (its time and address are shown after signing in)."""
    rows = session.exec(
        select(ApiToken)
        .where(ApiToken.user_id == user_id, ApiToken.kind == "session")
        .order_by(col(ApiToken.id).desc())
        .limit(2)
    ).all()
    return rows[1] if len(rows) > 1 else None


def live_sessions(
    session: Session, user_id: int, now: datetime, rules: SessionRules
) -> list[ApiToken]:
    """One's own signed-in sessions still live (not revoked, expired or idle), newest first."""
    rows = session.exec(
        select(ApiToken)
        .where(
            ApiToken.user_id == user_id,
            ApiToken.kind == "session",
            col(ApiToken.revoked_at).is_(None),
            col(ApiToken.expires_at) > now,
        )
        .order_by(col(ApiToken.id).desc())
    ).all()
    return [t for t in rows if not rules.idle(t.kind, t.last_used_at, t.created_at, now)]


def end_session(session: Session, actor: Actor, token_id: int, now: datetime) -> ApiToken:
    """End one of one's own sessions ("end this session"; another's is 404), audited."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id or token.kind != "session":
        raise NotFound("session_not_found", "该登录不存在", f"session {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
        user = session.get(User, actor.id)
        _line(session, user, "session_end", now, session_id=token_id, how="ended")
    session.flush()
    return token


def sign_out(session: Session, token: str, now: datetime) -> None:
    """Sign out: the session's token is revoked and the end audited."""
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).first()
    if row is None or row.revoked_at is not None:
        return
    row.revoked_at = now
    user = session.get(User, row.user_id)
    _line(session, user, "session_end", now, session_id=row.id, how="signed_out")
    session.flush()
