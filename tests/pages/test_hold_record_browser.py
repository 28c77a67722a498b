"""What was held, corrected, in a real browser (issues 24, 25), by clicking only: a hold over two
days with its forms and the head who met the visitors, nothing pre-filled; its correction found
in the history in Chinese; a late clerk's correction request, approved by the supervisor from
the board. Screenshots of the check page, the correction page and the requests at 1280 and 360
px go to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlmodel import Session, select

from models import Event, Invitee, Role, User
from tests.browser_support import (
    Watch,
    chromium,
    click,
    require_browser,
    seed,
    serve,
    settle,
    shoot,
    sign_in,
    sign_out,
)
from tests.pages import test_pages_browser as walk
from workflows.event import machine as event_machine
from workflows.kernel.visibility import Actor

TODAY = datetime.fromisoformat("2022-09-17T10:00:00+08:00")
INVITED_AT = datetime.fromisoformat("2022-09-01T09:00:00+08:00")
LATE = "城市管理政民恳谈会"


def _fill(session: Session) -> None:
    """The walk's world; its 9月6日 event was invited and held then (the unit's correction days
    are long over by 9月17日)."""
    walk._fill(session)
    event = session.exec(select(Event).where(Event.theme == LATE)).one()
    wang = session.exec(select(User).where(User.username == "wang")).one()
    clerk = Actor(id=wang.id, name="wang", role=Role.unit_staff, unit_id=event.unit_id)
    for i in range(10):
        session.add(Invitee(event_id=event.id, name=f"来宾{i + 1}",  # type: ignore[arg-type]
                            category="citizen" if i < 4 else "npc_deputy",
                            invitation="targeted" if i < 4 else None,
                            created_at=INVITED_AT))  # fmt: skip
    session.flush()
    for trigger, day, data in (
        ("invite", "2022-09-01", {}),
        ("hold", "2022-09-06", {"held_on": "2022-09-06", "forms_held": ["dialogue"],
                                "met_by": [{"name": "钱局长", "post": "principal"}],
                                "attendance": {p.id: True for p in session.exec(
                                    select(Invitee).where(Invitee.event_id == event.id))}}),
    ):  # fmt: skip
        now = datetime.fromisoformat(f"{day}T17:00:00+08:00")
        event_machine.fire(session, event, trigger, expected_version=event.version, actor=clerk,
                           now=now, data=data)  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("hold-record")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url, OPENDAY_CLOCK_START=TODAY.isoformat()) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def hold_over_two_days(page: Any) -> None:
    """Nothing pre-filled; two days, two forms, the head; the check page says 9月16日至17日."""
    click(walk.task(page, "开展活动"))
    assert page.get_by_label("实际开展日期").input_value() == ""
    assert page.locator("#held_until").input_value() == ""
    assert page.locator("#attendance input:checked").count() == 0
    page.get_by_label("实际开展日期").fill("2022-09-16")
    page.locator("#held_until").fill("2022-09-17")
    walk.what_was_held(page, ("现场参观考察", "政民恳谈交流"))
    boxes = page.locator("#attendance input[type=checkbox]")
    for i in range(boxes.count()):
        boxes.nth(i).check()
    click(page.get_by_role("button", name="下一步：核对"))
    settle(page)
    text = page.locator("main").inner_text()
    assert "2022年9月16日至17日" in text and "现场参观考察、政民恳谈交流" in text
    assert "赵局长（主要负责人）" in text
    shoot(page, "hold-two-days-check")
    click(page.get_by_role("button", name="确认活动已开展"))
    settle(page)
    assert "已记录活动开展情况" in page.content()


def correct_the_forms(page: Any) -> None:
    """开展活动 → 更正开展日期、形式或负责人: one form unticked, a reason; the history says so."""
    page.locator(".tasks li", has_text="开展活动").get_by_role("link").first.click()
    settle(page)
    assert "2022年9月16日至17日" in page.locator("main").inner_text()
    click(page.locator("#correct-hold"))
    page.get_by_label("现场参观考察", exact=True).uncheck()
    click(page.get_by_role("button", name="保存更正"))
    settle(page)
    assert "请填写更正理由" in page.locator(".error-summary").inner_text()
    page.get_by_label("更正理由").fill("现场参观因雨取消，只开展了座谈")
    shoot(page, "hold-correction")
    click(page.get_by_role("button", name="保存更正"))
    settle(page)
    assert "已更正开展情况" in page.content()
    click(page.get_by_role("link", name="‹ 返回活动"))
    click(page.get_by_role("link", name="历史记录 ›"))
    text = page.locator("main").inner_text()
    assert "记录活动于2022年9月16日至17日开展" in text
    assert "更正了开展情况：开展形式由“现场参观考察、政民恳谈交流”改为“政民恳谈交流”" in text
    assert "理由：现场参观因雨取消，只开展了座谈。" in text


def ask_late(page: Any, base: str) -> str:
    """The 9月6日 event, past the unit's days: the same form becomes a request."""
    page.goto(base + "/")
    card = page.locator(".card", has_text=LATE)
    click(card.get_by_role("link", name="继续办理"))
    event_url = page.url
    page.goto(event_url + "/hold")
    settle(page)
    click(page.locator("#correct-hold"))
    assert "本单位更正期限已于" in page.locator(".warn").inner_text()
    page.locator("#held_until").fill("2022-09-07")
    page.get_by_label("更正理由").fill("恳谈会分两天举行，漏记第二天")
    click(page.get_by_role("button", name="提交更正申请"))
    settle(page)
    assert "已提交更正申请" in page.content()
    assert "等待区政府办审批" in page.locator("#correction-requests").inner_text()
    shoot(page, "correction-request-pending")
    return event_url


def approve(page: Any, event_url: str) -> None:
    """The board's 更正申请 → the pending request → 批准并更正; the history names the asker."""
    click(page.locator("#corrections-link"))
    request = page.locator("form.card", has_text=LATE)
    assert "开展日期：2022年9月6日至7日" in request.inner_text()
    shoot(page, "correction-requests")
    click(request.get_by_role("button", name="批准并更正"))
    settle(page)
    assert "已批准" in page.content() and "没有待审批的更正申请" in page.content()
    page.goto(event_url + "/history")
    text = page.locator("main").inner_text()
    assert "李督查（批准王经办的更正申请）更正了开展情况" in text
    assert "开展日期由“2022年9月6日（星期二）”改为“2022年9月6日至7日”" in text


def test_hold_correct_and_approve_a_late_request(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    walk.walk_to_invited(page, server)
    hold_over_two_days(page)
    correct_the_forms(page)
    event_url = ask_late(page, server)
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    approve(page, event_url)
    watch.assert_clean()
    context.close()
