"""The words of refusals, filing labels, reports and the API's history name the office of the
district they are about (issue 28), through the API on both backends, three ways:

- `sole`: a city of one district reads 区政府办 exactly as before districts;
- `yanjiang`: a second district (安岳县) exists, the world stays in 雁江区: 雁江区政府办;
- `anyue`: the world's campaign, units and accounts are 安岳县's: 安岳县政府办.

A city-level account reading an event's history hears the event's own district office, and a
role refusal to a city-level reader names the role in general (区县政府办).
"""

from __future__ import annotations

import io
from dataclasses import replace
from datetime import date, timedelta
from typing import Any

import docx
import pytest
from sqlmodel import select

from models import Campaign, District, Event, Role, Timer, Unit, User
from tests.conftest import HOUSING, Walker, error_of, local
from tests.event.test_record_corrections import correct
from workflows.accounts import districts, service
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.filing import timers
from workflows.kernel.clock import FixedClock
from workflows.kernel.visibility import Actor, acting_in
from workflows.reporting import reports, yearly

API = "/api/v1"
NOW = local(2022, 9, 14, 9)
OFFICES = {"sole": "区政府办", "yanjiang": "雁江区政府办", "anyue": "安岳县政府办"}
WHOLES = {"区政府办": "全区", "雁江区政府办": "全区", "安岳县政府办": "全县"}


@pytest.fixture(params=list(OFFICES))
def office(request: pytest.FixtureRequest, walker: Walker, clock: FixedClock) -> str:
    """The world's district office in words; in a city of two districts, a city supervisor and
    a city viewer too (headers `city`, `cityviewer`)."""
    if request.param == "sole":
        return OFFICES["sole"]
    world, now = walker.world, clock.now()
    with world.session() as s:
        anyue = District(
            code="anyue", name="安岳县", city_name="资阳市", office_name="安岳县人民政府办公室",
            created_at=now,
        )  # fmt: skip
        s.add(anyue)
        s.flush()
        if request.param == "anyue":
            campaign = s.get(Campaign, world.campaign_id)
            assert campaign is not None
            campaign.district_id, campaign.doc_number = anyue.id, "安府办发〔2022〕12号"
            for unit in s.exec(select(Unit)).all():
                unit.district_id = anyue.id
            for account in s.exec(select(User)).all():
                account.district_id = anyue.id
        for name, role in (("city", Role.supervisor), ("cityviewer", Role.viewer)):
            user = create_user(s, username=name, role=role, now=now, district_id=None)
            token = issue_token(s, user, kind="api", now=now)
            world.headers[name] = {"Authorization": f"Bearer {token}"}
        s.commit()
    return OFFICES[request.param]


def _get(walker: Walker, path: str, who: str) -> Any:
    return walker.client.get(f"{API}{path}", headers=walker.world.headers[who])


def _sentences(walker: Walker, eid: int, who: str = "supervisor") -> list[str]:
    r = _get(walker, f"/events/{eid}/history", who)
    assert r.status_code == 200, r.text
    return [line["sentence"] for line in r.json()]


