"""A city's districts and acting grants (issue 28): the city's system administrator adds and
edits districts through the API (a district's accounts: 403 `city_level_required`, their own
district only in GET); bad input is refused with nothing written; a district's security
administrator grants a named city supervisor acting in the district, who then acts there as the
district's supervisor would and is refused (403 `district_grant_required`) elsewhere."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from models import ChangeLog, District, DistrictGrant, Role
from tests.conftest import Walker, error_of
from tests.routes.test_districts import Other, _account, other  # noqa: F401
from workflows.accounts import grants
from workflows.kernel.errors import DomainError
from workflows.kernel.visibility import SYSTEM, Actor, acts_in, can_act


@pytest.fixture
def city(walker: Walker) -> Walker:
    """The city's system and security administrators and a second city supervisor."""
    with walker.world.session() as session:
        _account(session, walker, "city_sys", Role.system_admin, district_id=None)
        _account(session, walker, "city_sec", Role.security_admin, district_id=None)
        session.commit()
    return walker


def _api(walker: Walker, method: str, url: str, who: str, **kw: object) -> object:
    return walker.client.request(
        method,
        f"/api/v1{url}",
        headers=walker.world.headers[who],
        **kw,  # type: ignore[arg-type]
    )


def _count(walker: Walker, model: type) -> int:
    with walker.world.session() as session:
        return len(session.exec(select(model)).all())


def test_the_city_system_administrator_adds_and_edits_districts(city: Walker) -> None:
    r = _api(city, "POST", "/districts", "city_sys",
             json={"code": "anyue", "name": "安岳县", "city_name": "资阳市",
                   "office_name": "安岳县人民政府办公室"})  # fmt: skip
    assert r.status_code == 201, r.text  # type: ignore[attr-defined]
    new = r.json()["id"]  # type: ignore[attr-defined]
    r = _api(city, "PATCH", f"/districts/{new}", "city_sys", json={"contact_name": "张三"})
    assert r.status_code == 200 and r.json()["contact_name"] == "张三"  # type: ignore[attr-defined]
    assert r.json()["code"] == "anyue"  # type: ignore[attr-defined]
    r = _api(city, "GET", "/districts", "city_sys")
    assert {d["code"] for d in r.json()["items"]} == {"yanjiang", "anyue"}  # type: ignore[attr-defined]
    with city.world.session() as session:
        lines = session.exec(select(ChangeLog).where(ChangeLog.entity == "district")).all()
        assert [(line.action, line.entity_id) for line in lines] == [
            ("create", new), ("update", new)
        ]  # fmt: skip
        assert lines[1].after == {"contact_name": "张三"}


def test_district_accounts_read_their_own_district_and_write_none(city: Walker) -> None:
    r = _api(city, "POST", "/districts", "city_sys", json={"code": "anyue", "name": "安岳县"})
    anyue = r.json()["id"]  # type: ignore[attr-defined]
    for who in ("sysadmin", "secadmin", "supervisor"):  # district 1's accounts
        assert [d["id"] for d in _api(city, "GET", "/districts", who).json()["items"]] == [1]  # type: ignore[attr-defined]
        assert _api(city, "GET", f"/districts/{anyue}", who).status_code == 404  # type: ignore[attr-defined]
        for method, url in (("POST", "/districts"), ("PATCH", "/districts/1")):
            r = _api(city, method, url, who, json={"code": "x-y", "name": "某县"})
            assert r.status_code in (403, 422), r.text  # type: ignore[attr-defined]
    r = _api(city, "POST", "/districts", "sysadmin", json={"code": "lezhi", "name": "乐至县"})
    assert r.status_code == 403 and error_of(r)["code"] == "city_level_required"
    r = _api(city, "PATCH", "/districts/1", "sysadmin", json={"name": "改名"})
    assert r.status_code == 403 and error_of(r)["code"] == "city_level_required"
    # The city's security administrator administers accounts, not the organisation.
    r = _api(city, "POST", "/districts", "city_sec", json={"code": "lezhi", "name": "乐至县"})
    assert r.status_code == 403 and error_of(r)["code"] == "separation_of_duties"


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"code": "yanjiang", "name": "新区"}, 409, "district_exists"),
        ({"code": "newone", "name": "雁江区"}, 409, "district_exists"),
        ({"code": "Bad Code", "name": "新区"}, 422, "district_code_invalid"),
        ({"code": "9abc", "name": "新区"}, 422, "district_code_invalid"),
        ({"code": "newone", "name": "新区", "office_name": "办" * 101}, 422, "validation_error"),
        ({"code": "newone", "name": "   "}, 422, "district_name_required"),
        ({"code": "newone", "name": "新区", "extra": 1}, 422, "validation_error"),
    ],
)
def test_bad_districts_are_refused_with_nothing_written(
    city: Walker, body: dict, status: int, code: str
) -> None:
    before = (_count(city, District), _count(city, ChangeLog))
    r = _api(city, "POST", "/districts", "city_sys", json=body)
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    error = error_of(r)
    assert error["code"] == code
    assert error["message"] and error["message_en"]
    assert (_count(city, District), _count(city, ChangeLog)) == before


