"""Accounts, tokens and unit scoping: staff act on their own unit only."""

from __future__ import annotations

from sqlmodel import select

from models import ApiToken, Event, Invitee
from tests.conftest import HOUSING, SHILING, Walker, error_of


def test_requests_without_a_token_are_401(walker: Walker) -> None:
    """No token, a malformed one and an unknown one are all refused with a clear code."""
    assert error_of(walker.client.get("/api/v1/events"))["code"] == "not_authenticated"
    r = walker.client.get("/api/v1/events", headers={"Authorization": "Bearer od_nope"})
    assert r.status_code == 401 and error_of(r)["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"


def test_password_login_issues_a_token_that_logout_revokes(walker: Walker) -> None:
    """Login gives a working session token; logout makes it invalid; tokens are stored hashed."""
    r = walker.client.post(
        "/api/v1/auth/login", json={"username": "housing", "password": "pw-housing"}
    )
    assert r.status_code == 200, r.text
    token = r.json()["token"]
    headers = {"Authorization": f"Bearer {token}"}
    me = walker.client.get("/api/v1/me", headers=headers).json()
    assert me["username"] == "housing" and me["role"] == "unit_staff"
    with walker.world.session() as s:
        stored = [t.token_hash for t in s.exec(select(ApiToken)).all()]
    assert token not in stored and all(len(h) == 64 for h in stored)
    assert walker.client.post("/api/v1/auth/logout", headers=headers).status_code == 204
    assert walker.client.get("/api/v1/me", headers=headers).status_code == 401


def test_session_tokens_expire(walker: Walker, clock) -> None:
    """A password-login token stops working after the configured lifetime (12 h), however
    busy (used every 20 minutes, within the idle timeout)."""
    from datetime import timedelta

    r = walker.client.post(
        "/api/v1/auth/login", json={"username": "housing", "password": "pw-housing"}
    )
    headers = {"Authorization": f"Bearer {r.json()['token']}"}
    for _ in range(35):
        clock.advance(timedelta(minutes=20))
        assert walker.client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(timedelta(minutes=19))
    assert walker.client.get("/api/v1/me", headers=headers).status_code == 200
    clock.advance(timedelta(minutes=2))
    assert walker.client.get("/api/v1/me", headers=headers).status_code == 401


def test_wrong_password_is_401_without_saying_which_part(walker: Walker) -> None:
    """Wrong password and unknown user answer the same."""
    for body in (
        {"username": "housing", "password": "wrong"},
        {"username": "nobody", "password": "pw-housing"},
        {"username": "supervisor", "password": "anything"},  # no password set at all
    ):
        r = walker.client.post("/api/v1/auth/login", json=body)
        assert r.status_code == 401 and error_of(r)["code"] == "invalid_credentials"


def test_staff_see_only_their_units_events(walker: Walker) -> None:
    """区住建局 staff list only their events; a supervisor lists every unit's."""
    walker.create_event()
    walker.create_event(
        who="shiling", unit=SHILING, theme="面对面、心连心、零距离", date="2022-09-20"
    )
    mine = walker.client.get("/api/v1/events", headers=walker.world.headers["housing"]).json()
    assert [e["unit_name"] for e in mine["items"]] == [HOUSING]
    everyone = walker.client.get(
        "/api/v1/events", headers=walker.world.headers["supervisor"]
    ).json()
    assert everyone["total"] == 2
    # Filtering by another unit's id gives nothing rather than leaking its events.
    other = walker.client.get(
        f"/api/v1/events?unit_id={walker.world.units[SHILING]}",
        headers=walker.world.headers["housing"],
    ).json()
    assert other["total"] == 0


def test_staff_cannot_touch_another_units_event(walker: Walker) -> None:
    """Every read and write on another unit's event answers 404 and changes nothing."""
    event = walker.create_event(
        who="shiling", unit=SHILING, theme="石岭镇开放日", date="2022-09-20"
    )
    eid = event["id"]
    h = walker.world.headers["housing"]
    c = walker.client
    attempts = [
        c.get(f"/api/v1/events/{eid}", headers=h),
        c.get(f"/api/v1/events/{eid}/history", headers=h),
        c.get(f"/api/v1/events/{eid}/invitees", headers=h),
        c.post(
            f"/api/v1/events/{eid}/invitees",
            json={"name": "张三", "category": "npc_deputy"},
            params={"expected_version": 1},
            headers=h,
        ),
        c.patch(f"/api/v1/events/{eid}", json={"expected_version": 1, "theme": "改"}, headers=h),
        c.post(
            f"/api/v1/events/{eid}/transitions",
            json={
                "trigger": "reschedule",
                "expected_version": 1,
                "reason": "越权",
                "data": {"date": "2022-09-20"},
            },
            headers=h,
        ),
        c.put(
            f"/api/v1/events/{eid}/summary",
            json={"text": "x"},
            params={"expected_version": 1},
            headers=h,
        ),
    ]
    for r in attempts:
        assert r.status_code == 404, (r.request.method, r.request.url, r.text)
        assert error_of(r)["code"] == "event_not_found"
    with walker.world.session() as s:
        row = s.get(Event, eid)
        assert row is not None and row.state == "planned" and row.version == 1
        assert row.theme == "石岭镇开放日"
        assert s.exec(select(Invitee)).all() == []


def test_staff_cannot_create_events_for_another_unit(walker: Walker) -> None:
    """Planning an event for another unit is 403."""
    r = walker.client.post(
        "/api/v1/events",
        json={
            "campaign_id": walker.world.campaign_id,
            "unit_id": walker.world.units[SHILING],
            "theme": "越权",
            "date": "2022-09-07",
        },
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 403 and error_of(r)["code"] == "other_unit"


def test_supervisor_acts_on_any_unit(walker: Walker) -> None:
    """A district-office supervisor may move any unit's event."""
    event = walker.create_event(
        who="shiling", unit=SHILING, theme="石岭镇开放日", date="2022-09-20"
    )
    r = walker.move(event["id"], "cancel", who="supervisor", reason="区政府办统一调整")
    assert r.status_code == 200
    assert r.json()["move"]["actor_name"] == "supervisor"


def test_only_supervisors_manage_campaigns_and_units(walker: Walker) -> None:
    """Staff and viewers cannot create campaigns or units."""
    body = {
        "doc_number": "资雁府办发〔2023〕1号",
        "title": "t",
        "issuing_office": "o",
        "starts_on": "2023-08-01",
        "ends_on": "2023-09-01",
    }
    for who in ("housing", "viewer"):
        r = walker.client.post("/api/v1/campaigns", json=body, headers=walker.world.headers[who])
        assert r.status_code == 403 and error_of(r)["code"] == "supervisor_required"
    r = walker.client.post(
        "/api/v1/campaigns", json=body, headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 201
    assert r.json()["rules"]["feedback_answer_workdays"] == 15
    r = walker.client.post(
        "/api/v1/campaigns", json=body, headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 409 and error_of(r)["code"] == "campaign_exists"


def test_staff_update_their_own_units_contacts_only(walker: Walker) -> None:
    """Staff keep their unit's contacts; another unit's are 403."""
    h = walker.world.headers["housing"]
    mine = walker.world.units[HOUSING]
    r = walker.client.patch(
        f"/api/v1/units/{mine}",
        json={"contact_name": "李四", "contact_email": "li@example.org"},
        headers=h,
    )
    assert r.status_code == 200 and r.json()["contact_name"] == "李四"
    r = walker.client.patch(
        f"/api/v1/units/{walker.world.units[SHILING]}", json={"contact_name": "x"}, headers=h
    )
    assert r.status_code == 403


def test_supervisors_set_their_escalation_email(walker: Walker) -> None:
    """PATCH /me stores the e-mail level-2 escalations go to; a malformed one is 422."""
    h = walker.world.headers["supervisor"]
    r = walker.client.patch("/api/v1/me", json={"email": "duban@zfb.example"}, headers=h)
    assert r.status_code == 200 and r.json()["email"] == "duban@zfb.example"
    r = walker.client.patch("/api/v1/me", json={"email": "not-an-address"}, headers=h)
    assert r.status_code == 422 and error_of(r)["details"]["fields"][0]["field"] == "body.email"


def test_a_move_with_an_invalid_body_hears_who_is_asking_first(walker: Walker) -> None:
    """The move route authenticates in its own worker thread (one hop, issue 32), after FastAPI
    has judged the body: an invalid body still answers 401 to an unknown caller and 403 to a
    role the move rules out before 422, and 422 only to a caller who may try it."""
    event = walker.create_event(who="shiling", unit=SHILING, theme="顺序", date="2022-09-20")
    path = f"/api/v1/events/{event['id']}/transitions"
    c, h = walker.client, walker.world.headers
    bad = {"trigger": "spot_check", "expected_version": "one"}  # version not an integer
    r = c.post(path, json=bad)
    assert r.status_code == 401 and error_of(r)["code"] == "not_authenticated"
    r = c.post(path, json=bad, headers={"Authorization": "Bearer od_nope"})
    assert r.status_code == 401 and error_of(r)["code"] == "invalid_token"
    assert r.headers["www-authenticate"] == "Bearer"
    r = c.post(path, json=bad, headers=h["shiling"])  # staff may not spot-check
    assert r.status_code == 403, r.text
    r = c.post(path, json=bad, headers=h["supervisor"])
    assert r.status_code == 422 and "expected_version" in r.text
    r = c.post(
        path, content=b"{not json", headers={**h["shiling"], "content-type": "application/json"}
    )
    assert r.status_code == 422
    r = c.post(path, content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 401
    with walker.world.session() as s:
        row = s.get(Event, event["id"])
        assert row is not None and row.version == 1 and row.state == "planned"
