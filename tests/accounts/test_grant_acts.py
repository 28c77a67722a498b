"""A granted city supervisor's supervisor acts (issue 28), on both backends: without a grant each
is 403 `district_grant_required`; with district B's grant it acts in B as B's supervisor would
(campaign create, edit, scoring, roster, rollover; sample draw; rectification notice, send-back
and close; extension, transfer, appeal, correction and plan decisions; a failed notification's
retry; a visit and its photo; a schedule table's import), its audit lines naming its own
account; B's grant never lets it act in district A. A campaign it creates names its district
(422 `district_required` otherwise). A transfer dispute, an appeal, an event's plan and a roster
entry, each waiting in both districts, are decided by it in B (the state changed, the audit line
its own) and refused in A with nothing written. PostgreSQL's row-level security as the runtime
role: tests/ops/test_tenants.py."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlmodel import Session, func, select

from models import (
    Campaign,
    CampaignUnit,
    ChangeLog,
    Event,
    EventFiling,
    FeedbackItem,
    FeedbackTransfer,
    FilingKind,
    InboxMessage,
    OpinionReply,
    Role,
    SampleDraw,
    SpotCheck,
    TransitionLog,
    Unit,
)
from tests.conftest import HOUSING, SHILING, Walker, error_of, tiny_jpeg
from tests.routes.test_authz_districts import _district_world
from tests.routes.test_authz_matrix import _seed
from workflows.accounts import grants
from workflows.accounts.service import create_user, issue_token
from workflows.feedback.steps import DECIDE
from workflows.filing.timers import PLAN as PLAN_RULE
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


SCHEDULE_ROW = "序号,单位名称,活动主题,开展时间\n1,区住建局,市督查导入的活动,9月16日\n".encode()
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
    Act("schedule import", "POST", lambda i: f"/campaigns/{i['campaign_id']}/schedule-imports",
        lambda i: {"files": {"file": ("t.csv", SCHEDULE_ROW, "text/csv")},
                   "params": {"confirm_past_escalations": "true"}}, (201,)),
)  # fmt: skip


@dataclass
class Two:
    """Districts A (the conftest world, district 1) and B (安岳县), each seeded as the
    authorization matrix seeds a world, and a city supervisor `city` with no grant yet."""

    walker: Walker
    ids: dict[str, Ids]
    city_id: int
    headers: dict[str, str]
    walkers: dict[str, Walker]  # each district's, its own accounts' headers

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
    walkers = {"A": walker, "B": b_walker}
    return Two(walker, ids, city_id, {"Authorization": f"Bearer {token}"}, walkers)


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
        imported = session.exec(select(Event).where(Event.theme == "市督查导入的活动")).all()
        assert [e.campaign_id for e in imported] == [b["campaign_id"]]
        assert moves and {m.event_id for m in moves} == {b["event_id"], imported[0].id}, moves
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


# --- decisions made, not only let through ----------------------------------------------------
# The same decision waits in A and in B (built through the flows that lead to it); with B's grant
# the city supervisor is refused in A with nothing written, then decides in B: the state changes
# and the audit line names its own account.

PLAN = (
    "一、活动主题：参观老旧小区改造现场。二、邀请人员15人，其中市民代表5人。三、流程：参观、座谈。"
)


def _call(w: Walker, method: str, path: str, who: str, body: dict[str, Any]) -> Any:
    r = w.client.request(method, "/api/v1" + path, json=body, headers=w.world.headers[who])
    assert r.status_code in (200, 201), r.text
    return r.json()


def _version(w: Walker, item_id: int) -> int:
    r = w.client.get(f"/api/v1/feedback/{item_id}", headers=w.world.headers["housing"])
    assert r.status_code == 200, r.text
    return int(r.json()["version"])


def _answer(w: Walker, item_id: int) -> None:
    """区住建局 answers the opinion (nobody to tell: the answer counts as given at once)."""
    answer = {"trigger": "answer", "expected_version": _version(w, item_id),
              "data": {"answer": "已列入明年计划"}}  # fmt: skip
    _call(w, "POST", f"/feedback/{item_id}/transitions", "housing", answer)


def _written(two: Two) -> tuple[int, int, int]:
    """Change-log lines, transition lines and inbox messages so far."""
    with two.walker.world.session() as session:
        return (
            session.exec(select(func.count()).select_from(ChangeLog)).one(),
            session.exec(select(func.count()).select_from(TransitionLog)).one(),
            session.exec(select(func.count()).select_from(InboxMessage)).one(),
        )


def _decide_in_b_only(two: Two, method: str, path: str, body: dict[str, Any]) -> Any:
    """With B's grant: refused in A (403, nothing written), then decided in B (200); `path`
    names the district's seeded ids, e.g. `/feedback/{item_id}/appeal/decision`."""
    _grant(two, two.ids["B"]["district_id"])
    before = _written(two)
    call = two.walker.client.request
    r = call(method, "/api/v1" + path.format_map(two.ids["A"]), json=body, headers=two.headers)
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required", r.text
    assert _written(two) == before
    r = call(method, "/api/v1" + path.format_map(two.ids["B"]), json=body, headers=two.headers)
    assert r.status_code == 200, r.text
    return r.json()


