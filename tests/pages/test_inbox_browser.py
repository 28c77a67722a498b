"""Done-when of issue 26: right after `make run` made the demo (`openday run`, embedded defaults:
no SMTP, no robot, supervisors without e-mail), the demo supervisor signs in and finds the level-2
escalations (抄送雁江区政府办) in the inbox, with the unread count in the header."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import httpx
from PIL import Image

from tests.browser_support import SHOTS, chromium, click, require_browser, shoot, sign_in
from tests.cli.test_cli_and_demo import OPENDAY
from tests.ports import free_port


def _first_screens() -> None:
    """The inbox screenshots cut to their first screens (39 messages make a long page)."""
    for width, height in ((1280, 1100), (360, 1400)):
        path = SHOTS / f"inbox-{width}.png"
        with Image.open(path) as shot:
            top = shot.crop((0, 0, shot.width, min(shot.height, height)))
        top.save(path, optimize=True)


def _start(tmp_path: Path) -> tuple[subprocess.Popen, str]:  # type: ignore[type-arg]
    """`openday run` as `make run` starts it, on a fresh var dir."""
    port = free_port()
    env = {
        **os.environ,
        "OPENDAY_VAR_DIR": str(tmp_path / "var"),
        "OPENDAY_DATABASE_URL": f"sqlite:///{tmp_path}/var/openday.db",
        "PORT": str(port),
        "OPENDAY_LOG_FORMAT": "json",
    }
    for name in ("OPENDAY_PORT", "OPENDAY_REDIS_URL", "OPENDAY_BROKER_URL", "OPENDAY_SMTP_HOST"):
        env.pop(name, None)
    log = (tmp_path / "run.log").open("wb")
    proc = subprocess.Popen([OPENDAY, "run"], env=env, stdout=log, stderr=subprocess.STDOUT)
    return proc, f"http://127.0.0.1:{port}"


def _wait(check, what: str, log: Path, seconds: float = 90) -> None:  # noqa: ANN001
    """Poll a real process (wall clock: it runs on its own)."""
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, what + "\n" + log.read_text(errors="replace")[-3000:]
        time.sleep(0.3)


def test_the_demo_supervisor_finds_level_two_in_the_inbox_after_make_run(tmp_path: Path) -> None:
    require_browser()
    proc, base = _start(tmp_path)
    log = tmp_path / "run.log"
    try:

        def up() -> bool:
            try:
                return httpx.get(base + "/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        _wait(up, "openday run did not come up", log)
        logins = {
            x["username"]: x
            for x in json.loads((tmp_path / "var" / "demo-credentials.json").read_text())
        }
        sup = logins["demo-supervisor"]
        api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {sup['token']}"})
        _wait(
            lambda: api.get("/api/v1/inbox/unread-count").json()["unread"] >= 39,
            "the supervisor's inbox never held the 39 events' level 2",
            log,
        )
        listed = api.get("/api/v1/inbox", params={"limit": 5}).json()["items"]
        assert all(m["title"].startswith("【第2次催办·抄送雁江区政府办】") for m in listed), [
            m["title"] for m in listed
        ]
        warned = [
            json.loads(line)
            for line in log.read_text(errors="replace").splitlines()
            if "escalation_level_inbox_only" in line
        ]
        assert sorted(w["escalation_level"] for w in warned) == [1, 2]  # one line per level
        with chromium() as browser:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            sign_in(page, base, "demo-supervisor", sup["password"])
            count = page.locator("#inbox-link .count")
            unread = int(count.inner_text())
            assert unread >= 39
            click(page.locator("#inbox-link"))
            assert page.locator("h1").inner_text() == f"站内信（{unread} 条未读）"
            first = page.locator("li.message").first
            assert "第2次催办·抄送雁江区政府办" in first.locator("h2").inner_text()
            assert (
                first.locator("a.button").get_attribute("href", timeout=5000).startswith("/events/")
            )
            shoot(page, "inbox")
            _first_screens()
            click(first.get_by_role("button", name="标为已读"))
            assert int(page.locator("#inbox-link .count").inner_text()) == unread - 1
            assert "已标为已读" in page.locator(".notice").inner_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
