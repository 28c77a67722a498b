"""A clerk signs in through the unified identity service in chromium — the real OpenID
provider of the tests (oidc-provider on loopback) — and signs out of both (single logout); a
person no administrator linked sees why they cannot come in; a security administrator (whose
role must use TOTP) comes back from the provider to the code step, a wrong code is refused, the
right one signs it in, and it signs out of both (issue 29). Screenshots of the sign-in page
with 统一身份认证登录, of the refusal and of the code step (asked, and a wrong code) at 1280
and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pyotp
import pytest
from sqlmodel import Session

from models import IdentityLink, Role, Unit, UnitKind
from tests.accounts.identity.conftest import ACCOUNTS
from tests.accounts.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider
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
)
from workflows.accounts.service import create_user
from workflows.public.privacy import load_keys

TOTP_SECRET = pyotp.random_base32()  # the security administrator's, enrolled when seeded


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalProvider]]:
    """The service and the provider, each knowing the other's address; `alice` is linked to
    the clerk 周经办. The service's clock is the real time (the provider signs with it)."""
    require_browser()
    folder = tmp_path_factory.mktemp("sso")
    people = {**ACCOUNTS, "carol": {"preferred_username": "carol", "name": "Carol"}}
    provider = LocalProvider(Path(folder), "http://placeholder", people)
    url = f"sqlite:///{folder / 'openday.db'}"

    def fill(session: Session) -> None:
        notice_campaign(session)
        session.add(Unit(name="区住建局", kind=UnitKind.department, created_at=NOW))
        session.flush()
        user = create_user(session, username="zhou", role=Role.unit_staff, unit_name="区住建局",
                           now=NOW, display_name="周经办")  # fmt: skip
        session.flush()
        session.add(IdentityLink(provider=provider.issuer, subject="alice", user_id=user.id,
                                 linked_by_name="admin", linked_at=NOW))  # fmt: skip
        # `carol` is the security administrator, TOTP enrolled (the secret under the server's
        # personal-data key: the development key in its var_dir, made here first).
        admin = create_user(session, username="an", role=Role.security_admin, now=NOW,
                            display_name="安管理")  # fmt: skip
        admin.totp_secret_enc = load_keys(None, Path(folder) / "var").encrypt(TOTP_SECRET)
        admin.totp_enabled_at = NOW
        session.flush()
        session.add(IdentityLink(provider=provider.issuer, subject="carol", user_id=admin.id,
                                 linked_by_name="admin", linked_at=NOW))  # fmt: skip

    seed(url, fill)
    env = {
        "OPENDAY_OIDC_ISSUER": provider.issuer,
        "OPENDAY_OIDC_CLIENT_ID": CLIENT_ID,
        "OPENDAY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OPENDAY_CLOCK_START": datetime.now(UTC).isoformat(),
        "OPENDAY_TOTP_REQUIRED_ROLES": "system_admin,security_admin,audit_admin",
    }
    with serve(folder, url, **env) as base:
        provider.app_base = base
        provider.start()
        try:
            yield base, provider
        finally:
            provider.stop()


def _loopback_only(page: object) -> None:
    """Nothing from the internet (the provider's development pages ask for web fonts)."""
    page.route(  # type: ignore[attr-defined]
        "**/*",
        lambda route: (
            route.continue_()
            if route.request.url.startswith("http://127.0.0.1:")
            else route.abort()
        ),
    )


def _at_provider(page: object, login: str) -> None:
    """Type the name at the provider's sign-in page and agree on its consent page."""
    page.fill('input[name="login"]', login)  # type: ignore[attr-defined]
    page.fill('input[name="password"]', "any")  # type: ignore[attr-defined]
    page.click('button[type="submit"]')  # type: ignore[attr-defined]
    page.wait_for_load_state()  # type: ignore[attr-defined]
    if "/interaction/" in page.url:  # type: ignore[attr-defined]
        page.click('button[type="submit"]')  # type: ignore[attr-defined]  # consent: Continue