def _lines_by_city(two: Two, model: Any) -> list[Any]:
    with two.walker.world.session() as session:
        return list(session.exec(select(model).where(model.actor_id == two.city_id)).all())


def test_a_granted_supervisor_decides_a_disputed_transfer(two: Two) -> None:
    """区住建局 transfers the opinion to 石岭镇, which sends it back; the city supervisor rules
    石岭镇 must answer it: in B it does, A's stays disputed with 区住建局."""
    for name, w in two.walkers.items():
        item_id = two.ids[name]["item_id"]
        moved = {"to_unit_id": w.world.units[SHILING], "reason": "属石岭镇辖区事务",
                 "expected_version": _version(w, item_id)}  # fmt: skip
        _call(w, "POST", f"/feedback/{item_id}/transfers", "housing", moved)
        _call(w, "POST", f"/feedback/{item_id}/transfer/send-back", "shiling",
              {"reason": "属区住建局职责"})  # fmt: skip
    path, body = (
        "/feedback/{item_id}/transfer/decision",
        {"outcome": "receiver", "note": "属镇级职责"},
    )
    decided = _decide_in_b_only(two, "POST", path, body)
    assert decided["state"] == "upheld" and decided["decided_by"] == "city", decided
    with two.walker.world.session() as session:
        for name, holder, state in (("A", HOUSING, "returned"), ("B", SHILING, "upheld")):
            item = session.get(FeedbackItem, two.ids[name]["item_id"])
            assert item is not None and item.unit_id == two.walkers[name].world.units[holder]
            row = session.exec(
                select(FeedbackTransfer).where(
                    FeedbackTransfer.feedback_item_id == two.ids[name]["item_id"]
                )
            ).one()
            assert row.state == state, (name, row.state)
    lines = _lines_by_city(two, TransitionLog)
    assert [(line.trigger, line.feedback_item_id, line.actor_name) for line in lines] == [
        (DECIDE, two.ids["B"]["item_id"], "city")
    ]


def test_a_granted_supervisor_decides_an_appeal(two: Two) -> None:
    """The opinion answered, rated 不满意 by phone (reopened) and appealed by 区住建局; the city
    supervisor upholds the appeal: in B the answer stands again, A's stays reopened (in hand)."""
    for name, w in two.walkers.items():
        item_id = two.ids[name]["item_id"]
        _answer(w, item_id)
        rated = _call(w, "POST", f"/feedback/{item_id}/rating", "housing",
                      {"rating": "dissatisfied"})  # fmt: skip
        assert rated["rated_via"] == "phone", rated
        _call(w, "POST", f"/feedback/{item_id}/appeal", "housing", {"reason": "已按规划答复"})
    path, body = "/feedback/{item_id}/appeal/decision", {"uphold": True, "note": "答复合理"}
    decided = _decide_in_b_only(two, "POST", path, body)
    assert decided["appeal_state"] == "upheld" and decided["appeal_note"] == "答复合理", decided
    with two.walker.world.session() as session:
        for name, state, appeal in (("A", "assigned", "pending"), ("B", "answered", "upheld")):
            item = session.get(FeedbackItem, two.ids[name]["item_id"])
            assert item is not None and item.state == state, (name, item)
            reply = session.exec(
                select(OpinionReply).where(
                    OpinionReply.feedback_item_id == two.ids[name]["item_id"]
                )
            ).one()
            assert reply.appeal_state == appeal, (name, reply.appeal_state)
            assert reply.appeal_decided_by == ("city" if name == "B" else None)
    lines = _lines_by_city(two, ChangeLog)
    assert [(line.action, line.entity_id, line.actor_name) for line in lines] == [
        ("reply.appeal_decided", two.ids["B"]["item_id"], "city")
    ]


