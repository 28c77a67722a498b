"""Public registration and the calendar follow the event's day (issue 24): an event whose day
has passed (in Asia/Shanghai, by the injected clock) is not offered, and registering for it is
refused with a clear message on the API and the page."""

from __future__ import annotations

from pathlib import Path

import pytest

from settings import Settings
from tests.conftest import Walker, error_of, local
from tests.public.test_public import _numbers, form, open_event
from workflows.kernel.clock import FixedClock


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Rate limits per app (memory), so tests never share them."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


def test_calendar_offers_the_event_until_its_day_ends_in_shanghai(
    walker: Walker, clock: FixedClock
) -> None:
    """Given an event on 2022-09-16, the calendar offers it until 23:59 that day in Shanghai
    and drops it at 00:30 on the 17th (still the 16th in UTC), on the API and the page."""
    event = open_event(walker, places=3)
    clock.set(local(2022, 9, 16, 23, 30))
    assert [r["id"] for r in walker.client.get("/api/v1/public/events").json()] == [event["id"]]
    assert "参观老旧小区改造现场" in walker.client.get("/public").text
    clock.set(local(2022, 9, 17, 0, 30))
    assert walker.client.get("/api/v1/public/events").json() == []
    page = walker.client.get("/public").text
    assert "参观老旧小区改造现场" not in page and "目前没有开放报名的活动" in page


def test_registering_for_a_past_event_is_refused_on_the_api(
    walker: Walker, clock: FixedClock
) -> None:
    """Registering after the event's day answers 409 registration_closed in Chinese."""
    event = open_event(walker, places=3)
    clock.set(local(2026, 12, 6))
    response = walker.client.post(
        f"/api/v1/public/events/{event['id']}/registrations", json=form(walker.client)
    )
    assert response.status_code == 409, response.text
    error = error_of(response)
    assert error["code"] == "registration_closed"
    assert error["message"] == "该活动的日期已过，报名已截止"


def test_the_page_of_a_past_event_says_registration_closed_and_refuses_a_post(
    walker: Walker, clock: FixedClock
) -> None:
    """The event page shows no form once the day has passed; a form sent from a page opened
    the day before is refused with the same sentence."""
    event = open_event(walker, places=3)
    client = walker.client
    clock.set(local(2022, 9, 16, 23, 50))
    before = client.get(f"/public/events/{event['id']}").text
    csrf = before.split('name="csrf" value="')[1].split('"')[0]
    token = before.split('name="challenge_token" value="')[1].split('"')[0]
    a, b = _numbers(before.split("验证题：")[1].split("<")[0])
    clock.set(local(2022, 9, 17, 0, 5))
    page = client.get(f"/public/events/{event['id']}")
    assert page.status_code == 200
    assert 'id="registration-closed"' in page.text and "/register" not in page.text
    body = {"csrf": csrf, "challenge_token": token, "name": "王五", "phone": "13812345678",
            "district": "雁江区", "consent": "1", "challenge_answer": str(a + b)}  # fmt: skip
    refused = client.post(f"/public/events/{event['id']}/register", data=body)
    assert refused.status_code == 409
    assert "该活动的日期已过，报名已截止" in refused.text


def test_the_public_json_of_a_past_event_says_registration_closed(
    walker: Walker, clock: FixedClock
) -> None:
    """GET /public/events/{id} on the event's day offers its places; the next day (Shanghai)
    it says registration is closed and leaves no places, instead of presenting it as open."""
    event = open_event(walker, places=3)
    url = f"/api/v1/public/events/{event['id']}"
    clock.set(local(2022, 9, 16, 23, 30))
    on_the_day = walker.client.get(url).json()
    assert on_the_day["registration_open"] is True and on_the_day["places_left"] == 3
    assert on_the_day["registration_status_zh"] == "可报名"
    clock.set(local(2022, 9, 17, 0, 30))
    after = walker.client.get(url)
    assert after.status_code == 200
    body = after.json()
    assert body["registration_open"] is False and body["places_left"] == 0
    assert body["registration_status_zh"] == "报名已截止（活动日期已过）"
