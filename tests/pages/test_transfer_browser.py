"""签收 and 转办 in a real browser (issue 26): 区住建局's clerk transfers an opinion to 石岭镇
with a reason; 石岭镇's clerk finds it on 签收转办 and sends it back; the supervisor decides it is
石岭镇's with a later due day; 石岭镇 signs for it. Screenshots of the opinion's page (transfer
form, decision form) and the list at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import EventState, FeedbackItem, Role, Unit, UnitKind
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
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM
from workflows.reporting import bulletin
from workflows.workdays import deadlines

THEME = "参观老旧小区改造现场"
OPINION = "石岭镇场镇路灯不亮，希望尽快修复"


def _fill(session: Session) -> None:
    """区住建局's event held on 2022-09-16 with one open opinion; 石岭镇; a clerk of each; a
    supervisor."""
    campaign = notice_campaign(session)
    units = {}
    for name, kind in (("区住建局", UnitKind.department), ("石岭镇", UnitKind.town)):
        unit = Unit(name=name, kind=kind, created_at=NOW)
        session.add(unit)
        session.flush()
        units[name] = unit.id
    event = create_event(
        session, campaign=campaign, unit_id=units["区住建局"], theme=THEME,
        earliest=date(2022, 9, 16), latest=date(2022, 9, 16), actor=SYSTEM, now=NOW,
        location="雁江区某小区",
    )  # fmt: skip
    event.state, event.held_on = EventState.feedback_collected, date(2022, 9, 16)
    item = FeedbackItem(
        event_id=event.id, unit_id=units["区住建局"], content=OPINION,  # type: ignore[arg-type]
        collected_on=date(2022, 9, 16), created_at=NOW, updated_at=NOW,
    )  # fmt: skip
    session.add(item)
    session.flush()
    calendar = deadlines.load_calendar(session)
    deadlines.arm_feedback_item(session, item, CampaignRules(), calendar, NOW)
    for username, unit_name, name in (("wang", "区住建局", "王经办"), ("zhao", "石岭镇", "赵经办")):
        create_user(session, username=username, role=Role.unit_staff, unit_name=unit_name,
                    password="Kaifang-2022!", now=NOW, display_name=name)  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip
    create_event(
        session, campaign=campaign, unit_id=units["石岭镇"], theme="走进石岭镇便民服务中心",
        earliest=date(2022, 9, 9), latest=date(2022, 9, 9), actor=SYSTEM, now=NOW,
    )  # fmt: skip
    session.flush()
    bulletin.make(session, campaign, date(2022, 9, 5), NOW)  # 石岭镇 last: its 9月9日 not held


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("transfer")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _transfer(page: Any, server: str) -> None:
    page.goto(server + "/transfers")
    settle(page)
    click(page.locator("#to-sign").get_by_role("link", name="1", exact=True))
    settle(page)
    shoot(page, "feedback-transfer")
    click(page.get_by_role("button", name="转办"))
    settle(page)
    assert "请选择转办单位" in page.locator("#error-summary").inner_text()
    page.get_by_label("转办至").select_option(label="石岭镇")
    page.get_by_label("转办理由").fill("路灯属石岭镇场镇管理")
    click(page.get_by_role("button", name="转办"))
    settle(page)
    assert "区住建局转办至石岭镇" in page.locator("#steps").inner_text()


def test_transfer_send_back_decide_and_sign(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    _transfer(page, server)
    sign_out(page)
    sign_in(page, server, "zhao", "Kaifang-2022!")
    click(page.get_by_role("link", name="签收转办"))
    assert OPINION[:10] in page.locator("#to-sign").inner_text()
    shoot(page, "transfers")
    click(page.locator("#to-sign").get_by_role("link", name="1", exact=True))
    page.get_by_label("退回理由").fill("场镇路灯已移交区住建局管理")
    click(page.get_by_role("button", name="退回转办"))
    assert "已退回" in page.content()
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    page.goto(server + "/feedback/1")
    settle(page)
    page.get_by_label("石岭镇（接收单位）").check()
    page.get_by_label("延长答复期限（可不填，不填则期限不变）").fill("2022-10-31")
    page.get_by_label("裁定意见").fill("路灯日常维护属镇职责")
    shoot(page, "feedback-transfer-decide")
    click(page.get_by_role("button", name="裁定"))
    assert "区政府办裁定由石岭镇办理" in page.locator("#steps").inner_text()
    click(page.get_by_role("link", name="每周通报"))
    click(page.get_by_role("link", name="2022年9月5日（星期一）起一周"))
    assert "排名末位" in page.locator("#ranking").inner_text()
    shoot(page, "bulletin")
    sign_out(page)
    sign_in(page, server, "zhao", "Kaifang-2022!")
    page.goto(server + "/feedback/1")
    settle(page)
    click(page.get_by_role("button", name="签收"))
    assert "石岭镇签收" in page.locator("#steps").inner_text()
    assert "已签收" in page.locator("#signed").inner_text()
    shoot(page, "feedback-signed")
    watch.assert_clean()
