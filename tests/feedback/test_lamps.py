"""Lamps (红黄绿灯, issue 26): by working days left, thresholds as campaign rules; shown on the
opinions page, the sign-for list and the inbox without a query per row."""

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.conftest import Walker, local
from tests.pages.test_pages import sign_in
from tests.workdays.test_deadlines import _collected_with_one_opinion
from workflows.campaign.rules import CampaignRules
from workflows.feedback.lamps import lamp_of
from workflows.workdays.days import WorkdayCalendar


def test_lamps_by_working_days_left() -> None:
    """Due Wednesday 2022-10-12: green from six working days out, yellow within five, red
    within one and after; the National Day week (10-01…10-07) and weekends do not count."""
    rules, calendar = CampaignRules(), WorkdayCalendar()
    due = date(2022, 10, 12)
    seen = {
        day: (s.lamp, s.left)
        for day in (date(2022, 9, 29), date(2022, 9, 30), date(2022, 10, 11), date(2022, 10, 12))
        for s in [lamp_of(due, day, rules, calendar)]
    }
    assert seen == {
        date(2022, 9, 29): ("green", 6),  # 9-30, 10-8, 10-9 (调休上班), 10-10, 10-11, 10-12
        date(2022, 9, 30): ("yellow", 5),
        date(2022, 10, 11): ("red", 1),
        date(2022, 10, 12): ("red", 0),
    }
    late = lamp_of(due, date(2022, 10, 14), rules, calendar)
    assert (late.lamp, late.left, late.words) == ("red", -2, "红灯：已逾期 2 个工作日")
    strict = CampaignRules(lamp_red_workdays=0, lamp_yellow_workdays=0)
    assert lamp_of(due, date(2022, 10, 11), strict, calendar).lamp == "green"


def test_pages_show_the_lamp_without_a_query_per_row(walker: Walker, engine: Engine, clock) -> None:
    event, item_id = _collected_with_one_opinion(walker, sign=False)
    clock.set(local(2022, 10, 11, 9))
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/feedback")
    assert 'class="lamp lamp-red" title="红灯：剩余 1 个工作日"' in page.text
    statements: list[str] = []
    sa.event.listen(engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
    listed = walker.client.get("/transfers")
    assert 'class="lamp lamp-red"' in listed.text and f'href="/feedback/{item_id}"' in listed.text
    with Session(engine):
        assert sum("FROM campaign" in s for s in statements) <= 1


def test_the_json_api_gives_each_open_opinion_its_lamp(walker: Walker, clock) -> None:
    """Due 2022-10-12: on 09-30 yellow with five working days left, in the event's list and the
    opinion's own answer; once answered the lamp is gone (null)."""
    event, item_id = _collected_with_one_opinion(walker, sign=False)
    h = walker.world.headers["housing"]
    clock.set(local(2022, 9, 30, 9))
    listed = walker.client.get(f"/api/v1/events/{event['id']}/feedback", headers=h)
    assert listed.status_code == 200, listed.text
    (row,) = listed.json()["items"]
    assert row["lamp"] == {
        "lamp": "yellow", "label": "黄灯", "workdays_left": 5, "words": "黄灯：剩余 5 个工作日",
    }  # fmt: skip
    clock.set(local(2022, 10, 14, 9))
    one = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()
    assert (one["lamp"]["lamp"], one["lamp"]["workdays_left"]) == ("red", -2)
    answered = walker.client.post(
        f"/api/v1/feedback/{item_id}/transitions",
        json={"trigger": "answer", "expected_version": one["version"],
              "data": {"answer": "已处理"}},
        headers=h,
    )  # fmt: skip
    assert answered.status_code == 200, answered.text
    assert answered.json()["lamp"] is None
