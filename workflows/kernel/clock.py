"""Time as a parameter: code asks a clock, tests hand in a fixed one."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

LOCAL_TZ = ZoneInfo("Asia/Shanghai")


class Clock(Protocol):
    """Anything that can tell the current UTC time."""

    def now(self) -> datetime: ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """Current time, timezone-aware UTC."""
        return datetime.now(UTC)


class FixedClock:
    """A clock that only moves when told to (tests, replays)."""

    def __init__(self, at: datetime) -> None:
        if at.tzinfo is None:
            raise ValueError("FixedClock needs an aware datetime")
        self._at = at.astimezone(UTC)

    def now(self) -> datetime:
        """The set time."""
        return self._at

    def set(self, at: datetime) -> None:
        """Jump to another moment."""
        self._at = at.astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        """Move forward by delta."""
        self._at += delta


class OffsetClock:
    """Real time shifted so that it started at a given moment (end-to-end tests, drills)."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("OffsetClock needs an aware datetime")
        self._offset = start.astimezone(UTC) - datetime.now(UTC)

    def now(self) -> datetime:
        """Now, shifted."""
        return datetime.now(UTC) + self._offset


def clock_from_setting(start: str | None) -> Clock:
    """The system clock, or an offset one when OPENDAY_CLOCK_START is set."""
    if not start:
        return SystemClock()
    return OffsetClock(datetime.fromisoformat(start))


def local_date(moment: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware moment."""
    return moment.astimezone(LOCAL_TZ).date()
