"""OpenID Connect sign-in: authorization code with PKCE, through Authlib.

Authlib builds the request (`create_s256_code_challenge`, `generate_token`) and checks the ID
token's claims (`CodeIDToken`: iss, aud, azp, exp/iat with a leeway, nonce, at_hash) after its
JOSE library, joserfc, has checked the signature against the provider's JWKS. Discovery and the
JWKS are fetched once per process; an ID token signed with a key id the cached JWKS lacks makes
it fetch the JWKS again, once (the provider rotated its key); a key id still unknown is refused
and not fetched for again. Only asymmetric algorithms the provider advertises are accepted.
"""

from __future__ import annotations

import base64
import json
import threading
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote

import httpx
from authlib.common.security import generate_token
from authlib.common.urls import add_params_to_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ClaimError,
    ExpiredTokenError,
    JoseError,
)
from joserfc.jwk import KeySet

from workflows.accounts.identity.adapter import Identity, IdentityRefused, Redirect

# Asymmetric only: "none" and HS* (keyed with the client secret) are never accepted.
ALLOWED_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)
MAX_DOCUMENT_BYTES = 512 * 1024  # discovery, JWKS and token responses
MAX_TOKEN_CHARS = 16 * 1024
MISSED_KIDS_KEPT = 100

_CLAIM_REFUSALS = {
    "iss": "sso_wrong_issuer",
    "aud": "sso_wrong_audience",
    "azp": "sso_wrong_audience",
}


