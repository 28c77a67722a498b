"""The public calendar's short cache (page and JSON): ETag and 304, cleared by a registration
change in the same process, stale for at most OPENDAY_PUBLIC_CACHE_SECONDS otherwise."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlmodel import select

from models import Event
from settings import Settings
from tests.conftest import Walker
from tests.public.test_public import open_event, register
from web.public import CalendarCache


class Ticks:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Rate limits per app (memory), as in tests/public/test_public.py."""
    return Settings(var_dir=tmp_path / "var", database_url="sqlite://", ratelimit_url="memory://")


def _places(walker: Walker, path: str = "/api/v1/public/events") -> int:
    return walker.client.get(path).json()[0]["places_left"]  # type: ignore[no-any-return]


@pytest.mark.parametrize("path", ["/api/v1/public/events", "/public"])
def test_calendar_is_cached_with_an_etag_and_cleared_by_a_registration(
    walker: Walker, path: str
) -> None:
    ticks = Ticks()
    walker.client.app.state.calendar_cache = CalendarCache(5, clock=ticks)  # type: ignore[attr-defined]
    event = open_event(walker, places=3)
    first = walker.client.get(path)
    assert first.status_code == 200 and first.headers["cache-control"] == "public, max-age=5"
    assert "set-cookie" not in first.headers  # nothing per visitor in a shared answer
    etag = first.headers["etag"]
    again = walker.client.get(path, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    # A change behind the cache's back (another process) shows once the entry is stale.
    with walker.world.session() as s:
        row = s.exec(select(Event).where(Event.id == event["id"])).one()
        row.public_places = 7
        s.add(row)
        s.commit()
    assert walker.client.get(path).headers["etag"] == etag
    ticks.now += 5.01
    fresh = walker.client.get(path)
    assert fresh.headers["etag"] != etag
    assert ("剩余 7 个名额" in fresh.text) if path == "/public" else _places(walker) == 7
    # A registration in this process clears it at once: the places left drop now.
    assert register(walker.client, event["id"]).status_code == 201
    after = walker.client.get(path)
    assert ("剩余 6 个名额" in after.text) if path == "/public" else _places(walker) == 6


def test_no_cache_when_seconds_is_zero(walker: Walker, settings: Settings) -> None:
    walker.client.app.state.calendar_cache = CalendarCache(0)  # type: ignore[attr-defined]
    event = open_event(walker, places=3)
    assert _places(walker) == 3
    with walker.world.session() as s:
        row = s.exec(select(Event).where(Event.id == event["id"])).one()
        row.public_places = 4
        s.add(row)
        s.commit()
    assert _places(walker) == 4
    assert Settings(public_cache_seconds=0).public_cache_seconds == 0
    with pytest.raises(ValueError):
        Settings(public_cache_seconds=-1)
