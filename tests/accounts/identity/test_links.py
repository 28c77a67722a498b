"""Linking outside identities to accounts (administrators only, audited) and local passwords
switched off per role."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from models import ChangeLog, User
from settings import Settings
from tests.conftest import World, error_of
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password

ISSUER = "https://idp.gov.example"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Unified sign-in configured; unit staff may not use local passwords."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        ratelimit_url="memory://",
        oidc_issuer=ISSUER,
        oidc_client_id="openday",
        password_off_roles="unit_staff, viewer",
        totp_required_roles="",
    )


def test_admin_links_and_unlinks_an_identity(client: TestClient, world: World) -> None:
    """The security administrator links an identity to an existing account, a second link of
    the same identity is refused, unlinking removes it; each step is an audit line on the
    account (and each of its reads of the links, `read_identities`)."""
    admin, uid = world.headers["secadmin"], world.user_ids["housing"]
    made = client.post(
        f"/api/v1/users/{uid}/identities", json={"subject": " alice "}, headers=admin
    )
    assert made.status_code == 201, made.text
    assert made.json()["subject"] == "alice" and made.json()["provider"] == ISSUER
    again = client.post(
        f"/api/v1/users/{world.user_ids['shiling']}/identities",
        json={"subject": "alice"},
        headers=admin,
    )
    assert again.status_code == 409 and error_of(again)["code"] == "identity_taken"
    listed = client.get(f"/api/v1/users/{uid}/identities", headers=admin).json()
    assert [r["subject"] for r in listed] == ["alice"]
    gone = client.delete(f"/api/v1/users/{uid}/identities/{made.json()['id']}", headers=admin)
    assert gone.status_code == 204
    assert client.get(f"/api/v1/users/{uid}/identities", headers=admin).json() == []
    with Session(world.engine) as session:
        actions = session.exec(
            select(ChangeLog.action)
            .where(ChangeLog.entity == "account", ChangeLog.entity_id == uid)
            .order_by(col(ChangeLog.id))
        ).all()
    assert actions[-4:] == ["identity_link", "read_identities", "identity_unlink",
                            "read_identities"]  # fmt: skip


def test_only_account_managers_link(client: TestClient, world: World) -> None:
    """A clerk may not link anyone; a supervisor may not link an administrator's account."""
    body = {"subject": "mallory"}
    clerk = client.post(
        f"/api/v1/users/{world.user_ids['housing']}/identities",
        json=body,
        headers=world.headers["housing"],
    )
    assert clerk.status_code == 403
    sup = client.post(
        f"/api/v1/users/{world.user_ids['secadmin']}/identities",
        json=body,
        headers=world.headers["supervisor"],
    )
    assert sup.status_code == 403 and error_of(sup)["code"] == "role_not_manageable"


@pytest.mark.parametrize("subject", ["", "   ", "a\nb", "x" * 256])
def test_subject_must_be_printable_and_short(
    client: TestClient, world: World, subject: str
) -> None:
    """Empty, control characters or over 255 characters: 422, nothing linked."""
    response = client.post(
        f"/api/v1/users/{world.user_ids['housing']}/identities",
        json={"subject": subject},
        headers=world.headers["secadmin"],
    )
    assert response.status_code == 422, response.text


def test_password_off_for_a_role(client: TestClient, world: World) -> None:
    """A clerk's correct password is refused on the page and the API when unit staff passwords
    are off; the page says to use the unified sign-in, which it offers."""
    page = client.get("/login")
    assert "统一身份认证登录" in page.text
    refused = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": "housing", "password": "pw-housing"},
        follow_redirects=False,
    )
    assert refused.status_code == 403 and "须通过统一身份认证登录" in refused.text
    api = client.post("/api/v1/auth/login", json={"username": "housing", "password": "pw-housing"})
    assert api.status_code == 403 and error_of(api)["code"] == "password_sign_in_off"


def test_admin_links_on_the_page(client: TestClient, world: World) -> None:
    """The account page leads to 统一身份认证关联: a typed identity is linked, a taken one is
    refused beside its field, and 解除关联 removes it."""
    with Session(world.engine) as session:
        admin = session.get(User, world.user_ids["secadmin"])
        assert admin is not None
        admin.password_hash = hash_password("Admin-Passw0rd-long")
        session.add(admin)
        session.commit()
    sign_in(client, "secadmin", "Admin-Passw0rd-long")
    uid = world.user_ids["housing"]
    assert f'href="/admin/identities/{uid}"' in client.get(f"/admin/accounts/{uid}").text
    page = client.get(f"/admin/identities/{uid}")
    assert page.status_code == 200 and "尚未关联统一身份认证账号" in page.text
    done = client.post(
        f"/admin/identities/{uid}", data={"csrf": csrf_of(page.text), "subject": "alice"}
    )
    assert done.status_code == 200 and "<code>alice</code>" in done.text
    other = world.user_ids["shiling"]
    taken = client.post(
        f"/admin/identities/{other}", data={"csrf": csrf_of(done.text), "subject": "alice"}
    )
    assert taken.status_code == 409 and "已关联到账号" in taken.text
    link_id = client.get(
        f"/api/v1/users/{uid}/identities", headers=world.headers["secadmin"]
    ).json()[0]["id"]
    gone = client.post(
        f"/admin/identities/{uid}/{link_id}/unlink", data={"csrf": csrf_of(done.text)}
    )
    assert gone.status_code == 200 and "尚未关联统一身份认证账号" in gone.text
