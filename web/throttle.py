"""Throttling adapters, made on first use from the app's settings: the sign-in throttle (one count
for the API's and the pages' sign-in) and the public rate limiter (public API and pages)."""

from __future__ import annotations

from fastapi import Request

from settings import Settings
from workflows.accounts.throttle import LoginThrottle
from workflows.public.throttle import PublicThrottle, from_settings


def login_throttle(request: Request, settings: Settings) -> LoginThrottle:
    """The app's sign-in throttle, made on first use; namespaced by the database it guards."""
    throttle = getattr(request.app.state, "login_throttle", None)
    if throttle is None:
        engine = request.app.state.engine
        throttle = LoginThrottle(
            settings.effective_ratelimit_url.get_secret_value(),
            settings.login_limit_account,
            settings.login_limit_address,
            clock=request.app.state.clock,
            namespace=engine.url.render_as_string(hide_password=True),
        )
        request.app.state.login_throttle = throttle
    return throttle


def public_throttle(request: Request) -> PublicThrottle:
    """The app's public rate limiter, made on first use, namespaced by its database."""
    found = getattr(request.app.state, "public_throttle", None)
    if found is None:
        engine = request.app.state.engine
        found = from_settings(
            request.app.state.settings,
            request.app.state.clock,
            engine.url.render_as_string(hide_password=True),
        )
        request.app.state.public_throttle = found
    return found