def test_an_edit_is_checked_as_an_addition(city: Walker) -> None:
    _api(city, "POST", "/districts", "city_sys", json={"code": "anyue", "name": "安岳县"})
    r = _api(city, "PATCH", "/districts/1", "city_sys", json={"name": "安岳县"})
    assert r.status_code == 409 and error_of(r)["code"] == "district_exists"
    r = _api(city, "PATCH", "/districts/1", "city_sys", json={"contact_phone": "1" * 33})
    assert r.status_code == 422
    r = _api(city, "PATCH", "/districts/1", "city_sys", json={"code": "other"})
    assert r.status_code == 422  # the code stays
    r = _api(city, "PATCH", "/districts/99", "city_sys", json={"name": "无"})
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found"


def _v(walker: Walker, other: Other) -> int:  # noqa: F811
    return walker.get(other.event_id, who="sup_b")["version"]  # type: ignore[no-any-return]


def _security_admin_of(walker: Walker, district_id: int) -> Actor:
    with walker.world.session() as session:
        _account(session, walker, "sec_b", Role.security_admin, district_id=district_id)
        session.commit()
        user = session.exec(select(grants.User).where(grants.User.username == "sec_b")).one()
        return Actor.of(user)


def _named(session: Session, name: str) -> grants.User:
    return session.exec(select(grants.User).where(grants.User.username == name)).one()


def _city_id(walker: Walker) -> int:
    with walker.world.session() as session:
        return session.exec(select(grants.User.id).where(grants.User.username == "city")).one()  # type: ignore[return-value]


def test_a_granted_city_supervisor_acts_in_that_district_only(
    walker: Walker,
    other: Other,  # noqa: F811
) -> None:
    mine = walker.create_event()["id"]
    sec_b = _security_admin_of(walker, other.district_id)
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    r = walker.move(
        other.event_id, "cancel", who="city", reason="不办了", version=_v(walker, other)
    )
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required"
    with walker.world.session() as session:
        grants.grant(session, sec_b, other.district_id, _city_id(walker), "督查抽查", now)
        session.commit()
    r = walker.move(mine, "cancel", who="city", reason="不办了")  # district A: no grant
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required"
    assert walker.get(mine)["state"] == "planned"
    r = walker.move(
        other.event_id, "cancel", who="city", reason="不办了", version=_v(walker, other)
    )
    assert r.status_code == 200, r.text
    assert walker.get(other.event_id, who="sup_b")["state"] == "cancelled"
    history = walker.client.get(
        f"/api/v1/events/{other.event_id}/history", headers=walker.world.headers["sup_b"]
    ).json()
    assert any(line.get("actor_name") == "city" for line in history), history
    # It still reads every district.
    assert walker.get(mine, who="city")["state"] == "planned"


