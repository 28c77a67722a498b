"""Cancellation as a request in a real browser (issue 25): the clerk asks on the event's page
with a reason and sees 取消申请待审批; the supervisor finds it from the board, approves it
不计扣分 with a reason; the event is cancelled and the report lists it as exempt. Screenshots of
the request form, the pending event, the queue and the cancelled event at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import Role, Unit, UnitKind
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
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM

THEME = "参观老旧小区改造现场"


def _fill(session: Session) -> None:
    """The notice's campaign, 区住建局's event on 9月20日 (not yet held), a clerk, a supervisor."""
    campaign = notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    assert unit.id is not None
    create_event(
        session, campaign=campaign, unit_id=unit.id, theme=THEME, earliest=date(2022, 9, 20),
        latest=date(2022, 9, 20), actor=SYSTEM, now=NOW, location="雁江区某小区",
    )  # fmt: skip
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("cancel")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def ask(page: Any) -> str:
    """The clerk opens the event, asks to cancel (first with no reason), and sees it pending."""
    click(page.locator(".card", has_text=THEME).get_by_role("link", name="继续办理"))
    event_page = page.url
    click(page.locator("#cancel-link"))
    settle(page)
    shoot(page, "cancel-request")
    click(page.get_by_role("button", name="提交取消申请"))
    settle(page)
    assert "请填写取消理由" in page.locator("#error-summary").inner_text()
    page.get_by_label("取消理由").fill("小区改造施工，现场无法安全接待")
    click(page.get_by_role("button", name="提交取消申请"))
    settle(page)
    assert "已提交取消申请" in page.content()
    assert "取消申请待审批" in page.locator("#cancel-pending").inner_text()
    shoot(page, "cancel-pending")
    page.goto(page.url.split("/events/")[0] + "/")
    settle(page)
    assert "取消申请待审批" in page.locator(".card", has_text=THEME).inner_text()
    return event_page


def approve(page: Any, server: str) -> None:
    """The supervisor reaches the queue from the board and approves 不计扣分 with a reason."""
    page.goto(server + "/board")
    settle(page)
    click(page.locator("#cancellations-link"))
    settle(page)
    card = page.locator("section.card", has_text=THEME)
    assert "小区改造施工" in card.inner_text()
    shoot(page, "cancel-queue")
    card.get_by_label("不计扣分（取消不按未开展扣分）").check()
    card.get_by_label("不计扣分理由").fill("施工安全原因，经核实属实")
    click(card.get_by_role("button", name="批准取消"))
    settle(page)
    assert "已批准取消" in page.content()
    assert (
        "不计扣分：施工安全原因，经核实属实" in page.locator("#decided + .table-wrap").inner_text()
    )


def test_a_clerk_asks_and_a_supervisor_approves_exempt(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    event_page = ask(page)
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    approve(page, server)
    page.goto(event_page)
    settle(page)
    assert "已取消" in page.content()
    click(page.locator("#cancel-link"))
    settle(page)
    assert "施工安全原因，经核实属实" in page.content()
    shoot(page, "cancel-done")
    page.goto(server + "/board/report")
    settle(page)
    listed = page.locator("#cancelled + .table-wrap").inner_text()
    assert "不计扣分" in listed and "小区改造施工" in listed
    page.goto(event_page.rstrip("/") + "/history")
    settle(page)
    text = page.content()
    assert "王经办申请取消活动" in text and "李督查批准了王经办的取消申请" in text
    watch.assert_clean()
    context.close()
