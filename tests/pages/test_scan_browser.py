"""Camera scanning at the door in chromium at 360 px (issue 27): where the browser has the
BarcodeDetector API, 用摄像头扫码 opens the camera, a QR code read is checked in, and the camera
opens again on the next page without sending the same code twice (screenshots
check-in-camera-*.png). Chromium on Linux has no
BarcodeDetector, so the test stands one in (it reads the code a QR would carry) over chromium's
fake camera; without it the page offers only the typed code, as before."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, time
from typing import Any

import pytest
from sqlmodel import Session

from models import Event, EventState, Invitee, Role, Unit, UnitKind
from models.codes import grouped
from tests.browser_support import (
    ARGS,
    CHROMIUM,
    NOW,
    Watch,
    click,
    notice_campaign,
    require_browser,
    seed,
    serve,
    settle,
    shoot,
    sign_in,
)
from workflows.accounts.service import create_user

PASSWORD = "Kaifang-2022!"
FAKE_DETECTOR = """
window.BarcodeDetector = class {
  static getSupportedFormats() { return Promise.resolve(["qr_code"]); }
  detect() { return Promise.resolve([{ rawValue: "%s", format: "qr_code" }]); }
};
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An invited event on the server's day (2022-09-16) with three invitees."""
    require_browser()
    folder = tmp_path_factory.mktemp("scan")
    url = f"sqlite:///{folder / 'openday.db'}"
    ids: dict[str, Any] = {}

    def fill(s: Session) -> None:
        campaign = notice_campaign(s)
        unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        s.add(unit)
        s.flush()
        event = Event(theme="参观老旧小区改造现场", date_earliest=date(2022, 9, 16),
                      date_latest=date(2022, 9, 16), start_time=time(9, 30),
                      campaign_id=campaign.id, unit_id=unit.id, state=EventState.invited,
                      created_at=NOW, updated_at=NOW)  # fmt: skip
        s.add(event)
        s.flush()
        people = [Invitee(event_id=event.id, name=f"市民{n}", category="citizen",  # type: ignore[arg-type]
                          created_at=NOW) for n in range(3)]  # fmt: skip
        s.add_all(people)
        create_user(s, username="wang", role=Role.unit_staff, unit_name="区住建局",
                    password=PASSWORD, now=NOW)  # fmt: skip
        s.flush()
        ids.update(event=event.id, code=grouped(people[0].code))

    seed(url, fill)
    with serve(folder, url) as base:
        yield {**ids, "base": base}


def _launch(p: Any) -> Any:
    fake = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    return p.chromium.launch(executable_path=CHROMIUM, args=ARGS + fake)


def test_a_qr_code_read_by_the_camera_is_checked_in_once(site: dict[str, Any]) -> None:
    from playwright.sync_api import sync_playwright

    base, eid = site["base"], site["event"]
    with sync_playwright() as p:
        browser = _launch(p)
        plain = browser.new_page(viewport={"width": 360, "height": 760})
        sign_in(plain, base, "wang", PASSWORD)
        plain.goto(f"{base}/events/{eid}/check-in")
        assert plain.locator("#scan-start").count() == 0  # no BarcodeDetector: typed codes only
        state = plain.context.storage_state()
        context = browser.new_context(viewport={"width": 360, "height": 760}, storage_state=state)
        context.grant_permissions(["camera"], origin=base)
        context.add_init_script(FAKE_DETECTOR % site["code"])
        page = context.new_page()
        watch = Watch(page, base)
        page.goto(f"{base}/events/{eid}/check-in")
        click(page.locator("#scan-start"))
        page.get_by_text("市民0 签到成功").wait_for()
        settle(page)
        assert "签到出席：1 / 3" in page.inner_text("#tally")
        # The camera opens again for the next person; the same code in view is not resent.
        page.get_by_text("请将二维码对准摄像头").wait_for()
        page.wait_for_timeout(600)  # several detector rounds: a resend would show a refusal
        assert "不重复计数" not in page.content()
        assert page.locator("#scan-start").inner_text() == "停止扫码"
        shoot(page, "check-in-camera")
        page.locator("#scan-start").click()
        assert page.locator("video.scan-video").is_hidden()
        watch.assert_clean()
        browser.close()
