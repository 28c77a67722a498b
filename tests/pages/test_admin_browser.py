"""The admin pages in a real browser: Debian's chromium driven by Playwright against a real
server process, on the notice's day (2022-09-16).

三员分立 (issue 29): the system administrator signs in, imports the notice's schedule table
(tests/fixtures, the importer tests' own) through upload → preview → confirm — refused until
both the warnings and the escalations already due are confirmed — and later previews and loads
a calendar year. The security administrator manages an account: creates it (one-time
password), and the new person signs in with it and sets their own password; the security
administrator disables it (its sign-in is refused), enables it and resets its password.
Screenshots at 1280 and 360 px go to docs/screenshots/admin-*.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from sqlmodel import Session, func, select

from models import Event, Role, Unit, UnitKind
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
from tests.schedule.test_schedule_import import NOTICE
from workflows.accounts.service import create_user

ADMIN_PASSWORD = "Guanli-2022!"


def _fill(session: Session) -> None:
    """The notice's campaign with no events yet, 区住建局, a system and a security
    administrator."""
    notice_campaign(session)
    session.add(Unit(name="区住建局", kind=UnitKind.department, created_at=NOW))
    create_user(session, username="zhang", role=Role.system_admin, password=ADMIN_PASSWORD,
                now=NOW, display_name="张系统")  # fmt: skip
    create_user(session, username="sun", role=Role.security_admin, password=ADMIN_PASSWORD,
                now=NOW, display_name="孙安全")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("admin")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base, url


def _events(url: str) -> int:
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            return session.exec(select(func.count()).select_from(Event)).one()
    finally:
        engine.dispose()


def import_notice(page: Any, url: str) -> None:
    """Upload → preview → refused without the confirmations → confirmed: 39 events."""
    click(page.get_by_role("link", name="管理", exact=True))
    click(page.get_by_role("link", name="导入日程表"))
    page.get_by_label("日程表文件（.docx、.xlsx、.csv 或 .txt）").set_input_files(str(NOTICE))
    click(page.get_by_role("button", name="预览"))
    text = page.content()
    assert "预览：共 39 行，39 个活动" in text and "尚未写入任何数据" in text
    assert "老君镇" in text and "不在活动时间" in text
    assert "29 个活动的开展期限已过" in text and "共 42 条通知" in text
    shoot(page, "admin-import-preview")
    click(page.get_by_role("button", name="确认导入"))
    summary = page.locator(".error-summary").inner_text()
    assert "2 处警告" in summary, summary
    assert _events(url) == 0
    page.get_by_label("我已查看以上提醒，仍然导入").check()
    click(page.get_by_role("button", name="确认导入"))
    summary = page.locator(".error-summary").inner_text()
    assert "将立即发出 42 次催办" in summary, summary
    assert _events(url) == 0
    page.get_by_label("我已查看以上提醒，仍然导入").check()
    page.get_by_label(re.compile("我知道导入后将立即发出 42 条催办通知")).check()
    click(page.get_by_role("button", name="确认导入"))
    assert "已导入 39 个活动（新增单位 38 个）" in page.content()
    assert _events(url) == 39


def create_account(page: Any) -> str:
    """新建账号 for a 区住建局 clerk (the security administrator's header leads straight to
    账号管理); the one-time password is shown once."""
    click(page.get_by_role("link", name="账号管理"))
    shoot(page, "admin-accounts")
    click(page.get_by_role("link", name="新建账号"))
    page.get_by_label("用户名").fill("zhou")
    page.get_by_label("姓名").fill("周经办")
    page.get_by_label("角色").select_option("unit_staff")
    click(page.get_by_role("button", name="创建账号"))
    summary = page.locator(".error-summary").inner_text()  # staff need their unit
    assert "单位工作人员账号必须指定所属单位" in summary, summary
    page.get_by_label("所属单位").select_option(label="区住建局")
    click(page.get_by_role("button", name="创建账号"))
    password = page.locator("#one-time-password").inner_text()
    assert len(password) == 16 and "只显示这一次" in page.content()
    shoot(page, "admin-one-time-password")
    return password


def test_admin_imports_the_notice_and_manages_an_account(
    site: tuple[str, str], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Import through the preview (the system administrator); an account created, used,
    disabled, enabled and reset (the security administrator)."""
    base, url = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "zhang", ADMIN_PASSWORD)
        import_notice(page, url)
        # The imported events already past their day head the overdue list (paged by cursor).
        click(page.get_by_role("link", name="督查看板"))
        click(page.get_by_role("link", name="完整逾期清单（分页）"))
        rows = page.locator("tbody tr")
        assert rows.count() == 29 and "老君镇" in rows.first.inner_text()  # 8月19日: most late
        shoot(page, "overdue-list")
        assert page.get_by_role("link", name="账号管理").count() == 0  # not the system admin's
        sign_out(page)
        sign_in(page, base, "sun", ADMIN_PASSWORD)
        password = create_account(page)
        sign_out(page)

        # The new clerk signs in with the one-time password and is sent to set their own.
        sign_in(page, base, "zhou", password)
        assert page.url.endswith("/account/password")
        page.get_by_label("原密码").fill(password)
        page.get_by_label("新密码", exact=True).fill("Zhoujingban-9")
        page.get_by_label("再次输入新密码").fill("Zhoujingban-9")
        shoot(page, "password")
        click(page.get_by_role("button", name="修改密码"))
        assert "密码已修改" in page.content()
        sign_out(page)

        # The security administrator disables the account: its sign-in is refused; enabled;
        # reset.
        sign_in(page, base, "sun", ADMIN_PASSWORD)
        page.goto(base + "/admin/accounts?role=unit_staff")
        settle(page)
        row = page.locator("tr", has_text="zhou")
        click(row.get_by_role("link", name=re.compile("管理")))
        click(page.get_by_role("button", name="停用账号"))
        assert "账号已停用" in page.content() and "已停用" in page.locator("dl").inner_text()
        shoot(page, "admin-account")
        page.goto(base + "/admin/accounts?status=disabled")
        assert "zhou" in page.locator("table").inner_text()
        sign_out(page)
        sign_in(page, base, "zhou", "Zhoujingban-9")
        assert "用户名或密码错误" in page.locator(".error-summary").inner_text()
        sign_in(page, base, "sun", ADMIN_PASSWORD)
        page.goto(base + "/admin/accounts?status=disabled")
        settle(page)
        click(page.locator("tr", has_text="zhou").get_by_role("link", name=re.compile("管理")))
        click(page.get_by_role("button", name="启用账号"))
        assert "账号已启用" in page.content()
        click(page.get_by_role("button", name="重置密码"))
        fresh = page.locator("#one-time-password").inner_text()
        assert len(fresh) == 16 and fresh != password
        sign_out(page)
        sign_in(page, base, "zhou", fresh)  # a reset password is one-time again
        assert page.url.endswith("/account/password")
        sign_out(page)

        # The calendar-year upload: a preview of a year's file (nothing provisional to move).
        sign_in(page, base, "zhang", ADMIN_PASSWORD)
        click(page.get_by_role("link", name="管理", exact=True))
        click(page.get_by_role("link", name="导入工作日安排"))
        shoot(page, "admin-calendar")
        year = tmp_path_factory.mktemp("calendar") / "2027.yaml"
        year.write_text(
            "source: 国务院办公厅关于2027年部分节假日安排的通知（测试用假设安排）\n"
            "years:\n  - year: 2027\n    holidays: ['2027-01-01..2027-01-03']\n"
            "    workdays: []\n",
            encoding="utf-8",
        )
        page.get_by_label(re.compile("工作日安排文件")).set_input_files(str(year))
        click(page.get_by_role("button", name="预览"))
        assert "尚未写入任何数据" in page.content() and "整年 2027" in page.content()
        click(page.get_by_role("button", name="确认导入"))
        assert "已导入" in page.content()
        watch.assert_clean()
        context.close()
