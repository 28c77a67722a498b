"""Sign-in and sign-out, one's own profile, password and tokens, and managing accounts."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse

from models import User
from schemas.accounts import (
    LoginIn,
    LoginOut,
    MePatch,
    PasswordChangeIn,
    PasswordChangeOut,
    PasswordResetOut,
    RevokedOut,
    RoleName,
    TokenCreatedOut,
    TokenIn,
    TokenOut,
    UserCreatedOut,
    UserIn,
    UserOut,
    UserPatch,
)
from schemas.common import ErrorOut, Id, Page
from web.deps import (
    API_PREFIX,
    ActorDep,
    ClockDep,
    CredentialsDep,
    PagingDep,
    SessionDep,
    SettingsDep,
    fetch_page,
)
from web.errors import error_response
from web.throttle import login_throttle
from workers.runtime import notify_config
from workflows.accounts import duties, second_factor, signin
from workflows.accounts import service as accounts
from workflows.accounts.identity.policy import require_password_allowed
from workflows.accounts.throttle import TooManyAttempts
from workflows.kernel.errors import DomainError
from workflows.public import privacy

router = APIRouter(prefix=API_PREFIX, tags=["accounts"])


def _too_many(exc: TooManyAttempts) -> JSONResponse:
    response = error_response(429, exc.code, exc.message_zh, exc.message_en, exc.details)
    response.headers["Retry-After"] = str(exc.retry_after)
    return response


@router.post("/auth/login", response_model=LoginOut, responses={429: {"model": ErrorOut}})
def login(
    body: LoginIn, request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """Exchange a username and password for a session token (failures throttled: 429)."""
    throttle = login_throttle(request, settings)
    address = request.client.host if request.client else "unknown"
    now = clock.now()
    try:
        user = throttle.sign_in(
            body.username,
            address,
            lambda: signin.password_sign_in(
                session, body.username, body.password, now, address=address,
                lockout=signin.Lockout.of(settings),
            ),
        )  # fmt: skip
        require_password_allowed(user, settings.password_off)
        _second_factor(session, user, body.code, now, settings, address)
    except TooManyAttempts as exc:
        session.commit()
        return _too_many(exc)
    except DomainError:
        session.commit()  # the failure's audit line and count
        raise
    session.commit()  # end the read (the password check) before the write: no write lock held
    lifetime = timedelta(hours=settings.session_hours)
    token = signin.start_session(
        session, user, now, lifetime=lifetime, method="password", name="", address=address
    )
    session.commit()
    return LoginOut(token=token, expires_at=now + lifetime, user=UserOut.model_validate(user))


def _second_factor(
    session: SessionDep,
    user: User,
    code: str | None,
    now: datetime,
    settings: SettingsDep,
    address: str,
) -> None:
    """The API's sign-in asks for the same second factor as the pages' (in `code`)."""
    roles = second_factor.required_roles(settings.totp_required_roles)
    if second_factor.is_enrolled(user):
        if not code:
            raise DomainError(
                "second_factor_needed",
                "该账号已启用两步验证，请同时提供验证码（code）",
                "this account uses a second factor: send its code in `code`",
                status=401,
            )
        try:
            second_factor.check_code(session, user, privacy.keys_from_settings(settings), code, now)
        except DomainError:
            lockout = signin.Lockout.of(settings)
            signin.record_failure(
                session, user.username, now, address=address, lockout=lockout, what="totp"
            )
            raise
    elif second_factor.is_required(user, roles):
        raise DomainError(
            "second_factor_enrolment_needed",
            "您的角色必须使用两步验证：请先在页面登录并完成两步验证设置",
            "your role needs a second factor: sign in on the pages once to enrol",
            status=403,
        )


@router.post("/auth/logout", status_code=204)
def logout(
    actor: ActorDep, session: SessionDep, clock: ClockDep, credentials: CredentialsDep
) -> Response:
    """Revoke the token used for this request."""
    assert credentials is not None
    signin.sign_out(session, credentials.credentials, clock.now())
    session.commit()
    return Response(status_code=204)


@router.get("/me")
def me(actor: ActorDep, session: SessionDep) -> UserOut:
    """Who the token belongs to."""
    return UserOut.model_validate(session.get(User, actor.id))


@router.patch("/me")
def patch_me(body: MePatch, actor: ActorDep, session: SessionDep) -> UserOut:
    """Update one's own name or e-mail (supervisors get level-2 escalations there); viewers 403."""
    user = accounts.update_profile(session, actor, body.model_dump(exclude_unset=True))
    session.commit()
    return UserOut.model_validate(user)


@router.post("/me/password")
def change_password(
    body: PasswordChangeIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    credentials: CredentialsDep,
    settings: SettingsDep,
) -> PasswordChangeOut:
    """Change one's own password (the 等保 policy: length, classes, not one of the last few);
    every other session and API token of one's own is revoked."""
    revoked = accounts.change_own_password(
        session,
        actor,
        body.old_password,
        body.new_password,
        clock.now(),
        current_token=credentials.credentials if credentials else None,
        policy=accounts.PasswordPolicy.of(settings),
    )
    session.commit()
    return PasswordChangeOut(revoked_tokens=revoked)


