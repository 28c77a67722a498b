"""A real OpenID provider on loopback for the tests: the npm package `oidc-provider` (a
devDependency in package.json) run by tests/accounts/identity/oidc_provider.mjs.

The test owns the provider's signing keys (it writes them into the provider's configuration),
so it can also sign tokens the provider never issued: a wrong audience, another issuer, an
expired one. Key rotation restarts the provider on the same port with a new first key.
"""

from __future__ import annotations

import json
import re
import select
import shutil
import subprocess
from pathlib import Path
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey

from tests.conftest import unavailable
from tests.ports import free_port

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "oidc_provider.mjs"
PROJECT = HERE.parents[2]
CLIENT_ID = "openday"
CLIENT_SECRET = "openday-test-secret"
START_TIMEOUT = 20.0


def node_or_skip() -> str:
    """The node binary with oidc-provider installed; skip (fail in CI) otherwise."""
    node = shutil.which("node")
    if node is None:
        unavailable("node", "no node binary on PATH (the local OpenID provider needs it)")
    if not (PROJECT / "node_modules" / "oidc-provider" / "package.json").exists():
        unavailable("oidc-provider", "node_modules/oidc-provider missing: run `npm ci`")
    assert node is not None
    return node


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})


class LocalProvider:
    """One oidc-provider process with one client whose redirect URIs are under `app_base`."""

    def __init__(self, workdir: Path, app_base: str, accounts: dict[str, dict[str, Any]]):
        self.node = node_or_skip()
        self.workdir = workdir
        self.app_base = app_base.rstrip("/")
        self.accounts = accounts
        self.port = free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.keys: list[RSAKey] = [new_key("k1")]
        self.process: subprocess.Popen[str] | None = None
        self.id_token_ttl = 120  # shorter than a pending sign-in's 10 minutes

    # --- process ------------------------------------------------------------------------

    def config(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "port": self.port,
            "clients": [
                {
                    "client_id": CLIENT_ID,
                    "client_secret": CLIENT_SECRET,
                    "redirect_uris": [self.app_base + "/login/sso/callback"],
                    "post_logout_redirect_uris": [self.app_base + "/login"],
                }
            ],
            "jwks": {"keys": [k.as_dict(private=True) for k in self.keys]},
            "accounts": self.accounts,
            "idTokenTtl": self.id_token_ttl,
        }

    def start(self) -> LocalProvider:
        path = self.workdir / "oidc-provider.json"
        path.write_text(json.dumps(self.config()))
        self.process = subprocess.Popen(
            [self.node, str(SCRIPT), str(path)],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        ready, _, _ = select.select([self.process.stdout], [], [], START_TIMEOUT)
        line = self.process.stdout.readline() if ready else ""  # type: ignore[union-attr]
        if not line.startswith("ready"):
            self.stop()
            raise RuntimeError(f"oidc-provider did not start: {line!r}")
        return self

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
            for stream in (self.process.stdout, self.process.stderr):
                if stream is not None:
                    stream.close()
            self.process = None

    def rotate(self, keep_old: bool = True) -> RSAKey:
        """A new signing key (listed first, so it signs), the old one kept or dropped."""
        key = new_key(f"k{len(self.keys) + 1}")
        self.keys = [key, *self.keys] if keep_old else [key]
        self.stop()  # waited for: the port is free again
        self.start()
        return key

    # --- tokens the test signs itself ---------------------------------------------------

    def sign(self, claims: dict[str, Any], key: RSAKey | None = None) -> str:
        """A compact JWS of `claims`, signed with `key` (the provider's current key)."""
        key = key or self.keys[0]
        return jwt.encode({"alg": "RS256", "kid": key.kid}, claims, key)

    def claims(self, nonce: str, now: int, **extra: Any) -> dict[str, Any]:
        """The claims of a genuine-looking ID token for alice."""
        return {
            "iss": self.issuer, "aud": CLIENT_ID, "sub": "alice", "nonce": nonce,
            "iat": now, "exp": now + 600, **extra,
        }  # fmt: skip

    # --- a person at the provider's pages -----------------------------------------------

    def authorize(self, auth_url: str, login: str = "alice") -> str:
        """Follow the provider's sign-in (login, then consent) as `login`; the callback URL
        it sends the browser back to (not followed)."""
        with httpx.Client(follow_redirects=False, timeout=10) as http:
            response = http.get(auth_url)
            for _ in range(12):
                if response.status_code in (302, 303):
                    location = str(response.headers["location"])
                    url = str(response.url.join(location))
                    if url.startswith(self.app_base):
                        return url
                    response = http.get(url)
                    continue
                prompt = re.search(r'name="prompt" value="(\w+)"', response.text)
                assert response.status_code == 200 and prompt, response.text[:500]
                form = {"prompt": prompt.group(1)}
                if prompt.group(1) == "login":
                    form.update(login=login, password="any")
                response = http.post(str(response.url), data=form)
        raise AssertionError("the provider never sent the browser back")
