"""The clerk opens and closes public registration on the event's pages (issue 24): the 公开报名
page says truthfully whether the event is on the public calendar, shows the campaign's public
rules, and takes the number of places; receipts link to the address the service serves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from models.codes import grouped
from settings import Settings
from tests.conftest import Walker, local
from tests.pages.test_pages import csrf_of, sign_in
from tests.pages.test_public_staff import _opinions
from workers.runtime import notify_config
from workflows.kernel.clock import FixedClock


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """No OPENDAY_PUBLIC_URL; the service listens on port 9123 (PORT)."""
    return Settings(
        var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://", port=9123
    )


def _places(walker: Walker, eid: int, places: str) -> object:
    page = walker.client.get(f"/events/{eid}/registrations").text
    version = re.search(r'name="version" value="(\d+)"', page).group(1)  # type: ignore[union-attr]
    return walker.client.post(
        f"/events/{eid}/public-places",
        data={"csrf": csrf_of(page), "version": version, "public_places": places},
        follow_redirects=False,
    )


def test_clerk_opens_changes_and_closes_public_places(walker: Walker) -> None:
    """Given an event without public places, the clerk opens 4 from its page: the calendar
    offers it; a bad number is refused in Chinese; 0 closes it again."""
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    task_list = walker.client.get(f"/events/{eid}").text
    assert "公开报名：未开放" in task_list
    page = walker.client.get(f"/events/{eid}/registrations").text
    assert "未开放" in page and "活动出现在" not in page and "活动正显示在" not in page
    assert "须年满 18 周岁" in page and "本次开放日的公开报名规则" in page
    assert "参观老旧小区改造现场" not in walker.client.get("/public").text

    opened = _places(walker, eid, "4")
    assert opened.status_code == 303, opened.text  # type: ignore[attr-defined]
    page = walker.client.get(opened.headers["location"]).text  # type: ignore[attr-defined]
    assert "已开放公开报名，名额 4 个" in page and "活动正显示在" in page
    assert "剩余 1 个名额" not in page and "剩余 4 个名额" in walker.client.get("/public").text

    refused = _places(walker, eid, "一千")
    assert refused.status_code == 422  # type: ignore[attr-defined]
    assert "公开名额：" in refused.text and "public_places" not in refused.text.split("<form")[0]  # type: ignore[attr-defined]
    too_many = _places(walker, eid, "5000")
    assert too_many.status_code == 422 and "公开名额：" in too_many.text  # type: ignore[attr-defined]

    closed = _places(walker, eid, "0")
    assert closed.status_code == 303  # type: ignore[attr-defined]
    page = walker.client.get(closed.headers["location"]).text  # type: ignore[attr-defined]
    assert "已关闭公开报名" in page and "未开放" in page
    assert "参观老旧小区改造现场" not in walker.client.get("/public").text
    history = walker.client.get(
        f"/api/v1/events/{eid}/history", headers=walker.world.headers["housing"]
    ).json()
    assert sum("public_places" in str(h) for h in history) == 2  # each change audited


def test_a_past_event_says_closed_and_offers_no_form(walker: Walker, clock: FixedClock) -> None:
    """After the event's day the page says registration has closed and shows no form."""
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    assert _places(walker, eid, "3").status_code == 303  # type: ignore[attr-defined]
    clock.set(local(2022, 9, 20))
    sign_in(walker.client)  # the session of four days ago has ended
    page = walker.client.get(f"/events/{eid}/registrations").text
    assert "已截止" in page and "活动日期已过" in page and 'id="public-places-form"' not in page


def test_printed_links_use_the_address_the_service_serves(
    walker: Walker, settings: Settings
) -> None:
    """Without OPENDAY_PUBLIC_URL, slips link to the address the page was reached at and the
    digests to http://127.0.0.1:PORT (it said :8000 whatever PORT was)."""
    assert notify_config(settings).board_url == "http://127.0.0.1:9123/board"
    eid, items = _opinions(walker)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{eid}/receipts/{items[0].id}").text
    code = grouped(items[0].receipt_code)
    assert f'data-url="http://testserver/public/track?code={code}"' in page
    settings.public_url = "https://kfr.example.gov.cn/"
    assert notify_config(settings).board_url == "https://kfr.example.gov.cn/board"
    page = walker.client.get(f"/events/{eid}/receipts/{items[0].id}").text
    assert f'data-url="https://kfr.example.gov.cn/public/track?code={code}"' in page
