"""Signing in through a real OpenID provider (oidc-provider on loopback) with the pages, and
every forged or replayed answer refused with a page of its own and an audit line."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api import create_app
from models import ChangeLog, IdentityLink
from settings import Settings
from tests.accounts.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider, new_key
from tests.conftest import World
from tests.pages.test_pages import csrf_of
from workflows.accounts.identity.config import build_adapter
from workflows.kernel.clock import FixedClock

Forgery = Callable[[LocalProvider, dict[str, Any]], str]


class TamperingTransport(httpx.HTTPTransport):
    """Passes every call to the real provider; when `forge` is set, the token endpoint's
    answer carries the ID token `forge` makes from the genuine one's claims instead."""

    def __init__(self, provider: LocalProvider) -> None:
        super().__init__()
        self.provider = provider
        self.forge: Forgery | None = None

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if self.forge is None or request.url.path != "/token":
            return response
        response.read()
        body = response.json()
        payload = body["id_token"].split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        body["id_token"] = self.forge(self.provider, claims)
        return httpx.Response(response.status_code, json=body)


@pytest.fixture
def sso(
    engine: Engine, world: World, provider: LocalProvider, tmp_path: Any
) -> Iterator[tuple[TestClient, FixedClock, TamperingTransport]]:
    """The app configured for the local provider, `alice` linked to the housing account."""
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    clock = FixedClock(datetime.now(UTC))  # the provider signs with the real time
    transport = TamperingTransport(provider)
    app = create_app(settings=settings, engine=engine, clock=clock)
    app.state.identity_adapter = build_adapter(settings, httpx.Client(transport=transport))
    with Session(engine) as session:
        session.add(
            IdentityLink(
                provider=provider.issuer, subject="alice", user_id=world.user_ids["housing"],
                linked_by_name="admin", linked_at=clock.now(),
            )
        )  # fmt: skip
        session.commit()
    with TestClient(app) as client:
        yield client, clock, transport


