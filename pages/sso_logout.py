"""Single logout: after this service's session ends, a session that came through the unified
sign-in goes on to the provider's end-session address.

Not a redirect: the sign-out form's page allows forms to post to this site only (CSP
`form-action 'self'`), which chromium applies to the form's redirects too. A small page sends
the browser on (a `Refresh` header, and a link)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import Response

from pages.render import redirect, render
from web.identity import SSO_COOKIE, single_logout_url


def after_logout(request: Request) -> Response:
    """Where the browser goes once signed out: /login, or on to the provider's logout."""
    provider_logout = single_logout_url(request)
    if provider_logout is None:
        response: Response = redirect("/login")
    else:
        response = render(request, "sso_logout.html", user=None, provider_logout=provider_logout)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Refresh"] = f"0; url={provider_logout}"
    response.delete_cookie(SSO_COOKIE, path="/")
    return response
