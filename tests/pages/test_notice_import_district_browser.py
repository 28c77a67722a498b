"""从通知新建活动 for a district in chromium (issue 28): in a city of two districts, a city
supervisor granted in 安岳县 only is offered 安岳县 as the campaign's district, previews the
next year's notice there and creates the campaign in 安岳县. Screenshots of the form with the
picker at 1280 and 360 px go to docs/screenshots/notice-import-district-*.png."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import Campaign, District, Role
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
from tests.campaign.test_notice_import import NOTICE_2023
from workflows.accounts import grants
from workflows.accounts.service import create_user
from workflows.kernel.visibility import SYSTEM

PASSWORD = "Quxian-2022!"


def _fill(session: Session) -> None:
    """雁江区 (district 1) with the notice's campaign, 安岳县, and a city supervisor granted in
    安岳县 only."""
    notice_campaign(session)
    anyue = District(code="anyue", name="安岳县", city_name="资阳市",
                     office_name="安岳县人民政府办公室", created_at=NOW)  # fmt: skip
    session.add(anyue)
    du = create_user(session, username="du", role=Role.supervisor, password=PASSWORD, now=NOW,
                     display_name="市督查", district_id=None)  # fmt: skip
    session.flush()
    grants.grant(session, SYSTEM, anyue.id, du.id, "代建活动", NOW)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_browser()
    folder = tmp_path_factory.mktemp("notice-district")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base, url


def _districts_of_campaigns(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            rows = session.exec(
                select(Campaign.doc_number, District.name).where(
                    Campaign.district_id == District.id
                )
            ).all()
            return dict(rows)
    finally:
        engine.dispose()


def test_a_city_supervisor_creates_a_campaign_in_its_granted_district(
    site: tuple[str, str], tmp_path: Path
) -> None:
    base, url = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "du", PASSWORD)
        page.goto(base + "/admin/notice-import")
        picker = page.get_by_label("活动所属区县")
        options = picker.locator("option").all_inner_texts()
        assert options == ["请选择", "安岳县"], options  # 雁江区 granted none: not offered
        picker.select_option(label="安岳县")
        page.get_by_label("或粘贴通知全文").fill(NOTICE_2023)
        shoot(page, "notice-import-district")
        click(page.get_by_role("button", name="预览"))
        assert "尚未写入任何数据" in page.content()
        assert page.get_by_label("活动所属区县").input_value() != ""
        click(page.get_by_role("button", name="确认创建活动"))
        assert "已创建活动“资雁府办发〔2023〕61号”" in page.content()
        assert _districts_of_campaigns(url)["资雁府办发〔2023〕61号"] == "安岳县"
        watch.assert_clean()
        context.close()
