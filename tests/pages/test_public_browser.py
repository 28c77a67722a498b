"""Public pages in a real browser (Debian's chromium under Playwright), at phone width.

A citizen registers at 360 px and gets a code; a staffer confirms through the API; the person
is among the invitees. A tracked opinion shows its answer once a staffer answered it.
Screenshots at 1280 and 360 px go to docs/screenshots/public-*.png. Without chromium the test
skips, or fails when OPENDAY_REQUIRE_SERVICES=1.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import date
from typing import Any

import httpx
import pytest
from sqlmodel import Session

from models import Campaign, Event, EventState, FeedbackItem, Role, Unit, UnitKind
from models.codes import grouped
from models.db import make_engine, migrate
from tests.conftest import unavailable
from tests.pages.test_pages_browser import ARGS, CHROMIUM, NOW, ROOT, SHOTS
from tests.ports import free_port
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules

DIGITS = "零一二三四五六七八九十"
PASSWORD = "Kaifang-2022!"


def _seed(url: str) -> dict[str, Any]:
    """A campaign, 区住建局 with an event open to the public and a held one with an opinion."""
    migrate(url)
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as s:
        campaign = Campaign(
            doc_number="资雁府办发〔2022〕58号", title="关于开展“政府开放日”活动的通知",
            issuing_office="资阳市雁江区人民政府办公室", starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(), created_at=NOW,
        )  # fmt: skip
        unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        s.add_all([campaign, unit])
        s.flush()
        common = {"campaign_id": campaign.id, "unit_id": unit.id, "created_at": NOW,
                  "updated_at": NOW}  # fmt: skip
        open_day = Event(
            theme="参观老旧小区改造现场", date_earliest=date(2022, 9, 20),
            date_latest=date(2022, 9, 20), location="雁江区莲花街道某小区（南门集合）",
            forms=["site_visit", "dialogue"], public_places=5, **common,
        )  # fmt: skip
        held = Event(
            theme="城市管理政民恳谈会", date_earliest=date(2022, 9, 6), state=EventState.held,
            date_latest=date(2022, 9, 6), held_on=date(2022, 9, 6), **common,
        )  # fmt: skip
        s.add_all([open_day, held])
        s.flush()
        item = FeedbackItem(
            event_id=held.id, unit_id=unit.id, content="建议公开老旧小区改造资金明细",  # type: ignore[arg-type]
            collected_on=date(2022, 9, 6), due_on=date(2022, 9, 27), created_at=NOW,
            updated_at=NOW,
        )  # fmt: skip
        s.add(item)
        staff = create_user(s, username="wang", role=Role.unit_staff, unit_name="区住建局",
                            password=PASSWORD, now=NOW)  # fmt: skip
        token = issue_token(s, staff, kind="api", now=NOW)
        s.commit()
        seeded = {"event": open_day.id, "item": item.id, "receipt": item.receipt_code,
                  "token": token, "held": held.id}  # fmt: skip
    engine.dispose()
    return seeded


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """uvicorn on a seeded SQLite file, on the notice's day."""
    if not os.path.exists(CHROMIUM):
        unavailable("chromium", f"{CHROMIUM} not found (apt-get install chromium fonts-noto-cjk)")
    folder = tmp_path_factory.mktemp("public")
    url = f"sqlite:///{folder / 'openday.db'}"
    seeded = _seed(url)
    port = free_port()
    env = {**os.environ, "OPENDAY_DATABASE_URL": url, "OPENDAY_VAR_DIR": str(folder / "var"),
           "OPENDAY_CLOCK_START": NOW.isoformat(), "OPENDAY_LOG_FORMAT": "json",
           "OPENDAY_RATELIMIT_URL": "memory://",
           "OPENDAY_PUBLIC_URL": f"http://127.0.0.1:{port}"}  # fmt: skip
    env.pop("OPENDAY_BROKER_URL", None)
    env.pop("OPENDAY_REDIS_URL", None)
    log = folder / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "api:app", "--port", str(port)],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        yield {**seeded, "base": base, "log": log}
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def _answer(question: str) -> str:
    left, right = question.split("：", 1)[1].split("等于")[0].split("加")
    return str(DIGITS.index(left) + DIGITS.index(right))


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (1280, 360):
        page.set_viewport_size({"width": width, "height": 800})
        page.screenshot(path=str(SHOTS / f"public-{name}-{width}.png"), full_page=True)


