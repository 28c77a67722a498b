"""等保 level-3 rules with the injected clock (issue 29): an idle page session ends after 30
minutes, a password older than 90 days must be changed before anything else, five wrong
passwords in a row lock the account for 30 minutes (a correct one included), and one's own
sessions are listed and ended; sign-in, failure, lockout and session end are audit lines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api import create_app
from models import ApiToken, ChangeLog, User
from settings import Settings
from tests.conftest import World, error_of
from tests.pages.test_pages import csrf_of, sign_in
from workflows.kernel.clock import FixedClock

API = "/api/v1"


@pytest.fixture
def strict(engine: Engine, clock: FixedClock, world: World, tmp_path: Any) -> Iterator[TestClient]:
    """The app with the level-3 defaults (no second factor for the clerk's role)."""
    settings = Settings(
        var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://"
    )
    app = create_app(settings=settings, engine=engine, clock=clock)
    with TestClient(app) as client:
        yield client


def _actions(engine: Engine) -> list[str]:
    with Session(engine) as session:
        return [line.action for line in session.exec(select(ChangeLog).order_by(col(ChangeLog.id)))]


def test_an_idle_page_session_ends_after_thirty_minutes(
    strict: TestClient, clock: FixedClock
) -> None:
    sign_in(strict)
    for _ in range(4):  # busy: used every 25 minutes, the session lives on
        clock.advance(timedelta(minutes=25))
        assert strict.get("/account/security", follow_redirects=False).status_code == 200
    clock.advance(timedelta(minutes=31))
    gone = strict.get("/account/security", follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"].startswith("/login")


def test_an_expired_password_must_be_changed_first(
    strict: TestClient, clock: FixedClock, engine: Engine, world: World
) -> None:
    with Session(engine) as session:
        user = session.get(User, world.user_ids["housing"])
        assert user is not None
        user.password_changed_at = clock.now() - timedelta(days=89, hours=23)
        session.commit()
    sign_in(strict)
    assert strict.get("/account/security", follow_redirects=False).status_code == 200
    assert "将于" in strict.get("/account/security").text  # the warning before expiry
    for _ in range(5):  # kept busy past the 90th day (an idle session would end first)
        clock.advance(timedelta(minutes=20))
        strict.get("/account/password")
    moved = strict.get("/account/security", follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/account/password"
    assert "密码已过期" in strict.get("/account/password").text
    r = strict.post(f"{API}/auth/login", json={"username": "housing", "password": "pw-housing"})
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    assert error_of(strict.get(f"{API}/events", headers=h))["code"] == "password_change_required"


def test_five_failures_lock_the_account_and_are_audited(
    strict: TestClient, clock: FixedClock, engine: Engine
) -> None:
    body = {"username": "housing", "password": "not-the-one"}
    assert [strict.post(f"{API}/auth/login", json=body).status_code for _ in range(5)] == [401] * 5
    right = {"username": "housing", "password": "pw-housing"}
    locked = strict.post(f"{API}/auth/login", json=right)
    assert locked.status_code == 423 and error_of(locked)["code"] == "account_locked"
    clock.advance(timedelta(minutes=31))
    assert strict.post(f"{API}/auth/login", json=right).status_code == 200
    actions = _actions(engine)
    assert actions.count("sign_in_failure") == 5 and "account_locked" in actions
    assert actions[-1] == "sign_in"


def test_own_sessions_are_listed_and_one_is_ended(
    strict: TestClient, engine: Engine, world: World
) -> None:
    other = strict.post(f"{API}/auth/login", json={"username": "housing", "password": "pw-housing"})
    h = {"Authorization": f"Bearer {other.json()['token']}"}
    sign_in(strict)
    page = strict.get("/account/security")
    assert page.text.count("结束此登录") == 2 and "本次登录" in page.text
    with Session(engine) as session:
        first = session.exec(select(ApiToken).where(ApiToken.kind == "session",
                                                    ApiToken.user_id == world.user_ids["housing"])
                             .order_by(col(ApiToken.id))).first()  # fmt: skip
        assert first is not None
    ended = strict.post(f"/account/sessions/{first.id}/end", data={"csrf": csrf_of(page.text)},
                        follow_redirects=False)  # fmt: skip
    assert ended.status_code == 303
    assert strict.get(f"{API}/me", headers=h).status_code == 401
    assert strict.get("/account/security").text.count("结束此登录") == 1
    # Another's session is not found.
    shown = strict.get("/account/security")
    refused = strict.post("/account/sessions/999999/end", data={"csrf": csrf_of(shown.text)})
    assert refused.status_code == 404
    assert "session_end" in _actions(engine)


def test_a_new_password_needs_three_classes_and_is_not_one_of_the_last_five(
    strict: TestClient, engine: Engine, world: World, clock: FixedClock
) -> None:
    r = strict.post(f"{API}/auth/login", json={"username": "housing", "password": "pw-housing"})
    h = {"Authorization": f"Bearer {r.json()['token']}"}
    old = "pw-housing"

    def change(new: str) -> Any:
        return strict.post(f"{API}/me/password", headers=h,
                           json={"old_password": old, "new_password": new})  # fmt: skip

    weak = change("onlylowercaseletters")
    assert weak.status_code == 422 and error_of(weak)["code"] == "password_too_few_classes"
    used = [f"Ziyang-Kaifang-{n}" for n in range(6)]
    for new in used:
        clock.advance(timedelta(minutes=1))
        assert change(new).status_code == 200, new
        old = new
    for again in used[2:-1]:  # the four before the current one (a sample of the slow checks)
        refused = change(again)
        assert refused.status_code == 422 and error_of(refused)["code"] == "password_reused"
    assert error_of(change(used[1]))["code"] == "password_reused"
    assert change(used[0]).status_code == 200  # six back: allowed again
