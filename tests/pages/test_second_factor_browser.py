"""An administrator signs in in chromium (issue 29): password, then enrolment by QR code with
a code computed by pyotp from the secret shown and the server's clock, the recovery codes once;
signs out; signs in again with password and a fresh TOTP code, and lists their own sessions.
Screenshots of the second step and of 账号安全 at 1280 and 360 px."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta

import pyotp
import pytest
from sqlmodel import Session

from models import Role
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
    sign_out,
)
from workflows.accounts.service import create_user

PASSWORD = "Anquan-Guanli-2022"
STARTED: list[float] = []


def _fill(session: Session) -> None:
    notice_campaign(session)
    create_user(session, username="wang", role=Role.security_admin, password=PASSWORD, now=NOW,
                display_name="王管理")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("second-factor")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    STARTED.append(time.time())
    # The default rule (administrators must use a second factor), not the tests' blank one.
    with serve(folder, url, OPENDAY_TOTP_REQUIRED_ROLES="security_admin") as base:
        yield base


def server_now() -> datetime:
    """The server's clock: the notice's day plus the real time since it started (OffsetClock)."""
    return NOW + timedelta(seconds=time.time() - STARTED[0])


def test_an_administrator_enrols_signs_out_and_signs_in_with_a_code(site: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        watch = Watch(page, site)
        sign_in(page, site, "wang", PASSWORD)
        assert "/login/second-factor" in page.url
        assert page.locator(".qr-box svg").count() == 1
        secret = page.locator("#totp-secret").inner_text().replace(" ", "")
        totp = pyotp.TOTP(secret)
        shoot(page, "second-factor-enrol")
        first = totp.timecode(server_now())
        page.get_by_label("验证码").fill(totp.generate_otp(first))
        click(page.get_by_role("button", name="启用并登录"))
        codes = page.locator("#recovery-codes li").all_inner_texts()
        assert len(codes) == 10
        click(page.get_by_role("link", name="我已保存，继续"))
        assert "/login" not in page.url
        sign_out(page)
        sign_in(page, site, "wang", PASSWORD)
        assert "/login/second-factor" in page.url and page.locator(".qr-box").count() == 0
        shoot(page, "second-factor-code")
        # The step after the one used: the same code again would be refused as replayed.
        page.get_by_label("验证码").fill(totp.generate_otp(first + 1))
        click(page.get_by_role("button", name="验证"))
        assert "/login" not in page.url
        assert "上次登录" in page.content()
        page.goto(site + "/account/security")
        assert "已启用" in page.locator("#second-factor-status").inner_text()
        assert page.locator("#sessions tbody tr").count() == 1
        assert "本次登录" in page.locator("#sessions").inner_text()
        shoot(page, "account-security")
        watch.assert_clean()
