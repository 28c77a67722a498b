"""Year over year (issue 30): 2022 walked through the real workflows on the injected clock, 2023
built from it by the rollover and walked again; the comparison (JSON and xlsx) shows each
unit's figures per year, the district's, and who improved or fell back."""

from __future__ import annotations

import io
from typing import Any

from openpyxl import load_workbook
from sqlmodel import Session, select

from models import FeedbackItem, User
from tests.conftest import HOUSING, SHILING, Walker, local
from workers.scheduler import Scheduler
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.kernel.clock import FixedClock

NEXT = {
    "doc_number": "资雁府办发〔2023〕41号",
    "title": "关于开展2023年“政府开放日”活动的通知",
    "issuing_office": "资阳市雁江区人民政府办公室",
    "starts_on": "2023-08-21",
    "ends_on": "2023-09-22",
}


def _escalate(walker: Walker, clock: FixedClock) -> None:
    """What the scheduler and the workers would do now: fire due timers and apply them."""
    fired: list[int] = []
    Scheduler(walker.world.engine, lambda _a, args: fired.extend(args[0]), clock).run_once()
    with Session(walker.world.engine) as s:
        escalation.handle_timers(s, fired, clock.now(), NotifyConfig())
        s.commit()


def _hold_with_opinion(walker: Walker, campaign_id: int, unit: str, who: str, day: str) -> int:
    """An event of `unit` on `day`, invited, held and one opinion collected: the opinion's id."""
    event = walker.create_event(who=who, unit=unit, campaign_id=campaign_id, date=day)
    invitees = walker.add_invitees(event["id"], citizens=5, deputies=10, who=who)
    for trigger, data in (
        ("invite", None),
        ("hold", walker.hold_data(invitees)),
        ("collect_feedback", {"items": [{"content": "建议延长开放时间"}]}),
    ):
        r = walker.move(event["id"], trigger, who=who, data=data)
        assert r.status_code == 200, r.text
    with walker.world.session() as s:
        item = s.exec(select(FeedbackItem).where(FeedbackItem.event_id == event["id"])).one()
    return item.id  # type: ignore[return-value]


def _answer(walker: Walker, item_id: int, who: str, day: str) -> None:
    h = walker.world.headers[who]
    item = walker.client.get(f"/api/v1/feedback/{item_id}", headers=h).json()
    body = {"trigger": "answer", "expected_version": item["version"],
            "data": {"answer": "已采纳", "answered_on": day}}  # fmt: skip
    r = walker.client.post(f"/api/v1/feedback/{item_id}/transitions", json=body, headers=h)
    assert r.status_code == 200, r.text


def _build_two_years(walker: Walker, clock: FixedClock) -> int:
    """2022: 区住建局 holds on time and answers on time; 石岭镇 never holds (escalated).
    2023 (copied): 区住建局 never holds; 石岭镇 holds on time and answers 2 working days late.
    Neither submits a summary (5 points each year)."""
    world = walker.world
    item = _hold_with_opinion(walker, world.campaign_id, HOUSING, "housing", "2022-09-16")
    walker.create_event(who="shiling", unit=SHILING, date="2022-09-20")
    clock.set(local(2022, 10, 10, 9))
    _answer(walker, item, "housing", "2022-10-10")
    _escalate(walker, clock)  # 石岭镇's event is past its day: escalated
    r = walker.client.post(
        f"/api/v1/campaigns/{world.campaign_id}/rollover", json=NEXT,
        headers=world.headers["supervisor"],
    )  # fmt: skip
    assert r.status_code == 201, r.text
    new_id: int = r.json()["id"]
    clock.set(local(2023, 9, 15, 10))
    walker.create_event(who="housing", unit=HOUSING, campaign_id=new_id, date="2023-09-15")
    item = _hold_with_opinion(walker, new_id, SHILING, "shiling", "2023-09-15")
    clock.set(local(2023, 10, 20, 9))
    _answer(walker, item, "shiling", "2023-10-16")
    return new_id


def _unit(data: dict[str, Any], name: str) -> dict[str, Any]:
    return next(u for u in data["units"] if u["unit_name"] == name)


