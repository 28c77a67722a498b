"""The yearly cycle in a real browser (issue 30): a supervisor copies 2022's campaign into 2023
through 复制为下一年度 — refused first for a year that already has a campaign — edits a unit on
the new roster, and finds 2022 read-only. Screenshots at 1280 and 360 px go to
docs/screenshots/rollover-*.png and roster-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

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
UNITS = (("区住建局", UnitKind.department, "李四"), ("石岭镇", UnitKind.town, "王五"))


def _fill(session: Session) -> None:
    """2022's campaign, two units with an event each, a 2024 campaign, and a supervisor."""
    campaign = notice_campaign(session)
    session.flush()
    for seq, (name, kind, contact) in enumerate(UNITS, start=1):
        unit = Unit(name=name, kind=kind, contact_name=contact, created_at=NOW)
        session.add(unit)
        session.flush()
        session.add(
            Event(
                campaign_id=campaign.id,
                unit_id=unit.id,
                seq=seq,
                theme=f"{name}开放日",
                date_earliest=date(2022, 9, 1),
                date_latest=date(2022, 9, 1),
                forms=["site_visit", "dialogue"],
                state=EventState.planned,
                created_at=NOW,
                updated_at=NOW,
            )  # fmt: skip
        )
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
        click(page.get_by_role("link", name="复制为下一年度").last)
        assert "区住建局" in page.content() and "石岭镇" in page.content()
        shoot(page, "rollover")
        page.get_by_label("新通知文号").fill("资雁府办发〔2024〕10号")
        page.get_by_label("活动开始日期").fill("2024-08-21")
        page.get_by_label("活动结束日期").fill("2024-09-21")
        click(page.get_by_role("button", name="创建新年度活动"))
        summary = page.locator(".error-summary").inner_text()
        assert "2024 年已有活动" in summary, summary
        assert _count(url, Campaign) == 2
        page.get_by_label("新通知文号").fill("资雁府办发〔2023〕41号")
        page.get_by_label("活动开始日期").fill("2023-08-21")
        page.get_by_label("活动结束日期").fill("2023-09-22")
        page.get_by_label("复制石岭镇").uncheck()
        click(page.get_by_role("button", name="创建新年度活动"))
        assert "上一年度活动已转为只读" in page.content()
        assert _count(url, CampaignUnit) == 1
        page.get_by_label("联系人", exact=True).fill("赵六")
        page.get_by_label("现场参观考察").uncheck()
        shoot(page, "roster")
        click(page.get_by_role("button", name="保存区住建局"))
        assert "已保存" in page.content()
        assert page.get_by_label("联系人", exact=True).input_value() == "赵六"
        click(page.get_by_role("link", name="‹ 管理"))
        assert "已结束（只读）" in page.content()
        watch.assert_clean()
