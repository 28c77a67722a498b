"""The second factor (issue 29): TOTP enrolment with a confirmation code, recovery codes shown
once and good once, a code replayed within its window refused, the roles that must use it, and
the API's sign-in asking for the same code. Codes are computed with pyotp from the secret and
the injected clock."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from models import ChangeLog, RecoveryCode, User
from settings import Settings
from tests.conftest import World, error_of
from tests.pages.test_pages import csrf_of
from workflows.accounts import second_factor
from workflows.accounts.service import hash_password
from workflows.kernel.clock import FixedClock
from workflows.public.privacy import keys_from_settings

API = "/api/v1"
PASSWORD = "Ziyang-Admin-2031"


@pytest.fixture
def strict(tmp_path, engine: Engine, clock: FixedClock, world: World):  # type: ignore[no-untyped-def]
    """The app with the default rule: the administrator roles must use a second factor."""
    settings = Settings(var_dir=tmp_path / "var", database_url="sqlite://")
    with Session(engine) as session:
        admin = session.get(User, world.user_ids["secadmin"])
        assert admin is not None
        admin.password_hash = hash_password(PASSWORD)
        session.commit()
    app = create_app(settings=settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        yield client, settings


def _password_step(client: TestClient, username: str = "secadmin") -> str:
    page = client.get("/login")
    r = client.post("/login", data={"csrf": csrf_of(page.text), "username": username,
                                    "password": PASSWORD}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    assert r.headers["location"].startswith("/login/second-factor")
    return r.headers["location"]


def _secret(html: str) -> str:
    match = re.search(r'id="totp-secret" class="secret">([A-Z2-7 ]+)<', html)
    assert match, html[:2000]
    return match.group(1).replace(" ", "")


def _code(client: TestClient, step: str, code: str) -> object:
    page = client.get(step)
    return client.post("/login/second-factor",
                       data={"csrf": csrf_of(page.text), "code": code, "next": "/"},
                       follow_redirects=False)  # fmt: skip


def test_an_admin_enrols_at_sign_in_and_a_code_is_good_once(strict, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    client, _ = strict
    step = _password_step(client)
    page = client.get(step)
    assert "扫描下面的二维码" in page.text and "<svg" in page.text
    secret = _secret(page.text)
    totp = pyotp.TOTP(secret)
    # Until the code is confirmed, nothing is open.
    assert client.get("/account/password", follow_redirects=False).status_code == 303
    wrong = _code(client, step, "000000" if totp.at(clock.now()) != "000000" else "111111")
    assert wrong.status_code == 422 and "验证码不正确" in wrong.text  # type: ignore[attr-defined]
    done = _code(client, step, totp.at(clock.now()))
    assert done.status_code == 200  # type: ignore[attr-defined]
    codes = re.findall(r"<li><code>([0-9a-f]{5}-[0-9a-f]{5})</code></li>", done.text)  # type: ignore[attr-defined]
    assert len(codes) == 10
    assert client.get("/account/password", follow_redirects=False).status_code == 200
    # Signed out and in again: the same code, within its window, is refused as replayed.
    client.cookies.clear()
    step = _password_step(client)
    clock.advance(timedelta(seconds=20))
    again = _code(client, step, totp.at(clock.now() - timedelta(seconds=20)))
    assert again.status_code == 401 and "已使用过" in again.text  # type: ignore[attr-defined]
    clock.advance(timedelta(seconds=30))
    ok = _code(client, step, totp.at(clock.now()))
    assert ok.status_code == 303  # type: ignore[attr-defined]
    assert "上次登录" in unquote(ok.headers["location"])  # type: ignore[attr-defined]
    # A recovery code works once.
    client.cookies.clear()
    step = _password_step(client)
    assert _code(client, step, codes[0]).status_code == 303  # type: ignore[attr-defined]
    client.cookies.clear()
    step = _password_step(client)
    assert _code(client, step, codes[0]).status_code == 401  # type: ignore[attr-defined]


def test_recovery_codes_and_secret_are_not_stored_in_clear(
    strict, engine: Engine, world: World, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    client, settings = strict
    with Session(engine) as session:
        user = session.get(User, world.user_ids["secadmin"])
        assert user is not None
        cipher = keys_from_settings(settings)
        secret = second_factor.begin_enrolment(session, user, cipher)
        codes = second_factor.confirm_enrolment(
            session, user, cipher, pyotp.TOTP(secret).at(clock.now()), clock.now()
        )
        session.commit()
        assert secret not in (user.totp_secret_enc or "")
        stored = [r.code_hash for r in session.exec(select(RecoveryCode)).all()]
        assert len(stored) == 10 and not set(c.replace("-", "") for c in codes) & set(stored)
        actions = [line.action for line in session.exec(select(ChangeLog)).all()]
        assert "second_factor_enrol" in actions


def test_the_api_sign_in_asks_for_the_same_code(
    strict, engine: Engine, world: World, clock: FixedClock
) -> None:  # type: ignore[no-untyped-def]
    client, settings = strict
    body = {"username": "secadmin", "password": PASSWORD}
    r = client.post(f"{API}/auth/login", json=body)
    assert r.status_code == 403 and error_of(r)["code"] == "second_factor_enrolment_needed"
    with Session(engine) as session:
        user = session.get(User, world.user_ids["secadmin"])
        assert user is not None
        cipher = keys_from_settings(settings)
        secret = second_factor.begin_enrolment(session, user, cipher)
        second_factor.confirm_enrolment(
            session, user, cipher, pyotp.TOTP(secret).at(clock.now()), clock.now()
        )
        session.commit()
    r = client.post(f"{API}/auth/login", json=body)
    assert r.status_code == 401 and error_of(r)["code"] == "second_factor_needed"
    clock.advance(timedelta(seconds=30))
    code = pyotp.TOTP(secret).at(clock.now())
    assert client.post(f"{API}/auth/login", json={**body, "code": code}).status_code == 200
    replayed = client.post(f"{API}/auth/login", json={**body, "code": code})
    assert replayed.status_code == 401 and error_of(replayed)["code"] == "code_replayed"
    # API tokens are unaffected: the admin's bearer token still works without a code.
    assert client.get(f"{API}/me", headers=world.headers["secadmin"]).status_code == 200


def test_an_optional_role_signs_in_with_the_password_alone(strict) -> None:  # type: ignore[no-untyped-def]
    client, _ = strict
    page = client.get("/login")
    r = client.post("/login", data={"csrf": csrf_of(page.text), "username": "housing",
                                    "password": "pw-housing"}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and not r.headers["location"].startswith("/login")