def _to_provider(client: TestClient, next_path: str = "/") -> str:
    response = client.get("/login/sso", params={"next": next_path}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _audit_codes(engine: Engine) -> list[tuple[str, str]]:
    with Session(engine) as session:
        rows = session.exec(
            select(ChangeLog).where(ChangeLog.entity == "sign_in").order_by(col(ChangeLog.id))
        ).all()
        return [(r.action, str(r.after.get("code", r.after.get("username")))) for r in rows]


def _refused_with(response: httpx.Response, code: str) -> None:
    assert response.status_code in (400, 401, 403), response.text[:300]
    assert "统一身份认证登录未成功" in response.text and f">{code}<" in response.text
    assert "od_session=" not in response.headers.get("set-cookie", "")


def test_sign_in_and_single_logout(sso: Any, provider: LocalProvider, engine: Engine) -> None:
    """The sign-in page offers 统一身份认证登录; the provider's answer signs the linked
    account in (through the same door as a password) and goes where the person was heading;
    signing out ends the provider's session too (its end-session address)."""
    client, _, _ = sso
    assert "统一身份认证登录" in client.get("/login").text
    callback = provider.authorize(_to_provider(client, "/inbox"))
    response = client.get(callback, follow_redirects=False)
    assert response.status_code == 303
    assert httpx.URL(response.headers["location"]).path == "/inbox"
    home = client.get("/")
    assert home.status_code == 200 and "退出" in home.text
    assert _audit_codes(engine)[-1] == ("sso_sign_in", "housing")
    out = client.post("/logout", data={"csrf": csrf_of(home.text)}, follow_redirects=False)
    assert out.status_code == 200 and "已退出本系统" in out.text
    onward = out.headers["refresh"].removeprefix("0; url=")
    assert onward.startswith(provider.issuer + "/session/end?client_id=")
    assert "post_logout_redirect_uri=http%3A%2F%2Ftestserver%2Flogin" in onward
    assert client.get("/", follow_redirects=False).status_code == 303  # signed out here


def test_foreign_next_goes_home(sso: Any, provider: LocalProvider) -> None:
    """`next=` pointing at another site is replaced by this service's home page."""
    client, _, _ = sso
    callback = provider.authorize(_to_provider(client, "https://evil.example/"))
    location = client.get(callback, follow_redirects=False).headers["location"]
    assert location.startswith("/") and httpx.URL(location).path == "/"


def test_identity_without_link_is_refused(
    sso: Any, provider: LocalProvider, engine: Engine
) -> None:
    """A person the provider knows but no administrator linked gets no account, no session."""
    client, _, _ = sso
    callback = provider.authorize(_to_provider(client), login="mallory")
    _refused_with(client.get(callback, follow_redirects=False), "sso_not_linked")
    assert _audit_codes(engine)[-1] == ("sso_refused", "sso_not_linked")


def test_state_mismatch_is_refused(sso: Any, provider: LocalProvider, engine: Engine) -> None:
    """An answer carrying a state this browser was not given is refused."""
    client, _, _ = sso
    callback = provider.authorize(_to_provider(client))
    client.cookies.set("od_sso_state", "not-the-state", "testserver.local", "/login/sso")
    _refused_with(client.get(callback, follow_redirects=False), "sso_state_mismatch")
    assert _audit_codes(engine)[-1] == ("sso_refused", "sso_state_mismatch")


def test_replayed_answer_and_replayed_code_are_refused(
    sso: Any, provider: LocalProvider, engine: Engine
) -> None:
    """The same answer twice: the second finds its sign-in spent. The first answer's code
    carried into a new sign-in of this browser: the provider refuses the used code."""
    client, _, _ = sso
    to_provider = _to_provider(client)
    state = client.cookies.get("od_sso_state")
    callback = provider.authorize(to_provider)
    assert client.get(callback, follow_redirects=False).status_code == 303
    client.cookies.set("od_sso_state", state or "", "testserver.local", "/login/sso")
    _refused_with(client.get(callback, follow_redirects=False), "sso_state_spent")
    _to_provider(client)  # a new sign-in: a new state in the cookie
    new_state = client.cookies.get("od_sso_state")
    code = httpx.URL(callback).params["code"]
    replay = client.get(
        "/login/sso/callback", params={"code": code, "state": new_state}, follow_redirects=False
    )
    _refused_with(replay, "sso_code_refused")
    codes = [c for a, c in _audit_codes(engine) if a == "sso_refused"]
    assert codes[-2:] == ["sso_state_spent", "sso_code_refused"]


def _resigned(**changes: Any) -> Forgery:
    def forge(provider: LocalProvider, claims: dict[str, Any]) -> str:
        return provider.sign({**claims, **changes})

    return forge


def _bad_signature(provider: LocalProvider, claims: dict[str, Any]) -> str:
    head, _, signature = provider.sign(claims).split(".")
    other = provider.sign({**claims, "sub": "admin"}).split(".")[1]
    return f"{head}.{other}.{signature}"


def _unknown_kid(provider: LocalProvider, claims: dict[str, Any]) -> str:
    return provider.sign(claims, key=new_key("forged"))


@pytest.mark.parametrize(
    ("forge", "code"),
    [
        (_bad_signature, "sso_bad_signature"),
        (_resigned(aud="another-client"), "sso_wrong_audience"),
        (_resigned(iss="https://idp.elsewhere.example"), "sso_wrong_issuer"),
        (_resigned(nonce="another-sign-in"), "sso_bad_nonce"),
        (_unknown_kid, "sso_unknown_key"),
    ],
    ids=["forged-signature", "wrong-audience", "other-issuer", "other-nonce", "unknown-kid"],
)
def test_forged_id_tokens_are_refused(
    sso: Any, provider: LocalProvider, engine: Engine, forge: Forgery, code: str
) -> None:
    """The token endpoint's answer swapped for a forged ID token: refused, audited."""
    client, _, transport = sso
    transport.forge = forge
    callback = provider.authorize(_to_provider(client))
    _refused_with(client.get(callback, follow_redirects=False), code)
    assert _audit_codes(engine)[-1] == ("sso_refused", code)


def test_expired_token_is_refused(sso: Any, provider: LocalProvider, engine: Engine) -> None:
    """The provider's genuine ID token, read after its lifetime and the leeway (the clock
    moved on, the sign-in itself still pending), is refused."""
    client, clock, _ = sso
    callback = provider.authorize(_to_provider(client))
    clock.advance(timedelta(seconds=provider.id_token_ttl + 60 + 30))
    _refused_with(client.get(callback, follow_redirects=False), "sso_expired")
    assert _audit_codes(engine)[-1] == ("sso_refused", "sso_expired")
