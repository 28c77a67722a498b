"""A flagged hold in a real browser (issue 25): under the default rules a clerk records a hold
with 4 citizens among the 15 who came — recorded, not refused — and sees the flag on the event;
the supervisor sees it on the board."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import EventState, Invitee, InviteeCategory, Role, Unit, UnitKind
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
    sign_in,
    sign_out,
)
from workflows.accounts.service import create_user
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM

THEME = "参观老旧小区改造现场"
BADGE = "市民代表比例不足（4/15）"


def _fill(session: Session) -> None:
    """The notice's campaign with its default rules, 区住建局's event of the day invited with 11
    deputies and 6 citizens, a clerk and a supervisor."""
    campaign = notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    assert unit.id is not None
    event = create_event(
        session, campaign=campaign, unit_id=unit.id, theme=THEME, earliest=date(2022, 9, 16),
        latest=date(2022, 9, 16), actor=SYSTEM, now=NOW, location="雁江区某小区",
    )  # fmt: skip
    people = [(f"代表{i + 1}", InviteeCategory.npc_deputy, None) for i in range(11)]
    people += [(f"市民{i + 1}", InviteeCategory.citizen, "public") for i in range(6)]
    for name, category, invitation in people:
        session.add(Invitee(event_id=event.id, name=name, category=category,  # type: ignore[arg-type]
                            invitation=invitation, created_at=NOW))  # fmt: skip
    event.state = EventState.invited
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("flags")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def hold_with_four_citizens(page: Any) -> None:
    """开展活动: the day typed, everyone ticked but 市民5 and 市民6, checked, confirmed."""
    card = page.locator(".card", has_text=THEME)
    click(card.get_by_role("link", name="继续办理"))
    event_page = page.url
    click(page.locator(".tasks li", has_text="开展活动").get_by_role("link", name="办理"))
    page.get_by_label("实际开展日期").fill("2022-09-16")
    page.get_by_label("政民恳谈交流", exact=True).check()
    page.locator("#met_name_0").fill("周局长")
    page.locator("#met_post_0").select_option("deputy")
    boxes = page.locator("#attendance input[type=checkbox]")
    assert boxes.count() == 17
    for i in range(boxes.count()):
        boxes.nth(i).check()
    page.get_by_label("市民5").uncheck()
    page.get_by_label("市民6").uncheck()
    click(page.get_by_role("button", name="下一步：核对"))
    settle(page)
    assert "15 人" in page.content()
    click(page.get_by_role("button", name="确认活动已开展"))
    settle(page)
    assert "已记录活动开展情况" in page.content()
    page.goto(event_page)
    settle(page)
    flags = page.locator("#flags")
    assert BADGE in flags.inner_text() and "不低于三分之一" in flags.inner_text()


def test_a_flagged_hold_is_recorded_and_shows_on_the_board(server: str, browser: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "wang", "Kaifang-2022!")
    hold_with_four_citizens(page)
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    page.goto(server + "/board")
    settle(page)
    click(page.locator("#flags-link"))
    section = page.locator("#flags + p + .table-wrap")
    assert BADGE in section.inner_text() and "区住建局" in section.inner_text()
    watch.assert_clean()
    context.close()
