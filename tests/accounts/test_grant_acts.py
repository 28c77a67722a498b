"""A granted city supervisor's supervisor acts (issue 28), on both backends: without a grant
each is 403 `district_grant_required`; with district B's grant it acts in B as B's supervisor
would (campaign create, edit, scoring, roster, rollover; sample draw; rectification notice,
send-back and close; extension, transfer, appeal, correction and plan decisions; a failed
notification's retry; a visit and its photo), its audit lines naming its own account; B's grant
never lets it act in district A. A campaign it creates names its district (422
`district_required` otherwise). PostgreSQL's row-level security as the runtime role:
tests/ops/test_tenants.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session, select

from models import Campaign, ChangeLog, Role, SampleDraw, SpotCheck, TransitionLog
from tests.conftest import Walker, error_of, tiny_jpeg
from tests.routes.test_authz_districts import _district_world
from tests.routes.test_authz_matrix import _seed
from workflows.accounts import grants
from workflows.accounts.service import create_user, issue_token
from workflows.kernel.visibility import SYSTEM

Ids = dict[str, Any]


@dataclass(frozen=True)
class Act:
    """One supervisor act through the API: its request for a district's seeded rows, and the
    statuses it answers when the caller may act there (2xx, or a 409/422 of the rules)."""

    name: str
    method: str
    url: Callable[[Ids], str]
    body: Callable[[Ids], dict[str, Any]]
    passes: tuple[int, ...]


def _json(data: dict[str, Any]) -> Callable[[Ids], dict[str, Any]]:
    return lambda _ids: {"json": data}


CAMPAIGN = {"title": "t", "issuing_office": "o", "starts_on": "2023-08-22", "ends_on": "2023-09-22"}
ACTS = (
    Act("campaign create", "POST", lambda i: "/campaigns",
        lambda i: {"json": {**CAMPAIGN, "doc_number": f"市督〔2023〕{i['district_id']}号",
                            "district_id": i["district_id"]}}, (201,)),
    Act("campaign edit", "PATCH", lambda i: f"/campaigns/{i['campaign_id']}",
        _json({"title": "市督查修改的标题"}), (200,)),
    Act("scoring rules", "PUT", lambda i: f"/campaigns/{i['campaign_id']}/scoring-rules",
        lambda i: {"json": i["scoring"]}, (200,)),
    Act("roster entry", "PATCH", lambda i: f"/campaigns/{i['campaign_id']}/units/{i['unit_id']}",
        _json({"contact_name": "王五"}), (409,)),  # the campaign has opened: 409
    Act("rollover", "POST", lambda i: f"/campaigns/{i['campaign_id']}/rollover",
        _json({**CAMPAIGN, "doc_number": "新号", "starts_on": "2022-08-22",
               "ends_on": "2022-09-22"}), (409,)),  # opinions still unanswered: 409
    Act("sample draw", "POST", lambda i: f"/campaigns/{i['campaign_id']}/samples",
        _json({"count": 1}), (201,)),
    Act("rectification notice", "POST",
        lambda i: f"/spot-checks/{i['lacking_check_id']}/rectification",
        _json({"notice": "补充现场照片"}), (201,)),
    Act("rectification send-back", "POST", lambda i: f"/rectifications/{i['rect_id']}/send-back",
        _json({"reasons": "材料不全"}), (200,)),
    Act("rectification close", "POST", lambda i: f"/rectifications/{i['rect_id']}/close",
        _json({}), (409,)),  # sent back just now: not reported
    Act("extension decision", "POST", lambda i: f"/extensions/{i['request_id']}/decision",
        _json({"approve": False, "note": "可按期答复"}), (200,)),
    Act("transfer decision", "POST", lambda i: f"/feedback/{i['item_id']}/transfer/decision",
        _json({"outcome": "sender"}), (409,)),  # no disputed transfer
    Act("appeal decision", "POST", lambda i: f"/feedback/{i['item_id']}/appeal/decision",
        _json({"uphold": True}), (409,)),  # no 不满意 rating
    Act("correction decision", "POST",
        lambda i: f"/correction-requests/{i['correction_request_id']}/decision",
        _json({"approve": False, "note": "与签到记录不符"}), (200,)),
    Act("plan decision", "POST", lambda i: f"/events/{i['event_id']}/filings/plan/decision",
        _json({"approve": True}), (409,)),  # the campaign asks no plan
    Act("notification retry", "POST", lambda i: f"/notifications/{i['notification_id']}/retry",
        _json({}), (200,)),
    Act("visit", "POST", lambda i: f"/events/{i['event_id']}/visits",
        _json({"visited_on": "2022-09-16", "people": "市督查", "findings": "良好"}), (201,)),
    Act("visit photo", "POST", lambda i: f"/visits/{i['visit_id']}/photos",
        lambda i: {"files": {"file": ("v.jpg", tiny_jpeg(), "image/jpeg")}}, (201,)),
)  # fmt: skip


@dataclass
class Two:
    """Districts A (the conftest world, district 1) and B (安岳县), each seeded as the
    authorization matrix seeds a world, and a city supervisor `city` with no grant yet."""

    walker: Walker
    ids: dict[str, Ids]
    city_id: int
    headers: dict[str, str]

    def call(self, act: Act, district: str) -> Any:
        ids = self.ids[district]
        return self.walker.client.request(
            act.method, "/api/v1" + act.url(ids), headers=self.headers, **act.body(ids)
        )


def _lacking_round(walker: Walker, event_id: int) -> int:
    """A second spot-check round of the event, found lacking (a notice may follow it)."""
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with walker.world.session() as session:
        check = SpotCheck(event_id=event_id, round=2, result="needs_improvement",
                          notes="照片不足", checked_at=now)  # fmt: skip
        session.add(check)
        session.commit()
        assert check.id is not None
        return check.id


@pytest.fixture
def two(walker: Walker, engine: Any) -> Two:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    ids = {"A": _seed(walker, engine, target="a-target")}
    b_district, b_world = _district_world(engine, now)
    b_walker = Walker(walker.client, b_world)
    ids["B"] = _seed(b_walker, engine, target="b-target")
    assert ids["B"]["district_id"] == b_district
    for name, w in (("A", walker), ("B", b_walker)):
        ids[name]["lacking_check_id"] = _lacking_round(w, ids[name]["event_id"])
        reported = w.client.post(
            f"/api/v1/rectifications/{ids[name]['rect_id']}/report",
            json={"report": "已补充照片"}, headers=w.world.headers["housing"],
        )  # fmt: skip
        assert reported.status_code == 200, reported.text
    with Session(engine) as session:
        city = create_user(session, username="city", role=Role.supervisor, now=now,
                           district_id=None)  # fmt: skip
        token = issue_token(session, city, kind="api", now=now)
        session.commit()
        assert city.id is not None
        city_id = city.id
    return Two(walker, ids, city_id, {"Authorization": f"Bearer {token}"})


def _grant(two: Two, district_id: int) -> None:
    now = two.walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with two.walker.world.session() as session:
        grants.grant(session, SYSTEM, district_id, two.city_id, "督查抽查", now)
        session.commit()


def _refused(two: Two, district: str) -> list[str]:
    wrong = []
    for act in ACTS:
        r = two.call(act, district)
        if r.status_code != 403 or error_of(r)["code"] != "district_grant_required":
            wrong.append(f"{act.name} in {district}: {r.status_code} {r.text[:200]}")
    return wrong


def test_without_a_grant_every_supervisor_act_is_refused(two: Two) -> None:
    assert _refused(two, "A") + _refused(two, "B") == []
    with two.walker.world.session() as session:
        assert (
            session.exec(select(SampleDraw).where(SampleDraw.drawn_by_name == "city")).all() == []
        )
        titles = session.exec(select(Campaign.title)).all()
        assert "市督查修改的标题" not in titles


def test_with_bs_grant_it_acts_in_b_as_bs_supervisor_and_never_in_a(two: Two) -> None:
    _grant(two, two.ids["B"]["district_id"])
    assert _refused(two, "A") == []  # B's grant says nothing of A
    wrong = []
    for act in ACTS:
        r = two.call(act, "B")
        if r.status_code not in act.passes:
            wrong.append(f"{act.name}: want {act.passes}, got {r.status_code} {r.text[:200]}")
    assert wrong == []
    b = two.ids["B"]
    with two.walker.world.session() as session:
        campaign = session.get(Campaign, b["campaign_id"])
        assert campaign is not None and campaign.title == "市督查修改的标题"
        made = session.exec(select(Campaign).where(Campaign.doc_number.startswith("市督"))).one()  # type: ignore[attr-defined]
        assert made.district_id == b["district_id"]
        lines = session.exec(
            select(ChangeLog).where(ChangeLog.actor_id == two.city_id).order_by(ChangeLog.id)  # type: ignore[arg-type]
        ).all()
        assert {(line.entity, line.action) for line in lines} >= {
            ("campaign", "create"), ("campaign", "update")
        }  # fmt: skip
        assert {line.actor_name for line in lines} == {"city"}
        drawn = session.exec(select(SampleDraw).where(SampleDraw.drawn_by_name == "city")).one()
        assert drawn.campaign_id == b["campaign_id"]
        moves = session.exec(
            select(TransitionLog).where(TransitionLog.actor_id == two.city_id)
        ).all()
        assert moves and {m.event_id for m in moves} == {b["event_id"]}, moves
        a_campaign = session.get(Campaign, two.ids["A"]["campaign_id"])
        assert a_campaign is not None and a_campaign.title != "市督查修改的标题"


def test_a_campaign_it_creates_names_its_district(two: Two) -> None:
    _grant(two, two.ids["B"]["district_id"])
    client = two.walker.client
    body = {**CAMPAIGN, "doc_number": "市督〔2023〕1号"}
    r = client.post("/api/v1/campaigns", json=body, headers=two.headers)
    assert r.status_code == 422 and error_of(r)["code"] == "district_required", r.text
    r = client.post("/api/v1/campaigns", json={**body, "district_id": 9999}, headers=two.headers)
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found", r.text
    # A district's own supervisor names no other district than its own.
    r = client.post(
        "/api/v1/campaigns",
        json={**body, "district_id": two.ids["B"]["district_id"]},
        headers=two.walker.world.headers["supervisor"],
    )
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found", r.text
