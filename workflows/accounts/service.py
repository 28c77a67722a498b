"""Accounts: password hashing, bearer tokens, and who may see or change what."""

from __future__ import annotations

import hashlib
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import sqlalchemy as sa
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_
from sqlmodel import Session, col, select

from models import DEFAULT_DISTRICT, ApiToken, District, PasswordHistory, Role, Unit, User
from models.db import core_connection
from workflows.accounts import districts, duties, grants
from workflows.accounts.duties import Duty
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import Conflict, DomainError, Forbidden, InvalidData, NotFound
from workflows.kernel.visibility import (
    Actor,
    district_of_new,
    in_districts,
    require_district,
    require_level,
)

log = structlog.get_logger("openday.accounts")

_hasher = PasswordHasher()
# Each Argon2 check holds 64 MiB for ~50 ms: a sign-in flood of N threads would hold N x 64 MiB
# at once (384 MB measured with the API's thread pool). Two at a time per process keeps memory
# flat; the others queue, which a throttled flood does anyway.
ARGON2_AT_ONCE = 2
ARGON2_WAIT_SECONDS = 30.0
_argon2_slots = threading.BoundedSemaphore(ARGON2_AT_ONCE)


@contextmanager
def _argon2_slot() -> Iterator[None]:
    """One of the process's Argon2 slots, or 503 when none frees up in time."""
    if not _argon2_slots.acquire(timeout=ARGON2_WAIT_SECONDS):
        raise DomainError(
            "sign_in_busy",
            "登录请求过多，请稍后再试",
            "too many sign-ins at once, try again shortly",
            status=503,
        )
    try:
        yield
    finally:
        _argon2_slots.release()


TOKEN_PREFIX = "od_"
# The kind of token a password (or portal) sign-in holds until its second factor is given: it
# opens nothing but the second step (pending_user), and lives PENDING_LIFETIME.
PENDING = "pending"
PENDING_LIFETIME = timedelta(minutes=10)


