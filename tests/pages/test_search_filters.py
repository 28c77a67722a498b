"""Search and filters (issue 24): a text in the event's theme or unit's name narrows 全部活动,
the overdue list, the board and the API's lists alike; 催办级别 narrows the overdue list; a
filtered list pages by `after=` without gaps or repeats; staff never reach another unit's events
through a search; LIKE wildcards in what is typed are taken literally."""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

import openpyxl
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from models import Campaign, Event
from tests.conftest import HOUSING, SHILING, World
from tests.pages.test_pages import sign_in
from tests.pages.test_pages_admin import NOW_LOCAL, _as
from workflows.event.service import create_event
from workflows.kernel.clock import FixedClock
from workflows.kernel.visibility import SYSTEM


def _events(world: World) -> None:
    """120 unheld events past their day: 环保… and 教育… alternately, units alternately; plus
    two whose themes hold LIKE wildcards."""
    with Session(world.engine) as session:
        campaign = session.get(Campaign, world.campaign_id)
        themes = [f"{'环保' if n % 2 else '教育'}开放日{n:03d}" for n in range(120)]
        for n, theme in enumerate([*themes, "满意率100%", "a_b开放日"]):
            day = date(2022, 8, 22) + timedelta(days=n % 20)
            unit = world.units[HOUSING] if (n // 2) % 2 else world.units[SHILING]
            create_event(
                session, campaign=campaign, unit_id=unit, theme=theme,  # type: ignore[arg-type]
                earliest=day, latest=day, actor=SYSTEM, now=FixedClock(NOW_LOCAL).now(),
            )  # fmt: skip
        session.commit()


def _walk(client: TestClient, url: str, pattern: str) -> list[str]:
    """Every row of a paged list, following 下一页 to the end."""
    found: list[str] = []
    while url:
        html = client.get(url).text
        found += re.findall(pattern, html)
        link = re.search(r'id="next-page" href="([^"]+)"', html)
        url = link.group(1).replace("&amp;", "&") if link else ""
    return found


CARD = r'<h2><a href="/events/\d+">([^<]+)</a>'
OVERDUE_ROW = r'data-label="活动">([^<]+)<'


def test_search_narrows_all_events_and_pages_without_gaps(client: TestClient, world: World) -> None:
    _events(world)
    _as(client, world, "supervisor")
    themes = _walk(client, "/?all=1&q=环保", CARD)
    assert len(themes) == 60 and len(set(themes)) == 60
    assert all("环保" in t for t in themes)
    by_unit = _walk(client, "/?all=1&q=" + SHILING, CARD)
    assert len(by_unit) == 62 and "a_b开放日" in by_unit  # 120/2 + both extras
    assert client.get("/?all=1&q=%25").text.count('<h2><a href="/events/') == 1
    assert _walk(client, "/?all=1&q=_", CARD) == ["a_b开放日"]
    html = client.get("/?all=1&q=环保").text
    assert 'value="环保"' in html


def test_staff_never_see_another_units_events_through_search(
    client: TestClient, world: World
) -> None:
    _events(world)
    sign_in(client)
    assert _walk(client, "/?q=" + SHILING, CARD) == []
    mine = _walk(client, "/?q=环保", CARD)
    assert len(mine) == 30
    assert _walk(client, "/board/overdue?q=" + SHILING, OVERDUE_ROW) == []
    api = client.get(f"/api/v1/events?q={SHILING}", headers=world.headers["housing"]).json()
    assert api["items"] == []
    api = client.get(f"/api/v1/overdue?q={SHILING}", headers=world.headers["housing"]).json()
    assert api["items"] == []


def test_overdue_list_searches_and_filters_by_level(client: TestClient, world: World) -> None:
    _events(world)
    with Session(world.engine) as session:
        for event in session.exec(select(Event).where(Event.theme.like("环保%"))).all():  # type: ignore[attr-defined]
            event.escalation_level = 1 if event.id % 3 else 2  # type: ignore[operator]
        session.commit()
    _as(client, world, "supervisor")
    rows = _walk(client, "/board/overdue?q=教育", OVERDUE_ROW)
    assert len(rows) == 60 and len(set(rows)) == 60 and all("教育" in r for r in rows)
    level_one = _walk(client, "/board/overdue?level=1", OVERDUE_ROW)
    level_two = _walk(client, "/board/overdue?level=2", OVERDUE_ROW)
    assert len(level_one) + len(level_two) == 60 and not set(level_one) & set(level_two)
    assert all("环保" in r for r in level_one + level_two)
    none = _walk(client, "/board/overdue?level=0&q=环保", OVERDUE_ROW)
    assert none == []
    board = client.get("/board?q=满意率100%25").text
    assert re.findall(OVERDUE_ROW, board) == ["满意率100%"]
    assert "q=%E6%BB%A1" in board  # the full list's link keeps the search
    api = client.get(
        "/api/v1/overdue?q=环保&escalation_level=2&due_within_days=0&limit=10",
        headers=world.headers["supervisor"],
    ).json()
    assert api["total"] == len(level_two)
    assert {r["theme"] for r in api["items"]} <= set(level_two)


def test_api_event_list_searches_like_the_page(client: TestClient, world: World) -> None:
    _events(world)
    api = client.get("/api/v1/events?q=环保&limit=100", headers=world.headers["supervisor"])
    assert api.status_code == 200 and api.json()["total"] == 60
    assert (
        client.get("/api/v1/events?q=%25", headers=world.headers["supervisor"]).json()["total"] == 1
    )


def test_the_boards_overdue_export_keeps_the_search_and_level(
    client: TestClient, world: World
) -> None:
    _events(world)
    _as(client, world, "supervisor")
    board = client.get("/board?q=环保&level=0").text
    link = re.search(r'href="(/board/exports/overdue\.csv\?[^"]+)"', board)
    assert link and "q=%E7%8E%AF%E4%BF%9D" in link.group(1) and "level=0" in link.group(1)
    sheet = client.get(link.group(1).replace("&amp;", "&")).content.decode("utf-8-sig")
    lines = [line for line in sheet.splitlines()[1:] if line.strip()]
    assert len(lines) == 60 and all("环保" in line for line in lines)
    assert "教育" not in sheet


def test_the_api_overdue_export_takes_q_and_level_like_the_board(
    client: TestClient, world: World
) -> None:
    """/api/v1/exports/overdue.{xlsx,csv} narrow by `q` (theme or unit name) and `level`
    (催办级别) as the board's export and the overdue list do; bad values are 422."""
    _events(world)
    h = world.headers["supervisor"]
    _as(client, world, "supervisor")
    board = client.get("/board/exports/overdue.csv", params={"q": "环保", "level": 0})
    expected = board.content.decode("utf-8-sig")
    r = client.get("/api/v1/exports/overdue.csv", params={"q": "环保", "level": 0}, headers=h)
    assert r.status_code == 200, r.text
    sheet = r.content.decode("utf-8-sig")
    lines = [line for line in sheet.splitlines()[1:] if line.strip()]
    assert len(lines) == 60 and all("环保" in line for line in lines) and "教育" not in sheet
    assert sheet == expected
    x = client.get("/api/v1/exports/overdue.xlsx", params={"q": "环保", "level": 0}, headers=h)
    rows = list(openpyxl.load_workbook(io.BytesIO(x.content)).active.iter_rows(values_only=True))
    assert len(rows) == 61 and all("环保" in str(row[4]) for row in rows[1:])
    none = client.get("/api/v1/exports/overdue.csv", params={"level": 2}, headers=h)
    assert [x for x in none.content.decode("utf-8-sig").splitlines()[1:] if x.strip()] == []
    bad = client.get("/api/v1/exports/overdue.csv", params={"level": "高"}, headers=h)
    assert bad.status_code == 422
    long = client.get("/api/v1/exports/overdue.csv", params={"q": "环" * 201}, headers=h)
    assert long.status_code == 422