def test_grants_are_the_district_security_administrators_and_audited(
    walker: Walker,
    other: Other,  # noqa: F811
) -> None:
    sec_b = _security_admin_of(walker, other.district_id)
    city_id = _city_id(walker)
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with walker.world.session() as session:
        sec_a = Actor.of(_named(session, "secadmin"))
        sup_b = _named(session, "sup_b")
        for actor, district, account, code in (
            (sec_a, other.district_id, city_id, "district_not_found"),  # another district's
            (sec_a, 1, sup_b.id, "city_supervisor_required"),  # a district's supervisor
            (Actor.of(sup_b), other.district_id, city_id, "separation_of_duties"),
        ):
            with pytest.raises(DomainError) as refused:
                grants.grant(session, actor, district, account, "", now)  # type: ignore[arg-type]
            assert refused.value.code == code
        row = grants.grant(session, sec_b, other.district_id, city_id, "抽查", now)
        with pytest.raises(DomainError) as refused:
            grants.grant(session, sec_b, other.district_id, city_id, "", now)
        assert refused.value.code == "grant_exists"
        with pytest.raises(DomainError) as refused:
            grants.grant(session, sec_b, other.district_id, city_id, "长" * 201, now)
        assert refused.value.code == "field_too_long"
        assert grants.active_districts(session, city_id) == {other.district_id}
        with pytest.raises(DomainError) as refused:
            grants.revoke(session, sec_a, row.id, now)  # type: ignore[arg-type]
        assert refused.value.code == "grant_not_found"
        grants.revoke(session, sec_b, row.id, now)  # type: ignore[arg-type]
        with pytest.raises(DomainError) as refused:
            grants.revoke(session, sec_b, row.id, now)  # type: ignore[arg-type]
        assert refused.value.code == "grant_revoked"
        assert grants.active_districts(session, city_id) == frozenset()
        lines = session.exec(select(ChangeLog).where(ChangeLog.entity == "district_grant")).all()
        assert [line.action for line in lines] == ["grant", "revoke"]
        assert [(g, n) for g, n in grants.read(session, sec_b, other.district_id)] == [
            (session.get(DistrictGrant, row.id), "city")  # no display name of its own
        ]
        session.commit()
    r = walker.move(
        other.event_id, "cancel", who="city", reason="不办了", version=_v(walker, other)
    )  # revoked: refused
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required"


def test_the_visibility_rule_of_acting() -> None:
    city_sup = Actor(id=5, name="c", role=Role.supervisor, unit_id=None, city=True,
                     acting=frozenset({2}))  # fmt: skip
    assert acts_in(city_sup) == {2} and can_act(city_sup, 2) and not can_act(city_sup, 1)
    viewer = Actor(id=6, name="v", role=Role.viewer, unit_id=None, city=True,
                   acting=frozenset({2}))  # fmt: skip
    assert acts_in(viewer) == frozenset() and not can_act(viewer, 2)
    district = Actor(id=7, name="d", role=Role.supervisor, unit_id=None, district_id=1)
    assert acts_in(district) == {1} and not can_act(district, 2)
    admin = Actor(id=8, name="a", role=Role.system_admin, unit_id=None, city=True)
    assert acts_in(admin) is None and can_act(admin, 2) and not can_act(admin, None)
    assert acts_in(SYSTEM) is None


def test_the_accounts_page_asks_a_city_administrator_for_the_district(city: Walker) -> None:
    """Through the workflow the page calls: at the city level no choice is refused."""
    from workflows.accounts import districts

    with city.world.session() as session:
        sec = Actor.of(_named(session, "city_sec"))
        with pytest.raises(DomainError) as refused:
            districts.chosen_level(session, sec, Role.supervisor, "")
        assert refused.value.code == "district_required"
        assert districts.chosen_level(session, sec, Role.supervisor, "city") is None
        assert districts.chosen_level(session, sec, Role.supervisor, "1") == 1
        assert districts.chosen_level(session, sec, Role.unit_staff, "") is None  # its unit's
        with pytest.raises(DomainError) as refused:
            districts.chosen_level(session, sec, Role.supervisor, "77")
        assert refused.value.code == "district_not_found"
        district_sec = Actor(id=1, name="s", role=Role.security_admin, unit_id=None, district_id=1)
        assert districts.chosen_level(session, district_sec, Role.supervisor, "city") == 1
