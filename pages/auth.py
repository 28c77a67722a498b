"""Sign-in for pages: a session cookie holding a session token, and CSRF checks on every form.

The cookie carries a `kind="session"` token from workflows.accounts.service (HttpOnly, SameSite=Lax,
expiring with OPENDAY_SESSION_HOURS); signing out revokes it. The CSRF tokens themselves are
web/csrf.py's (derived from the session token; the sign-in form uses a double-submit cookie).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlmodel import Session
from starlette.datastructures import FormData

from models import Unit, User
from pages.render import (
    PASSWORD_PAGE,
    FieldError,
    LoginRequired,
    PageRoute,
    PasswordChangeRequired,
    errors_of,
    redirect,
    render,
)
from pages.sso_logout import after_logout
from web.csrf import check_csrf
from web.deps import ClockDep, SessionDep, SettingsDep
from web.throttle import login_throttle
from workflows.accounts import districts, second_factor
from workflows.accounts.identity.policy import require_password_allowed
from workflows.accounts.service import (
    PENDING_LIFETIME,
    SessionRules,
    note_use,
    token_use,
)
from workflows.accounts.signin import (
    Lockout,
    password_sign_in,
    pending_session,
    previous_sign_in,
    sign_out,
    start_session,
)
from workflows.accounts.throttle import TooManyAttempts
from workflows.inbox import service as inbox
from workflows.kernel.daywords import moment_zh
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor

SESSION_COOKIE = "od_session"
PENDING_COOKIE = "od_pending"  # half-way through signing in: the second step's token
SECOND_STEP = "/login/second-factor"

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class PageUser:
    """The signed-in person as pages show them."""

    actor: Actor
    display_name: str
    unit_name: str
    unread: int = 0  # unread 站内信, shown in the header
    office: str = ""  # the footer: the account's district office, or the city's name
    office_zh: str = districts.SOLE_OFFICE  # running text's office (districts.office_words)
    district_names: dict[int, str] = field(default_factory=dict)  # to tell units apart

    @property
    def is_supervisor(self) -> bool:
        """Those who see every unit see the board: district-office supervisors, viewers and the
        three administrators (the last two read only what they may not change)."""
        return self.actor.sees_all_units


def page_user(request: Request, session: SessionDep, clock: ClockDep) -> PageUser:
    """The person behind the session cookie; otherwise the page redirects to /login (also
    once the session has gone unused past OPENDAY_SESSION_IDLE_MINUTES)."""
    token = request.cookies.get(SESSION_COOKIE, "")
    now = clock.now()
    found = token_use(session, token, now, SessionRules.of(request.app.state.settings))
    if not token or found is None:
        raise LoginRequired()
    actor, stale = found  # what a page shows of the account came with the token's row
    if stale is not None:  # the session's last use (its idle clock), in its own transaction
        note_use(request.app.state.engine, stale, now)
    unit = session.get(Unit, actor.unit_id) if actor.unit_id else None
    person = PageUser(
        actor,
        actor.display_name or actor.name,
        unit.name if unit else "",
        inbox.unread_count(session, actor.id),  # type: ignore[arg-type]
        districts.footer(session, actor.district_id),
        actor.office_zh,  # districts.office_words, read with the token
        districts.names_for(session, actor.district_id),
    )
    request.state.session_token = token
    request.state.page_user = person
    if actor.must_change_password and request.url.path not in (PASSWORD_PAGE, "/logout"):
        raise PasswordChangeRequired()
    return person


UserDep = Annotated[PageUser, Depends(page_user)]


def look_up_user(request: Request) -> None:
    """Best effort, for pages outside a route (the error page of an unknown path): the person
    behind the session cookie, if any, so the page shows the usual header."""
    if not request.cookies.get(SESSION_COOKIE):
        return
    with Session(request.app.state.engine) as session:
        try:
            page_user(request, session, request.app.state.clock)
        except (LoginRequired, PasswordChangeRequired, DomainError):
            request.state.page_user = None


async def posted_form(request: Request, _: UserDep) -> FormData:
    """A signed-in POST's form, its CSRF token checked."""
    form = await request.form()
    check_csrf(request, form)
    return form


FormDep = Annotated[FormData, Depends(posted_form)]


