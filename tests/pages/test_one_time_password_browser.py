"""A clerk whose password an administrator reset signs in in chromium: every page sends them to
修改密码 with the reason, they change it by typing and clicking, and then the site opens (issue
29). Screenshots of the page at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator

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
    shoot,
    sign_in,
)
from workflows.accounts.service import create_user

ONE_TIME = "Linshi-Mima-2022"
NEW = "Xin-Mima-Zhou-2022"


def _fill(session: Session) -> None:
    notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    create_user(session, username="zhou", role=Role.unit_staff, unit_name="区住建局",
                password=ONE_TIME, now=NOW, one_time=True, display_name="周经办")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("one-time")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base


def test_a_one_time_password_must_be_changed_before_anything_else(site: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch(page, site)
        sign_in(page, site, "zhou", ONE_TIME)
        assert page.url.endswith("/account/password")
        assert "一次性密码" in page.content()
        page.goto(site + "/board")
        assert page.url.endswith("/account/password")
        shoot(page, "password-one-time")
        page.get_by_label("原密码").fill(ONE_TIME)
        page.get_by_label("新密码", exact=True).fill(NEW)
        page.get_by_label("再次输入新密码").fill(NEW)
        click(page.get_by_role("button", name="修改密码"))
        assert "密码已修改" in page.content() and "一次性密码" not in page.content()
        page.goto(site + "/")
        assert not page.url.endswith("/account/password") and "/login" not in page.url
        watch.assert_clean()