def test_2023_built_from_2022_compares_year_over_year(walker: Walker, clock: FixedClock) -> None:
    """Each unit's figures per year, the district's, and the trend: 区住建局 fell back,
    石岭镇 improved; the xlsx holds the same numbers."""
    new_id = _build_two_years(walker, clock)
    h = walker.world.headers

    r = walker.client.get("/api/v1/reports/year-over-year", headers=h["supervisor"])

    assert r.status_code == 200, r.text
    data = r.json()
    assert [(y["year"], y["closed"]) for y in data["years"]] == [(2022, True), (2023, False)]
    assert data["years"][1]["campaign_id"] == new_id
    housing, shiling = _unit(data, HOUSING), _unit(data, SHILING)
    by_year = {f["year"]: f for f in housing["years"]}
    assert (by_year[2022]["held_on_time_rate"], by_year[2023]["held_on_time_rate"]) == (100, 0)
    assert by_year[2022]["answered_on_time_rate"] == 100
    assert by_year[2023]["answered_on_time_rate"] is None  # no answer was due
    assert (by_year[2022]["score"], by_year[2023]["score"]) == (95, 60)
    by_year = {f["year"]: f for f in shiling["years"]}
    assert by_year[2022]["held_on_time_rate"] == 0 and by_year[2022]["escalations"] == 2
    assert by_year[2023]["held_on_time_rate"] == 100
    assert (by_year[2023]["answered_on_time_rate"], by_year[2023]["workdays_late"]) == (0, 2)
    assert (by_year[2022]["score"], by_year[2023]["score"]) == (60, 93)
    assert (housing["trend"], shiling["trend"]) == ("fell_back", "improved")
    assert housing["change"]["score"] == {"delta": -35, "better": False}
    assert (data["improved"], data["fell_back"]) == ([SHILING], [HOUSING])
    district = {d["year"]: d for d in data["district"]}
    assert (district[2022]["held_on_time_rate"], district[2023]["held_on_time_rate"]) == (50, 50)
    assert (district[2022]["score"], district[2023]["score"]) == (77.5, 76.5)

    xlsx = walker.client.get("/api/v1/reports/year-over-year.xlsx", headers=h["viewer"])
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.content), read_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0][1] == "2022年" and rows[0][6] == "2023年"
    assert rows[1][1] == "按期开展率（%）" and rows[1][5] == "考核得分"
    table = {row[0]: row for row in rows[2:]}
    assert table[SHILING][1:11] == [0, None, 0, 2, 60, 100, 0, 2, 0, 93]
    assert table[SHILING][11:] == [33, "进步"]
    assert table[HOUSING][5] == 95 and table[HOUSING][10] == 60 and table[HOUSING][12] == "退步"
    assert table["全区"][5] == 77.5 and table["全区"][10] == 76.5

    own = walker.client.get("/api/v1/reports/year-over-year", headers=h["housing"]).json()
    assert [u["unit_name"] for u in own["units"]] == [HOUSING]  # staff: their own unit


def test_the_page_shows_the_trend_and_charts_and_the_xlsx(
    walker: Walker, clock: FixedClock
) -> None:
    """逐年对比 for supervisors: who improved and fell back, two inline SVG charts (nothing
    fetched, names escaped), the table and its xlsx; unit staff are refused."""
    from tests.pages.test_pages import sign_in
    from tests.pages.test_pages_admin import _as, _password

    _build_two_years(walker, clock)
    client = walker.client
    _as(client, walker.world, "supervisor")
    page = client.get("/board/yearly")
    assert page.status_code == 200, page.text
    assert f"进步：{SHILING}" in page.text and f"退步：{HOUSING}" in page.text
    assert page.text.count('<svg xmlns="http://www.w3.org/2000/svg"') == 2
    assert "http://" not in page.text.replace("http://www.w3.org/2000/svg", "")
    assert "-35 分" in page.text and "+33 分" in page.text
    xlsx = client.get("/board/yearly.xlsx")
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    client.cookies.clear()  # signed out
    _password(walker.world, "housing", "Zhujian-Passw0rd-2023!")
    with Session(walker.world.engine) as s:  # changed today: not expired (等保 password age)
        user = s.get(User, walker.world.user_ids["housing"])
        assert user is not None
        user.password_changed_at = clock.now()
        s.commit()
    sign_in(client, "housing", "Zhujian-Passw0rd-2023!")
    refused = client.get("/board/yearly", follow_redirects=False)
    assert refused.status_code == 403
