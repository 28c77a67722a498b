"""Each district shows as itself (issue 28), in a real browser: the footer names the signed-in
account's district office (雁江区's supervisor, 安岳县's, the city's name for a city supervisor,
a neutral line on the sign-in page); 安岳县's public calendar links to its own .ics feed (downloaded
by a click and parsed: its events only) and its own heard page (its opinions only); its event and
receipt pages name the district, office and contact; an unknown district code is a 404 page in
Chinese. Screenshots at 1280 and 360 px go to docs/screenshots/public-district-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
from sqlmodel import Session

from models import Campaign, District, Event, EventState, FeedbackItem, Role, Unit, UnitKind
from models.codes import grouped
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    click,
    notice_campaign,
    require_browser,
    seed,
    serve,
    shoot,
    sign_in,
    sign_out,
)
from workflows.accounts.service import create_user
from workflows.campaign.rules import CampaignRules

PASSWORD = "Ducha-2022!"
YANJIANG_OFFICE, ANYUE_OFFICE = "资阳市雁江区人民政府办公室", "安岳县人民政府办公室"
SEEDED: dict[str, Any] = {}


def _unit_events(session: Session, campaign: Campaign, unit: Unit, tag: str) -> None:
    """One event open to the public on 20 September and one held on 6 September with an
    opinion (its receipt code kept in SEEDED)."""
    common = {"campaign_id": campaign.id, "unit_id": unit.id, "created_at": NOW,
              "updated_at": NOW}  # fmt: skip
    open_day = Event(
        theme=f"{tag}老旧小区改造现场开放", date_earliest=date(2022, 9, 20),
        date_latest=date(2022, 9, 20), location=f"{tag}某小区", forms=["site_visit"],
        public_places=5, seq=1, **common,
    )  # fmt: skip
    held = Event(
        theme=f"{tag}政民恳谈会", date_earliest=date(2022, 9, 6), date_latest=date(2022, 9, 6),
        state=EventState.held, held_on=date(2022, 9, 6), seq=2, **common,
    )  # fmt: skip
    session.add_all([open_day, held])
    session.flush()
    item = FeedbackItem(
        event_id=held.id, unit_id=unit.id, content=f"建议{tag}公开改造资金明细",  # type: ignore[arg-type]
        collected_on=date(2022, 9, 6), due_on=date(2022, 9, 27), created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(item)
    session.flush()
    SEEDED[tag] = {"event": open_day.id, "receipt": item.receipt_code, "campaign": campaign.id}


def _fill(session: Session) -> None:
    """雁江区 (district 1, from the upgrade) and 安岳县, each with a campaign, a unit, an open
    event and an opinion; a supervisor of each and a city supervisor."""
    mine = notice_campaign(session)
    anyue = District(
        code="anyue", name="安岳县", city_name="资阳市", office_name=ANYUE_OFFICE,
        contact_name="李主任", contact_phone="028-24521234", created_at=NOW,
    )  # fmt: skip
    session.add(anyue)
    session.flush()
    theirs = Campaign(
        district_id=anyue.id, doc_number="安府办发〔2022〕12号", title="安岳县政府开放日",
        issuing_office=ANYUE_OFFICE, starts_on=date(2022, 8, 25), ends_on=date(2022, 9, 25),
        rules=CampaignRules().model_dump(), created_at=NOW,
    )  # fmt: skip
    yj = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    ay = Unit(district_id=anyue.id, name="县住建局", kind=UnitKind.department, created_at=NOW)
    session.add_all([theirs, yj, ay])
    session.flush()
    _unit_events(session, mine, yj, "雁江")
    _unit_events(session, theirs, ay, "安岳")
    for username, district_id in (("yj", 1), ("ay", anyue.id), ("shi", None)):
        create_user(session, username=username, role=Role.supervisor, password=PASSWORD,
                    now=NOW, district_id=district_id)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("districts")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


def _footer(page: Any) -> str:
    return page.locator("#site-footer").inner_text().strip()


def test_the_footer_names_the_signed_in_accounts_own_district(site: str) -> None:
    base = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15_000)
        page.goto(base + "/login")
        assert _footer(page) == "政府开放日"  # nobody signed in: no district's name
        assert "雁江" not in page.content()
        for username, footer in (
            ("yj", f"{YANJIANG_OFFICE} · 政府开放日"),
            ("ay", f"{ANYUE_OFFICE} · 政府开放日"),
            ("shi", "资阳市 · 政府开放日"),
        ):
            sign_in(page, base, username, PASSWORD)
            assert _footer(page) == footer, (username, _footer(page))
            if username == "ay":
                assert "雁江" not in page.content()
                shoot(page, "public-district-footer-board")
            sign_out(page)


def test_a_districts_public_pages_are_its_own(site: str) -> None:
    base = site
    anyue, yanjiang = SEEDED["安岳"], SEEDED["雁江"]
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        page.goto(base + "/public")
        assert _footer(page).startswith("资阳市 · ")  # every district's calendar: the city
        click(page.get_by_role("link", name="安岳县", exact=True))
        assert page.url == base + "/public/d/anyue"
        assert _footer(page).startswith(ANYUE_OFFICE)
        assert "雁江老旧小区" not in page.content() and "安岳老旧小区" in page.content()
        shoot(page, "public-district-calendar")

        with page.expect_download() as info:
            page.get_by_role("link", name="订阅安岳县活动日历（.ics，可导入手机日历）").click()
        download = info.value
        assert download.suggested_filename == "openday-anyue.ics"
        feed = icalendar.Calendar.from_ical(Path(download.path()).read_bytes())
        assert str(feed.get("X-WR-CALNAME")) == "安岳县政府开放日"
        summaries = [str(e.get("SUMMARY")) for e in feed.walk("VEVENT")]
        assert len(summaries) == 1 and "安岳老旧小区改造现场开放" in summaries[0], summaries

        click(page.get_by_role("link", name="安岳县意见建议办理公开"))
        assert page.url == base + "/public/d/anyue/heard"
        assert page.get_by_role("heading", name="听到了什么，办成了什么 · 安岳县").is_visible()
        text = page.locator("main").inner_text()
        assert "建议安岳公开改造资金明细" in text and "雁江" not in text
        assert _footer(page).startswith(ANYUE_OFFICE)
        shoot(page, "public-district-heard")

        page.goto(f"{base}/public/events/{anyue['event']}")
        facts = page.locator("#event-district").inner_text()
        assert "安岳县" in facts and ANYUE_OFFICE in facts and "028-24521234" in facts
        assert _footer(page).startswith(ANYUE_OFFICE)
        shoot(page, "public-district-event")
        page.goto(f"{base}/public/events/{yanjiang['event']}")
        assert YANJIANG_OFFICE in page.locator("#event-district").inner_text()
        assert _footer(page).startswith(YANJIANG_OFFICE)

        page.goto(f"{base}/public/track?code={grouped(anyue['receipt'])}")
        assert "安岳县" in page.locator("#receipt-district").inner_text()
        assert _footer(page).startswith(ANYUE_OFFICE)
        page.goto(f"{base}/public/campaigns/{yanjiang['campaign']}/heard")
        assert _footer(page).startswith(YANJIANG_OFFICE) and "安岳" not in page.content()

        for path in ("/public/d/nowhere", "/public/d/nowhere/heard"):
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 404
            assert "该区县不存在" in page.locator("main").inner_text()
            # A citizen's error page: back to the public calendar, not the staff sign-in.
            assert page.get_by_role("link", name="返回活动日历").get_attribute("href") == "/public"
        shoot(page, "public-district-unknown")
        watch.assert_clean()
    assert httpx.get(base + "/public/d/nowhere/calendar.ics").status_code == 404
