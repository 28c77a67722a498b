"""Managed accounts: the admin and supervisor API, one's own password and tokens, the policy,
throttled sign-in and read-only viewers. Runs on SQLite and PostgreSQL (and Redis when set)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from api import create_app
from settings import Settings
from tests.conftest import HOUSING, SHILING, World, error_of
from workflows.accounts import service as accounts
from workflows.kernel.clock import FixedClock

API = "/api/v1"


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _login(client: TestClient, username: str, password: str) -> tuple[int, dict]:
    r = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    return r.status_code, r.json()


def _staffer(client: TestClient, world: World, who: str = "secadmin", **body: object) -> dict:
    payload = {
        "username": f"li{uuid.uuid4().hex[:6]}",
        "role": "unit_staff",
        "unit_id": world.units[HOUSING],
        "display_name": "李明",
        **body,
    }
    r = client.post(f"{API}/users", json=payload, headers=world.headers[who])
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_admin_creates_disables_resets_and_reenables_a_staffer(
    client: TestClient, world: World
) -> None:
    """The issue's walk through the API: every step changes who can sign in."""
    h = world.headers["secadmin"]
    new = _staffer(client, world)
    otp = new["one_time_password"]
    assert len(otp) >= 10 and new["must_change_password"] is True
    status, body = _login(client, new["username"], otp)
    assert status == 200 and body["user"]["must_change_password"] is True
    session_token = body["token"]
    # Disable: sign-in and every token stop working.
    r = client.post(f"{API}/users/{new['id']}/disable", headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is False and r.json()["disabled_at"]
    assert client.get(f"{API}/me", headers=_bearer(session_token)).status_code == 401
    assert _login(client, new["username"], otp)[0] == 401
    # Reset: a new one-time password, shown once; the old one no longer works.
    r = client.post(f"{API}/users/{new['id']}/reset-password", headers=h)
    assert r.status_code == 200, r.text
    fresh = r.json()["one_time_password"]
    assert fresh != otp
    assert _login(client, new["username"], fresh)[0] == 401  # still disabled
    r = client.post(f"{API}/users/{new['id']}/enable", headers=h)
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert _login(client, new["username"], otp)[0] == 401
    status, body = _login(client, new["username"], fresh)
    assert status == 200
    assert client.get(f"{API}/me", headers=_bearer(session_token)).status_code == 401


def test_role_and_unit_change_together_and_list_filters(client: TestClient, world: World) -> None:
    """A staffer moves unit, becomes a viewer (unit dropped); lists filter by role/unit/text."""
    h = world.headers["secadmin"]
    new = _staffer(client, world, password="Chengdu-Open-2022")
    assert new["one_time_password"] is None and new["must_change_password"] is False
    r = client.patch(f"{API}/users/{new['id']}", json={"unit_id": world.units[SHILING]}, headers=h)
    assert r.status_code == 200 and r.json()["unit_id"] == world.units[SHILING]
    r = client.patch(f"{API}/users/{new['id']}", json={"role": "viewer"}, headers=h)
    assert r.status_code == 200 and (r.json()["role"], r.json()["unit_id"]) == ("viewer", None)
    r = client.patch(f"{API}/users/{new['id']}", json={"role": "unit_staff"}, headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "unit_required"
    staff = client.get(f"{API}/users?role=unit_staff", headers=h).json()
    assert {u["username"] for u in staff["items"]} == {"housing", "shiling"}
    unit = client.get(f"{API}/users?unit_id={world.units[SHILING]}", headers=h).json()
    assert [u["username"] for u in unit["items"]] == ["shiling"]
    found = client.get(f"{API}/users?q=SUPER", headers=h).json()
    assert [u["username"] for u in found["items"]] == ["supervisor"]
    r = client.get(f"{API}/users?role=boss", headers=h)
    assert r.status_code == 422


def test_supervisors_manage_staff_and_viewers_only(client: TestClient, world: World) -> None:
    """Supervisors create and disable staff; admins and supervisors are out of their reach."""
    h = world.headers["supervisor"]
    new = _staffer(client, world, who="supervisor")
    assert client.post(f"{API}/users/{new['id']}/disable", headers=h).status_code == 200
    r = client.post(f"{API}/users", json={"username": "boss2", "role": "security_admin"}, headers=h)
    assert r.status_code == 403 and error_of(r)["code"] == "role_not_manageable"
    assert "督查人员" in error_of(r)["message"]
    for target in ("secadmin", "supervisor"):
        r = client.post(f"{API}/users/{world.user_ids[target]}/disable", headers=h)
        assert r.status_code == 403 and error_of(r)["code"] == "role_not_manageable"
    r = client.patch(f"{API}/users/{new['id']}", json={"role": "supervisor"}, headers=h)
    assert r.status_code == 403
    for who in ("housing", "viewer"):
        r = client.get(f"{API}/users", headers=world.headers[who])
        assert r.status_code == 403 and error_of(r)["code"] == "accounts_forbidden"
    own = world.user_ids["secadmin"]
    r = client.post(f"{API}/users/{own}/disable", headers=world.headers["secadmin"])
    assert r.status_code == 409 and error_of(r)["code"] == "own_account"
    assert client.get(f"{API}/users/999999", headers=h).status_code == 404


def test_revoke_tokens_ends_every_session(client: TestClient, world: World) -> None:
    """An admin revokes all of housing's tokens: the API token and the session both stop."""
    status, body = _login(client, "housing", "pw-housing")
    assert status == 200
    r = client.post(
        f"{API}/users/{world.user_ids['housing']}/revoke-tokens", headers=world.headers["secadmin"]
    )
    assert r.status_code == 200 and r.json()["revoked_tokens"] == 2
    assert client.get(f"{API}/me", headers=world.headers["housing"]).status_code == 401
    assert client.get(f"{API}/me", headers=_bearer(body["token"])).status_code == 401


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("short-1", "password_too_short"),
        ("wangxiaoming", "password_is_username"),
        ("gnimoaixgnaw", "password_is_username"),
        ("Password123", "password_too_common"),
        ("woaini1314", "password_too_common"),
        ("aaaaaaaaaaaaaa", "password_too_common"),
    ],
)
def test_password_policy(client: TestClient, world: World, password: str, code: str) -> None:
    """Each weak password is a 422 with its own code and a Chinese message."""
    r = client.post(
        f"{API}/users",
        json={"username": "wangxiaoming", "role": "viewer", "password": password},
        headers=world.headers["secadmin"],
    )
    assert r.status_code == 422 and error_of(r)["code"] == code, r.text
    assert error_of(r)["message"] and error_of(r)["message_en"]


