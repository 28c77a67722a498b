"""Each district's pages say its own office (issue 28), in a real browser, in a city of two
districts (雁江区 and 安岳县) that each have a unit called 住建局:

- a page about one event names the event's district office (安岳县政府办抽查,
  取消须经安岳县政府办批准, 待安岳县政府办审批) to its clerk and to the city's supervisor;
  雁江区's event says 雁江区政府办;
  the role in general says 区县政府办 to a city-level reader (a one-district city keeps 区政府办:
  the rest of the page tests, which seed one district, pin it);
- a district's public event page leads back to its own calendar (/public/d/{code});
- the city's unit list has a 区县 column, a district's has none; the city's unit pickers name
  each unit's district, so the two 住建局 can be told apart.

Screenshots at 1280 and 360 px go to docs/screenshots/district-wording-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import Campaign, District, Event, Role, Unit, UnitKind
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
SEEDED: dict[str, int] = {}


def _event(session: Session, campaign: Campaign, unit: Unit, tag: str) -> None:
    event = Event(
        campaign_id=campaign.id, unit_id=unit.id, theme=f"{tag}老旧小区改造现场开放",  # type: ignore[arg-type]
        date_earliest=date(2022, 9, 20), date_latest=date(2022, 9, 20), location=f"{tag}某小区",
        forms=["site_visit"], public_places=5, seq=1, created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(event)
    session.flush()
    SEEDED[tag] = event.id  # type: ignore[assignment]


def _fill(session: Session) -> None:
    """雁江区 (district 1) and 安岳县, each with a campaign, a unit named 住建局 and an event; a
    clerk and a supervisor of 安岳县, a supervisor of 雁江区, and the city's supervisor, system
    administrator and security administrator."""
    mine = notice_campaign(session)
    anyue = District(
        code="anyue", name="安岳县", city_name="资阳市", office_name="安岳县人民政府办公室",
        created_at=NOW,
    )  # fmt: skip
    session.add(anyue)
    session.flush()
    theirs = Campaign(
        district_id=anyue.id, doc_number="安府办发〔2022〕12号", title="安岳县政府开放日",
        issuing_office="安岳县人民政府办公室", starts_on=date(2022, 8, 25),
        ends_on=date(2022, 9, 25), rules=CampaignRules().model_dump(), created_at=NOW,
    )  # fmt: skip
    yj = Unit(name="住建局", kind=UnitKind.department, created_at=NOW)
    ay = Unit(district_id=anyue.id, name="住建局", kind=UnitKind.department, created_at=NOW)
    session.add_all([theirs, yj, ay])
    session.flush()
    _event(session, mine, yj, "雁江")
    _event(session, theirs, ay, "安岳")
    people = (
        ("yj", Role.supervisor, 1, None), ("ay", Role.supervisor, anyue.id, None),
        ("aystaff", Role.unit_staff, anyue.id, ay.id), ("shi", Role.supervisor, None, None),
        ("shisys", Role.system_admin, None, None), ("shisec", Role.security_admin, None, None),
    )  # fmt: skip
    for username, role, district_id, unit_id in people:
        create_user(session, username=username, role=role, password=PASSWORD, now=NOW,
                    district_id=district_id, unit_id=unit_id)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("wording")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


def _main(page: Any) -> str:
    return page.locator("main").inner_text()


def test_an_events_pages_name_its_own_district_office(site: str) -> None:
    base = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15_000)
        watch = Watch(page, base)
        sign_in(page, base, "aystaff", PASSWORD)
        page.goto(f"{base}/events/{SEEDED['安岳']}")
        assert "安岳县政府办抽查" in _main(page) and "区政府办" not in _main(page).replace(
            "安岳县政府办", ""
        )
        click(page.locator("#cancel-link"))
        assert "取消须经安岳县政府办批准" in _main(page)
        page.get_by_label("取消理由").fill("施工现场因暴雨封闭，无法安排市民参观")
        click(page.get_by_role("button", name="提交取消申请"))
        assert "已提交取消申请，待安岳县政府办审批" in _main(page)
        assert "安岳县政府办审批前，活动仍按原计划办理" in _main(page)
        shoot(page, "district-wording-event")
        click(page.get_by_role("link", name="历史记录 ›"))
        assert "申请取消活动，待安岳县政府办审批" in _main(page)
        sign_out(page)

        sign_in(page, base, "shi", PASSWORD)  # the city's supervisor reads the event as 安岳县's
        page.goto(f"{base}/events/{SEEDED['安岳']}")
        assert "安岳县政府办抽查" in _main(page)
        page.goto(f"{base}/events/{SEEDED['雁江']}")
        assert "雁江区政府办抽查" in _main(page) and "安岳" not in _main(page)
        page.goto(f"{base}/board/cancellations")  # not one district's page: the role in general
        sign_out(page)

        sign_in(page, base, "yj", PASSWORD)
        page.goto(f"{base}/events/{SEEDED['雁江']}/cancel")
        assert "雁江区政府办可直接取消活动" in _main(page)
        watch.assert_clean()


def test_a_districts_public_event_leads_back_to_its_own_calendar(site: str) -> None:
    base = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15_000)
        watch = Watch(page, base)
        for tag, code in (("安岳", "anyue"), ("雁江", "yanjiang")):
            page.goto(f"{base}/public/events/{SEEDED[tag]}")
            if tag == "安岳":
                shoot(page, "district-wording-public-event")
            click(page.get_by_role("link", name="‹ 返回活动日历"))
            assert page.url == f"{base}/public/d/{code}", page.url
            assert f"{tag}老旧小区改造现场开放" in _main(page)
        watch.assert_clean()


def test_the_city_tells_units_of_the_same_name_apart(site: str) -> None:
    base = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        page.set_default_timeout(15_000)
        watch = Watch(page, base)
        sign_in(page, base, "shisys", PASSWORD)
        click(page.get_by_role("link", name="管理").first)
        click(page.get_by_role("link", name="单位名称与合并"))
        assert page.url == base + "/admin/units"
        headers = page.locator("table thead th").all_inner_texts()
        assert headers[:2] == ["单位", "区县"], headers
        rows = [r.split("\t")[:2] for r in page.locator("table tbody tr").all_inner_texts()]
        assert sorted(rows) == [["住建局", "安岳县"], ["住建局", "雁江区"]], rows
        page.get_by_role("link", name="住建局（安岳县）的名称与合并").wait_for()
        shoot(page, "district-wording-units")
        page.goto(base + "/admin")
        assert "区县" in page.locator("table thead").last.inner_text()
        sign_out(page)

        sign_in(page, base, "shisec", PASSWORD)
        page.goto(base + "/admin/accounts/new")
        options = page.locator("#unit_id option").all_inner_texts()
        assert "住建局（雁江区）" in options and "住建局（安岳县）" in options, options
        assert "督查人员" in page.locator("#role").inner_text()
        sign_out(page)

        sign_in(page, base, "ay", PASSWORD)  # a district's own list: one district, no column
        page.goto(base + "/admin/units")
        assert "区县" not in page.locator("table thead").inner_text()
        assert "（安岳县）" not in _main(page)
        watch.assert_clean()
