"""Unified sign-in and the second factor together (issue 29): an administrator whose role must
use TOTP signs in through the real OpenID provider on loopback, and the provider's answer alone
opens nothing. The first time it enrols by QR code; the next time it is asked for the code, a
wrong code is refused (no session), the right one signs it in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote

import httpx
import pyotp
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from api import create_app
from models import ChangeLog, IdentityLink, User
from settings import Settings
from tests.accounts.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider
from tests.conftest import World
from tests.pages.test_pages import csrf_of
from workflows.accounts.identity.config import build_adapter
from workflows.kernel.clock import FixedClock

STEP = "/login/second-factor"


@pytest.fixture
def strict_sso(
    engine: Engine, world: World, provider: LocalProvider, tmp_path: Any
) -> Iterator[tuple[TestClient, FixedClock]]:
    """The app with the local provider and the default rule (the three administrators must
    use a second factor); `alice` at the provider is linked to the security administrator."""
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        oidc_issuer=provider.issuer,
        oidc_client_id=CLIENT_ID,
        oidc_client_secret=CLIENT_SECRET,
    )
    assert "security_admin" in settings.totp_required_roles
    clock = FixedClock(datetime.now(UTC))  # the provider signs with the real time
    app = create_app(settings=settings, engine=engine, clock=clock)
    app.state.identity_adapter = build_adapter(settings, httpx.Client())
    with Session(engine) as session:
        session.add(
            IdentityLink(
                provider=provider.issuer, subject="alice", user_id=world.user_ids["secadmin"],
                linked_by_name="secadmin", linked_at=clock.now(),
            )
        )  # fmt: skip
        session.commit()
    with TestClient(app) as client:
        yield client, clock


def _through_the_provider(client: TestClient, provider: LocalProvider) -> str:
    """/login/sso → the provider (alice signs in there) → the callback: where it sends us."""
    to_provider = client.get(
        "/login/sso", params={"next": "/admin/accounts"}, follow_redirects=False
    )
    assert to_provider.status_code == 303, to_provider.text
    callback = provider.authorize(str(to_provider.headers["location"]))
    answer = client.get(callback, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    assert "od_session=" not in answer.headers.get("set-cookie", "")  # nothing open yet
    return str(answer.headers["location"])


def _code(client: TestClient, step: str, code: str) -> httpx.Response:
    page = client.get(step)
    assert page.status_code == 200, page.text
    return client.post(STEP, data={"csrf": csrf_of(page.text), "code": code,
                                   "next": "/admin/accounts"}, follow_redirects=False)  # fmt: skip


def _signed_in(client: TestClient) -> bool:
    return client.get("/admin/accounts", follow_redirects=False).status_code == 200


def test_an_administrator_signs_in_through_the_provider_and_the_code(
    strict_sso: Any, provider: LocalProvider, engine: Engine
) -> None:
    client, clock = strict_sso
    # First time: the provider's answer leads to enrolment, not into the service.
    step = _through_the_provider(client, provider)
    assert step.startswith(STEP)
    enrol = client.get(step)
    assert "扫描下面的二维码" in enrol.text and "<svg" in enrol.text
    found = re.search(r'id="totp-secret" class="secret">([A-Z2-7 ]+)<', enrol.text)
    assert found, enrol.text[:2000]
    totp = pyotp.TOTP(found.group(1).replace(" ", ""))
    assert not _signed_in(client)
    done = _code(client, step, totp.at(clock.now()))
    assert done.status_code == 200 and "恢复码" in done.text
    assert _signed_in(client)
    client.cookies.clear()

    # Next time: asked for the code; a wrong one is refused and opens nothing.
    clock.advance(timedelta(seconds=30))  # the next time step: the enrolment's code is spent
    step = _through_the_provider(client, provider)
    asked = client.get(step)
    assert "扫描下面的二维码" not in asked.text and 'name="code"' in asked.text
    right = totp.at(clock.now())
    wrong = _code(client, step, "000000" if right != "000000" else "111111")
    assert wrong.status_code == 401 and "验证码不正确" in wrong.text, wrong.text[:500]
    assert "od_session=" not in wrong.headers.get("set-cookie", "")
    assert not _signed_in(client)
    # The right code signs the administrator in, where it was heading.
    ok = _code(client, step, right)
    assert ok.status_code == 303, ok.text[:500]
    assert unquote(ok.headers["location"]).startswith("/admin/accounts")
    assert _signed_in(client)
    with Session(engine) as session:
        user = session.exec(select(User).where(User.username == "secadmin")).one()
        lines = session.exec(
            select(ChangeLog.action).where(ChangeLog.entity_id == user.id)
            .order_by(col(ChangeLog.id))
        ).all()  # fmt: skip
    assert "second_factor_enrol" in lines