def test_sign_in_and_out_through_the_provider(site: tuple[str, LocalProvider]) -> None:
    """统一身份认证登录 → the provider → back signed in as the linked clerk; 退出 signs out
    here and at the provider, and lands on this service's sign-in page."""
    base, provider = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _loopback_only(page)
        watch = Watch(page, base)
        page.goto(base + "/login")
        shoot(page, "login-sso")
        page.get_by_role("link", name="统一身份认证登录").click()
        page.wait_for_url(provider.issuer + "/**")
        _at_provider(page, "alice")
        page.wait_for_url(base + "/?**")
        settle(page)
        assert "周经办" in page.content() and "退出" in page.content()
        page.get_by_role("button", name="退出").click()
        page.wait_for_url(provider.issuer + "/session/end**")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(base + "/login")
        page.goto(base + "/")
        assert "/login" in page.url  # signed out here
        page.get_by_role("link", name="统一身份认证登录").click()
        page.wait_for_url(provider.issuer + "/**")
        assert page.locator('input[name="login"]').count() == 1  # and at the provider
        assert watch.csp == []


def test_an_unlinked_person_is_told_why(site: tuple[str, LocalProvider]) -> None:
    """Someone the provider knows but no administrator linked gets the refusal page."""
    base, provider = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _loopback_only(page)
        page.goto(base + "/login")
        page.get_by_role("link", name="统一身份认证登录").click()
        page.wait_for_url(provider.issuer + "/**")
        _at_provider(page, "mallory")
        page.wait_for_url(base + "/login/sso/callback**")
        assert "尚未关联本系统账号" in page.content()
        assert page.locator("#refusal-code").inner_text() == "sso_not_linked"
        shoot(page, "sso-refused")


def test_an_administrator_signs_in_through_the_provider_with_a_code(
    site: tuple[str, LocalProvider],
) -> None:
    """The provider's answer alone opens nothing for a security administrator: it is asked for
    its TOTP code, a wrong code is refused with the reason beside the field, the right one
    (pyotp, the real time: the served clock starts at it) signs it in; 退出 signs it out here
    and at the provider."""
    base, provider = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        _loopback_only(page)
        watch = Watch(page, base)
        page.goto(base + "/login")
        page.get_by_role("link", name="统一身份认证登录").click()
        page.wait_for_url(provider.issuer + "/**")
        _at_provider(page, "carol")
        page.wait_for_url(base + "/login/second-factor**")
        settle(page)
        assert page.locator(".qr-box").count() == 0  # enrolled: asked for the code only
        assert page.get_by_role("button", name="退出").count() == 0  # nothing open yet
        shoot(page, "sso-second-factor")
        code = pyotp.TOTP(TOTP_SECRET).now()
        page.get_by_label("验证码").fill("000000" if code != "000000" else "111111")
        click(page.get_by_role("button", name="验证"))
        assert "/login/second-factor" in page.url
        assert "验证码不正确" in page.locator("main").inner_text()
        assert page.get_by_role("button", name="退出").count() == 0  # still nothing open
        shoot(page, "sso-second-factor-wrong")
        page.get_by_label("验证码").fill(pyotp.TOTP(TOTP_SECRET).now())
        click(page.get_by_role("button", name="验证"))
        assert "/login" not in page.url, page.url
        assert "安管理" in page.content() and "退出" in page.content()
        page.goto(base + "/admin/accounts")
        assert page.url.startswith(base + "/admin/accounts")  # signed in, at its own duty
        page.get_by_role("button", name="退出").click()
        page.wait_for_url(provider.issuer + "/session/end**")
        page.get_by_role("button", name="Yes, sign me out").click()
        page.wait_for_url(base + "/login")
        page.goto(base + "/admin/accounts")
        assert "/login" in page.url  # signed out here
        page.get_by_role("link", name="统一身份认证登录").click()
        page.wait_for_url(provider.issuer + "/**")
        assert page.locator('input[name="login"]').count() == 1  # and at the provider
        assert watch.csp == []
