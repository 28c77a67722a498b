"""问责 in a real browser (issue 25): a supervisor issues a rectification notice on a round found
lacking, the board lists another unit's overdue one, the clerk sees the notice and its due day on
her home page and reports with a photo, the supervisor downloads it and closes it. Screenshots at
1280 and 360."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session

from models import (
    EventState,
    Rectification,
    Role,
    SpotCheck,
    Summary,
    Unit,
    UnitKind,
)
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    click,
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

THEME = "参观老旧小区改造现场"
LATE_THEME = "镇村便民服务中心开放"
NOTES = "总结照片与活动现场不符，请补充现场照片"


def _checked(session: Session, campaign: Any, unit_id: int, theme: str, day: date) -> Any:
    event = create_event(
        session, campaign=campaign, unit_id=unit_id, theme=theme, earliest=day, latest=day,
        actor=SYSTEM, now=NOW, location="雁江区",
    )  # fmt: skip
    event.state, event.held_on = EventState.spot_checked, day
    session.add(Summary(event_id=event.id, text="总结", submitted_at=NOW, updated_at=NOW))  # type: ignore[arg-type]
    check = SpotCheck(event_id=event.id, round=1, result="unsatisfactory", notes=NOTES,  # type: ignore[arg-type]
                      checked_at=NOW)  # fmt: skip
    session.add(check)
    session.flush()
    return event, check


def _fill(session: Session) -> None:
    """区住建局's event checked 不合格 (no notice yet); 石岭镇's with a notice due a week ago."""
    campaign = notice_campaign(session)
    units = {}
    for name, kind in (("区住建局", UnitKind.department), ("石岭镇", UnitKind.town)):
        unit = Unit(name=name, kind=kind, created_at=NOW)
        session.add(unit)
        session.flush()
        units[name] = unit.id
    _checked(session, campaign, units["区住建局"], THEME, date(2022, 9, 2))  # type: ignore[arg-type]
    late, check = _checked(session, campaign, units["石岭镇"], LATE_THEME, date(2022, 8, 26))  # type: ignore[arg-type]
    session.add(
        Rectification(
            event_id=late.id,
            unit_id=late.unit_id,
            spot_check_id=check.id,
            notice="补充意见反馈",
            due_on=date(2022, 9, 9),
            due_at=NOW - timedelta(days=7),
            issued_at=NOW,
        )  # fmt: skip
    )
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    create_user(session, username="li", role=Role.supervisor, password="Duban-2022!",
                now=NOW, display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("rectify")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _issue(page: Any, server: str) -> str:
    """The supervisor finds the round on the board's visit list link, issues the notice."""
    page.goto(server + "/board")
    settle(page)
    click(page.locator("#rectifications-link"))
    overdue = page.locator("#rectifications + p + .table-wrap").inner_text()
    assert "石岭镇" in overdue and LATE_THEME in overdue and "2022年9月9日" in overdue
    page.goto(server + "/events/1/spot-check")
    settle(page)
    page.get_by_text("下发整改通知（第 1 轮）").click()
    assert page.get_by_label("整改要求").input_value() == NOTES
    click(page.get_by_role("button", name="下发整改通知"))
    body = page.content()
    assert "已下发整改通知" in body and "【待整改】" in body
    assert "2022年9月30日（星期五）" in body
    return str(page.url).split("?")[0]


def test_notice_report_close_round_trip(server: str, browser: Any, tmp_path: Any) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    context.set_default_timeout(10_000)
    page = context.new_page()
    watch = Watch(page, server)
    sign_in(page, server, "li", "Duban-2022!")
    spot_page = _issue(page, server)
    sign_out(page)

    sign_in(page, server, "wang", "Kaifang-2022!")
    card = page.locator(".card", has_text=THEME)
    assert "区政府办整改通知" in card.inner_text() and "2022年9月30日" in card.inner_text()
    assert "【待整改】" in card.inner_text()
    shoot(page, "home-rectification")
    click(card.get_by_role("link", name="报送整改情况"))
    assert page.url == spot_page
    photo = tmp_path / "整改现场.png"
    photo.write_bytes(png())
    page.get_by_label("整改情况").fill("已补充活动现场照片 3 张，并在门户网站公开活动情况。")
    page.get_by_label("整改材料（可选：照片、PDF 或 Office 文档）").set_input_files(str(photo))
    shoot(page, "rectification-report")
    click(page.get_by_role("button", name="报送整改情况"))
    body = page.content()
    assert "已报送整改情况（1 个附件）" in body and "【待审核】" in body and "整改现场.png" in body
    sign_out(page)

    sign_in(page, server, "li", "Duban-2022!")
    page.goto(spot_page)
    settle(page)
    shoot(page, "rectification-review")
    with page.expect_download() as info:  # the report's file, downloaded where it is listed
        page.get_by_role("link", name="整改现场.png").click()
    assert info.value.suggested_filename == "整改现场.png"
    assert Path(info.value.path()).read_bytes() == photo.read_bytes()
    assert page.url == spot_page
    click(page.get_by_role("button", name="审核通过，销号"))
    assert "整改通知已销号" in page.content() and "【已销号】" in page.content()
    page.goto(server + "/events/1/history")
    settle(page)
    history = page.content()
    assert "下发整改通知" in history and "报送了整改情况，附材料 1 个" in history
    assert "审核通过整改情况" in history
    watch.assert_clean()
    context.close()