def test_changing_ones_password_revokes_other_tokens(client: TestClient, world: World) -> None:
    """Old password required; other sessions and API tokens revoked; this session goes on."""
    _, first = _login(client, "housing", "pw-housing")
    _, second = _login(client, "housing", "pw-housing")
    h = _bearer(second["token"])
    body = {"old_password": "wrong-password", "new_password": "Yanjiang-Open-Day"}
    r = client.post(f"{API}/me/password", json=body, headers=h)
    assert r.status_code == 403 and error_of(r)["code"] == "wrong_password"
    r = client.post(f"{API}/me/password", json={**body, "new_password": "short"}, headers=h)
    assert r.status_code == 403  # the old password is checked first
    body["old_password"] = "pw-housing"
    r = client.post(f"{API}/me/password", json={**body, "new_password": "short"}, headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "password_too_short"
    r = client.post(f"{API}/me/password", json=body, headers=h)
    assert r.status_code == 200 and r.json()["revoked_tokens"] == 2  # API token + first session
    assert client.get(f"{API}/me", headers=world.headers["housing"]).status_code == 401
    assert client.get(f"{API}/me", headers=_bearer(first["token"])).status_code == 401
    assert client.get(f"{API}/me", headers=h).status_code == 200
    assert _login(client, "housing", "pw-housing")[0] == 401
    assert _login(client, "housing", "Yanjiang-Open-Day")[0] == 200


def test_named_tokens_expire_and_are_revocable(
    client: TestClient, world: World, clock: FixedClock
) -> None:
    """POST /me/tokens shows the token once; it lists by name, expires, and can be revoked."""
    h = world.headers["viewer"]  # viewers manage their own credentials, not the data
    expires = (clock.now() + timedelta(days=30)).isoformat()
    r = client.post(f"{API}/me/tokens", json={"name": "报表脚本", "expires_at": expires}, headers=h)
    assert r.status_code == 201, r.text
    made = r.json()
    listed = client.get(f"{API}/me/tokens", headers=h).json()
    assert [t["name"] for t in listed][0] == "报表脚本" and "token" not in listed[0]
    mine = _bearer(made["token"])
    assert client.get(f"{API}/me", headers=mine).status_code == 200
    clock.advance(timedelta(days=30, seconds=1))
    assert client.get(f"{API}/me", headers=mine).status_code == 401
    r = client.post(f"{API}/me/tokens", json={"name": "x", "expires_at": expires}, headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_expiry"
    forever = client.post(f"{API}/me/tokens", json={"name": "长期"}, headers=h).json()
    assert forever["expires_at"] is not None  # no token lives for ever (OPENDAY_API_TOKEN_DAYS)
    assert client.delete(f"{API}/me/tokens/{forever['id']}", headers=h).status_code == 204
    assert client.get(f"{API}/me", headers=_bearer(forever["token"])).status_code == 401
    other = client.delete(f"{API}/me/tokens/{forever['id']}", headers=world.headers["housing"])
    assert other.status_code == 404 and error_of(other)["code"] == "token_not_found"


def test_viewers_change_nothing_not_even_their_profile(client: TestClient, world: World) -> None:
    """PATCH /me is refused to viewers (403 read_only); staff may change theirs."""
    r = client.patch(f"{API}/me", json={"display_name": "王五"}, headers=world.headers["viewer"])
    assert r.status_code == 403 and error_of(r)["code"] == "read_only"
    me = client.get(f"{API}/me", headers=world.headers["viewer"]).json()
    assert me["display_name"] == "viewer"
    r = client.patch(f"{API}/me", json={"display_name": "张三"}, headers=world.headers["housing"])
    assert r.status_code == 200 and r.json()["display_name"] == "张三"


def test_unknown_users_cost_one_argon2_verify_too(
    engine: Engine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Known, unknown, disabled and password-less accounts all run exactly one verification."""
    calls: list[str] = []
    real = accounts._hasher

    class Counting:
        def verify(self, hash_: str, password: str) -> bool:
            calls.append(hash_)
            return real.verify(hash_, password)

    accounts._dummy_hash()  # made once per process, before counting
    monkeypatch.setattr(accounts, "_hasher", Counting())
    for username in ("housing", "nobody-at-all", "supervisor"):
        with world.session() as session, pytest.raises(accounts.DomainError):
            accounts.verify_login(session, username, "not-the-password")
    assert len(calls) == 3 and calls[1] == calls[2] == accounts._dummy_hash()


# ---- throttling -------------------------------------------------------------------------------


@pytest.fixture
def fresh_client(engine: Engine, clock: FixedClock, settings: Settings) -> Iterator[TestClient]:
    """A client from an address of its own, so shared Redis counters start at zero."""
    app = create_app(settings=settings, engine=engine, clock=clock)
    address = f"198.51.100.{uuid.uuid4().int % 250 + 1}-{uuid.uuid4().hex[:6]}"
    with TestClient(app, client=(address, 50000)) as test_client:
        yield test_client


def test_twenty_wrong_passwords_get_429_while_others_sign_in(
    fresh_client: TestClient, world: World
) -> None:
    """Per-account limit: the 11th failure on one account is 429 with Retry-After, bilingual;
    another account signs in normally from the same address meanwhile."""
    client = fresh_client
    victim = _staffer(client, world, password="Victim-Password-1")["username"]
    other = _staffer(client, world, password="Other-Password-22")["username"]
    codes = []
    for _ in range(20):
        status, body = _login(client, victim, "wrong-password")
        codes.append(status)
        if status == 429:
            assert body["error"]["code"] == "too_many_attempts"
            assert "登录失败次数过多" in body["error"]["message"]
        assert _login(client, other, "Other-Password-22")[0] == 200
    assert codes[:10] == [401] * 10 and codes[10:] == [429] * 10
    r = client.post(f"{API}/auth/login", json={"username": victim, "password": "Victim-Password-1"})
    # From the injected clock (02:00:00 UTC, a 15-minute bucket's start): this bucket's 900 s,
    # then until its 10 failures weigh at most 9 in the next one (90 s);
    # tests/accounts/test_throttle.py.
    assert r.status_code == 429 and r.headers["Retry-After"] == "990"
    # Unknown usernames are throttled alike, so a 429 does not reveal that an account exists.
    ghost = f"ghost{uuid.uuid4().hex[:6]}"
    assert [_login(client, ghost, "x")[0] for _ in range(11)][-1] == 429


def test_per_address_limit(engine: Engine, clock: FixedClock, world: World, tmp_path) -> None:
    """One address spraying many accounts is stopped by the address limit; a correct password
    still gets through it (one person behind an office NAT locks nobody else out)."""
    settings = Settings(
        var_dir=tmp_path / "var", database_url="sqlite://", login_limit_address="5/15 minutes"
    )
    app = create_app(settings=settings, engine=engine, clock=clock)
    address = f"203.0.113.{uuid.uuid4().hex[:8]}"
    with TestClient(app, client=(address, 1)) as client:
        names = [f"spray{uuid.uuid4().hex[:6]}" for _ in range(6)]
        assert [_login(client, n, "guess-123")[0] for n in names] == [401] * 5 + [429]
        assert _login(client, "housing", "wrong-guess")[0] == 429
        assert _login(client, "housing", "pw-housing")[0] == 200
    with TestClient(app, client=(address + "-b", 1)) as elsewhere:
        assert _login(elsewhere, "housing", "pw-housing")[0] == 200
