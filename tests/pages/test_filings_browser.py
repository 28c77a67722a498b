"""The plan filed before the invitations, in a real browser (issue 30): with the notice's rule
on, the clerk sees 活动前须完成 on the event, files the plan (first blank: refused), tries to
invite and is refused until it is approved; the supervisor finds it under 方案审核 on the board,
returns it with a reason; the clerk sees the reason, files again; the supervisor approves; the
clerk invites. Screenshots of the filings page, the refusal, the queue, the returned plan and
the approved one at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import Invitee, Role, Unit, UnitKind
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
SENTENCE = "各责任单位须于活动开展前5个工作日将活动方案报区政府办审核备案。"
PLAN = (
    "一、活动主题：参观老旧小区改造现场。二、邀请人大代表、政协委员10人，市民代表5人。"
    "三、流程：现场参观、座谈交流。"
)


def _fill(session: Session) -> None:
    """The notice's campaign with the plan rule on, 区住建局's event on 9月20日 with its list of
    15 (5 citizens), a clerk and a supervisor."""
    campaign = notice_campaign(session)
    campaign.rules = {
        **campaign.rules,
        "plan_approval_required": True,
        "plan_approval_sentence": SENTENCE,
    }
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    assert unit.id is not None
    event = create_event(
        session, campaign=campaign, unit_id=unit.id, theme=THEME, earliest=date(2022, 9, 20),
        latest=date(2022, 9, 20), actor=SYSTEM, now=NOW, location="雁江区某小区",
    )  # fmt: skip
    people = [("张", "citizen"), ("李", "citizen"), ("王", "citizen"), ("赵", "citizen")]
    people += [("陈", "citizen")] + [(f"代表{i}", "npc_deputy") for i in range(10)]
    for name, category in people:
        session.add(
            Invitee(
                event_id=event.id,
                name=name + "某某",
                category=category,  # type: ignore[arg-type]
                invitation="targeted" if category == "citizen" else None,
                targeted_kind="resident" if category == "citizen" else None,
                created_at=NOW,
            )  # fmt: skip
        )
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("filings")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def file_plan(page: Any) -> str:
    """The clerk opens the event, follows 报送与公示, files the plan (first blank)."""
    click(page.locator(".card", has_text=THEME).get_by_role("link", name="继续办理"))
    event_page = page.url
    assert "活动方案报区政府办审核" in page.locator("#filings").inner_text()
    click(page.locator("#filings-link"))
    assert SENTENCE in page.content()
    shoot(page, "filings-plan")
    click(page.get_by_role("button", name="报送区政府办审核"))
    assert "活动方案应为" in page.locator("#error-summary").inner_text()
    page.get_by_label("活动方案", exact=True).fill(PLAN)
    click(page.get_by_role("button", name="报送区政府办审核"))
    assert "活动方案已报送" in page.content()
    assert "待区政府办审核" in page.locator("#plan").inner_text()
    return event_page


def invite(page: Any, event_page: str) -> Any:
    """The clerk checks the list and presses 确认名单，发出邀请."""
    page.goto(event_page.rstrip("/") + "/invite")
    settle(page)
    click(page.get_by_role("button", name="确认名单，发出邀请"))
    return page


def decide(page: Any, server: str, *, approve: bool) -> None:
    """The supervisor opens 方案审核 from the board and returns (with a reason) or approves."""
    page.goto(server + "/board")
    settle(page)
    click(page.locator("#plans-link"))
    card = page.locator("section.card", has_text=THEME)
    assert "参观老旧小区改造现场" in card.inner_text()
    if approve:
        click(card.get_by_role("button", name="审核通过"))
        assert "活动方案已审核通过" in page.content()
        return
    shoot(page, "filings-queue")
    click(card.get_by_role("button", name="退回修改"))
    assert "退回理由" in page.locator("#error-summary").inner_text()
    page.locator("section.card", has_text=THEME).get_by_label("审核意见").fill("请补充安全保障措施")
    click(page.locator("section.card", has_text=THEME).get_by_role("button", name="退回修改"))
    assert "活动方案已退回修改" in page.content()


def test_a_plan_is_filed_returned_approved_and_the_event_invited(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    event_page = file_plan(page)
    invite(page, event_page)
    assert "须经区政府办审核通过后才能发出邀请" in page.locator("#error-summary").inner_text()
    shoot(page, "filings-invite-refused")
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    decide(page, server, approve=False)
    sign_out(page)
    sign_in(page, server, "wang", "Kaifang-2022!")
    page.goto(event_page.rstrip("/") + "/filings")
    settle(page)
    assert "请补充安全保障措施" in page.locator("#plan-returned").inner_text()
    shoot(page, "filings-returned")
    page.get_by_label("修改活动方案").fill(PLAN + "四、安全保障：专人负责现场安全。")
    click(page.get_by_role("button", name="重新报送"))
    assert "活动方案已报送" in page.content()
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    decide(page, server, approve=True)
    sign_out(page)
    sign_in(page, server, "wang", "Kaifang-2022!")
    invite(page, event_page)
    assert "邀请已发出" in page.content()
    assert "已审核通过" in page.locator("#filings").inner_text()
    shoot(page, "filings-approved")
    page.goto(event_page.rstrip("/") + "/history")
    settle(page)
    history = page.content()
    assert history.count("报送") >= 2
    watch.assert_clean()
    context.close()