def safe_next(target: str) -> str:
    """Only paths on this site are followed after signing in: one leading slash, no backslash
    (browsers read `/\\host` as `//host`), no control characters, no scheme."""
    if (
        not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in target)
        or len(target) > 2000
    ):
        return "/"
    return target


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    """The sign-in form."""
    return render(request, "login.html", next=safe_next(next), username="")


async def login_form(request: Request) -> FormData:
    """The sign-in form, its double-submit CSRF token checked."""
    form = await request.form()
    check_csrf(request, form)
    return form


@router.post("/login")
def login(
    request: Request,
    form: Annotated[FormData, Depends(login_form)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Check the password, set the session cookie and go where the person was heading."""
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    target = safe_next(str(form.get("next", "/")))
    errors: list[FieldError] = []
    if not username:
        errors.append(FieldError("请输入用户名", "username"))
    if not password:
        errors.append(FieldError("请输入密码", "password"))
    throttle = login_throttle(request, settings)  # the API's: one count for both doors
    address = client_address(request)
    try:
        if errors:
            raise _Incomplete()
        user: User = throttle.sign_in(
            username,
            address,
            lambda: password_sign_in(
                session, username, password, clock.now(), address=address,
                lockout=Lockout.of(settings),
            ),
        )  # fmt: skip
        require_password_allowed(user, settings.password_off)
    except (DomainError, _Incomplete) as exc:
        session.commit()  # the failure's audit line and count
        errors = errors or errors_of(exc)
        status = exc.status if isinstance(exc, DomainError) else 400
        page = render(
            request, "login.html", status=status, errors=errors, next=target, username=username
        )
        if isinstance(exc, TooManyAttempts):
            page.headers["Retry-After"] = str(exc.retry_after)
        return page
    session.commit()  # end the read (the password check) before the write: no write lock held
    return begin_session(request, session, user, clock, settings, target, method="password")


def client_address(request: Request) -> str:
    """The address a request came from, as sign-in records it."""
    return request.client.host if request.client else "unknown"


def begin_session(
    request: Request,
    session: SessionDep,
    user: User,
    clock: ClockDep,
    settings: SettingsDep,
    target: str,
    *,
    method: str,
) -> Response:
    """Sign `user` in on this browser, who has just proved who they are by `method`
    ("password", "oidc"): the one door every page sign-in ends at. An account with a second
    factor, or whose role needs one, goes to the second step first (pages.second_factor, which
    ends in open_session); others get their session at once."""
    roles = second_factor.required_roles(settings.totp_required_roles)
    if second_factor.is_enrolled(user) or second_factor.is_required(user, roles):
        token = pending_session(session, user, clock.now(), method=method)
        session.commit()
        response = RedirectResponse(
            SECOND_STEP + "?next=" + quote(safe_next(target)), status_code=303
        )
        _cookie(request, response, PENDING_COOKIE, token, int(PENDING_LIFETIME.total_seconds()))
        return response
    return open_session(request, session, user, clock, settings, target, method=method)


def open_session(
    request: Request,
    session: Session,
    user: User,
    clock: ClockDep,
    settings: SettingsDep,
    target: str,
    *,
    method: str,
) -> Response:
    """Start the session (every factor given), set its cookie and go to `target`, saying
    when and where the account last signed in."""
    hours = settings.session_hours
    token = start_session(
        session, user, clock.now(), lifetime=timedelta(hours=hours), method=method,
        address=client_address(request),
    )  # fmt: skip
    session.commit()
    before = previous_sign_in(session, user.id or 0)
    note = "欢迎登录；这是该账号的首次登录"
    if before is not None:
        note = f"上次登录：{moment_zh(before.created_at)}，来自 {before.address or '未知地址'}"
    response = redirect(safe_next(target), note)
    _cookie(request, response, SESSION_COOKIE, token, hours * 3600)
    response.delete_cookie(PENDING_COOKIE, path="/")
    return response


def _cookie(request: Request, response: Response, name: str, value: str, seconds: int) -> None:
    response.set_cookie(
        name,
        value,
        max_age=seconds,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )


class _Incomplete(Exception):
    """The sign-in form lacks a username or password."""


@router.post("/logout")
def logout(request: Request, _: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """Revoke the session token and clear the cookie."""
    sign_out(session, request.state.session_token, clock.now())
    session.commit()
    response = after_logout(request)  # /login, or on to the provider's logout after SSO
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
