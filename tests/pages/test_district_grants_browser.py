"""Districts and acting grants in a real browser (issue 28): the city's system administrator
adds 安岳县 on 管理 › 区县 (a bad code refused first); 安岳县's security administrator grants a
city supervisor acting in the district on the district's page; the supervisor approves a
cancellation in 安岳县 and is refused (district_grant_required) in 雁江区, where it only reads.
Screenshots of the districts page and the grants page at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session, select

from models import Campaign, District, Event, Role, Unit, UnitKind
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
    settle,
    shoot,
    sign_in,
    sign_out,
)
from workflows.accounts.service import create_user
from workflows.campaign.rules import CampaignRules
from workflows.event import cancellation
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM

PASSWORD = "Quxian-2022!"
THEME_A = "雁江区住建局开放日"
THEME_B = "安岳县住建局开放日"


def _event_asking_to_cancel(session: Session, campaign: Campaign, unit: Unit, theme: str) -> None:
    event = create_event(
        session, campaign=campaign, unit_id=unit.id, theme=theme,  # type: ignore[arg-type]
        earliest=date(2022, 9, 20), latest=date(2022, 9, 20), actor=SYSTEM, now=NOW,
    )  # fmt: skip
    cancellation.request(session, event, reason="施工安全原因，现场无法接待", actor=SYSTEM, now=NOW)


def _fill(session: Session) -> None:
    """雁江区 (district 1): the notice's campaign, 区住建局 with an event asking to cancel; the
    city's system administrator and a city supervisor."""
    campaign = notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    _event_asking_to_cancel(session, campaign, unit, THEME_A)
    create_user(session, username="shi", role=Role.system_admin, password=PASSWORD, now=NOW,
                display_name="市系统管理员", district_id=None)  # fmt: skip
    create_user(session, username="du", role=Role.supervisor, password=PASSWORD, now=NOW,
                display_name="市督查", district_id=None)  # fmt: skip


def _fill_anyue(url: str) -> None:
    """What 安岳县 holds once added: its campaign, unit, an event asking to cancel, and its
    security administrator."""
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        district = session.exec(select(District).where(District.code == "anyue")).one()
        campaign = Campaign(
            district_id=district.id, doc_number="安府办发〔2022〕12号", title="安岳县政府开放日",  # type: ignore[arg-type]
            issuing_office="安岳县人民政府办公室", starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(), created_at=NOW,
        )  # fmt: skip
        unit = Unit(district_id=district.id, name="县住建局", kind=UnitKind.department,  # type: ignore[arg-type]
                    created_at=NOW)  # fmt: skip
        session.add_all([campaign, unit])
        session.flush()
        _event_asking_to_cancel(session, campaign, unit, THEME_B)
        create_user(session, username="an", role=Role.security_admin, password=PASSWORD,
                    now=NOW, display_name="安岳县安全管理员", district_id=district.id)  # fmt: skip
        session.commit()
    engine.dispose()


def _states(url: str) -> dict[str, str]:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return {e.theme: e.state for e in session.exec(select(Event)).all()}
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_browser()
    folder = tmp_path_factory.mktemp("districts")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base, url


def add_district(page: Any, base: str) -> None:
    """管理 › 区县: a bad code is refused with nothing written, then 安岳县 is added."""
    click(page.get_by_role("link", name="管理", exact=True))
    click(page.get_by_role("link", name="区县"))
    assert "雁江区" in page.locator("#districts").inner_text()
    page.get_by_label("区县代码").fill("An Yue")
    page.get_by_label("区县名称").fill("安岳县")
    page.get_by_label("所属市（可不填）").fill("资阳市")
    page.get_by_label("政府办名称（可不填）").fill("安岳县人民政府办公室")
    click(page.get_by_role("button", name="新增区县"))
    assert "区县代码“An Yue”无效" in page.locator(".error-summary").inner_text()
    assert "安岳县" not in page.locator("#districts").inner_text()
    page.get_by_label("区县代码").fill("anyue")
    click(page.get_by_role("button", name="新增区县"))
    assert "已新增区县“安岳县”" in page.content()
    click(page.get_by_role("link", name="‹ 区县"))
    rows = page.locator("#districts").inner_text()
    assert "anyue" in rows and "安岳县人民政府办公室" in rows
    shoot(page, "districts")


def grant(page: Any) -> None:
    """安岳县's security administrator grants the city supervisor on 安岳县's page."""
    click(page.get_by_role("link", name="账号管理"))
    click(page.get_by_role("link", name="区县与授权"))
    assert "雁江区" not in page.locator("#districts").inner_text()  # its own district only
    click(page.get_by_role("link", name="安岳县的详情与授权"))
    page.get_by_label("授权给").select_option(label="市督查（du）")
    page.get_by_label("理由（可不填）").fill("市级专项督查")
    click(page.get_by_role("button", name="授权"))
    assert "已授权" in page.content()
    listed = page.locator("#grant-list").inner_text()
    assert "市督查（du）" in listed and "市级专项督查" in listed and "有效" in listed
    shoot(page, "district-grants")


def test_a_city_supervisor_acts_where_a_district_granted_it(site: tuple[str, str]) -> None:
    base, url = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "shi", PASSWORD)
        add_district(page, base)
        sign_out(page)
        _fill_anyue(url)

        sign_in(page, base, "an", PASSWORD)
        grant(page)
        sign_out(page)

        sign_in(page, base, "du", PASSWORD)
        page.goto(base + "/board/cancellations")
        settle(page)
        click(page.locator("section.card", has_text=THEME_A).get_by_role("button", name="批准取消"))
        summary = page.locator(".error-summary").inner_text()
        assert "须由该区县的安全管理员授权" in summary, summary
        click(page.locator("section.card", has_text=THEME_B).get_by_role("button", name="批准取消"))
        assert "已批准取消" in page.content()
        assert _states(url) == {THEME_A: "planned", THEME_B: "cancelled"}
        watch.assert_clean()
        context.close()
