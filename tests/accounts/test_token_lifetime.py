"""API tokens get a lifetime (OPENDAY_API_TOKEN_DAYS, 30 days by default), are listed with
their last use, and tokens made without an expiry before get one on upgrade (issue 29)."""

from __future__ import annotations

import importlib.util
from datetime import datetime, timedelta

from alembic.migration import MigrationContext
from alembic.operations import Operations
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import ApiToken
from settings import PROJECT_DIR
from tests.conftest import World, error_of

API = "/api/v1"


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_new_token_expires_after_the_setting_and_no_later(
    client: TestClient, world: World, clock
) -> None:
    h = world.headers["housing"]
    made = client.post(f"{API}/me/tokens", json={"name": "报表脚本"}, headers=h)
    assert made.status_code == 201, made.text
    assert _when(made.json()["expires_at"]) == clock.now() + timedelta(days=30)
    far = (clock.now() + timedelta(days=31)).isoformat()
    refused = client.post(f"{API}/me/tokens", json={"name": "长期", "expires_at": far}, headers=h)
    assert refused.status_code == 422 and error_of(refused)["code"] == "invalid_expiry"


def test_tokens_are_listed_with_their_last_use(client: TestClient, world: World, clock) -> None:
    h = world.headers["housing"]
    made = client.post(f"{API}/me/tokens", json={"name": "脚本"}, headers=h).json()
    mine = {t["id"]: t for t in client.get(f"{API}/me/tokens", headers=h).json()}
    assert mine[made["id"]]["last_used_at"] is None
    clock.advance(timedelta(hours=1))
    used = {"Authorization": f"Bearer {made['token']}"}
    assert client.get(f"{API}/me", headers=used).status_code == 200
    mine = {t["id"]: t for t in client.get(f"{API}/me/tokens", headers=h).json()}
    assert _when(mine[made["id"]]["last_used_at"]) == clock.now()
    # An administrator lists the account's tokens; unit staff may not list others'.
    user_id = world.user_ids["housing"]
    listed = client.get(f"{API}/users/{user_id}/tokens", headers=world.headers["secadmin"])
    assert listed.status_code == 200
    assert _when(next(t for t in listed.json() if t["id"] == made["id"])["last_used_at"])
    other = client.get(f"{API}/users/{user_id}/tokens", headers=world.headers["shiling"])
    assert other.status_code == 403


def test_the_upgrade_gives_tokens_without_expiry_one_from_their_issue(
    engine: Engine, world: World
) -> None:
    with Session(engine) as session:
        tokens = session.exec(select(ApiToken).where(ApiToken.expires_at == None)).all()  # noqa: E711
        assert tokens  # the world's API tokens were made without one
        issued = {t.id: t.created_at for t in tokens}
    spec = importlib.util.spec_from_file_location(
        "m0019", PROJECT_DIR / "migrations" / "versions" / "0019_api_token_lifetime.py"
    )
    assert spec and spec.loader
    m0019 = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(m0019)
    with engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
        m0019._backfill()
    with Session(engine) as session:
        for token_id, created in issued.items():
            token = session.get(ApiToken, token_id)
            assert token is not None and token.expires_at == created + timedelta(days=30)
