"""What the browser tests share: a real server process on a seeded database, Debian's chromium
under Playwright, and the small moves every walk makes (sign in, click and settle, screenshots).

Without chromium, playwright or the npm packages a test skips, or fails when
OPENDAY_REQUIRE_SERVICES=1 (`tests.conftest.unavailable`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from models import Campaign
from models.db import make_engine, migrate
from tests.conftest import unavailable
from tests.ports import free_port
from workflows.campaign.rules import CampaignRules

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]  # fmt: skip
ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "docs" / "screenshots"
NOW = datetime.fromisoformat("2022-09-16T10:00:00+08:00")


def require_browser() -> None:
    """Skip (or fail under OPENDAY_REQUIRE_SERVICES=1) without chromium or the npm packages."""
    if not Path(CHROMIUM).exists():
        unavailable("chromium", f"{CHROMIUM} not found (apt-get install chromium fonts-noto-cjk)")
    if not (ROOT / "node_modules" / "htmx.org").exists():
        unavailable("npm packages", "node_modules missing (run make test, which runs npm ci)")


def notice_campaign(session: Session) -> Campaign:
    """The founding notice's campaign (资雁府办发〔2022〕58号, 2022-08-22 to 2022-09-22)."""
    campaign = Campaign(
        doc_number="资雁府办发〔2022〕58号", title="关于开展“政府开放日”活动的通知",
        issuing_office="资阳市雁江区人民政府办公室", starts_on=date(2022, 8, 22),
        ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(), created_at=NOW,
    )  # fmt: skip
    session.add(campaign)
    return campaign


def seed(url: str, fill: Callable[[Session], None]) -> None:
    """Migrate the database at `url` and let `fill` add rows in one committed session."""
    migrate(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        fill(session)
        session.commit()
    engine.dispose()


@contextmanager
def serve(folder: Path, url: str, **env_extra: str) -> Iterator[str]:
    """uvicorn serving api:app on a free port against `url`, on the notice's day (NOW).

    Yields the base URL once /healthz answers; the server's output goes to folder/server.log.
    """
    port = free_port()
    env = {**os.environ, "OPENDAY_DATABASE_URL": url, "OPENDAY_VAR_DIR": str(folder / "var"),
           "OPENDAY_CLOCK_START": NOW.isoformat(), "OPENDAY_LOG_FORMAT": "json",
           "OPENDAY_RATELIMIT_URL": "memory://", "OPENDAY_TOTP_REQUIRED_ROLES": "",
           **env_extra}  # fmt: skip
    env.pop("OPENDAY_BROKER_URL", None)
    env.pop("OPENDAY_REDIS_URL", None)
    log = folder / "server.log"
    with open(log, "wb") as out:
        command = [sys.executable, "-m", "uvicorn", "api:app", "--port", str(port),
                   "--host", "127.0.0.1"]  # fmt: skip
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(150):
            if proc.poll() is not None:
                break
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)  # waiting for a real process to listen, not for app time
        else:
            pytest.fail("server did not start: " + log.read_text(errors="replace")[-2000:])
        if proc.poll() is not None:
            pytest.fail("server exited: " + log.read_text(errors="replace")[-2000:])
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def chromium() -> Iterator[Any]:
    """Debian's chromium under Playwright (no browser download)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright", "the playwright package is not installed")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watch:
    """Collects CSP violations from the console and requests that leave the server."""

    def __init__(self, page: Any, base: str) -> None:
        self.csp: list[str] = []
        self.offsite: list[str] = []
        page.on(
            "console",
            lambda m: self.csp.append(m.text) if "Content Security Policy" in m.text else None,
        )
        page.on("request", lambda r: None if r.url.startswith(base) else self.offsite.append(r.url))

    def assert_clean(self) -> None:
        """No page loaded anything from another host, nor broke the CSP."""
        assert self.offsite == [], self.offsite
        assert self.csp == [], self.csp


def png(width: int = 64, height: int = 48) -> bytes:
    """A small solid PNG, as a phone photo stands in."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (len(data).to_bytes(4, "big") + kind + data
                + zlib.crc32(kind + data).to_bytes(4, "big"))  # fmt: skip

    raw = b"".join(b"\x00" + b"\x2e\x8b\x57" * width for _ in range(height))
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([8, 2, 0, 0, 0])
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw))
            + chunk(b"IEND", b""))  # fmt: skip


def settle(page: Any) -> None:
    """Wait until htmx (hx-boost) has finished the request a click started, and its swap."""
    page.wait_for_load_state()
    # A locator wait, not wait_for_function: the pages' CSP forbids eval (issue 14).
    busy = page.locator(".htmx-request, .htmx-swapping, .htmx-settling")
    busy.first.wait_for(state="detached")


def click(locator: Any) -> None:
    """Click and wait for the boosted navigation to land."""
    locator.click()
    settle(locator.page)


def shoot(page: Any, name: str) -> None:
    """Full-page screenshots at desktop and phone width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 900 if width > 400 else 760})
        page.screenshot(path=str(SHOTS / f"{name}-{width}.png"), full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def sign_in(page: Any, base: str, username: str, password: str) -> None:
    """Sign in by typing and clicking."""
    page.goto(base + "/")
    assert "/login" in page.url
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    click(page.get_by_role("button", name="登录"))
    # Land before the caller navigates: a goto racing the sign-in's redirect would cancel it
    # (seen once in CI under load). Success leaves the form; a refusal shows its summary.
    page.locator('.error-summary, body:not(:has(form[action="/login"]))').first.wait_for()
    settle(page)


def sign_out(page: Any) -> None:
    """The header's 退出 button."""
    click(page.get_by_role("button", name="退出"))
    settle(page)
