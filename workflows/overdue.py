"""The overdue list: feedback answers, summaries and events not held, most late first.

Each source is read in deadline order from a partial index that matches its filter (open
answers, summaries owed, events not held), so a page stops after `offset + limit` rows; only the
columns the list shows are fetched, and counts touch one table each (see BENCHMARKS.md).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import OPEN_FEEDBACK_STATES, Event, EventState, FeedbackItem, Unit
from workflows.clock import local_date
from workflows.deadlines import end_of_local_day

SUMMARY_OPEN = (EventState.held, EventState.feedback_collected)
HOLD_OPEN = (EventState.planned, EventState.invited)
EVENT_COLUMNS = (
    Event.id,
    Event.unit_id,
    Event.theme,
    Event.state,
    Event.escalation_level,
    Event.last_notified_at,
    Unit.name,
)


def page(
    session: Session,
    now: datetime,
    window_days: int,
    unit_id: int | None,
    kind: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of everything due by the end of today + window_days, sorted by deadline."""
    today = local_date(now)
    last_day = today + timedelta(days=window_days)
    horizon = end_of_local_day(last_day)
    want = limit + offset
    sources: list[list[dict[str, Any]]] = []
    total = 0
    for source in statements(horizon, last_day, unit_id, want):
        if kind not in (None, source.kind):
            continue
        total += int(session.exec(source.count).one())
        sources.append([source.row(r, now, today) for r in session.execute(source.page).all()])
    merged = heapq.merge(*sources, key=lambda r: (r["due_at"], r["kind"], r["event_id"]))
    return list(merged)[offset : offset + limit], total


@dataclass(frozen=True)
class Source:
    """One kind of deadline: its page query, its count query and how a row reads."""

    kind: str
    page: Any
    count: Any
    row: Callable[[Any, datetime, date], dict[str, Any]]


def statements(horizon: datetime, last_day: date, unit_id: int | None, want: int) -> list[Source]:
    """The three sources' queries (also run bare by bench/overdue.py)."""
    answers_where: list[Any] = [
        col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES),
        col(FeedbackItem.due_at) <= horizon,
    ]
    summary_where: list[Any] = [
        col(Event.state).in_(SUMMARY_OPEN),
        col(Event.summary_due_at) <= horizon,
    ]
    hold_where: list[Any] = [col(Event.state).in_(HOLD_OPEN), col(Event.date_latest) <= last_day]
    if unit_id is not None:
        answers_where.append(FeedbackItem.unit_id == unit_id)
        summary_where.append(Event.unit_id == unit_id)
        hold_where.append(Event.unit_id == unit_id)
    answers = (
        sa.select(  # type: ignore[call-overload]
            FeedbackItem.id.label("item_id"),  # type: ignore[union-attr]
            FeedbackItem.state.label("item_state"),  # type: ignore[attr-defined]
            FeedbackItem.due_on,
            FeedbackItem.due_at,
            FeedbackItem.due_provisional,
            FeedbackItem.escalation_level.label("item_level"),  # type: ignore[attr-defined]
            FeedbackItem.last_notified_at.label("item_notified"),  # type: ignore[union-attr]
            *EVENT_COLUMNS,
        )
        .join(Event, Event.id == FeedbackItem.event_id)
        .join(Unit, Unit.id == Event.unit_id)
        .where(*answers_where)
    )
    if unit_id is not None:
        # Ordering by the unit index's own columns lets the planner walk it in order.
        answers = answers.order_by(col(FeedbackItem.unit_id))
    answers = answers.order_by(col(FeedbackItem.due_at), col(FeedbackItem.id)).limit(want)

    def events(where: list[Any], *extra: Any) -> Any:
        return (
            sa.select(*EVENT_COLUMNS, *extra)  # type: ignore[call-overload]
            .join(Unit, Unit.id == Event.unit_id)
            .where(*where)
        )

    def count(model: Any, where: list[Any]) -> Any:
        return select(func.count()).select_from(model).where(*where)

    summaries = (
        events(summary_where, Event.summary_due_on, Event.summary_due_at)
        .order_by(col(Event.summary_due_at), col(Event.id))
        .limit(want)
    )
    holds = (
        events(hold_where, Event.date_latest)
        .order_by(col(Event.date_latest), col(Event.id))
        .limit(want)
    )
    return [
        Source("feedback_answer", answers, count(FeedbackItem, answers_where), _answer_row),
        Source("summary", summaries, count(Event, summary_where), _summary_row),
        Source("event_hold", holds, count(Event, hold_where), _hold_row),
    ]


def _event_row(kind: str, r: Any, due_on: date, due_at: datetime, now: datetime, today: date,
               **extra: Any) -> dict[str, Any]:  # fmt: skip
    row = {
        "kind": kind,
        "event_id": r.id,
        "feedback_item_id": None,
        "unit_id": r.unit_id,
        "unit_name": r.name,
        "theme": r.theme,
        "state": r.state,
        "due_on": due_on,
        "due_at": due_at,
        "overdue": now >= due_at,
        "late_days": (today - due_on).days,
        "late_seconds": int((now - due_at).total_seconds()),
        "provisional": False,
        "escalation_level": r.escalation_level,
        "last_notified_at": r.last_notified_at,
    }
    row.update(extra)
    return row


def _answer_row(r: Any, now: datetime, today: date) -> dict[str, Any]:
    return _event_row(
        "feedback_answer",
        r,
        r.due_on,
        r.due_at,
        now,
        today,
        feedback_item_id=r.item_id,
        state=r.item_state,
        provisional=r.due_provisional,
        escalation_level=r.item_level,
        last_notified_at=r.item_notified,
    )


def _summary_row(r: Any, now: datetime, today: date) -> dict[str, Any]:
    return _event_row("summary", r, r.summary_due_on, r.summary_due_at, now, today)


def _hold_row(r: Any, now: datetime, today: date) -> dict[str, Any]:
    return _event_row("event_hold", r, r.date_latest, end_of_local_day(r.date_latest), now, today)


NOTHING = -1  # a scope no unit has: staff asking about another unit see an empty list


def scope_for(actor: Any, unit_id: int | None) -> int | None:
    """The unit a caller's overdue list covers: staff only their own; None means every unit."""
    if actor.sees_all_units:
        return unit_id
    if unit_id is not None and unit_id != actor.unit_id:
        return NOTHING
    return actor.unit_id  # type: ignore[no-any-return]
