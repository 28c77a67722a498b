"""The acting grants' JSON API (issue 28), on both backends: `GET/POST
/api/v1/districts/{id}/grants` and `POST …/grants/{grant_id}/revoke`. The district's security
administrator grants and revokes; it and the city's system and security administrators read,
exactly those the district's page shows the grants to (`grants.may_read`); each refusal has its
stable code and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import select

from models import ChangeLog, DistrictGrant, Role, User
from tests.accounts.test_district_admin import city  # noqa: F401
from tests.conftest import Walker, error_of
from tests.routes.test_districts import Other, _account, other  # noqa: F401
from workflows.accounts import grants
from workflows.kernel.visibility import Actor


@pytest.fixture
def sec_b(city: Walker, other: Other) -> Walker:  # noqa: F811
    """District B's security administrator `sec_b` besides the city's administrators."""
    with city.world.session() as session:
        _account(session, city, "sec_b", Role.security_admin, district_id=other.district_id)
        session.commit()
    return city


def _api(walker: Walker, method: str, url: str, who: str, **kw: Any) -> Any:
    return walker.client.request(method, f"/api/v1{url}", headers=walker.world.headers[who], **kw)


def _id_of(walker: Walker, username: str) -> int:
    with walker.world.session() as session:
        return session.exec(select(User.id).where(User.username == username)).one()  # type: ignore[return-value]


def _written(walker: Walker) -> tuple[int, int]:
    with walker.world.session() as session:
        return (
            len(session.exec(select(DistrictGrant)).all()),
            len(session.exec(select(ChangeLog).where(ChangeLog.entity == "district_grant")).all()),
        )


def test_the_districts_security_administrator_grants_lists_and_revokes(
    sec_b: Walker,
    other: Other,  # noqa: F811
) -> None:
    b, city_id = other.district_id, _id_of(sec_b, "city")
    r = _api(sec_b, "POST", f"/districts/{b}/grants", "sec_b",
             json={"account_id": city_id, "reason": "督查抽查"})  # fmt: skip
    assert r.status_code == 201, r.text
    made = r.json()
    assert (made["district_id"], made["account_id"], made["account_username"]) == (
        b,
        city_id,
        "city",
    )
    assert made["active"] and made["reason"] == "督查抽查" and made["revoked_at"] is None
    listed = _api(sec_b, "GET", f"/districts/{b}/grants", "sec_b").json()
    assert [g["id"] for g in listed["items"]] == [made["id"]] and listed["total"] == 1
    # The grant works: the city supervisor edits B's campaign.
    r = _api(sec_b, "PATCH", f"/campaigns/{other.campaign_id}", "city", json={"title": "改"})
    assert r.status_code == 200, r.text
    r = _api(sec_b, "POST", f"/districts/{b}/grants/{made['id']}/revoke", "sec_b")
    assert r.status_code == 200, r.text
    assert r.json()["active"] is False and r.json()["revoked_at"] is not None
    r = _api(sec_b, "PATCH", f"/campaigns/{other.campaign_id}", "city", json={"title": "再改"})
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required"
    with sec_b.world.session() as session:
        lines = session.exec(select(ChangeLog).where(ChangeLog.entity == "district_grant")).all()
        assert [(line.action, line.actor_name) for line in lines] == [
            ("grant", "sec_b"), ("revoke", "sec_b")
        ]  # fmt: skip


@pytest.mark.parametrize(
    ("who", "body", "status", "code"),
    [
        ("sec_b", {"account_id": 999999}, 422, "grantee_not_found"),
        ("sec_b", {"account_id": "sup_b"}, 422, "city_supervisor_required"),
        ("sec_b", {"account_id": "city_sec"}, 422, "city_supervisor_required"),
        ("sec_b", {"account_id": "city", "reason": "长" * 201}, 422, "validation_error"),
        ("sec_b", {"account_id": "city", "extra": 1}, 422, "validation_error"),
        ("secadmin", {"account_id": "city"}, 404, "district_not_found"),  # district A's
        ("city_sec", {"account_id": "city"}, 403, "district_admin_required"),
        ("sup_b", {"account_id": "city"}, 403, "separation_of_duties"),
        ("city", {"account_id": "city"}, 403, "separation_of_duties"),
    ],
)
def test_bad_grants_are_refused_with_nothing_written(
    sec_b: Walker,
    other: Other,  # noqa: F811
    who: str,
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    if isinstance(body["account_id"], str):
        body = {**body, "account_id": _id_of(sec_b, body["account_id"])}
    before = _written(sec_b)
    r = _api(sec_b, "POST", f"/districts/{other.district_id}/grants", who, json=body)
    assert r.status_code == status, r.text
    error = error_of(r)
    assert error["code"] == code and error["message"] and error["message_en"]
    assert _written(sec_b) == before


def test_a_second_active_grant_and_bad_revocations_are_refused(
    sec_b: Walker,
    other: Other,  # noqa: F811
) -> None:
    b, city_id = other.district_id, _id_of(sec_b, "city")
    made = _api(sec_b, "POST", f"/districts/{b}/grants", "sec_b", json={"account_id": city_id})
    gid = made.json()["id"]
    before = _written(sec_b)
    r = _api(sec_b, "POST", f"/districts/{b}/grants", "sec_b", json={"account_id": city_id})
    assert r.status_code == 409 and error_of(r)["code"] == "grant_exists"
    for who, url, status, code in (
        ("sec_b", f"/districts/{b}/grants/999999/revoke", 404, "grant_not_found"),
        ("secadmin", f"/districts/1/grants/{gid}/revoke", 404, "grant_not_found"),  # A's path
        ("secadmin", f"/districts/{b}/grants/{gid}/revoke", 404, "grant_not_found"),  # B unseen
        ("sup_b", f"/districts/{b}/grants/{gid}/revoke", 403, "separation_of_duties"),
    ):
        r = _api(sec_b, "POST", url, who)
        assert (r.status_code, error_of(r)["code"]) == (status, code), (who, url, r.text)
    assert _written(sec_b) == before
    assert _api(sec_b, "POST", f"/districts/{b}/grants/{gid}/revoke", "sec_b").status_code == 200
    r = _api(sec_b, "POST", f"/districts/{b}/grants/{gid}/revoke", "sec_b")
    assert r.status_code == 409 and error_of(r)["code"] == "grant_revoked"
    # Revoked, the supervisor may be granted again: a new row, the old one kept.
    again = _api(sec_b, "POST", f"/districts/{b}/grants", "sec_b", json={"account_id": city_id})
    assert again.status_code == 201
    listed = _api(sec_b, "GET", f"/districts/{b}/grants", "city_sec").json()["items"]
    assert [(g["id"], g["active"]) for g in listed] == [(again.json()["id"], True), (gid, False)]


def test_who_reads_the_grants_is_who_the_page_shows_them_to(
    sec_b: Walker,
    other: Other,  # noqa: F811
) -> None:
    b = other.district_id
    _api(
        sec_b, "POST", f"/districts/{b}/grants", "sec_b", json={"account_id": _id_of(sec_b, "city")}
    )
    with sec_b.world.session() as session:
        _account(session, sec_b, "city_audit", Role.audit_admin, district_id=None)
        _account(session, sec_b, "sys_b", Role.system_admin, district_id=b)
        session.commit()
    expected = {"sec_b": 200, "city_sys": 200, "city_sec": 200, "sup_b": 403, "sys_b": 403,
                "city": 403, "city_audit": 403, "secadmin": 404, "supervisor": 404,
                "staff_b": 403}  # fmt: skip
    for who, status in expected.items():
        r = _api(sec_b, "GET", f"/districts/{b}/grants", who)
        assert r.status_code == status, (who, r.text)
        if status == 403:
            assert error_of(r)["code"] in ("grants_forbidden", "districts_forbidden"), who
        if status == 404:
            assert error_of(r)["code"] == "district_not_found", who
        with sec_b.world.session() as session:
            user = session.exec(select(User).where(User.username == who)).one()
            assert grants.may_read(Actor.of(user), b) == (status == 200), who


def test_the_openapi_document_shows_the_grant_routes(walker: Walker) -> None:
    document = walker.client.get("/openapi.json").json()
    paths = document["paths"]
    grants_path = paths["/api/v1/districts/{district_id}/grants"]
    assert set(grants_path) >= {"get", "post"}
    assert "post" in paths["/api/v1/districts/{district_id}/grants/{grant_id}/revoke"]
    schemas = document["components"]["schemas"]
    assert {"account_id", "reason"} <= set(schemas["GrantIn"]["properties"])
    assert {"account_username", "active", "revoked_at"} <= set(schemas["GrantOut"]["properties"])
    assert "district_id" in schemas["CampaignIn"]["properties"]


def test_the_districts_page_lists_the_grants_to_the_same_readers(
    sec_b: Walker,
    other: Other,  # noqa: F811
) -> None:
    """Signed in on the pages, the district's page shows 市级督查授权 exactly to those the API
    lets read the grants; the others who open the page see the district without them."""
    from fastapi.testclient import TestClient

    from tests.pages.test_pages import sign_in
    from workflows.accounts.service import hash_password

    b, password = other.district_id, "Grants-page-2022!"
    _api(
        sec_b, "POST", f"/districts/{b}/grants", "sec_b", json={"account_id": _id_of(sec_b, "city")}
    )
    readers = {"sec_b": True, "city_sys": True, "city_sec": True, "sup_b": False, "city": False}
    with sec_b.world.session() as session:
        for name in readers:
            user = session.exec(select(User).where(User.username == name)).one()
            user.password_hash = hash_password(password)
            session.add(user)
        session.commit()
    for name, reads in readers.items():
        client = TestClient(sec_b.client.app)
        sign_in(client, name, password)
        page = client.get(f"/admin/districts/{b}")
        assert page.status_code == 200, (name, page.text[:300])
        assert ('id="grant-list"' in page.text) == reads, name
        assert ("市级督查授权" in page.text) == reads, name
        api = _api(sec_b, "GET", f"/districts/{b}/grants", name)
        assert (api.status_code == 200) == reads, name
