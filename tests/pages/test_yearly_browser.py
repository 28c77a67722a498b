"""The yearly cycle in a real browser (issue 30): a supervisor copies 2022's campaign into 2023
through 复制为下一年度 — refused first for a year that already has a campaign — edits a unit on
the new roster, finds 2022 read-only, and reads 逐年对比 (2021 against 2022). Screenshots at
1280 and 360 px go to docs/screenshots/rollover-*.png, roster-*.png and yearly-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, func, select

from models import Campaign, CampaignUnit, Event, EventState, Role, Unit, UnitKind
from models.db import make_engine
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
)
from workflows.accounts.service import create_user

PASSWORD = "Ducha-2022!"
# Each unit and the day its event was held in 2021 and in 2022 (None: not held, past its day).
UNITS = (
    ("区住建局", UnitKind.department, "李四", 1, 1),
    ("石岭镇", UnitKind.town, "王五", None, 1),
    ("老君镇", UnitKind.town, "赵六", 1, None),
    ("区教育局", UnitKind.department, "钱七", 5, 1),
    ("南津镇", UnitKind.town, "孙八", None, None),
)


def _event(campaign: Campaign, unit: Unit, seq: int, year: int, held: int | None) -> Event:
    """An event due on 1 September of `year`, held on that September day or not at all."""
    return Event(
        campaign_id=campaign.id, unit_id=unit.id, seq=seq, theme=f"{unit.name}开放日",
        date_earliest=date(year, 9, 1), date_latest=date(year, 9, 1),
        forms=["site_visit", "dialogue"], state=EventState.planned if held is None else
        EventState.held, held_on=None if held is None else date(year, 9, held),
        held_until=None if held is None else date(year, 9, held),
        forms_held=None if held is None else ["dialogue"], created_at=NOW, updated_at=NOW,
    )  # fmt: skip


def _fill(session: Session) -> None:
    """2021's and 2022's campaigns, five units with an event each year, a 2024 campaign, and a
    supervisor."""
    last_year = Campaign(
        doc_number="资雁府办发〔2021〕30号", title="2021年政府开放日", issuing_office="区政府办",
        starts_on=date(2021, 8, 20), ends_on=date(2021, 9, 20), rules={}, created_at=NOW,
    )  # fmt: skip
    session.add(last_year)
    campaign = notice_campaign(session)
    session.flush()
    for seq, (name, kind, contact, held_2021, held_2022) in enumerate(UNITS, start=1):
        unit = Unit(name=name, kind=kind, contact_name=contact, created_at=NOW)
        session.add(unit)
        session.flush()
        session.add(_event(last_year, unit, seq, 2021, held_2021))
        session.add(_event(campaign, unit, seq, 2022, held_2022))
    session.add(
        Campaign(
            doc_number="资雁府办发〔2024〕9号",
            title="2024年政府开放日",
            issuing_office="区政府办",
            starts_on=date(2024, 8, 20),
            ends_on=date(2024, 9, 20),
            rules={},
            created_at=NOW,
        )  # fmt: skip
    )
    create_user(session, username="li", role=Role.supervisor, password=PASSWORD, now=NOW,
                display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("yearly")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base, url


def _count(url: str, model: type) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return int(session.exec(select(func.count()).select_from(model)).one())
    finally:
        engine.dispose()


def test_supervisor_copies_2022_into_2023(site: tuple[str, str]) -> None:
    """Copy refused for 2024 (taken), done for 2023; the roster edits; 2022 is read-only."""
    base, url = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "li", PASSWORD)
        click(page.get_by_role("link", name="管理", exact=True))
        click(page.get_by_role("link", name="复制为下一年度").nth(1))  # 2022's
        assert "区住建局" in page.content() and "石岭镇" in page.content()
        shoot(page, "rollover")
        page.get_by_label("新通知文号").fill("资雁府办发〔2024〕10号")
        page.get_by_label("活动开始日期").fill("2024-08-21")
        page.get_by_label("活动结束日期").fill("2024-09-21")
        click(page.get_by_role("button", name="创建新年度活动"))
        summary = page.locator(".error-summary").inner_text()
        assert "2024 年已有活动" in summary, summary
        assert _count(url, Campaign) == 3
        page.get_by_label("新通知文号").fill("资雁府办发〔2023〕41号")
        page.get_by_label("活动开始日期").fill("2023-08-21")
        page.get_by_label("活动结束日期").fill("2023-09-22")
        page.get_by_label("复制石岭镇").uncheck()
        page.get_by_label("组织形式", exact=True).fill("座谈会、实地参观、政策解读")  # 2023's
        click(page.get_by_role("button", name="创建新年度活动"))
        assert "上一年度活动已转为只读" in page.content()
        assert _count(url, CampaignUnit) == 4
        card = page.locator(".card", has=page.get_by_role("heading", name="区住建局"))
        card.get_by_label("联系人", exact=True).fill("周九")
        card.get_by_label("现场参观考察").uncheck()
        shoot(page, "roster")
        click(page.get_by_role("button", name="保存区住建局"))
        assert "已保存" in page.content()
        card = page.locator(".card", has=page.get_by_role("heading", name="区住建局"))
        assert card.get_by_label("联系人", exact=True).input_value() == "周九"
        click(page.get_by_role("link", name="‹ 管理"))
        assert "已结束（只读）" in page.content()
        new = page.locator(".card", has=page.get_by_text("资雁府办发〔2023〕41号"))
        assert "座谈会、实地参观、政策解读" in new.inner_text()
        year_over_year(page)
        watch.assert_clean()


def year_over_year(page: Any) -> None:
    """报表与考核 → 逐年对比: to 2023 by default (no events yet), then to 2022: who improved and
    who fell back, the charts and the table."""
    click(page.get_by_role("link", name="督查看板"))
    click(page.get_by_role("link", name="报表与考核"))
    click(page.get_by_role("link", name="逐年对比"))
    assert "2021年、2022年、2023年" in page.content()
    page.get_by_label("对比至").select_option(label="2022年 · 资雁府办发〔2022〕58号")
    click(page.get_by_role("button", name="查看"))
    text = page.content()
    assert "进步：石岭镇、区教育局" in text and "退步：老君镇" in text
    assert page.locator("svg.svg-chart").count() == 2
    row = page.locator("tr", has=page.get_by_role("rowheader", name="石岭镇")).inner_text()
    assert "0%" in row and "100%" in row and "进步" in row
    shoot(page, "yearly")
