"""The pages in a real browser: Debian's chromium driven by Playwright against a real server.

A staffer signs in and walks an event from planned to summary-submitted by clicking and typing
only (a refused invite and a photo upload included); a supervisor spot-checks it and sees the
overdue board. Screenshots of each main page at 1280 and 360 px go to docs/screenshots/.
Without chromium (or playwright) the test skips, or fails when OPENDAY_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import Role, Unit, UnitKind
from tests.browser_support import (  # noqa: F401 - ARGS … re-exported for older importers
    ARGS,
    CHROMIUM,
    NOW,
    ROOT,
    SHOTS,
    Watch,
    chromium,
    click,
    free_port,
    notice_campaign,
    png,
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


def _fill(session: Session) -> None:
    """The notice's campaign, 区住建局 with today's event and a late one, two accounts. The
    walk shows a refused invite, so the campaign refuses deviations (the default flags them)."""
    campaign = notice_campaign(session)
    campaign.rules = {
        **(campaign.rules or {}),
        "invitee_count_mode": "refuse",
        "citizen_share_mode": "refuse",
    }
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    for theme, day in (("参观老旧小区改造现场", date(2022, 9, 16)),
                       ("城市管理政民恳谈会", date(2022, 9, 6))):  # fmt: skip
        create_event(
            session, campaign=campaign, unit_id=unit.id, theme=theme, earliest=day,  # type: ignore[arg-type]
            latest=day, actor=SYSTEM, now=NOW, location="雁江区某小区",
        )  # fmt: skip
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """uvicorn serving api:app on a free port, a seeded SQLite file and the notice's day."""
    require_browser()
    folder = tmp_path_factory.mktemp("pages")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    """Debian's chromium under Playwright (no browser download)."""
    with chromium() as launched:
        yield launched


def task(page: Any, title: str) -> Any:
    """The 办理 button of one stage in the event's task list."""
    return page.locator(".tasks li", has_text=title).get_by_role("link", name="办理")


def add_person(page: Any, name: str, category: str, invitation: str = "") -> None:
    """One add-to-a-list round."""
    page.get_by_label("姓名").fill(name)
    page.get_by_label(category, exact=True).check()
    if invitation:
        page.get_by_label(invitation, exact=True).check()
    click(page.get_by_role("button", name="添加到名单"))
    settle(page)
    assert f"已添加：{name}" in page.content()


def walk_to_invited(page: Any, base: str) -> None:
    """Invitees with too few citizens: refused with the guard's words; then fixed and invited."""
    card = page.locator(".card", has_text="参观老旧小区改造现场")
    click(card.get_by_role("link", name="继续办理"))
    settle(page)
    shoot(page, "event")
    click(task(page, "邀请人员"))
    for i in range(8):
        add_person(page, f"代表{i + 1}", "人大代表" if i % 2 else "政协委员")
    add_person(page, "市民一", "市民代表", "公开邀请")
    add_person(page, "市民二", "市民代表", "公开邀请")
    assert "共 10 人（应为 10–20 人）" in page.content()
    assert "市民代表 2 人，至少需要 4 人" in page.content()
    shoot(page, "invitees")
    click(page.get_by_role("link", name="下一步：核对名单并发出邀请"))
    click(page.get_by_role("button", name="确认名单，发出邀请"))
    settle(page)
    summary = page.locator(".error-summary")
    assert "市民代表 2 人（共 10 人），不低于三分之一须至少 4 人" in summary.inner_text()
    shoot(page, "invite-refused")
    click(page.get_by_role("link", name="修改名单"))
    add_person(page, "市民三", "市民代表", "定向邀请")
    add_person(page, "市民四", "市民代表", "公开邀请")
    click(page.get_by_role("link", name="下一步：核对名单并发出邀请"))
    click(page.get_by_role("button", name="确认名单，发出邀请"))
    settle(page)
    assert "邀请已发出" in page.content()


