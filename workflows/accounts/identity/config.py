"""The unified sign-in adapter the settings describe (OpenID Connect for now), if any."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from settings import Settings
from workflows.accounts.identity.adapter import IdentityAdapter

if TYPE_CHECKING:
    import httpx

LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


def configured(settings: Settings) -> bool:
    """Whether unified sign-in is set up (issuer and client id)."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def check_issuer(issuer: str) -> None:
    """Refuse an issuer a token could be read on the way from: https, or http on loopback."""
    parts = urlsplit(issuer)
    if parts.scheme == "https" and parts.hostname:
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK:
        return
    raise ValueError(f"OPENDAY_OIDC_ISSUER must be an https URL (got {issuer!r})")


def build_adapter(settings: Settings, http: httpx.Client | None = None) -> IdentityAdapter | None:
    """The adapter for the configured provider, or None when unified sign-in is off."""
    if not configured(settings):
        return None
    assert settings.oidc_issuer is not None and settings.oidc_client_id is not None
    check_issuer(settings.oidc_issuer)
    # Imported only when unified sign-in is configured: authlib and joserfc (with
    # cryptography's x509) are a fifth of the API's import time, for a feature most sites
    # leave off.
    import httpx

    from workflows.accounts.identity.oidc import OidcAdapter

    client = http or httpx.Client(timeout=settings.oidc_timeout_seconds, follow_redirects=False)
    return OidcAdapter(
        issuer=settings.oidc_issuer,
        client_id=settings.oidc_client_id,
        client_secret=settings.oidc_secret,
        http=client,
        claim=settings.oidc_claim,
        scopes=settings.oidc_scopes,
        label=settings.oidc_label,
        leeway=settings.oidc_leeway_seconds,
    )
