"""The app's unified sign-in adapter (built once from the settings; tests may install their
own on app.state.identity_adapter) and the addresses the provider sends browsers back to."""

from __future__ import annotations

from fastapi import Request

from settings import Settings
from workflows.accounts.identity.adapter import IdentityAdapter
from workflows.accounts.identity.config import build_adapter

CALLBACK_PATH = "/login/sso/callback"
SSO_COOKIE = "od_sso"  # this browser's session came through the unified sign-in


def identity_adapter(request: Request) -> IdentityAdapter | None:
    """The configured adapter, or None when unified sign-in is off."""
    state = request.app.state
    if not hasattr(state, "identity_adapter"):
        state.identity_adapter = build_adapter(state.settings)
    adapter: IdentityAdapter | None = state.identity_adapter
    return adapter


def base_url(request: Request) -> str:
    """This service's address as browsers reach it (OPENDAY_PUBLIC_URL, else the request's)."""
    settings: Settings = request.app.state.settings
    return (settings.public_url or str(request.base_url)).rstrip("/")


def callback_uri(request: Request) -> str:
    """The redirect URI registered at the provider."""
    return base_url(request) + CALLBACK_PATH


def sso_label(request: Request) -> str:
    """The sign-in page's unified sign-in button, or "" when it is off."""
    settings: Settings = request.app.state.settings
    return settings.oidc_label if settings.oidc_issuer and settings.oidc_client_id else ""


def single_logout_url(request: Request) -> str | None:
    """After signing out of a unified sign-in session: the provider's end-session address
    (coming back to /login), when the provider advertises one."""
    if not request.cookies.get(SSO_COOKIE):
        return None
    adapter = identity_adapter(request)
    return adapter.logout_url(base_url(request) + "/login") if adapter else None
