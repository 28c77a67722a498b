"""A clerk signs in through the unified identity service in chromium — the real OpenID
provider of the tests (oidc-provider on loopback) — and signs out of both (single logout); a
person no administrator linked sees why they cannot come in (issue 29). Screenshots of the
sign-in page with 统一身份认证登录 and of the refusal at 1280 and 360 px."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session

from models import IdentityLink, Role, Unit, UnitKind
from tests.accounts.identity.conftest import ACCOUNTS
from tests.accounts.identity.provider import CLIENT_ID, CLIENT_SECRET, LocalProvider
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    notice_campaign,
    require_browser,
    seed,
    serve,
    settle,
    shoot,
)
from workflows.accounts.service import create_user


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, LocalProvider]]:
    """The service and the provider, each knowing the other's address; `alice` is linked to
    the clerk 周经办. The service's clock is the real time (the provider signs with it)."""
    require_browser()
    folder = tmp_path_factory.mktemp("sso")
    provider = LocalProvider(Path(folder), "http://placeholder", ACCOUNTS)
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

    seed(url, fill)
    env = {
        "OPENDAY_OIDC_ISSUER": provider.issuer,
        "OPENDAY_OIDC_CLIENT_ID": CLIENT_ID,
        "OPENDAY_OIDC_CLIENT_SECRET": CLIENT_SECRET,
        "OPENDAY_CLOCK_START": datetime.now(UTC).isoformat(),
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