class OidcAdapter:
    """One OpenID provider, one client registration."""

    def __init__(
        self,
        *,
        issuer: str,
        client_id: str,
        client_secret: str,
        http: httpx.Client,
        claim: str = "sub",
        scopes: str = "openid profile",
        label: str = "统一身份认证登录",
        leeway: int = 60,
    ) -> None:
        self.provider = issuer
        self.label = label
        self.client_id = client_id
        self._secret = client_secret
        self._http = http
        self.claim = claim
        self.scopes = scopes
        self.leeway = leeway
        self._meta: dict[str, Any] | None = None
        self._jwks: KeySet | None = None
        self._missed: set[str] = set()
        self._lock = threading.Lock()

    # --- the provider's documents ---------------------------------------------------------

    def _get_json(self, url: str) -> dict[str, Any]:
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as exc:
            raise IdentityRefused("sso_unavailable", f"{url}: {exc}", status=502) from exc
        return _json_of(response, url)

    def metadata(self) -> dict[str, Any]:
        """The provider's discovery document (fetched once; its issuer must be ours)."""
        if self._meta is None:
            meta = self._get_json(self.provider.rstrip("/") + "/.well-known/openid-configuration")
            if meta.get("issuer") != self.provider:
                raise IdentityRefused(
                    "sso_unavailable", f"discovery names issuer {meta.get('issuer')!r}", 502
                )
            for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
                if not isinstance(meta.get(name), str):
                    raise IdentityRefused("sso_unavailable", f"discovery lacks {name}", 502)
            self._meta = meta
        return self._meta

    def _fetch_jwks(self) -> KeySet:
        document = self._get_json(self.metadata()["jwks_uri"])
        try:
            return KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise IdentityRefused("sso_unavailable", f"JWKS: {exc}", 502) from exc

    def keys_for(self, kid: str | None) -> KeySet:
        """The provider's keys, fetched again once when `kid` is not among them (rotation)."""
        with self._lock:
            if self._jwks is None:
                self._jwks = self._fetch_jwks()
            if kid is not None and not _has(self._jwks, kid) and kid not in self._missed:
                self._jwks = self._fetch_jwks()
                if not _has(self._jwks, kid):
                    if len(self._missed) >= MISSED_KIDS_KEPT:
                        self._missed.clear()
                    self._missed.add(kid)
            keys = self._jwks
        if kid is not None and not _has(keys, kid):
            raise IdentityRefused("sso_unknown_key", f"kid {kid[:80]!r}", 401)
        return keys

    # --- the flow -------------------------------------------------------------------------

    def begin(self, redirect_uri: str) -> Redirect:
        """Send the browser to the provider: code flow, PKCE (S256), state and nonce."""
        meta = self.metadata()
        state, nonce, verifier = generate_token(40), generate_token(40), generate_token(64)
        url = add_params_to_uri(
            meta["authorization_endpoint"],
            [
                ("response_type", "code"),
                ("client_id", self.client_id),
                ("redirect_uri", redirect_uri),
                ("scope", self.scopes),
                ("state", state),
                ("nonce", nonce),
                ("code_challenge", create_s256_code_challenge(verifier)),
                ("code_challenge_method", "S256"),
            ],
        )
        return Redirect(url, state, {"nonce": nonce, "code_verifier": verifier})

    def finish(
        self,
        params: Mapping[str, str],
        secrets: Mapping[str, str],
        redirect_uri: str,
        now: datetime,
    ) -> Identity:
        """Exchange the code (with the PKCE verifier) and check the ID token."""
        if params.get("error"):
            raise IdentityRefused("sso_provider_error", str(params.get("error"))[:100], 403)
        code = params.get("code", "")
        if not code or len(code) > 2000:
            raise IdentityRefused("sso_code_refused", "no code", 400)
        tokens = self._exchange(code, secrets["code_verifier"], redirect_uri)
        claims = self.validate_id_token(str(tokens.get("id_token", "")), secrets["nonce"], now)
        subject = claims.get(self.claim)
        if not isinstance(subject, (str, int)) or str(subject) == "" or len(str(subject)) > 255:
            raise IdentityRefused("sso_claim_missing", self.claim, 403)
        return Identity(self.provider, str(subject), claims)

    def _exchange(self, code: str, verifier: str, redirect_uri: str) -> dict[str, Any]:
        url = self.metadata()["token_endpoint"]
        # client_secret_basic: id and secret form-encoded first (RFC 6749 section 2.3.1)
        auth = httpx.BasicAuth(quote(self.client_id, safe=""), quote(self._secret, safe=""))
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": verifier,
        }
        try:
            response = self._http.post(url, data=data, auth=auth)
        except httpx.HTTPError as exc:
            raise IdentityRefused("sso_unavailable", f"{url}: {exc}", status=502) from exc
        if response.status_code in (400, 401):
            error = _json_of(response, url, strict=False).get("error", "")
            raise IdentityRefused("sso_code_refused", str(error)[:100], 400)
        return _json_of(response, url)

    def validate_id_token(self, id_token: str, nonce: str, now: datetime) -> dict[str, Any]:
        """The ID token's claims once signature, issuer, audience, expiry and nonce hold."""
        if not id_token or len(id_token) > MAX_TOKEN_CHARS:
            raise IdentityRefused("sso_bad_token", "no ID token", 401)
        header = _header_of(id_token)
        alg = header.get("alg")
        offered = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        if alg not in ALLOWED_ALGORITHMS or alg not in offered:
            raise IdentityRefused("sso_bad_algorithm", str(alg)[:20], 401)
        kid = header.get("kid")
        keys = self.keys_for(kid if isinstance(kid, str) else None)
        try:
            token = jwt.decode(id_token, keys, algorithms=[alg])
        except BadSignatureError as exc:
            raise IdentityRefused("sso_bad_signature", "", 401) from exc
        except (JoseError, ValueError) as exc:
            raise IdentityRefused("sso_bad_token", type(exc).__name__, 401) from exc
        return self._check_claims(token.claims, dict(token.header), nonce, now)

    def _check_claims(
        self, claims: dict[str, Any], header: dict[str, Any], nonce: str, now: datetime
    ) -> dict[str, Any]:
        checked = CodeIDToken(
            claims,
            header,
            options={
                "iss": {"essential": True, "value": self.provider},
                "aud": {"essential": True, "value": self.client_id},
                "nonce": {"essential": True, "value": nonce},
            },
            params={"nonce": nonce, "client_id": self.client_id},
        )
        try:
            checked.validate(now=int(now.timestamp()), leeway=self.leeway)
        except ExpiredTokenError as exc:
            raise IdentityRefused("sso_expired", "", 401) from exc
        except ClaimError as exc:
            code = _CLAIM_REFUSALS.get(exc.claim, "sso_bad_nonce" if exc.claim == "nonce" else "")
            raise IdentityRefused(code or "sso_bad_token", exc.claim, 401) from exc
        except JoseError as exc:
            raise IdentityRefused("sso_bad_token", type(exc).__name__, 401) from exc
        return dict(checked)

    def logout_url(self, post_logout_redirect_uri: str) -> str | None:
        """RP-initiated logout at the provider's end_session_endpoint, when it has one."""
        try:
            endpoint = self.metadata().get("end_session_endpoint")
        except IdentityRefused:
            return None
        if not isinstance(endpoint, str):
            return None
        return add_params_to_uri(
            endpoint,
            [("client_id", self.client_id), ("post_logout_redirect_uri", post_logout_redirect_uri)],
        )


def _has(keys: KeySet, kid: str) -> bool:
    return any(key.kid == kid for key in keys)


def _header_of(token: str) -> dict[str, Any]:
    """A compact JWS's protected header, read before its signature is checked."""
    try:
        part = token.split(".")[0]
        header = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    except (ValueError, UnicodeDecodeError) as exc:
        raise IdentityRefused("sso_bad_token", "header", 401) from exc
    if not isinstance(header, dict) or token.count(".") != 2:
        raise IdentityRefused("sso_bad_token", "header", 401)
    return header


def _json_of(response: httpx.Response, url: str, *, strict: bool = True) -> dict[str, Any]:
    """A provider's JSON answer (a bounded size), or sso_unavailable."""
    body = response.content[: MAX_DOCUMENT_BYTES + 1]
    try:
        if len(body) > MAX_DOCUMENT_BYTES:
            raise ValueError("too large")
        if strict and response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        document = json.loads(body)
        if not isinstance(document, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        if not strict:
            return {}
        raise IdentityRefused("sso_unavailable", f"{url}: {exc}", status=502) from exc
    return document
