"""Sign-in for pages: a session cookie holding a session token, and CSRF checks on every form.

The cookie carries a `kind="session"` token from workflows.accounts.service (HttpOnly, SameSite=Lax,
expiring with OPENDAY_SESSION_HOURS); signing out revokes it. The CSRF tokens themselves are
web/csrf.py's (derived from the session token; the sign-in form uses a double-submit cookie).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated

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
from web.csrf import check_csrf
from web.deps import ClockDep, SessionDep, SettingsDep
from web.throttle import login_throttle
from workflows.accounts.service import authenticate_token, revoke_token, verify_login
from workflows.accounts.signin import start_session
from workflows.accounts.throttle import TooManyAttempts
from workflows.inbox import service as inbox
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import Actor

SESSION_COOKIE = "od_session"

router = APIRouter(route_class=PageRoute, include_in_schema=False)


@dataclass(frozen=True)
class PageUser:
    """The signed-in person as pages show them."""

    actor: Actor
    display_name: str
    unit_name: str
    unread: int = 0  # unread 站内信, shown in the header

    @property
    def is_supervisor(self) -> bool:
        """District-office supervisors and admins see the board."""
        return self.actor.is_supervisor or self.actor.role == "viewer"


def page_user(request: Request, session: SessionDep, clock: ClockDep) -> PageUser:
    """The person behind the session cookie; otherwise the page redirects to /login."""
    token = request.cookies.get(SESSION_COOKIE, "")
    user = authenticate_token(session, token, clock.now()) if token else None
    if user is None:
        raise LoginRequired()
    unit = session.get(Unit, user.unit_id) if user.unit_id else None
    person = PageUser(
        Actor.of(user),
        user.display_name or user.username,
        unit.name if unit else "",
        inbox.unread_count(session, user.id),  # type: ignore[arg-type]
    )
    request.state.session_token = token
    request.state.page_user = person
    if user.must_change_password and request.url.path not in (PASSWORD_PAGE, "/logout"):
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
    address = request.client.host if request.client else "unknown"
    try:
        if errors:
            raise _Incomplete()
        user: User = throttle.sign_in(
            username, address, lambda: verify_login(session, username, password)
        )
    except (DomainError, _Incomplete) as exc:
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
    ("password", "oidc"): the one door every page sign-in ends at (the second factor and the
    sign-in audit hook in here), setting the session cookie and going to `target`."""
    hours = settings.session_hours
    token = start_session(
        session, user, clock.now(), lifetime=timedelta(hours=hours), method=method
    )
    session.commit()
    response = RedirectResponse(safe_next(target), status_code=303)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    return response


class _Incomplete(Exception):
    """The sign-in form lacks a username or password."""


@router.post("/logout")
def logout(request: Request, _: FormDep, session: SessionDep, clock: ClockDep) -> Response:
    """Revoke the session token and clear the cookie."""
    revoke_token(session, request.state.session_token, clock.now())
    session.commit()
    response = redirect("/login")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response
