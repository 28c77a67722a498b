"""Text search of events by theme or unit name: one condition the lists share (全部活动, the
overdue list, the board and the API's lists), so pages and API agree.

What a person types is matched literally: `%`, `_` and the escape character itself are escaped,
so `100%` finds "100%" and not every theme starting with "100"."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select

from models import Event, FeedbackItem, Unit

MAX_LENGTH = 50  # characters of a search; longer input is cut, never refused
ESCAPE = "\\"


def normalize(q: str | None) -> str | None:
    """The search as typed, trimmed and cut to MAX_LENGTH; None when there is nothing to find."""
    text = " ".join((q or "").split())[:MAX_LENGTH]
    return text or None


def contains_pattern(text: str) -> str:
    """A LIKE pattern that finds `text` anywhere, its wildcards taken literally."""
    escaped = text.replace(ESCAPE, ESCAPE * 2).replace("%", ESCAPE + "%").replace("_", ESCAPE + "_")
    return f"%{escaped}%"


def _like(column: Any, text: str) -> Any:
    return col(column).ilike(contains_pattern(text), escape=ESCAPE)


def event_matches(text: str) -> Any:
    """Events whose theme, or whose unit's name, contains `text` (no join needed)."""
    units = select(Unit.id).where(_like(Unit.name, text))
    return sa.or_(_like(Event.theme, text), col(Event.unit_id).in_(units))


def answer_matches(text: str) -> Any:
    """Feedback items whose event matches `text` (theme or unit name)."""
    return col(FeedbackItem.event_id).in_(select(Event.id).where(event_matches(text)))