@router.get("/me/tokens")
def list_tokens(actor: ActorDep, session: SessionDep) -> list[TokenOut]:
    """One's own tokens (sign-in sessions and API tokens), newest first."""
    return [TokenOut.model_validate(t) for t in accounts.own_tokens(session, actor)]


@router.post("/me/tokens", status_code=201)
def create_token(
    body: TokenIn, actor: ActorDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> TokenCreatedOut:
    """A named API token, expiring when asked or after OPENDAY_API_TOKEN_DAYS (never later);
    the token is shown only in this answer."""
    row, token = accounts.create_own_token(
        session, actor, body.name, clock.now(), body.expires_at, settings.api_token_days
    )
    session.commit()
    return TokenCreatedOut(**TokenOut.model_validate(row).model_dump(), token=token)


@router.delete("/me/tokens/{token_id}", status_code=204)
def delete_token(token_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep) -> Response:
    """Revoke one of one's own tokens."""
    accounts.revoke_own_token(session, actor, token_id, clock.now())
    session.commit()
    return Response(status_code=204)


# ---- managing accounts: the security administrator every one, supervisors staff and viewers ---


@router.get("/users")
def list_users(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    clock: ClockDep,
    role: RoleName | None = None,
    unit_id: Annotated[int | None, Query(ge=1)] = None,
    active: bool | None = None,
    q: Annotated[str | None, Query(max_length=64, description="part of username or name")] = None,
) -> Page[UserOut]:
    """Accounts, filtered by role, unit, active and a search text (the security administrator
    and supervisors; the security administrator's read is an audit line)."""
    stmt = accounts.list_users_query(actor, role=role, unit_id=unit_id, active=active, q=q)
    if duties.record_read(session, actor, clock.now(), "accounts", filter_role=role,
                          unit_id=unit_id, active=active, q=q):  # fmt: skip
        session.commit()
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([UserOut.model_validate(u) for u in rows], total)


@router.post("/users", status_code=201)
def create_user(
    body: UserIn, actor: ActorDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Any:
    """Create an account; without a password a one-time password is returned, once."""
    accounts.require_may_manage(actor, body.role)
    one_time = accounts.generate_password() if body.password is None else None
    user = accounts.create_user(
        session,
        username=body.username,
        role=body.role,
        unit_id=body.unit_id,
        password=body.password or one_time,
        display_name=body.display_name,
        email=body.email,
        now=clock.now(),
        one_time=one_time is not None,
        actor=actor,
        notify=notify_config(settings),  # a staff account hears its unit's open items
    )
    session.commit()
    return UserCreatedOut(**UserOut.model_validate(user).model_dump(), one_time_password=one_time)


@router.get("/users/{user_id}")
def get_user(user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep) -> UserOut:
    """One account (the security administrator, its read audited, and supervisors)."""
    user = UserOut.model_validate(accounts.read_account(session, actor, user_id))
    if duties.record_read(session, actor, clock.now(), "account", user_id):
        session.commit()
    return user


@router.patch("/users/{user_id}")
def patch_user(
    user_id: Id, body: UserPatch, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> UserOut:
    """Change an account's role and unit, display name or e-mail."""
    changes = body.model_dump(exclude_unset=True)
    user = accounts.update_user(session, actor, user_id, changes, clock.now())
    session.commit()
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/disable")
def disable_user(user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep) -> UserOut:
    """Disable an account: it cannot sign in and every token of it is revoked."""
    user = accounts.set_active(session, actor, user_id, False, clock.now())
    session.commit()
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/enable")
def enable_user(user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep) -> UserOut:
    """Re-enable a disabled account (its old tokens stay revoked)."""
    user = accounts.set_active(session, actor, user_id, True, clock.now())
    session.commit()
    return UserOut.model_validate(user)


@router.post("/users/{user_id}/reset-password")
def reset_password(
    user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> PasswordResetOut:
    """A one-time password, shown only in this answer; every token of the account is revoked."""
    password = accounts.reset_password(session, actor, user_id, clock.now())
    session.commit()
    user = accounts.load_account(session, user_id)
    return PasswordResetOut(user=UserOut.model_validate(user), one_time_password=password)


@router.get("/users/{user_id}/tokens")
def user_tokens(
    user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> list[TokenOut]:
    """An account's sessions and API tokens with their expiry and last use, newest first (the
    security administrator's read is an audit line)."""
    tokens = [TokenOut.model_validate(t) for t in accounts.tokens_of(session, actor, user_id)]
    if duties.record_read(session, actor, clock.now(), "tokens", user_id):
        session.commit()
    return tokens


@router.post("/users/{user_id}/revoke-tokens")
def revoke_tokens(user_id: Id, actor: ActorDep, session: SessionDep, clock: ClockDep) -> RevokedOut:
    """Revoke every session and API token of an account."""
    count = accounts.revoke_all_tokens(session, actor, user_id, clock.now())
    session.commit()
    return RevokedOut(revoked_tokens=count)