def test_citizen_registers_staff_confirms_and_opinion_is_tracked(site: dict[str, Any]) -> None:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright", "the playwright package is not installed")
    base, api = site["base"], {"Authorization": f"Bearer {site['token']}"}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 360, "height": 800})
        page.goto(base + "/public")
        _shoot(page, "calendar")
        page.set_viewport_size({"width": 360, "height": 800})
        page.click("text=查看详情并报名")
        page.fill("#name", "赵六")
        page.fill("#phone", "13812345678")
        page.fill("#district", "雁江区")
        page.check("#consent")
        page.fill("#challenge_answer", _answer(page.inner_text("label[for=challenge_answer]")))
        _shoot(page, "event")
        page.set_viewport_size({"width": 360, "height": 800})
        page.click("button[type=submit]")
        code = page.inner_text("#code").strip()
        assert len(code) == 11 and "138****5678" in page.content()
        _shoot(page, "registered")
        # A staffer signs in and confirms on the event's registrations page (linked from the
        # event's task list): the person joins the invitees.
        eid = site["event"]
        staff = browser.new_page(viewport={"width": 360, "height": 800})
        staff.goto(base + "/login")
        staff.fill("#username", "wang")
        staff.fill("#password", PASSWORD)
        staff.click("button[type=submit]")
        staff.wait_for_url(lambda url: "/login" not in url)
        staff.goto(f"{base}/events/{eid}")
        staff.click("#registrations-link")
        row = staff.locator(".registrations li").first
        assert "138****5678" in row.inner_text() and code in row.inner_text()
        assert "13812345678" not in staff.content()
        _shoot(staff, "registrations")
        staff.set_viewport_size({"width": 360, "height": 800})
        staff.click("text=确认参加")
        staff.wait_for_selector("text=已加入邀请名单")
        assert staff.locator(".reg-state").first.inner_text().startswith("已确认参加")
        staff.click("text=查看邀请名单 ›")
        staff.wait_for_url(f"{base}/events/{eid}/invitees")
        assert "赵六" in staff.inner_text(".people") and "公开邀请" in staff.inner_text(".people")
        people = httpx.get(f"{base}/api/v1/events/{eid}/invitees", headers=api).json()
        items = people["items"] if isinstance(people, dict) else people
        assert [(i["name"], i["invitation"]) for i in items] == [("赵六", "public")]
        # The held event's receipt slips: code and QR of the tracking link, printable.
        staff.goto(f"{base}/events/{site['held']}/receipts")
        slip = staff.locator(".slip").first
        link = slip.get_attribute("data-url")
        assert link == f"{base}/public/track?code={grouped(site['receipt'])}"
        assert slip.locator("svg.qr path").count() == 1
        _shoot(staff, "receipt-slips")
        staff.emulate_media(media="print")  # as printed: no header, two slips a row
        staff.set_viewport_size({"width": 794, "height": 1123})  # A4 at 96 dpi
        assert not staff.locator("header.screen-only").is_visible()
        staff.screenshot(path=str(SHOTS / "public-receipt-slips-print.png"), full_page=True)
        staff.emulate_media(media="screen")
        # The citizen checks: confirmed.
        page.goto(base + "/public/registration")
        page.fill("#code", code)
        page.fill("#phone", "13812345678")
        page.click("button[type=submit]")
        assert page.inner_text("#state") == "已确认参加"
        # Tracking an opinion: pending, then answered.
        page.goto(link)  # what scanning the slip's QR code opens
        assert page.inner_text("#status") == "已受理，待办理"
        item = httpx.get(f"{base}/api/v1/feedback/{site['item']}", headers=api).json()
        answered = httpx.post(
            f"{base}/api/v1/feedback/{site['item']}/transitions", headers=api,
            json={"trigger": "answer", "expected_version": item["version"],
                  "data": {"answer": "已纳入明年改造计划，资金明细将在区政府网站公开。"}},
        )  # fmt: skip
        assert answered.status_code == 200, answered.text
        page.reload()
        assert page.inner_text("#status") == "已答复"
        assert "资金明细将在区政府网站公开" in page.inner_text("#answer")
        _shoot(page, "track")
        browser.close()
    assert "13812345678" not in site["log"].read_text(errors="replace")


def test_staff_decline_then_let_the_person_register_again(site: dict[str, Any]) -> None:
    """A declined person is refused for the event until the unit clicks 允许再次报名."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright", "the playwright package is not installed")
    base, eid = site["base"], site["event"]

    def register() -> httpx.Response:
        challenge = httpx.get(f"{base}/api/v1/public/challenge").json()
        left, right = challenge["question"].split("等于")[0].split("加")
        answer = str(DIGITS.index(left) + DIGITS.index(right))
        body = {"name": "钱七", "phone": "13900000002", "district": "雁江区", "consent": True,
                "challenge_token": challenge["token"], "challenge_answer": answer}  # fmt: skip
        return httpx.post(f"{base}/api/v1/public/events/{eid}/registrations", json=body)

    assert register().status_code == 201
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        staff = browser.new_page(viewport={"width": 360, "height": 800})
        staff.goto(base + "/login")
        staff.fill("#username", "wang")
        staff.fill("#password", PASSWORD)
        staff.click("button[type=submit]")
        staff.wait_for_url(lambda url: "/login" not in url)
        staff.goto(f"{base}/events/{eid}/registrations")
        row = staff.locator(".registrations li", has_text="钱七")
        row.locator("summary").click()
        row.locator("textarea").fill("本次名额已满足活动需要")
        row.get_by_role("button", name="不予确认").click()
        staff.wait_for_selector("text=已告知报名人未获确认及原因")
        assert register().status_code == 409
        row = staff.locator(".registrations li", has_text="钱七")
        assert "原因：本次名额已满足活动需要" in row.inner_text()
        _shoot(staff, "registrations-declined")
        staff.set_viewport_size({"width": 360, "height": 800})
        row.get_by_role("button", name="允许再次报名").click()
        staff.wait_for_selector("text=钱七 可以再次报名本活动")
        assert "已允许再次报名" in staff.locator(".registrations li", has_text="钱七").inner_text()
        browser.close()
    assert register().status_code == 201
