"""Every main page writes its dates one way: 2022年9月16日（星期五）, the year always, no ISO."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from sqlmodel import Session

from models import User
from tests.conftest import Walker, World, local
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password

ISO_DAY = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
# A month-day not preceded by its year ("9月16日" alone, "至9月20日").
BARE_MONTH_DAY = re.compile(r"(?<!年)(?<!\d)\d{1,2}月\d{1,2}日")


class _Text(HTMLParser):
    """The text a person sees: no tags, attributes, scripts or styles."""

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "style"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("script", "style"):
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def visible_text(html: str) -> str:
    """The page's visible text, one string."""
    parser = _Text()
    parser.feed(html)
    return " ".join(parser.parts)


def bad_dates(html: str) -> list[str]:
    """ISO dates and month-days without a year in a page's visible text."""
    text = visible_text(html)
    return ISO_DAY.findall(text) + BARE_MONTH_DAY.findall(text)


def test_the_checker_finds_iso_and_yearless_dates() -> None:
    """The checker itself: it flags what it should and passes the one format."""
    assert bad_dates("<p>应于9月16日</p><p>2022-09-16</p>") == ["2022-09-16", "9月16日"]
    assert bad_dates("<p>2022年9月16日（星期五）14:30</p><a href='?d=2022-09-16'>x</a>") == []


def test_main_pages_write_every_date_with_its_year(walker: Walker, world: World, clock) -> None:
    """Home, task list, board, overdue list, report and history: no ISO date, no bare month-day."""
    late = walker.create_event()
    event, _ = walker.held_event()
    clock.set(local(2022, 9, 26, 10))  # the first event is late, the held one's summary too
    sign_in(walker.client)
    pages = {
        "home": "/",
        "task list": f"/events/{event['id']}",
        "late task list": f"/events/{late['id']}",
        "history": f"/events/{event['id']}/history",
        "hold": f"/events/{event['id']}/hold",
        "feedback": f"/events/{event['id']}/feedback",
        "summary": f"/events/{event['id']}/summary",
        "invitees": f"/events/{event['id']}/invitees",
        "overdue (staff)": "/board/overdue",
    }
    found = {}
    for name, url in pages.items():
        r = walker.client.get(url)
        assert r.status_code == 200, (name, r.status_code)
        found[name] = bad_dates(r.text)
        if name == "home":  # the card's day once, not again as the schedule's own words
            assert "）（" not in visible_text(r.text)
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    for name, url in {
        "all events": "/?all=1",
        "board": "/board",
        "overdue list": "/board/overdue",
        "report": f"/board/report?campaign={world.campaign_id}",
    }.items():
        r = walker.client.get(url)
        assert r.status_code == 200, (name, r.status_code)
        found[name] = bad_dates(r.text)
    assert {k: v for k, v in found.items() if v} == {}
