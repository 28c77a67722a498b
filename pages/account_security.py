"""账号安全: one's own second factor (enrol with a QR code, recovery codes shown once, turn an
optional one off), one's own live sessions with "end this session", the last sign-in and when
the password expires. Every signed-in person may open it; the rules are workflows.accounts'.
"""

from __future__ import annotations

from datetime import timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from models import User
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.render import FieldError, PageRoute, errors_of, redirect, render
from pages.second_factor import enrolment
from web.deps import ClockDep, SessionDep, SettingsDep
from workflows.accounts import second_factor
from workflows.accounts.service import SessionRules, hash_token
from workflows.accounts.signin import end_session, live_sessions, previous_sign_in
from workflows.public.privacy import keys_from_settings

router = APIRouter(route_class=PageRoute, include_in_schema=False)
HERE = "/account/security"


def _security_page(
    request: Request,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
    errors: list[FieldError] | None = None,
) -> HTMLResponse:
    account = session.get(User, user.actor.id)
    assert account is not None
    now = clock.now()
    rules = SessionRules.of(settings)
    roles = second_factor.required_roles(settings.totp_required_roles)
    expires = None
    if settings.password_max_age_days and account.password_changed_at is not None:
        expires = account.password_changed_at + timedelta(days=settings.password_max_age_days)
    current = hash_token(getattr(request.state, "session_token", "") or "")
    return render(
        request, "security.html", errors=errors or [], account=account,
        enrolled=second_factor.is_enrolled(account),
        required=second_factor.is_required(account, roles),
        codes_left=second_factor.recovery_codes_left(session, account),
        sessions=live_sessions(session, account.id or 0, now, rules), current=current,
        previous=previous_sign_in(session, account.id or 0), expires=expires,
        warn=expires is not None and expires - now <= timedelta(days=settings.password_warn_days),
    )  # fmt: skip


@router.get(HERE)
def security_page(
    request: Request, user: UserDep, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> HTMLResponse:
    """The page."""
    return _security_page(request, user, session, clock, settings)


@router.post(HERE + "/enrol")
def enrol(
    request: Request, _: FormDep, user: UserDep, session: SessionDep, settings: SettingsDep
) -> HTMLResponse:
    """Start an enrolment: the QR code and the confirmation form."""
    account = session.get(User, user.actor.id)
    assert account is not None
    with attempt(session) as tried:
        extra = enrolment(account, settings, session)
    if tried.errors:
        return render(request, "error.html", status=409, message=tried.errors[0].message)
    return render(request, "security_enrol.html", errors=[], **extra)


@router.post(HERE + "/confirm")
def confirm(
    request: Request,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> HTMLResponse:
    """Confirm the enrolment with a code; the recovery codes are shown once."""
    account = session.get(User, user.actor.id)
    assert account is not None
    code = str(form.get("code", ""))[: second_factor.CODE_MAX_LENGTH]
    cipher = keys_from_settings(settings)
    codes: list[str] = []
    with attempt(session, explain=_on_code) as tried:
        codes = second_factor.confirm_enrolment(session, account, cipher, code, clock.now())
    if tried.errors:
        extra = enrolment(account, settings, session)
        status = max(e.status for e in tried.errors)
        return render(request, "security_enrol.html", status=status, errors=tried.errors, **extra)
    return render(request, "recovery_codes.html", codes=codes, next=HERE)


def _on_code(exc: Exception) -> list[FieldError]:
    return [FieldError(e.message, "code", e.status) for e in errors_of(exc)]


@router.post(HERE + "/disable")
def disable(
    request: Request,
    form: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """Turn an optional second factor off with a current code."""
    account = session.get(User, user.actor.id)
    assert account is not None
    code = str(form.get("code", ""))[: second_factor.CODE_MAX_LENGTH]
    roles = second_factor.required_roles(settings.totp_required_roles)
    cipher = keys_from_settings(settings)
    with attempt(session, explain=_on_code) as tried:
        second_factor.disable(session, account, cipher, code, clock.now(), roles)
    if tried.errors:
        return _security_page(request, user, session, clock, settings, tried.errors)
    return redirect(HERE, "两步验证已停用")


@router.post("/account/sessions/{token_id}/end")
def end(
    request: Request,
    token_id: int,
    _: FormDep,
    user: UserDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> Response:
    """End one of one's own sessions (on another device, or this one)."""
    with attempt(session) as tried:
        end_session(session, user.actor, token_id, clock.now())
    if tried.errors:
        return _security_page(request, user, session, clock, settings, tried.errors)
    return redirect(HERE, "该登录已结束")
