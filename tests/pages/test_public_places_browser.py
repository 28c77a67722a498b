"""Public registration opened from the pages, in chromium (issue 24): a clerk clicks from the
event's task list to 公开报名, opens 4 places, and the citizen's calendar offers the event; an
event whose day has passed is not offered and its page says registration has closed; the
tracking form sent empty says what is missing; an admin sees the unit table explained.
Screenshots at 1280 and 360 px go to docs/screenshots/."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from typing import Any

import pytest
from sqlmodel import Session

from models import Event, Role, Unit, UnitKind
from tests.browser_support import (
    NOW,
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

PASSWORD = "Kaifang-2022!"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """区住建局 with an event on 2022-09-20 (no public places yet) and one of 2022-09-01 that
    still has places; a staffer and the system administrator; the server's clock on
    2022-09-16."""
    require_browser()
    folder = tmp_path_factory.mktemp("places")
    url = f"sqlite:///{folder / 'openday.db'}"
    ids: dict[str, Any] = {}

    def fill(s: Session) -> None:
        campaign = notice_campaign(s)
        unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        s.add(unit)
        s.flush()
        common = {"campaign_id": campaign.id, "unit_id": unit.id, "created_at": NOW,
                  "updated_at": NOW}  # fmt: skip
        coming = Event(theme="参观老旧小区改造现场", date_earliest=date(2022, 9, 20),
                       date_latest=date(2022, 9, 20), location="雁江区莲花街道某小区",
                       forms=["site_visit"], seq=14, **common)  # fmt: skip
        past = Event(theme="走进不动产登记中心", date_earliest=date(2022, 9, 1),
                     date_latest=date(2022, 9, 1), public_places=5, seq=12, **common)  # fmt: skip
        s.add_all([coming, past])
        for username, role, unit_name in (("wang", Role.unit_staff, "区住建局"),
                                          ("boss", Role.system_admin, None)):  # fmt: skip
            create_user(s, username=username, role=role, unit_name=unit_name,
                        password=PASSWORD, now=NOW)  # fmt: skip
        s.flush()
        ids.update(coming=coming.id, past=past.id)

    seed(url, fill)
    with serve(folder, url) as base:
        yield {**ids, "base": base}


def test_clerk_opens_places_and_the_calendar_offers_only_coming_events(
    site: dict[str, Any],
) -> None:
    """Click 公开报名 on the task list, type 4, 开放公开报名: the calendar offers the event; the
    past event is not offered, and its own page says registration has closed."""
    base = site["base"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760})
        sign_in(page, base, "wang", PASSWORD)
        page.goto(f"{base}/events/{site['coming']}/invitees")
        meter = page.inner_text("#invitee-list")
        assert "名单还是空的" in meter and "✓" not in meter  # nothing to tick on an empty list
        shoot(page, "invitees-empty")
        page.goto(f"{base}/events/{site['coming']}")
        assert "公开报名：未开放" in page.inner_text("#registrations-link")
        shoot(page, "event-public-closed")
        click(page.locator("#registrations-link"))
        assert "未开放" in page.inner_text("#calendar-status")
        page.get_by_label("公开名额").fill("4")
        click(page.get_by_role("button", name="开放公开报名"))
        assert "已开放公开报名，名额 4 个" in page.content()
        assert "已开放" in page.inner_text("#calendar-status")
        page.locator("#public-rules summary").click()
        shoot(page, "public-places")

        citizen = browser.new_page(viewport={"width": 360, "height": 760})
        citizen.goto(base + "/public")
        text = citizen.inner_text("main")
        assert "参观老旧小区改造现场" in text and "剩余 4 个名额" in text
        assert "走进不动产登记中心" not in text
        citizen.goto(f"{base}/public/events/{site['past']}")
        assert "报名已截止" in citizen.inner_text("#registration-closed")
        assert citizen.locator("form[action$='/register']").count() == 0
        shoot(citizen, "public-event-closed")

        citizen.goto(base + "/public/track")
        citizen.get_by_role("button", name="查询").click()
        citizen.wait_for_load_state()
        assert "请填写回执码" in citizen.inner_text(".error-summary")
        shoot(citizen, "public-track-empty")


def test_admin_sees_units_in_schedule_order_with_the_robot_explained(
    site: dict[str, Any],
) -> None:
    """The system administrator's 管理 page: the unit table's 群机器人 column and what it
    means."""
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, site["base"], "boss", PASSWORD)
        page.goto(site["base"] + "/admin")
        assert "openday unit set" in page.inner_text("#robot-hint")
        shoot(page, "admin-units")