def what_was_held(page: Any, forms: tuple[str, ...] = ("现场参观考察",)) -> None:
    """The forms held ticked and the head who met the visitors named, nothing pre-filled."""
    assert page.locator("#forms_held input:checked").count() == 0
    assert page.locator("#met_name_0").input_value() == ""
    for name in forms:
        page.get_by_label(name, exact=True).check()
    page.locator("#met_name_0").fill("赵局长")
    page.locator("#met_post_0").select_option("principal")


def record_hold(page: Any) -> None:
    """开展活动 starts blank: the day typed, every box ticked by hand, then the check page."""
    click(task(page, "开展活动"))
    day = page.get_by_label("实际开展日期")
    assert day.input_value() == ""
    boxes = page.locator("#attendance input[type=checkbox]")
    assert boxes.count() == 12 and page.locator("#attendance input:checked").count() == 0
    shoot(page, "hold")
    day.fill("2022-09-16")
    what_was_held(page)
    for i in range(boxes.count()):
        boxes.nth(i).check()
    click(page.get_by_role("button", name="下一步：核对"))
    settle(page)
    assert "2022年9月16日（星期五）" in page.content() and "12 人" in page.content()
    shoot(page, "hold-check")
    click(page.get_by_role("button", name="确认活动已开展"))
    settle(page)
    assert "已记录活动开展情况" in page.content()


def walk_to_submitted(page: Any) -> None:
    """Hold, two opinions, collect, photos and text saved together, summary submitted."""
    record_hold(page)
    click(task(page, "收集意见建议"))
    page.get_by_label("意见建议内容").fill("希望延长小区改造施工公示期\n建议增设无障碍坡道")
    click(page.get_by_role("button", name="登记"))
    settle(page)
    assert "已登记 2 条意见建议" in page.content()
    click(page.get_by_role("button", name="意见建议收集完毕"))
    settle(page)
    click(task(page, "报送总结"))
    text = "9月16日组织市民代表等12人参观老旧小区改造现场，收集意见2条。"
    page.get_by_label("活动总结").fill(text)
    page.get_by_label("添加照片或文件（可多选）").set_input_files(
        [{"name": "现场1.png", "mimeType": "image/png", "buffer": png()},
         {"name": "现场2.png", "mimeType": "image/png", "buffer": png(48, 64)}]
    )  # fmt: skip
    click(page.get_by_role("button", name="保存（文字和所选文件）"))
    settle(page)
    assert page.locator(".thumbs img").count() == 2
    assert page.get_by_label("活动总结").input_value() == text  # nothing typed was lost
    shoot(page, "summary")
    click(page.get_by_role("button", name="保存并报送区政府办"))
    settle(page)
    assert "总结已报送区政府办" in page.content()
    assert "【待抽查】" in page.content()


def test_staff_walk_and_supervisor_spot_check(server: str, browser: Any) -> None:
    """Planned → summary-submitted by clicking; then the supervisor's spot check and board."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    page.goto(server + "/login")
    shoot(page, "login")
    sign_in(page, server, "wang", "Kaifang-2022!")
    assert page.get_by_role("heading", name="我的活动").is_visible()
    late = page.locator(".card.overdue")
    assert "城市管理政民恳谈会" in late.inner_text() and "已超" in late.inner_text()
    shoot(page, "home")
    walk_to_invited(page, server)
    walk_to_submitted(page)
    click(page.get_by_role("link", name="历史记录 ›"))
    assert "向区政府办报送了总结" in page.content() and "王经办" in page.content()
    assert "edit.invitees" not in page.content()
    shoot(page, "history")
    sign_out(page)
    sign_in(page, server, "li", "Duban-2022!")
    assert page.get_by_role("heading", name="督查看板").is_visible()
    assert "城市管理政民恳谈会" in page.locator("#overdue ~ .table-wrap").first.inner_text()
    shoot(page, "board")
    click(page.locator("#spot-checks-link"))
    card = page.locator("form.card", has_text="参观老旧小区改造现场")
    card.get_by_label("合格", exact=True).check()
    card.get_by_label("抽查意见").fill("图文资料齐全，市民代表比例符合要求。")
    click(card.get_by_role("button", name="记录抽查结果"))
    settle(page)
    assert "已记录抽查结果" in page.content()
    watch.assert_clean()
    context.close()
