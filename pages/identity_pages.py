"""Unified sign-in (统一身份认证) pages: off to the provider, back with its answer, and the
page that says why a sign-in was refused. A sign-in that holds ends in pages.auth.begin_session,
the door every page sign-in goes through (the second factor and the sign-in audit live there).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from pages.auth import begin_session, safe_next
from pages.render import PageRoute, render, templates
from web.deps import ClockDep, SessionDep, SettingsDep
from web.identity import SSO_COOKIE, callback_uri, identity_adapter, sso_label
from workflows.accounts.identity import signin
from workflows.accounts.identity.adapter import IdentityRefused

router = APIRouter(route_class=PageRoute, include_in_schema=False)
STATE_COOKIE = "od_sso_state"
STATE_PATH = "/login/sso"
MAX_PARAM_CHARS = 4096

templates.env.globals.update(sso_label=sso_label)


def _refused(request: Request, exc: IdentityRefused) -> HTMLResponse:
    page = render(request, "sso_refused.html", status=exc.status, refusal=exc)
    page.headers["Cache-Control"] = "no-store"
    page.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return page


def _not_configured(request: Request) -> HTMLResponse:
    return render(
        request,
        "error.html",
        status=404,
        message="本系统未启用统一身份认证登录，请使用账号密码登录",
    )


@router.get("/login/sso")
def sso_begin(request: Request, session: SessionDep, clock: ClockDep, next: str = "/") -> Response:
    """Send the browser to the identity provider (a fresh state, nonce and PKCE verifier)."""
    adapter = identity_adapter(request)
    if adapter is None:
        return _not_configured(request)
    try:
        sent = signin.begin(session, adapter, callback_uri(request), safe_next(next), clock.now())
    except IdentityRefused as exc:
        session.rollback()
        return _refused(request, exc)
    session.commit()
    response = RedirectResponse(sent.url, status_code=303)
    response.set_cookie(
        STATE_COOKIE,
        sent.state,
        max_age=int(signin.PENDING_FOR.total_seconds()),
        httponly=True,
        samesite="lax",  # sent on the provider's top-level redirect back
        secure=request.url.scheme == "https",
        path=STATE_PATH,
    )
    return response


@router.get("/login/sso/callback")
def sso_callback(
    request: Request, session: SessionDep, clock: ClockDep, settings: SettingsDep
) -> Response:
    """The provider's answer: spend the sign-in, check the token, find the linked account."""
    adapter = identity_adapter(request)
    if adapter is None:
        return _not_configured(request)
    params = {k: v[:MAX_PARAM_CHARS] for k, v in request.query_params.items()}
    address = request.client.host if request.client else "unknown"
    now = clock.now()
    try:
        pending = signin.spend(
            session, params.get("state", ""), request.cookies.get(STATE_COOKIE, ""), now
        )
        session.commit()  # spent before the provider is asked: an answer works once
        identity = adapter.finish(params, pending.secrets, callback_uri(request), now)
        user = signin.account_for(session, identity, now, address)
    except IdentityRefused as exc:
        session.rollback()
        signin.record_refusal(session, exc, address, now)
        session.commit()
        return _refused(request, exc)
    response = begin_session(
        request, session, user, clock, settings, pending.next_path, method="oidc"
    )
    response.set_cookie(
        SSO_COOKIE,
        "1",
        max_age=settings.session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(STATE_COOKIE, path=STATE_PATH)
    return response
