"""CSRF tokens on every page form, for pages/ (rendering puts the token in, posting checks it).

A signed-in form's token is derived from the session token (an attacker's page can read
neither); forms shown before signing in use a double-submit cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from fastapi import Request
from starlette.datastructures import FormData

from workflows.kernel.errors import DomainError

PRE_COOKIE = "od_csrf"  # double-submit token of forms shown before signing in
CSRF_FIELD = "csrf"


def _derive(session_token: str) -> str:
    return hashlib.sha256(b"openday-csrf:" + session_token.encode()).hexdigest()[:40]


def csrf_token(request: Request) -> str:
    """The token this request's forms carry."""
    session_token = getattr(request.state, "session_token", None)
    if session_token:
        return _derive(session_token)
    pre = request.cookies.get(PRE_COOKIE) or getattr(request.state, "pre_token", None)
    if not pre:
        pre = secrets.token_urlsafe(24)
        request.state.pre_token = pre
        request.state.set_cookies = {PRE_COOKIE: pre}
    return pre


def _refuse_csrf() -> DomainError:
    return DomainError(
        "csrf_failed",
        "表单已过期或来源无法确认，请返回上一页刷新后重新提交",
        "the form's CSRF token is missing or wrong; reload the page and submit again",
        status=403,
    )


def check_csrf(request: Request, form: FormData) -> None:
    """Refuse a POST whose form token does not match the session (or the pre-login cookie)."""
    given = str(form.get(CSRF_FIELD, ""))
    session_token = getattr(request.state, "session_token", None)
    expected = _derive(session_token) if session_token else request.cookies.get(PRE_COOKIE, "")
    if not expected or not hmac.compare_digest(given.encode(), expected.encode()):
        raise _refuse_csrf()