def hash_password(password: str) -> str:
    """Argon2id hash of a password."""
    with _argon2_slot():
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
        .join(User, col(User.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or not user.is_active:
        return None
    if api_token.kind == PENDING:  # half-way through signing in: good for the second step only
        return None
    if api_token.expires_at is not None and api_token.expires_at <= now:
        return None
    return user


def pending_user(session: Session, token: str, now: datetime) -> tuple[User, ApiToken] | None:
    """The account (and its token) half-way through signing in, before its second factor."""
    row = session.exec(
        select(ApiToken, User)
        .join(User, col(User.id) == ApiToken.user_id)
        .where(ApiToken.token_hash == hash_token(token), ApiToken.kind == PENDING)
    ).first()
    if row is None:
        return None
    api_token, user = row
    if api_token.revoked_at is not None or not user.is_active:
        return None
    if api_token.expires_at is None or api_token.expires_at <= now:
        return None
    return user, api_token


# Built once: run on every API request, where building and keying a fresh select cost more
# than the round trip (executed on the session's connection: no ORM layer for seven columns).
# Annotated: past ten columns mypy cannot infer the row type of sa.select() by itself.
# The city's number of districts and the account's district name come in the same statement:
# the words of its office (districts.words) for the refusals the caller may meet.
_ACTOR_BY_TOKEN_HASH: sa.Select[*tuple[Any, ...]] = (
    sa.select(
        col(User.id), col(User.username), col(User.role), col(User.unit_id), col(User.is_active),
        col(User.district_id),
        col(User.must_change_password), col(ApiToken.kind), col(ApiToken.revoked_at),
        col(ApiToken.expires_at), col(ApiToken.id).label("token_id"), col(ApiToken.last_used_at),
        col(ApiToken.created_at), col(User.password_changed_at), col(User.display_name),
        sa.select(func.count()).select_from(District).scalar_subquery().label("districts"),
        sa.select(col(District.name)).where(col(District.id) == col(User.district_id))
        .scalar_subquery().label("district_name"),
    )
    .join(User, col(User.id) == ApiToken.user_id)
    .where(col(ApiToken.token_hash) == sa.bindparam("token_hash"))
)  # fmt: skip


LAST_USE_STEP = timedelta(minutes=5)  # a token's last use is written at most this often

_DISTRICT_UNITS = sa.select(col(Unit.id)).where(col(Unit.district_id) == sa.bindparam("d"))


def district_units(session: Session, district_id: int | None) -> frozenset[int] | None:
    """The ids of a district's units: what its supervisors see (None for the city level)."""
    if district_id is None:
        return None
    rows = core_connection(session).execute(_DISTRICT_UNITS, {"d": district_id}).scalars()
    return frozenset(r for r in rows if r is not None)


def actor_of(session: Session, user: User) -> Actor:
    """The actor for an account row, with its district's units when it is district-level."""
    units = None if user.role == Role.unit_staff else district_units(session, user.district_id)
    office = districts.office_words(session, user.district_id)
    return replace(Actor.of(user, units), office=office)


def actor_for_token(session: Session, token: str, now: datetime) -> Actor | None:
    """The actor behind a live bearer token, or None (see token_use)."""
    found = token_use(session, token, now)
    return found[0] if found else None


@dataclass(frozen=True)
class SessionRules:
    """The 等保 rules a session is held to (settings OPENDAY_SESSION_IDLE_MINUTES and
    OPENDAY_PASSWORD_MAX_AGE_DAYS; 0 turns either off). API tokens (kind "api") have neither:
    their lifetime is their own."""

    idle_minutes: int = 0
    password_max_age_days: int = 0

    @classmethod
    def of(cls, settings: Any) -> SessionRules:
        """The rules the service's settings ask for."""
        return cls(settings.session_idle_minutes, settings.password_max_age_days)

    def idle(self, kind: str, used: datetime | None, created: datetime, now: datetime) -> bool:
        """Whether a session has gone unused for longer than the idle timeout."""
        if kind != "session" or self.idle_minutes <= 0:
            return False
        return (used or created) <= now - timedelta(minutes=self.idle_minutes)

    def password_expired(self, changed: datetime | None, now: datetime) -> bool:
        """Whether a password is older than its maximum age."""
        if self.password_max_age_days <= 0 or changed is None:
            return False
        return changed <= now - timedelta(days=self.password_max_age_days)


NO_RULES = SessionRules()


def _live(row: Any, now: datetime, rules: SessionRules) -> bool:
    """Whether a token's row may act now."""
    if not row.is_active or row.revoked_at is not None or row.kind == PENDING:
        return False
    if row.expires_at is not None and row.expires_at <= now:
        return False
    return not rules.idle(row.kind, row.last_used_at, row.created_at, now)


def token_use(
    session: Session, token: str, now: datetime, rules: SessionRules = NO_RULES
) -> tuple[Actor, int | None] | None:
    """The actor behind a live bearer token and, when its recorded last use is older than
    LAST_USE_STEP, the token's id (to note_use after the request), or None: as
    authenticate_token, reading only the columns an actor needs (this runs on every request).
    A session idle past `rules` is over; one whose password has expired may only change it."""
    set_aside = tenancy.set_aside(session)  # the lookup reads shared tables: no tenant sent
    row = (
        core_connection(session)
        .execute(_ACTOR_BY_TOKEN_HASH, {"token_hash": hash_token(token)})
        .first()
    )
    if row is None or not _live(row, now, rules):
        if set_aside is not None:  # a caller going on without a sign-in keeps its tenant
            tenancy.bind(session, set_aside)
        return None
    stale = row.last_used_at is None or row.last_used_at <= now - LAST_USE_STEP
    expired = row.kind == "session" and rules.password_expired(row.password_changed_at, now)
    staff = row.role == Role.unit_staff
    actor = Actor(
        id=row.id,
        name=row.username,
        role=row.role,
        unit_id=row.unit_id,
        # Only a sign-in with the one-time password is held to changing it: a token an
        # administrator issued on the command line was not obtained with that password.
        must_change_password=(bool(row.must_change_password) or expired) and row.kind == "session",
        display_name=row.display_name or "",
        district_id=row.district_id,
        city=row.district_id is None and not staff,
        office=districts.words(row.districts, row.district_name),
    )
    # From here on the request's transactions work for the caller's district (PostgreSQL's
    # row-level security, workflows/kernel/tenancy.py); its units are read under it.
    tenancy.bind_actor(session, actor)
    if not staff:
        actor = replace(actor, district_units=district_units(session, row.district_id))
    if actor.city and row.role == Role.supervisor:  # where a district granted it acting
        actor = replace(actor, acting=grants.active_districts(session, row.id))
    return actor, (int(row.token_id) if stale else None)


def note_use(engine: sa.engine.Engine, token_id: int, now: datetime) -> None:
    """Record a token's use (its own short transaction, after the request: best effort, a
    failure is logged and the request it counted is not affected)."""
    table = ApiToken.__table__  # type: ignore[attr-defined]
    update = (
        sa.update(table)
        .where(
            table.c.id == token_id,
            or_(table.c.last_used_at.is_(None), table.c.last_used_at < now),
        )
        .values(last_used_at=now)
    )
    try:
        with engine.connect() as connection, _without_waiting(connection):
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.exec_driver_sql("SET LOCAL lock_timeout = '200ms'")
                connection.execute(update)
    except sa.exc.SQLAlchemyError as exc:
        log.warning("token_last_use_not_recorded", token_id=token_id, error=str(exc)[:200])


@contextmanager
def _without_waiting(connection: sa.engine.Connection) -> Iterator[None]:
    """On SQLite, give up at once when another connection holds the write lock (a last use
    is not worth a request thread waiting out the 30 s busy timeout); as it was afterwards."""
    if connection.dialect.name != "sqlite":
        yield
        return
    raw = connection.connection.dbapi_connection
    assert raw is not None
    before = raw.execute("PRAGMA busy_timeout").fetchone()[0]
    raw.execute("PRAGMA busy_timeout=0")
    try:
        yield
    finally:
        raw.execute(f"PRAGMA busy_timeout={int(before)}")


def revoke_token(session: Session, token: str, now: datetime) -> None:
    """Revoke a token (logout)."""
    api_token = session.exec(
        select(ApiToken).where(ApiToken.token_hash == hash_token(token))
    ).first()
    if api_token is not None and api_token.revoked_at is None:
        api_token.revoked_at = now


def revoke_user_tokens(
    session: Session, user_id: int, now: datetime, *, keep: str | None = None
) -> int:
    """Revoke every live token of a user (all but the token `keep`); the number revoked."""
    stmt = select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    if keep is not None:
        stmt = stmt.where(ApiToken.token_hash != hash_token(keep))
    tokens = session.exec(stmt).all()
    for token in tokens:
        token.revoked_at = now
    session.flush()
    return len(tokens)


# ---- passwords ------------------------------------------------------------------------------

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256


@dataclass(frozen=True)
class PasswordPolicy:
    """What a new password must be (等保 level 3; settings OPENDAY_PASSWORD_MIN_LENGTH,
    OPENDAY_PASSWORD_MIN_CLASSES, OPENDAY_PASSWORD_HISTORY): long enough, of enough character
    classes, not common, not the username, and none of the last `history` passwords."""

    min_length: int = MIN_PASSWORD_LENGTH
    min_classes: int = 3
    history: int = 5

    @classmethod
    def of(cls, settings: Any) -> PasswordPolicy:
        """The policy the service's settings ask for."""
        return cls(
            settings.password_min_length, settings.password_min_classes, settings.password_history
        )


LEVEL_3 = PasswordPolicy()


@cache
def common_passwords() -> frozenset[str]:
    """The bundled list of passwords refused whatever their length (lower-cased)."""
    text = (Path(__file__).parent / "common_passwords.txt").read_text(encoding="utf-8")
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def character_classes(password: str) -> int:
    """How many of lower case, upper case, digits and other characters a password uses."""
    return sum(
        (
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def check_password_policy(password: str, username: str, policy: PasswordPolicy = LEVEL_3) -> None:
    """Refuse a password that is short, of too few character classes, the username itself, or
    a common one (422)."""
    if len(password) < policy.min_length:
        raise InvalidData(
            "password_too_short",
            f"密码至少需要 {policy.min_length} 个字符",
            f"the password needs at least {policy.min_length} characters",
            details={"min_length": policy.min_length},
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise InvalidData(
            "password_too_long",
            f"密码最多 {MAX_PASSWORD_LENGTH} 个字符",
            f"the password may have at most {MAX_PASSWORD_LENGTH} characters",
            details={"max_length": MAX_PASSWORD_LENGTH},
        )
    folded, name = password.lower(), username.lower()
    if name and folded in (name, name[::-1]):
        raise InvalidData(
            "password_is_username",
            "密码不能与用户名相同（或是用户名倒写）",
            "the password must not be the username (or the username reversed)",
        )
    if folded in common_passwords() or len(set(password)) < 4:
        raise InvalidData(
            "password_too_common",
            "密码过于常见或简单，请换一个不易猜到的密码",
            "the password is too common or simple; choose one that is hard to guess",
        )
    if character_classes(password) < policy.min_classes:
        raise InvalidData(
            "password_too_few_classes",
            f"密码须包含小写字母、大写字母、数字、其他符号中的至少 {policy.min_classes} 类",
            f"the password needs at least {policy.min_classes} of: lower case, upper case, "
            "digits, other characters",
            details={"min_classes": policy.min_classes},
        )


def generate_password() -> str:
    """A one-time password: 16 URL-safe characters (96 bits) of at least three classes."""
    while True:
        password = secrets.token_urlsafe(12)
        if character_classes(password) >= 3:
            return password


def _reused(session: Session, user: User, password: str, policy: PasswordPolicy) -> bool:
    """Whether `password` is the current one or one of the last `policy.history` before it."""
    if policy.history <= 0 or user.id is None:
        return False
    earlier = session.exec(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(col(PasswordHistory.id).desc())
        .limit(policy.history - 1)
    ).all()
    for stored in [user.password_hash, *earlier]:
        try:
            with _argon2_slot():
                if stored and _hasher.verify(stored, password):
                    return True
        except (VerificationError, InvalidHashError):
            continue
    return False


def _set_password(
    user: User,
    password: str,
    now: datetime,
    *,
    one_time: bool,
    session: Session | None = None,
    policy: PasswordPolicy = LEVEL_3,
) -> None:
    check_password_policy(password, user.username, policy)
    if session is not None and not one_time and _reused(session, user, password, policy):
        raise InvalidData(
            "password_reused",
            f"新密码不能与最近 {policy.history} 次使用过的密码相同",
            f"the new password must differ from the last {policy.history} passwords",
            details={"history": policy.history},
        )
    if session is not None and user.id is not None and user.password_hash:
        session.add(
            PasswordHistory(user_id=user.id, password_hash=user.password_hash, created_at=now)
        )
    user.password_hash = hash_password(password)
    user.password_changed_at = now
    user.must_change_password = one_time


@cache
def _dummy_hash() -> str:
    """A hash nobody's password matches: unknown users cost one Argon2 verify too."""
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_login(session: Session, username: str, password: str) -> User:
    """The user for a username and password, or a 401 that does not say which was wrong.

    Every attempt costs one Argon2 verification, against a dummy hash when the user is unknown,
    disabled or has no password, so the answer's timing does not tell whether a username exists.
    """
    user = session.exec(select(User).where(User.username == username)).first()
    usable = user is not None and bool(user.password_hash) and user.is_active
    stored = user.password_hash if usable and user is not None else _dummy_hash()
    try:
        with _argon2_slot():
            ok = _hasher.verify(stored or _dummy_hash(), password) and usable
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


def change_own_password(
    session: Session,
    actor: Actor,
    old_password: str,
    new_password: str,
    now: datetime,
    *,
    current_token: str | None = None,
    policy: PasswordPolicy = LEVEL_3,
) -> int:
    """Change one's own password (the old one required); revoke every other token of theirs.

    Returns how many tokens were revoked. Viewers may do this too: it changes their credentials,
    not the service's data.
    """
    user = load_account(session, actor.id)
    try:
        with _argon2_slot():
            ok = bool(user.password_hash) and _hasher.verify(user.password_hash or "", old_password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok:
        raise Forbidden(
            "wrong_password", "原密码不正确", "the current password is wrong", status=403
        )
    if old_password == new_password:
        raise InvalidData(
            "password_unchanged",
            "新密码不能与原密码相同",
            "the new password must differ from the current one",
        )
    _set_password(user, new_password, now, one_time=False, session=session, policy=policy)
    return revoke_user_tokens(session, user.id or 0, now, keep=current_token)


# ---- creating and managing accounts ---------------------------------------------------------


# Roles an account may be given: the legacy all-duty `admin` is retired (三员分立, issue 29).
GIVEN_ROLES = tuple(r for r in Role if r != Role.admin)


def _role(role: str) -> Role:
    if role == Role.admin:
        raise InvalidData(
            "role_retired",
            "“管理员”（admin）角色已按三员分立拆分，不能再授予：请改选系统管理员（system_admin）、"
            "安全管理员（security_admin）或审计管理员（audit_admin）",
            "the all-duty admin role is retired (separation of duties): give system_admin, "
            "security_admin or audit_admin instead",
            details={"role": role, "choose": sorted(duties.ADMINISTRATOR_ROLES)},
        )
    if role not in set(Role):
        raise DomainError(
            "invalid_role",
            f"未知角色“{role}”，可选：{'、'.join(GIVEN_ROLES)}",
            f"unknown role '{role}'; choose one of {', '.join(GIVEN_ROLES)}",
            status=422,
        )
    return Role(role)


def _known_role(role: str) -> str:
    """A role name to filter by: any role, the retired admin included (old accounts)."""
    if role != Role.admin:
        _role(role)
    return role


def _unit_for_role(
    session: Session,
    role: str,
    unit_id: int | None = None,
    unit_name: str | None = None,
    district_id: int | None = DEFAULT_DISTRICT,
) -> Unit | None:
    """The unit an account of `role` belongs to (by id, or by name in `district_id`): required
    for staff, refused for others."""
    given = unit_id is not None or bool(unit_name)
    if role != Role.unit_staff:
        if given:
            raise DomainError(
                "unit_not_allowed",
                f"角色 {role} 不属于某个单位，不能指定单位（--unit / unit_id）",
                f"role {role} is not tied to a unit; drop --unit / unit_id",
                status=422,
            )
        return None
    if not given:
        raise DomainError(
            "unit_required",
            "单位工作人员账号必须指定所属单位（--unit / unit_id）",
            "a unit_staff account needs its unit (--unit / unit_id)",
            status=422,
        )
    if unit_id is not None:
        unit = session.get(Unit, unit_id)
        label = str(unit_id)
    else:
        named = select(Unit).where(Unit.name == unit_name)
        if district_id is not None:
            named = named.where(Unit.district_id == district_id)
        unit = session.exec(named).first()
        label = str(unit_name)
    if unit is None:
        raise NotFound("unit_not_found", f"单位“{label}”不存在", f"no unit named '{label}'")
    return unit


def unit_missing(unit_id: int | None) -> NotFound:
    """The refusal of a unit the caller may not see (as for one that does not exist)."""
    return NotFound("unit_not_found", f"单位“{unit_id}”不存在", f"no unit '{unit_id}'")


def _level_of_new(
    session: Session,
    actor: Actor | None,
    role: str,
    unit_id: int | None,
    unit_name: str | None,
    district_id: int | None,
) -> tuple[int | None, int | None]:
    """A new account's district and unit: a district-level creator's own district, a staff
    account its unit's (a unit the creator does not see is not found)."""
    if actor is not None and actor.district_id is not None:
        # `create_user`'s default (district 1, as before districts) is no request of a
        # district's manager: its accounts are of its own district, whichever it is.
        asked = None if district_id == DEFAULT_DISTRICT else district_id
        district_id = district_of_new(actor, asked)
    found = _unit_for_role(session, role, unit_id, unit_name, district_id)
    if found is None:
        return district_id, None
    if actor is not None:
        require_district(actor, found.district_id, unit_missing(found.id))
    return found.district_id, found.id


def create_user(
    session: Session,
    *,
    username: str,
    role: str,
    now: datetime,
    unit_name: str | None = None,
    unit_id: int | None = None,
    password: str | None = None,
    display_name: str = "",
    email: str | None = None,
    one_time: bool = False,
    actor: Actor | None = None,
    notify: NotifyConfig | None = None,
    district_id: int | None = DEFAULT_DISTRICT,
) -> User:
    """Create an account; unit staff must name their unit, other roles must not.

    The account acts in `district_id` (None: at the city level); a staff account in its
    unit's. With a district-level `actor`, always the actor's own district (another one asked
    for is not found); a city-level actor names it.

    With `notify` (the service's channel settings) a new staff account's inbox gets its
    unit's open items at once, a new supervisor's every open item copied to the office
    (workflows/escalation/service.py `owe_open`).

    A given password must pass the policy; `one_time` marks it to be replaced at first sign-in.
    With an `actor`, the caller must be allowed to hand out the role (supervisors: unit staff
    and viewers only).
    """
    _role(role)
    if actor is not None:
        actor.require_acting()
        require_may_manage(actor, role)
    district_id, unit = _level_of_new(session, actor, role, unit_id, unit_name, district_id)
    if session.exec(select(User).where(User.username == username)).first() is not None:
        raise Conflict(
            "username_taken", f"用户名“{username}”已存在", f"username '{username}' exists"
        )
    user = User(
        username=username,
        display_name=display_name or username,
        role=role,
        unit_id=unit,
        district_id=district_id,
        email=email,
        created_at=now,
    )
    if password:
        _set_password(user, password, now, one_time=one_time)
    session.add(user)
    session.flush()
    if actor is not None:
        _audit(session, actor, user, "create", now, {})
    if notify is not None and role in (Role.unit_staff, Role.supervisor):
        escalation.owe_open(session, unit, now, notify)  # a supervisor: every unit's
    return user


# Roles a supervisor may manage (and hand out); the security administrator manages every role.
SUPERVISOR_MANAGES = frozenset({Role.unit_staff, Role.viewer})


def require_account_manager(actor: Actor, duty: Duty = Duty.accounts) -> None:
    """Refuse callers who may not manage accounts at all: of the administrators only the
    security administrator (三员分立: accounts, roles, sessions; 403 `separation_of_duties` for
    the other two), besides supervisors (their unit staff and viewers) and the console. The
    actions themselves write their audit lines."""
    if duties.require_if_administrator(None, actor, duty):
        return
    if actor.role != Role.supervisor and not actor.is_console:
        raise Forbidden(
            "accounts_forbidden",
            f"仅安全管理员或{actor.office_zh}督查人员可管理账号",
            "only the security administrator and district-office supervisors may manage accounts",
        )


def require_may_manage(actor: Actor, role: str, duty: Duty = Duty.accounts) -> None:
    """Refuse managing (or handing out) a role the caller may not (supervisors: staff, viewers)."""
    require_account_manager(actor, duty)
    if actor.role == Role.supervisor and role not in SUPERVISOR_MANAGES:
        raise Forbidden(
            "role_not_manageable",
            f"督查人员只能管理单位工作人员和只读账号，不能管理 {role} 账号",
            f"supervisors manage unit_staff and viewer accounts only, not {role}",
            details={"role": role},
        )


def load_account(session: Session, user_id: int | None) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None:
        raise NotFound("user_not_found", f"账号 {user_id} 不存在", f"account {user_id} not found")
    return user


def read_account(session: Session, actor: Actor, user_id: int) -> User:
    """One account for a manager to read (supervisors, the security administrator): 403 for
    callers who manage no accounts; another district's account, or a city-level one asked for
    by a district's manager, is not found (404), as for an unknown id."""
    require_account_manager(actor)
    user = load_account(session, user_id)
    missing = NotFound("user_not_found", f"账号 {user_id} 不存在", f"account {user_id} not found")
    require_level(actor, user.district_id, missing)
    return user


def load_managed(session: Session, actor: Actor, user_id: int, duty: Duty = Duty.accounts) -> User:
    """An account the caller may manage, or 404/403 (`duty`: which of the security
    administrator's duties the action is, accounts by default; another district's, or a
    city-level account asked for by a district's manager, is not found)."""
    require_account_manager(actor, duty)
    user = load_account(session, user_id)
    missing = NotFound("user_not_found", f"账号 {user_id} 不存在", f"account {user_id} not found")
    require_level(actor, user.district_id, missing)
    require_may_manage(actor, user.role, duty)
    return user


def find_user(session: Session, username: str) -> User:
    """An account by username (CLI), or 404."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None:
        raise NotFound("user_not_found", f"账号“{username}”不存在", f"no account '{username}'")
    return user


def list_users_query(
    actor: Actor,
    *,
    role: str | None = None,
    unit_id: int | None = None,
    active: bool | None = None,
    q: str | None = None,
    district_id: int | None = None,
) -> Any:
    """The accounts the caller may list, filtered (`district_id`: the accounts acting in that
    district), ordered by id (admins and supervisors)."""
    require_account_manager(actor)
    stmt = in_districts(select(User), actor, User.district_id).order_by(col(User.id))
    if district_id is not None:
        stmt = stmt.where(User.district_id == district_id)
    if role is not None:
        stmt = stmt.where(User.role == _known_role(role))
    if unit_id is not None:
        stmt = stmt.where(User.unit_id == unit_id)
    if active is not None:
        stmt = stmt.where(User.is_active == active)
    if q:
        pattern = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.display_name).like(pattern),
            )
        )
    return stmt


KEEP_ONE_OF = frozenset({Role.system_admin, Role.security_admin, Role.audit_admin})


def _other_active(session: Session, user: User) -> int:
    return session.exec(
        select(func.count())
        .select_from(User)
        .where(User.role == user.role, User.is_active, User.id != user.id)
    ).one()


def _keep_an_admin(session: Session, user: User) -> None:
    """The last active account of an administrator role is never disabled or demoted."""
    if user.role in KEEP_ONE_OF and user.is_active and _other_active(session, user) == 0:
        raise Conflict(
            "last_admin",
            "这是最后一个启用的该类管理员账号（系统/安全/审计管理员），不能停用或降级",
            f"this is the last active {user.role} account; it cannot be disabled or demoted",
            details={"role": user.role},
        )


SPLIT_ROLES = frozenset({Role.system_admin, Role.security_admin, Role.audit_admin})


def _one_duty(old: str, new: str) -> None:
    """三员分立: an account that held one administrator duty never takes another (it would
    have held two); a new account is made for the other duty."""
    if old in SPLIT_ROLES and new in SPLIT_ROLES:
        raise Conflict(
            "two_administrator_roles",
            "三员分立：同一账号不能先后担任两种管理员角色，请为该职责另建账号",
            "separation of duties: one account never holds two administrator roles; "
            "create another account for that duty",
            details={"from": old, "to": new},
        )


def _not_self(actor: Actor, user: User, what_zh: str, what_en: str) -> None:
    if actor.id is not None and actor.id == user.id:
        raise Conflict(
            "own_account",
            f"不能{what_zh}自己的账号，请由其他管理员操作",
            f"you cannot {what_en} your own account; ask another admin",
        )


# What the audit line keeps of an account (never a password or token).
ACCOUNT_FIELDS = ["username", "role", "unit_id", "display_name", "email", "is_active"]


def _audit(
    session: Session,
    actor: Actor,
    user: User,
    action: str,
    now: datetime,
    before: dict[str, Any] | None = None,
) -> None:
    tenancy.for_access_line(session, user.district_id)
    audit.record(
        session,
        actor,
        entity="account",
        entity_id=user.id,
        unit_id=user.unit_id,
        action=action,
        now=now,
        before=before,
        after=audit.snapshot(user, ACCOUNT_FIELDS)
        if before is not None
        else {"username": user.username},
    )


def update_user(
    session: Session, actor: Actor, user_id: int, changes: dict[str, Any], now: datetime
) -> User:
    """Change an account's role, unit, display name or e-mail (role and unit checked together)."""
    actor.require_acting()
    user = load_managed(session, actor, user_id)
    before = audit.snapshot(user, ACCOUNT_FIELDS)
    role = _role(changes["role"]) if changes.get("role") else user.role
    if "role" in changes or "unit_id" in changes:
        if role != user.role:
            _not_self(actor, user, "更改角色", "change the role of")
            _one_duty(user.role, role)
            require_may_manage(actor, user.role, Duty.roles)
            require_may_manage(actor, role, Duty.roles)
            _keep_an_admin(session, user)
        unit_id = changes["unit_id"] if "unit_id" in changes else user.unit_id
        if role != Role.unit_staff and "unit_id" not in changes:
            unit_id = None  # leaving unit staff drops the unit
        found = _unit_for_role(session, role, unit_id)
        if found is not None:
            # A staff account moves with its unit: never into a district the manager does not see.
            require_district(actor, found.district_id, unit_missing(found.id))
            user.district_id = found.district_id
        user.unit_id = None if found is None else found.id
        user.role = role
    for key in ("display_name", "email"):
        if key in changes:
            setattr(user, key, changes[key])
    session.flush()
    _audit(session, actor, user, "update", now, before)
    return user


def set_active(session: Session, actor: Actor, user_id: int, active: bool, now: datetime) -> User:
    """Disable (revoking every token) or re-enable an account."""
    actor.require_acting()
    user = load_managed(session, actor, user_id)
    before = audit.snapshot(user, ACCOUNT_FIELDS)
    if not active:
        _not_self(actor, user, "停用", "disable")
        _keep_an_admin(session, user)
        if user.is_active:
            user.disabled_at = now
            revoke_user_tokens(session, user_id, now)
    else:
        user.disabled_at = None
    user.is_active = active
    session.flush()
    _audit(session, actor, user, "enable" if active else "disable", now, before)
    return user


def reset_password(session: Session, actor: Actor, user_id: int, now: datetime) -> str:
    """Give an account a one-time password (returned, shown once) and revoke its tokens."""
    actor.require_acting()
    user = load_managed(session, actor, user_id)
    password = generate_password()
    while True:  # a random 16-character password passes the policy all but never; be sure
        try:
            _set_password(user, password, now, one_time=True, session=session)
            break
        except InvalidData:
            password = generate_password()
    revoke_user_tokens(session, user_id, now)
    _audit(session, actor, user, "reset_password", now)
    return password


def revoke_all_tokens(session: Session, actor: Actor, user_id: int, now: datetime) -> int:
    """Revoke every token of an account (its sessions end; it may sign in again)."""
    actor.require_acting()
    user = load_managed(session, actor, user_id, Duty.sessions)
    _audit(session, actor, user, "revoke_tokens", now)
    return revoke_user_tokens(session, user_id, now)


# ---- one's own profile and tokens -----------------------------------------------------------

# What a user may change of their own profile.
PROFILE_FIELDS = {"display_name", "email", "escalation_delivery"}
MAX_TOKEN_DAYS = 3650


def update_profile(session: Session, actor: Actor, changes: dict[str, Any]) -> User:
    """Change one's own display name, e-mail or how escalations reach it (individual notices or
    the daily digest); viewers and the audit administrator change nothing, their profile
    included."""
    if actor.role in (Role.viewer, Role.audit_admin):
        raise Forbidden("read_only", "只读账号不能修改数据", "this account is read-only")
    user = load_account(session, actor.id)
    for key, value in changes.items():
        if key in PROFILE_FIELDS:
            setattr(user, key, value)
    session.flush()
    return user


def own_tokens(session: Session, actor: Actor) -> list[ApiToken]:
    """The caller's tokens, newest first (revoked and expired ones included, so they can tell)."""
    stmt = select(ApiToken).where(ApiToken.user_id == actor.id).order_by(col(ApiToken.id).desc())
    return list(session.exec(stmt).all())


def create_own_token(
    session: Session,
    actor: Actor,
    name: str,
    now: datetime,
    expires_at: datetime | None,
    max_days: int = MAX_TOKEN_DAYS,
) -> tuple[ApiToken, str]:
    """A named API token for the caller, expiring when asked or after `max_days` (the
    OPENDAY_API_TOKEN_DAYS setting), never later; the token is returned once."""
    if expires_at is not None and not now < expires_at <= now + timedelta(days=max_days):
        raise InvalidData(
            "invalid_expiry",
            f"过期时间须晚于现在、且不超过 {max_days} 天",
            f"the expiry must be in the future and at most {max_days} days away",
        )
    user = load_account(session, actor.id)
    lifetime = expires_at - now if expires_at is not None else timedelta(days=max_days)
    token = issue_token(session, user, kind="api", now=now, name=name, lifetime=lifetime)
    session.flush()
    row = session.exec(select(ApiToken).where(ApiToken.token_hash == hash_token(token))).one()
    return row, token


def tokens_of(session: Session, actor: Actor, user_id: int) -> list[ApiToken]:
    """An account's tokens as someone who manages it sees them, newest first (403/404)."""
    load_managed(session, actor, user_id, Duty.sessions)
    stmt = select(ApiToken).where(ApiToken.user_id == user_id).order_by(col(ApiToken.id).desc())
    return list(session.exec(stmt).all())


def revoke_own_token(session: Session, actor: Actor, token_id: int, now: datetime) -> ApiToken:
    """Revoke one of the caller's tokens (someone else's is 404)."""
    token = session.get(ApiToken, token_id)
    if token is None or token.user_id != actor.id:
        raise NotFound("token_not_found", f"令牌 {token_id} 不存在", f"token {token_id} not found")
    if token.revoked_at is None:
        token.revoked_at = now
    session.flush()
    return token