def test_a_granted_supervisor_decides_an_events_plan(two: Two) -> None:
    """Each district's campaign asks for a plan (活动方案) before inviting; 区住建局 files one for
    a new event; the city supervisor approves it: B's plan is approved, A's still waits."""
    for name, w in two.walkers.items():
        _call(w, "PATCH", f"/campaigns/{w.world.campaign_id}", "supervisor",
              {"rules": {"plan_approval_required": True}})  # fmt: skip
        event = w.create_event(date="2022-09-20")
        two.ids[name]["plan_event_id"] = event["id"]
        _call(w, "PUT", f"/events/{event['id']}/filings/plan", "housing", {"text": PLAN})
    path = "/events/{plan_event_id}/filings/plan/decision"
    decided = _decide_in_b_only(two, "POST", path, {"approve": True})  # the event's filings
    assert {f["rule"]: f["state"] for f in decided}[PLAN_RULE] == "approved", decided
    with two.walker.world.session() as session:
        for name, state in (("A", "submitted"), ("B", "approved")):
            plan = session.exec(
                select(EventFiling).where(
                    EventFiling.event_id == two.ids[name]["plan_event_id"],
                    EventFiling.kind == FilingKind.plan,
                )
            ).one()
            assert plan.state == state, (name, plan.state)
    lines = _lines_by_city(two, TransitionLog)
    assert [(line.trigger, line.event_id, line.actor_name) for line in lines] == [
        ("plan_approve", two.ids["B"]["plan_event_id"], "city")
    ]


def test_a_granted_supervisor_edits_a_roster_before_the_campaign_opens(two: Two) -> None:
    """Each district's supervisor copies its campaign into 2023 (its opinion answered first);
    the city supervisor changes 区住建局's contact on B's new roster (and on the unit), not A's."""
    for name, w in two.walkers.items():
        item_id = two.ids[name]["item_id"]
        _answer(w, item_id)
        copied = _call(w, "POST", f"/campaigns/{w.world.campaign_id}/rollover", "supervisor",
                       {**CAMPAIGN, "doc_number": f"{name}〔2023〕1号",
                        "starts_on": "2023-08-21", "ends_on": "2023-09-22"})  # fmt: skip
        two.ids[name]["next_campaign_id"] = copied["id"]
    path = "/campaigns/{next_campaign_id}/units/{unit_id}"
    changed = _decide_in_b_only(two, "PATCH", path, {"contact_name": "王五"})
    assert changed["contact_name"] == "王五", changed
    with two.walker.world.session() as session:
        for name, shown in (("A", False), ("B", True)):
            entry = session.exec(
                select(CampaignUnit).where(
                    CampaignUnit.campaign_id == two.ids[name]["next_campaign_id"],
                    CampaignUnit.unit_id == two.ids[name]["unit_id"],
                )
            ).one()
            unit = session.get(Unit, two.ids[name]["unit_id"])
            assert unit is not None
            assert (entry.contact_name == "王五", unit.contact_name == "王五") == (shown, shown)
    lines = _lines_by_city(two, ChangeLog)
    assert {(line.entity, line.action, line.actor_name) for line in lines} == {
        ("campaign_unit", "update", "city"), ("unit", "update", "city")
    }  # fmt: skip
    b_units = {two.ids["B"]["unit_id"]}
    assert {line.unit_id for line in lines} == b_units
