"""Public side (issue 13): calendar, registration with waiting list, staff confirm/decline,
receipts, abuse limits, privacy (masking, export, purge, nothing in logs) and the race on
PostgreSQL."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, date, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from models import Campaign, Event, Registration
from models.codes import new_code, normalize
from settings import Settings
from tests.conftest import Walker, World, error_of
from workflows.kernel.clock import FixedClock
from workflows.public import privacy
from workflows.public import registration as flow
from workflows.public.privacy import Keys
from workflows.public.throttle import from_settings

PHONE = "13812345678"


def make_id(body: str) -> str:
    """An 18-digit resident ID number with its right check digit."""
    weights = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
    return body + "10X98765432"[sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11]


ID_ADULT = make_id("11010519491231002")  # born 1949-12-31
ID_CHILD = make_id("11010520100101001")  # 12 on the event's day


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Rate limits counted per app (memory): tests other than the limits' own never share them."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


def _keys(client: TestClient) -> Keys:
    return privacy.keys_from_settings(client.app.state.settings)  # type: ignore[attr-defined]


def open_event(walker: Walker, places: int = 2, **body: Any) -> dict:
    """An event with `places` public places, set through the staff PATCH."""
    event = walker.create_event(**body)
    response = walker.client.patch(
        f"/api/v1/events/{event['id']}",
        json={"expected_version": event["version"], "public_places": places},
        headers=walker.world.headers["housing"],
    )
    assert response.status_code == 200, response.text
    assert response.json()["public_places"] == places
    return response.json()  # type: ignore[no-any-return]


def form(client: TestClient, phone: str = PHONE, name: str = "张三", **extra: Any) -> dict:
    """A filled registration with a correctly answered human check."""
    challenge = client.get("/api/v1/public/challenge").json()
    a, b = _numbers(challenge["question"])
    return {
        "name": name,
        "phone": phone,
        "district": "雁江区",
        "consent": True,
        "challenge_token": challenge["token"],
        "challenge_answer": str(a + b),
        **extra,
    }


def _numbers(question: str) -> tuple[int, int]:
    digits = "零一二三四五六七八九十"
    left, right = question.split("等于")[0].split("加")
    return digits.index(left), digits.index(right)


def register(client: TestClient, event_id: int, **kw: Any) -> Any:
    return client.post(f"/api/v1/public/events/{event_id}/registrations", json=form(client, **kw))


def test_calendar_lists_only_events_with_public_places(walker: Walker) -> None:
    event = open_event(walker, places=3, location="某小区", start_time="14:30")
    walker.create_event(theme="不公开的活动")
    rows = walker.client.get("/api/v1/public/events").json()
    assert [r["id"] for r in rows] == [event["id"]]
    row = rows[0]
    assert row["places_left"] == 3 and row["unit_name"] == "区住建局"
    assert row["start_time"] == "14:30:00" and row["location"] == "某小区"
    assert walker.client.get(f"/api/v1/public/events/{event['id']}").json()["places_left"] == 3


def test_first_come_then_waitlist_in_order_and_cancel_promotes(walker: Walker) -> None:
    client = walker.client
    event = open_event(walker, places=2)
    codes = []
    for n in range(4):
        r = register(client, event["id"], phone=f"1390000000{n}", name=f"市民{n}")
        assert r.status_code == 201, r.text
        codes.append(r.json())
    assert [c["state"] for c in codes] == ["registered", "registered", "waitlisted", "waitlisted"]
    assert [c["waitlist_position"] for c in codes[2:]] == [1, 2]
    assert codes[0]["phone_masked"] == "139****0000"
    assert client.get(f"/api/v1/public/events/{event['id']}").json()["places_left"] == 0
    # The first cancels: the first on the waiting list is offered the place, the second moves up.
    r = client.post(
        "/api/v1/public/registrations/cancel",
        json={"code": codes[0]["code"], "phone": "13900000000"},
    )
    assert r.status_code == 200 and r.json()["state"] == "cancelled"
    look = client.post(
        "/api/v1/public/registrations/lookup",
        json={"code": codes[2]["code"].lower(), "phone": "139-0000-0002"},
    ).json()
    assert look["state"] == "offered" and look["offer_until"]  # until B accepts or lapses
    look = client.post(
        "/api/v1/public/registrations/lookup",
        json={"code": codes[3]["code"], "phone": "13900000003"},
    ).json()
    assert look["waitlist_position"] == 1
    wrong = client.post(
        "/api/v1/public/registrations/lookup", json={"code": codes[3]["code"], "phone": PHONE}
    )
    assert wrong.status_code == 404 and error_of(wrong)["code"] == "registration_not_found"


def test_eligibility_rules_refuse_with_codes(walker: Walker, world: World) -> None:
    client = walker.client
    event = open_event(walker, places=5)
    cases = [
        ({"consent": False}, "consent_required"),
        ({"phone": "12345678901"}, "invalid_phone"),
        ({"id_number": ID_ADULT[:-1] + ("0" if ID_ADULT[-1] != "0" else "1")}, "invalid_id_number"),
        ({"id_number": ID_CHILD}, "too_young"),
        ({"challenge_answer": "999"}, "challenge_wrong"),
        ({"challenge_token": "forged"}, "challenge_invalid"),
    ]
    for extra, code in cases:
        body = {**form(client), **extra}
        r = client.post(f"/api/v1/public/events/{event['id']}/registrations", json=body)
        assert r.status_code == 422, (code, r.text)
        assert error_of(r)["code"] == code and error_of(r)["message"], code
    assert register(client, event["id"], id_number=ID_ADULT).status_code == 201
    # Once per person per campaign: the same phone, or the same ID with another phone.
    other = open_event(walker, places=5, theme="另一场")
    again = register(client, other["id"])
    assert again.status_code == 409 and error_of(again)["code"] == "already_registered"
    again = register(client, other["id"], phone="13700000000", id_number=ID_ADULT)
    assert error_of(again)["code"] == "already_registered"
    # Residence: the campaign accepts listed districts only.
    with world.session() as s:
        campaign = s.get(Campaign, world.campaign_id)
        campaign.rules = {**campaign.rules, "public_districts": ["雁江区"]}  # type: ignore[union-attr]
        s.add(campaign)
        s.commit()
    r = register(client, other["id"], phone="13600000000", district="安岳县")
    assert error_of(r)["code"] == "residence_not_eligible"
    long = register(client, other["id"], phone="13600000000", name="长" * 51)
    assert long.status_code == 422


def test_staff_confirm_makes_an_invitee_and_decline_promotes(walker: Walker) -> None:
    client, headers = walker.client, walker.world.headers["housing"]
    event = open_event(walker, places=1)
    first = register(client, event["id"]).json()
    second = register(client, event["id"], phone="13900000009", name="李四").json()
    rows = client.get(f"/api/v1/events/{event['id']}/registrations", headers=headers).json()
    assert [r["phone_masked"] for r in rows] == ["138****5678", "139****0009"]
    assert PHONE not in str(rows)
    # Another unit's staff never sees them.
    other = client.get(
        f"/api/v1/events/{event['id']}/registrations", headers=walker.world.headers["shiling"]
    )
    assert other.status_code == 404
    version = walker.get(event["id"])["version"]
    r = client.post(
        f"/api/v1/events/{event['id']}/registrations/{rows[0]['id']}/decline",
        json={"reason": "名额调整"},
        headers=headers,
    )
    assert r.status_code == 200 and r.json()["state"] == "declined"
    assert walker.get(event["id"])["version"] == version  # a decline is not an event edit
    look = client.post(
        "/api/v1/public/registrations/lookup", json={"code": first["code"], "phone": PHONE}
    ).json()
    assert look["state"] == "declined" and look["decline_reason"] == "名额调整"
    r = client.post(
        f"/api/v1/events/{event['id']}/registrations/{rows[1]['id']}/confirm",
        params={"expected_version": version},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "confirmed"
    people = client.get(f"/api/v1/events/{event['id']}/invitees", headers=headers).json()
    items = people["items"] if isinstance(people, dict) else people
    person = next(p for p in items if p["id"] == r.json()["invitee_id"])
    assert (person["name"], person["category"], person["invitation"]) == (
        "李四",
        "citizen",
        "public",
    )
    assert second["code"]
    stale = client.post(
        f"/api/v1/events/{event['id']}/registrations/{rows[1]['id']}/confirm",
        params={"expected_version": version},
        headers=headers,
    )
    assert stale.status_code == 409


def test_receipt_tracks_status_and_answer_without_personal_data(walker: Walker) -> None:
    client, headers = walker.client, walker.world.headers["housing"]
    event, _ = walker.held_event()
    r = client.post(
        f"/api/v1/events/{event['id']}/feedback",
        params=walker.version_of(event["id"]),
        json={"content": "建议公开老旧小区改造资金明细"},
        headers=headers,
    )
    assert r.status_code == 201, r.text
    item = r.json()
    code = item["receipt_code"]
    assert normalize(code) == code
    seen = client.get(f"/api/v1/public/receipts/{code[:5]}-{code[5:]}").json()
    assert seen["status"] == "received" and seen["answer"] is None
    assert "invitee" not in str(seen) and "assignee" not in seen
    r = client.post(
        f"/api/v1/feedback/{item['id']}/transitions",
        json={
            "trigger": "answer",
            "expected_version": item["version"],
            "data": {"answer": "已纳入计划"},
        },
        headers=headers,
    )
    assert r.status_code == 200, r.text
    seen = client.get(f"/api/v1/public/receipts/{code}").json()
    assert seen["status"] == "answered" and seen["answer"] == "已纳入计划"
    typo = code[:-1] + ("0" if code[-1] != "0" else "1")
    assert client.get(f"/api/v1/public/receipts/{typo}").status_code == 404
    assert client.get(f"/api/v1/public/receipts/{new_code()}").status_code == 404


def test_codes_catch_every_single_typo() -> None:
    code = new_code()
    for i in range(10):
        for ch in "0123456789ABCDEFGHJKMNPQRSTVWXYZ":  # Z: not a code letter
            if ch != code[i]:
                assert normalize(code[:i] + ch + code[i + 1 :]) is None


def test_rate_limits_per_address_and_per_phone(
    engine: Engine, clock: FixedClock, tmp_path: Any, world: World
) -> None:
    settings = Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        public_limit_address="5/hour",
        public_limit_phone="2/hour",
        track_limit_address="3/hour",
    )
    app = create_app(settings=settings, engine=engine, clock=clock)
    # Redis when the run has one (a fresh namespace: earlier runs' counters never leak in).
    app.state.public_throttle = from_settings(settings, clock, namespace=uuid.uuid4().hex)
    with TestClient(app) as client:
        walker = Walker(client, world)
        event = open_event(walker, places=9)
        body = {"code": "AAAAAAAAAA", "phone": PHONE}
        answers = [client.post("/api/v1/public/registrations/lookup", json=body) for _ in range(3)]
        assert [a.status_code for a in answers] == [404, 404, 429]
        assert (
            answers[2].headers["Retry-After"]
            and error_of(answers[2])["code"] == "too_many_requests"
        )
        # The phone's window is spent; other phones from the same address: 5 in all, then 429.
        other = [register(client, event["id"], phone=f"1390000000{n}") for n in range(3)]
        assert [o.status_code for o in other] == [201, 201, 429]
        tracks = [client.get("/api/v1/public/receipts/AAAAAAAAAA") for _ in range(4)]
        assert [t.status_code for t in tracks] == [404, 404, 404, 429]


def test_phone_and_id_are_encrypted_never_logged_exported_and_purged(
    walker: Walker, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    client = walker.client
    event = open_event(walker, places=2)
    with caplog.at_level(logging.DEBUG):
        reg = register(client, event["id"], id_number=ID_ADULT).json()
        bad = register(client, event["id"], phone="1381234567x")
    assert bad.status_code == 422
    assert (
        PHONE not in caplog.text
        and ID_ADULT not in caplog.text
        and "1381234567x" not in caplog.text
    )
    with world.session() as s:
        row = s.exec(select(Registration)).one()
        stored = str(row.model_dump())
    assert PHONE not in stored and ID_ADULT not in stored
    assert _keys(client).decrypt(row.phone_enc) == PHONE
    export = client.post(
        "/api/v1/public/registrations/export", json={"code": reg["code"], "phone": PHONE}
    )
    assert export.status_code == 200 and "attachment" in export.headers["Content-Disposition"]
    assert export.json()["phone"] == PHONE and export.json()["id_number"] == ID_ADULT
    # Purge: nothing before the campaign ended + retention; everything personal after.
    with world.session() as s:
        ends = s.get(Campaign, world.campaign_id).ends_on  # type: ignore[union-attr]
        now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
        assert privacy.purge(s, retention_days=30, today=ends + timedelta(days=30), now=now) == 0
        assert privacy.purge(s, retention_days=30, today=ends + timedelta(days=31), now=now) == 1
        s.commit()
        row = s.exec(select(Registration)).one()
    assert (row.name, row.phone_enc, row.id_enc, row.phone_hash) == ("（已清除）", None, None, None)
    gone = client.post(
        "/api/v1/public/registrations/lookup", json={"code": reg["code"], "phone": PHONE}
    )
    assert gone.status_code == 404


@pytest.mark.postgresql
def test_race_100_people_for_10_places(engine: Engine, world: World, tmp_path: Any) -> None:
    """100 people at once for 10 places: exactly 10 registered, 90 waitlisted in arrival
    order, nobody lost, no over-booking."""
    keys = privacy.load_keys(None, tmp_path)
    from datetime import datetime

    moment = datetime(2022, 9, 1, 2, tzinfo=UTC)
    with world.session() as s:
        event = Event(
            campaign_id=world.campaign_id, unit_id=world.units["区住建局"], theme="抢报名",
            date_earliest=date(2022, 9, 16), date_latest=date(2022, 9, 16), public_places=10,
            created_at=moment, updated_at=moment,
        )  # fmt: skip
        s.add(event)
        s.commit()
        event_id = event.id
    start = threading.Barrier(100)
    errors: list[BaseException] = []

    def one(n: int) -> None:
        who = flow.Applicant(name=f"市民{n}", phone=f"139{n:08d}", district="雁江区", consent=True)
        try:
            start.wait()
            with Session(engine) as s:
                flow.register(s, event_id, who, keys=keys, now=moment)  # type: ignore[arg-type]
                s.commit()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(n,)) for n in range(100)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    with world.session() as s:
        rows = s.exec(select(Registration).order_by(Registration.id)).all()
        positions = [flow.waitlist_position(s, r) for r in rows if r.state == "waitlisted"]
    states = [r.state for r in rows]
    assert states.count("registered") == 10 and states.count("waitlisted") == 90
    assert states == ["registered"] * 10 + ["waitlisted"] * 90  # arrival (commit) order
    assert positions == list(range(1, 91))
    assert len({r.phone_hash for r in rows}) == 100


def test_codes_catch_swapped_neighbours() -> None:
    for _ in range(50):
        code = new_code()
        for i in range(8):
            swapped = code[:i] + code[i + 1] + code[i] + code[i + 2 :]
            if swapped != code:
                assert normalize(swapped) is None


def test_pages_register_look_up_and_track_without_script(walker: Walker) -> None:
    client = walker.client
    event = open_event(walker, places=1, location="某小区")
    page = client.get("/public")
    assert (
        page.status_code == 200
        and "参观老旧小区改造现场" in page.text
        and "剩余 1 个名额" in page.text
    )
    assert "<script" not in page.text
    form_page = client.get(f"/public/events/{event['id']}").text
    csrf = form_page.split('name="csrf" value="')[1].split('"')[0]
    token = form_page.split('name="challenge_token" value="')[1].split('"')[0]
    question = form_page.split("验证题：")[1].split("<")[0]
    a, b = _numbers(question)
    body = {"csrf": csrf, "challenge_token": token, "name": "王五", "phone": PHONE,
            "district": "雁江区", "challenge_answer": str(a + b)}  # fmt: skip
    refused = client.post(f"/public/events/{event['id']}/register", data=body)
    assert refused.status_code == 422 and "请阅读并同意个人信息处理说明" in refused.text
    token = refused.text.split('name="challenge_token" value="')[1].split('"')[0]
    question = refused.text.split("验证题：")[1].split("<")[0]
    a, b = _numbers(question)
    body.update(consent="1", challenge_token=token, challenge_answer=str(a + b))
    done = client.post(f"/public/events/{event['id']}/register", data=body)
    assert done.status_code == 201, done.text
    code = done.text.split('id="code">')[1].split("<")[0]
    assert "138****5678" in done.text and PHONE not in done.text
    found = client.post("/public/registration", data={"csrf": csrf, "code": code, "phone": PHONE})
    assert "已报名，待单位确认" in found.text and "取消报名" in found.text
    missing = client.get("/public/track", params={"code": "AAAAAAAAAA"})
    assert missing.status_code == 404 and "没有找到该回执码" in missing.text


def test_a_declined_person_cannot_register_again_until_staff_lift_it(
    walker: Walker, world: World
) -> None:
    """Declined for an event, the same phone (or ID number) is refused for that event with a
    stable code; another event is not affected. The unit lifts the block (audited), and the
    person may register again."""
    from models import ChangeLog

    client, headers = walker.client, world.headers["housing"]
    event = open_event(walker, places=3)
    other = open_event(walker, places=3, theme="另一个活动")
    with world.session() as s:  # one registration per campaign would hide the point
        campaign = s.get(Campaign, world.campaign_id)
        assert campaign is not None
        campaign.rules = {**campaign.rules, "public_once_per_campaign": False}
        s.add(campaign)
        s.commit()
    first = register(client, event["id"], id_number=ID_ADULT)
    assert first.status_code == 201, first.text
    reg_id = client.get(f"/api/v1/events/{event['id']}/registrations", headers=headers).json()[0][
        "id"
    ]
    declined = client.post(
        f"/api/v1/events/{event['id']}/registrations/{reg_id}/decline",
        json={"reason": "不符合条件"},
        headers=headers,
    )
    assert declined.status_code == 200, declined.text
    again = register(client, event["id"])
    assert again.status_code == 409, again.text
    error = error_of(again)
    assert error["code"] == "registration_declined"
    assert "未获确认" in error["message"] and "不能再次报名" in error["message"]
    by_id = register(client, event["id"], phone="13900000001", id_number=ID_ADULT)
    assert by_id.status_code == 409 and error_of(by_id)["code"] == "registration_declined"
    assert register(client, other["id"]).status_code == 201  # another event: fine

    lift = f"/api/v1/events/{event['id']}/registrations/{reg_id}/lift-decline"
    refused = client.post(lift, headers=world.headers["shiling"])
    assert refused.status_code == 404  # another unit's staff
    lifted = client.post(lift, headers=headers)
    assert lifted.status_code == 200, lifted.text
    assert lifted.json()["state"] == "declined" and lifted.json()["decline_lifted_at"]
    twice = client.post(lift, headers=headers)
    assert twice.status_code == 409 and error_of(twice)["code"] == "registration_state"
    with world.session() as s:
        line = s.exec(
            select(ChangeLog).where(
                ChangeLog.entity == "public_registration", ChangeLog.action == "lift_decline"
            )
        ).one()
        assert line.entity_id == reg_id and line.actor_name
    back = register(client, event["id"])
    assert back.status_code == 201, back.text
