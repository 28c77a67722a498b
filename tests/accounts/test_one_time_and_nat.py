"""A one-time password allows nothing but changing it; signed-in pages are not cached; a correct
password gets through the per-address sign-in limit, the per-account lockout stays (issue 29)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from models import User
from settings import Settings
from tests.conftest import HOUSING, World, error_of
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password
from workflows.kernel.clock import FixedClock

API = "/api/v1"


def _one_time_account(client: TestClient, world: World) -> tuple[str, str]:
    name = f"li{uuid.uuid4().hex[:6]}"
    r = client.post(
        f"{API}/users",
        json={"username": name, "role": "unit_staff", "unit_id": world.units[HOUSING]},
        headers=world.headers["secadmin"],
    )
    assert r.status_code == 201, r.text
    return name, r.json()["one_time_password"]


def test_the_api_answers_403_until_the_one_time_password_is_changed(
    client: TestClient, world: World
) -> None:
    name, otp = _one_time_account(client, world)
    r = client.post(f"{API}/auth/login", json={"username": name, "password": otp})
    assert r.status_code == 200, r.text
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    for path in ("/me", "/events", "/me/tokens"):
        refused = client.get(API + path, headers=h)
        assert refused.status_code == 403, path
        assert error_of(refused)["code"] == "password_change_required"
    new = "Ziyang-Open-Day-2031"
    changed = client.post(
        f"{API}/me/password", json={"old_password": otp, "new_password": new}, headers=h
    )
    assert changed.status_code == 200, changed.text
    assert client.get(f"{API}/me", headers=h).status_code == 200
    assert client.get(f"{API}/events", headers=h).status_code == 200


def test_pages_redirect_to_the_password_page_and_are_not_cached(
    client: TestClient, world: World
) -> None:
    name, otp = _one_time_account(client, world)
    sign_in(client, name, otp)
    for path in ("/", "/board", "/events/1"):
        r = client.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/account/password", path
    page = client.get("/account/password")
    assert page.status_code == 200 and "一次性密码" in page.text
    assert page.headers["cache-control"] == "no-store"
    new = "Ziyang-Open-Day-2031"
    done = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "old_password": otp,
            "new_password": new,
            "new_password_again": new,
        },
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    home = client.get("/", follow_redirects=False)
    assert home.status_code == 200 and home.headers["cache-control"] == "no-store"
    login = client.get("/login")
    assert "no-store" not in login.headers.get("cache-control", "")


@pytest.fixture
def nat_client(engine: Engine, clock: FixedClock, tmp_path: Any) -> Iterator[TestClient]:
    """Everyone behind one office address; at most 5 failures per address, 10 per account."""
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        ratelimit_url="memory://",
        login_limit_address="5/15 minutes",
    )
    app = create_app(settings=settings, engine=engine, clock=clock)
    with TestClient(app, client=(f"192.0.2.{uuid.uuid4().hex[:4]}", 1)) as client:
        yield client


def _login(client: TestClient, username: str, password: str) -> int:
    r = client.post(f"{API}/auth/login", json={"username": username, "password": password})
    return r.status_code


def test_a_correct_password_gets_through_a_spent_address_limit(
    nat_client: TestClient, world: World
) -> None:
    client = nat_client
    with Session(world.engine) as session:
        for name in ("shiling", "supervisor", "viewer"):
            user = session.exec(select(User).where(User.username == name)).one()
            user.password_hash = hash_password(f"pw-{name}")
        session.commit()
    assert [_login(client, "housing", "wrong") for _ in range(5)] == [401] * 5
    # The address is spent: a wrong password is refused 429, a correct one signs in.
    assert _login(client, "shiling", "wrong") == 429
    assert _login(client, "shiling", "pw-shiling") == 200
    page = client.get("/login")
    data = {"csrf": csrf_of(page.text), "username": "supervisor", "password": "pw-supervisor"}
    assert client.post("/login", data=data, follow_redirects=False).status_code == 303
    # The per-account lockout stays: ten failures lock the account, right password or not.
    assert [_login(client, "viewer", "wrong") for _ in range(10)] == [429] * 10
    assert _login(client, "viewer", "pw-viewer") == 429