def _plan_rule_on(walker: Walker) -> None:
    r = walker.client.patch(
        f"{API}/campaigns/{walker.world.campaign_id}",
        json={"rules": {"plan_approval_required": True}},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text


PLAN = (
    "一、活动主题：参观老旧小区改造现场。二、邀请人员15人，其中市民代表5人。三、流程：参观、座谈。"
)


def test_guards_filings_and_role_refusals_name_the_events_district_office(
    walker: Walker, office: str
) -> None:
    _plan_rule_on(walker)
    event = walker.create_event(date="2022-09-20")
    eid = event["id"]
    walker.add_invitees(eid, citizens=5, deputies=10)

    refused = walker.move(eid, "invite")  # the guard: the plan first
    assert refused.status_code == 409
    assert f"活动方案未报送，须经{office}审核通过后才能发出邀请" in error_of(refused)["message"]
    filings = {f["rule"]: f for f in _get(walker, f"/events/{eid}/filings", "housing").json()}
    assert filings["filing_plan"]["label"] == f"活动方案报{office}审核"
    r = walker.client.put(
        f"{API}/events/{eid}/filings/plan",
        json={"text": PLAN},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 200, r.text
    plan = next(f for f in r.json() if f["rule"] == "filing_plan")
    assert plan["state_zh"] == f"待{office}审核"
    refused = walker.move(eid, "invite")
    assert (
        f"活动方案待{office}审核，须经{office}审核通过后才能发出邀请"
        in error_of(refused)["message"]
    )
    assert any(f"待{office}审核" in s for s in _sentences(walker, eid))  # the API's history

    by_staff = walker.move(eid, "cancel", reason="我自己取消可以吗")  # a supervisor's move
    assert by_staff.status_code == 403
    assert error_of(by_staff)["message"] == f"仅{office}督查人员可以取消"
    for path, words in (
        (f"/campaigns/{walker.world.campaign_id}/rollover", f"仅{office}督查人员可执行此操作"),
        ("/bulletins", f"通报仅供{office}、管理员和查阅账号查看"),
        (
            f"/campaigns/{walker.world.campaign_id}/summary.docx",
            f"{WHOLES[office]}总结报告仅供{office}人员下载",
        ),
    ):
        r = _get(walker, path, "housing")
        assert r.status_code == 403 and error_of(r)["message"] == words, (path, r.text)
    if office != OFFICES["sole"]:  # the city's reader: the role in general
        r = _get(walker, f"/campaigns/{walker.world.campaign_id}/rollover", "cityviewer")
        assert error_of(r)["message"] == "仅区县政府办督查人员可执行此操作"


def test_history_late_opinions_and_the_report_name_the_events_district_office(
    walker: Walker, office: str
) -> None:
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.move(eid, "collect_feedback", data={"no_opinions": True}).status_code == 200
    assert walker.upload(eid).status_code == 201
    sent = walker.move(eid, "submit_summary", data={"text": "总结"})
    assert sent.status_code == 200, sent.text
    assert sent.json()["move"]["sentence"] == f"housing向{office}报送了总结，附照片或文件 1 个。"
    late = walker.client.post(
        f"{API}/events/{eid}/feedback", json={"content": "希望多开放几次"},
        params=walker.version_of(eid), headers=walker.world.headers["housing"],
    )  # fmt: skip
    assert late.status_code == 409
    assert error_of(late)["message"].endswith(f"如有新的意见，请联系{office}")

    other = walker.create_event(date="2022-09-21")  # asked, then cancelled directly, exempt
    asked = walker.client.post(
        f"{API}/events/{other['id']}/cancellation-requests", json={"reason": "场地改造无法使用"},
        headers=walker.world.headers["housing"],
    )  # fmt: skip
    assert asked.status_code == 201, asked.text
    said = f"housing申请取消活动，待{office}审批。理由：场地改造无法使用。"
    assert said in _sentences(walker, other["id"])
    if office != OFFICES["sole"]:  # a city-level reader hears the event's office, not its own
        assert said in _sentences(walker, other["id"], who="city")
    third = walker.create_event(date="2022-09-22")
    r = walker.move(
        third["id"], "cancel", who="supervisor", reason="统一调整",
        data={"exempt": True, "exempt_reason": "上级统一调整"},
    )  # fmt: skip
    assert r.status_code == 200, r.text

    cid = walker.world.campaign_id
    report = _get(walker, f"/campaigns/{cid}/report", "supervisor").json()
    notes = dict((n["label"], n["note"]) for n in report["notes"])
    assert (
        notes["已取消"] == f"经{office}批准（或由{office}直接）取消的活动，理由见“已取消的活动”。"
    )
    cancelled = list(reports.sheets(report)[1].rows)
    assert [row[5] for row in cancelled] == [f"（{office}直接取消）"]
    # The whole district by its own kind: 全县 for 安岳县, 全区 for 雁江区 and a city of one.
    whole = WHOLES[office]
    assert (
        report["whole"] == whole and list(reports.sheets(report)[0].rows)[-1][0] == f"{whole}合计"
    )
    paper = docx.Document(
        io.BytesIO(_get(walker, f"/campaigns/{cid}/summary.docx", "supervisor").content)
    )
    text = "\n".join(p.text for p in paper.paragraphs)
    assert f"，{whole} " in text and any(
        row.cells[0].text == f"{whole}合计" for table in paper.tables for row in table.rows
    )
    # The year-over-year comparison names it the same way: its line, sheet row and chart.
    yearly_data = _get(walker, f"/reports/year-over-year?campaign_id={cid}", "supervisor").json()
    assert yearly_data["whole"] == whole
    assert list(yearly.sheet(yearly_data).rows)[-1][0] == whole
    scores = _get(walker, f"/campaigns/{cid}/assessment", "supervisor").json()
    waived = [w["reason"] for s in scores["units"] for w in s["waived"]]
    assert waived and all(f"经{office}批准不计扣分：上级统一调整" in w for w in waived), waived
    if office != OFFICES["sole"]:  # the notice's own words (a criterion's source) stay as quoted
        assert not any("区政府办" in n.replace(office, "") for n in notes.values())


def test_a_late_correction_is_referred_to_the_events_district_office(
    walker: Walker, clock: FixedClock, office: str
) -> None:
    event, _ = walker.held_event()
    clock.advance(timedelta(days=14))  # the unit's 5 working days are over
    late = {"forms_held": ["site_visit", "dialogue"]}
    direct = correct(walker, event["id"], "hold", late, "漏记了现场参观")
    assert direct.status_code == 403
    assert error_of(direct)["message"].endswith(f"请联系{office}更正")
    r = walker.client.post(
        f"{API}/events/{event['id']}/correction-requests",
        json={"kind": "hold", "payload": late, "reason": "漏记了现场参观"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 201, r.text
    decided = walker.client.post(
        f"{API}/correction-requests/{r.json()['id']}/decision", json={"approve": True},
        headers=walker.world.headers["housing"],
    )  # fmt: skip
    assert decided.status_code == 403
    assert error_of(decided)["message"] == f"只有{office}督查人员可以审批更正申请"


def test_the_callers_own_office_is_used_without_reading_it_again(
    walker: Walker, office: str
) -> None:
    """`districts.office_for` takes the words read with the token where they say the district
    asked about (a one-district city, or the caller's own district); otherwise it reads them,
    and a city supervisor acting in a district forgets the city's words."""
    with walker.world.session() as s:
        district_id = s.get(Campaign, walker.world.campaign_id).district_id  # type: ignore[union-attr]
        staff = service.actor_of(s, s.get(User, walker.world.user_ids["housing"]))  # type: ignore[arg-type]
        assert staff.office == office
        assert districts.office_for(s, staff, district_id) == office
        assert districts.unit_office_for(s, staff, walker.world.units[HOUSING]) == office
        stale = replace(staff, office="某某政府办")  # what was read with the token is trusted
        assert districts.office_for(s, stale, district_id) == "某某政府办"
        unread = replace(staff, office="")  # nothing read: the row is asked
        assert districts.office_for(s, unread, district_id) == office
        assert districts.unit_office_for(s, unread, walker.world.units[HOUSING]) == office
        assert unread.office_zh == "区政府办"  # a refusal without the words reads as before
        words_of_city = districts.office_words(s, None)
        city = Actor(None, "c", Role.supervisor, None, district_id=None, city=True,
                     acting=frozenset({district_id}), office=words_of_city)  # fmt: skip
        acting = acting_in(city, district_id, frozenset())
        assert acting.office == ("区政府办" if office == "区政府办" else "")
        assert districts.office_for(s, acting, district_id) == office
        words = districts.offices(s, [district_id, None])
        assert words[district_id] == office
        assert words[None] == ("区政府办" if office == "区政府办" else "区县政府办")


def test_a_filings_reminder_names_the_office_in_every_line() -> None:
    """A missing plan's 催办 names the event's district office in its title and every line (the
    escalation always names it, 雁江区政府办 too), the notice's sentence quoted as it is."""
    timer = Timer(rule=timers.PLAN, kind="escalation", level=1, subject_type="event",
                  subject_id=1, deadline_on=date(2022, 9, 13), fire_at=NOW)  # fmt: skip
    event = Event(campaign_id=1, unit_id=1, theme="参观老旧小区改造现场", seq=1,
                  date_earliest=date(2022, 9, 20), date_latest=date(2022, 9, 20),
                  created_at=NOW, updated_at=NOW)  # fmt: skip
    rules = CampaignRules(
        plan_approval_required=True, plan_approval_sentence="方案报区政府办审核备案"
    )
    lines = timers.lines(timer, event, rules, "2022年9月13日", "已逾期 1 个工作日", "安岳县政府办")
    said = "\n".join(lines[:-1])  # the last line quotes the notice
    assert "活动方案报安岳县政府办审核备案应于" in said
    assert "区政府办" not in said.replace("安岳县政府办", ""), said
    assert lines[-1] == "通知要求：“方案报区政府办审核备案”"
    title = timers.title(timer, "区住建局", "【催办】", "安岳县政府办")
    assert title == "【催办】区住建局：活动方案逾期未报安岳县政府办审核"
