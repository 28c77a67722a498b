"""The second factor on the pages: the sign-in's second step (with enrolment for a role that
needs one and has none yet), and 账号安全 where anyone enrols, sees their recovery codes once,
turns an optional second factor off, and lists and ends their own sessions.

The second step holds a `pending` token in its own cookie (pages.auth.begin_session) and ends in
pages.auth.open_session; the rules are workflows.accounts.second_factor's.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.datastructures import FormData

from models import User
from pages.auth import (
    PENDING_COOKIE,
    SECOND_STEP,
    client_address,
    login_form,
    open_session,
    safe_next,
)
from pages.render import FieldError, PageRoute, errors_of, render
from settings import Settings
from web.deps import ClockDep, SessionDep, SettingsDep
from workflows.accounts import second_factor
from workflows.accounts.service import pending_user, revoke_token
from workflows.accounts.signin import Lockout, record_failure, require_unlocked
from workflows.kernel.errors import DomainError
from workflows.public.privacy import keys_from_settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def qr_svg(uri: str) -> Markup:
    """The otpauth:// address as an inline SVG QR code (drawn here: nothing from the internet)."""
    import segno  # drawn on demand: kept off the service's start

    code = segno.make(uri, error="m", micro=False)
    return Markup(code.svg_inline(scale=4, border=4, omitsize=True, svgclass="qr",
                                  title="用验证器扫描此二维码"))  # fmt: skip


def enrolment(user: User, settings: Settings, session: SessionDep) -> dict[str, Any]:
    """What an enrolment form shows: the QR code and the secret to type by hand."""
    cipher = keys_from_settings(settings)
    secret = second_factor.pending_secret(user, cipher)
    if secret is None:
        secret = second_factor.begin_enrolment(session, user, cipher)
        session.commit()
    uri = second_factor.provisioning_uri(user, secret, settings.totp_issuer)
    spaced = " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
    return {"qr": qr_svg(uri), "secret": spaced}


def _pending(request: Request, session: SessionDep, clock: ClockDep) -> tuple[User, str] | None:
    """The account half-way through signing in, and how it proved who it is."""
    token = request.cookies.get(PENDING_COOKIE, "")
    found = pending_user(session, token, clock.now()) if token else None
    return (found[0], found[1].name or "password") if found else None


def _step_page(
    request: Request,
    user: User,
    settings: Settings,
    session: SessionDep,
    target: str,
    errors: list[FieldError] | None = None,
    status: int = 200,
) -> HTMLResponse:
    enrol = not second_factor.is_enrolled(user)
    extra = enrolment(user, settings, session) if enrol else {}
    return render(request, "second_factor.html", status=status, errors=errors or [],
                  next=target, enrol=enrol, **extra)  # fmt: skip


@router.get(SECOND_STEP)
def second_step(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep, next: str = "/"
) -> Response:
    """Ask for the code (or, for a role that needs a second factor and has none, enrol)."""
    pending = _pending(request, session, clock)
    if pending is None:
        expired = FieldError("登录已超时，请重新输入用户名和密码", "username", 401)
        return render(
            request, "login.html", status=401, next=safe_next(next), username="", errors=[expired]
        )
    return _step_page(request, pending[0], settings, session, safe_next(next))


@router.post(SECOND_STEP)
def second_step_post(
    request: Request,
    form: Annotated[FormData, Depends(login_form)],
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Check the code; the session starts (after an enrolment, its recovery codes are shown
    once on the way)."""
    target = safe_next(str(form.get("next", "/")))
    pending = _pending(request, session, clock)
    if pending is None:
        return second_step(request, session, clock, settings, target)
    user, method = pending
    code = str(form.get("code", ""))[: second_factor.CODE_MAX_LENGTH]
    cipher = keys_from_settings(settings)
    now = clock.now()
    enrolling = not second_factor.is_enrolled(user)
    try:
        require_unlocked(user, now)
        if not code.strip():
            raise DomainError("code_missing", "请输入验证码", "type the code", status=422)
        if enrolling:
            codes = second_factor.confirm_enrolment(session, user, cipher, code, now)
        else:
            second_factor.check_code(session, user, cipher, code, now)
    except DomainError as exc:
        session.rollback()
        if exc.code == "account_locked":
            return render(request, "login.html", status=exc.status, next=target, username="",
                          errors=errors_of(exc))  # fmt: skip
        record_failure(session, user.username, now, address=client_address(request),
                       lockout=Lockout.of(settings), what="totp")  # fmt: skip
        session.commit()
        errors = [FieldError(e.message, "code", e.status) for e in errors_of(exc)]
        return _step_page(request, user, settings, session, target, errors, exc.status)
    revoke_token(session, request.cookies.get(PENDING_COOKIE, ""), now)
    response = open_session(request, session, user, clock, settings, target, method=method)
    if enrolling:
        page = render(
            request, "recovery_codes.html", codes=codes, next=response.headers["location"]
        )
        for key, value in response.headers.items():
            if key.lower() == "set-cookie":
                page.headers.append(key, value)
        return page
    return response
