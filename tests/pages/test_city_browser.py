"""全市对比 in a real browser (issue 28): a city supervisor opens it from the header, reads both
districts ranked, downloads the workbook and drills down into a district's own report; that
district's supervisor gets its own row only and no header link. Screenshots at 1280 and 360 px
go to docs/screenshots/city-comparison-*.png.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from openpyxl import load_workbook
from sqlmodel import Session

from models import Campaign, District, Event, EventState, Role, Unit, UnitKind
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
ANYUE = "安岳县"


def _event(campaign: Campaign, unit: Unit, seq: int, held: bool) -> Event:
    """An event due on 1 September 2022, held that day or not at all (then overdue)."""
    return Event(
        campaign_id=campaign.id, unit_id=unit.id, seq=seq, theme=f"{unit.name}开放日",
        date_earliest=date(2022, 9, 1), date_latest=date(2022, 9, 1),
        forms=["site_visit", "dialogue"],
        state=EventState.held if held else EventState.planned,
        held_on=date(2022, 9, 1) if held else None, held_until=date(2022, 9, 1) if held else None,
        forms_held=["dialogue"] if held else None, created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def _fill(session: Session) -> None:
    """雁江区 (district 1): two units, one event held and one overdue. 安岳县: its own campaign
    and one unit whose event was held. A city supervisor and 安岳县's supervisor."""
    campaign = notice_campaign(session)
    anyue = District(code="anyue", name=ANYUE, city_name="资阳市", created_at=NOW)
    session.add(anyue)
    session.flush()
    theirs = Campaign(
        district_id=anyue.id, doc_number="安府办发〔2022〕12号", title="安岳县政府开放日",
        issuing_office="安岳县人民政府办公室", starts_on=date(2022, 8, 25),
        ends_on=date(2022, 9, 25), rules=CampaignRules().model_dump(), created_at=NOW,
    )  # fmt: skip
    session.add(theirs)
    session.flush()
    for seq, (name, kind, held) in enumerate(
        (("区住建局", UnitKind.department, True), ("石岭镇", UnitKind.town, False)), start=1
    ):
        unit = Unit(name=name, kind=kind, created_at=NOW)
        session.add(unit)
        session.flush()
        session.add(_event(campaign, unit, seq, held))
    unit = Unit(district_id=anyue.id, name="县住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    session.add(_event(theirs, unit, 1, True))
    create_user(session, username="shi", role=Role.supervisor, password=PASSWORD, now=NOW,
                display_name="市督查", district_id=None)  # fmt: skip
    create_user(session, username="ay", role=Role.supervisor, password=PASSWORD, now=NOW,
                display_name="安岳督查", district_id=anyue.id)  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The base URL of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("city")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


def test_city_supervisor_compares_the_districts_and_drills_down(site: str) -> None:
    base = site
    with chromium() as browser:
        context = browser.new_context(
            viewport={"width": 1280, "height": 900}, locale="zh-CN", accept_downloads=True
        )
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "shi", PASSWORD)
        click(page.get_by_role("link", name="全市对比"))
        assert page.get_by_role("heading", name="全市对比（2022年）").is_visible()
        table = page.locator("#city-table")
        first = table.locator("tbody tr").first.inner_text()
        assert ANYUE in first and "100%" in first  # every event held on time: ranked first
        yanjiang = table.locator("tr", has=page.get_by_role("rowheader", name="雁江区"))
        assert "50%" in yanjiang.inner_text()  # one of two held on time
        total = table.locator("tr.total").inner_text()
        assert "全市合计" in total
        shoot(page, "city-comparison")

        with page.expect_download() as info:
            page.get_by_role("link", name="导出 Excel").click()
        download = info.value
        name = download.suggested_filename
        assert "2022" in name and name.endswith(".xlsx"), name
        body = Path(download.path()).read_bytes()
        rows = list(load_workbook(io.BytesIO(body)).active.iter_rows(values_only=True))
        assert rows[0][:3] == ("排名", "区县", "活动批次")
        assert {r[1] for r in rows[1:]} == {ANYUE, "雁江区", "全市合计"}

        click(page.get_by_role("link", name=ANYUE))
        assert page.get_by_role("heading", name="报表与考核").is_visible()
        report = page.content()
        assert "县住建局" in report and "石岭镇" not in report
        sign_out(page)

        sign_in(page, base, "ay", PASSWORD)
        assert page.get_by_role("link", name="全市对比").count() == 0
        page.goto(base + "/board/city")
        rows_seen = page.locator("#city-table tbody tr th").all_inner_texts()
        assert rows_seen == [ANYUE, "全市合计"], rows_seen
        watch.assert_clean()
