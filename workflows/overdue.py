"""The overdue list: feedback answers, summaries and events not held, most late first."""

from __future__ import annotations

import heapq
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import OPEN_FEEDBACK_STATES, Event, EventState, FeedbackItem, Unit
from workflows.clock import local_date
from workflows.deadlines import end_of_local_day

SUMMARY_OPEN = (EventState.held, EventState.feedback_collected)
HOLD_OPEN = (EventState.planned, EventState.invited)


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
    sources = []
    total = 0
    if kind in (None, "feedback_answer"):
        stmt = _answers(horizon, unit_id)
        total += _count(session, stmt)
        sources.append(_answer_rows(session, stmt, want, now, today))
    if kind in (None, "summary"):
        stmt = _summaries(horizon, unit_id)
        total += _count(session, stmt)
        sources.append(_summary_rows(session, stmt, want, now, today))
    if kind in (None, "event_hold"):
        stmt = _holds(last_day, unit_id)
        total += _count(session, stmt)
        sources.append(_hold_rows(session, stmt, want, now, today))
    merged = heapq.merge(*sources, key=lambda r: (r["due_at"], r["kind"], r["event_id"]))
    rows = list(merged)[offset : offset + limit]
    return rows, total


def _count(session: Session, stmt: Any) -> int:
    return int(session.exec(select(func.count()).select_from(stmt.subquery())).one())


def _answers(horizon: datetime, unit_id: int | None) -> Any:
    stmt = (
        select(FeedbackItem, Event, Unit.name)
        .join(Event, Event.id == FeedbackItem.event_id)  # type: ignore[arg-type]
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(
            col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES),
            col(FeedbackItem.due_at) <= horizon,
        )
    )
    if unit_id is not None:
        stmt = stmt.where(Event.unit_id == unit_id)
    return stmt


def _summaries(horizon: datetime, unit_id: int | None) -> Any:
    stmt = (
        select(Event, Unit.name)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(col(Event.state).in_(SUMMARY_OPEN), col(Event.summary_due_at) <= horizon)
    )
    if unit_id is not None:
        stmt = stmt.where(Event.unit_id == unit_id)
    return stmt


def _holds(last_day: date, unit_id: int | None) -> Any:
    stmt = (
        select(Event, Unit.name)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(col(Event.state).in_(HOLD_OPEN), col(Event.date_latest) <= last_day)
    )
    if unit_id is not None:
        stmt = stmt.where(Event.unit_id == unit_id)
    return stmt


def _row(kind: str, event: Event, unit_name: str, due_on: date, due_at: datetime, now: datetime,
         today: date, **extra: Any) -> dict[str, Any]:  # fmt: skip
    row = {
        "kind": kind,
        "event_id": event.id,
        "feedback_item_id": None,
        "unit_id": event.unit_id,
        "unit_name": unit_name,
        "theme": event.theme,
        "state": event.state,
        "due_on": due_on,
        "due_at": due_at,
        "overdue": now >= due_at,
        "late_days": (today - due_on).days,
        "late_seconds": int((now - due_at).total_seconds()),
        "provisional": False,
        "escalation_level": event.escalation_level,
        "last_notified_at": event.last_notified_at,
    }
    row.update(extra)
    return row


def _answer_rows(session: Session, stmt: Any, want: int, now: datetime, today: date) -> list:
    rows = session.exec(
        stmt.order_by(col(FeedbackItem.due_at), col(FeedbackItem.id)).limit(want)
    ).all()
    out = []
    for item, event, unit_name in rows:
        out.append(
            _row(
                "feedback_answer",
                event,
                unit_name,
                item.due_on,
                item.due_at,
                now,
                today,
                feedback_item_id=item.id,
                state=item.state,
                provisional=item.due_provisional,
                escalation_level=item.escalation_level,
                last_notified_at=item.last_notified_at,
            )
        )
    return out


def _summary_rows(session: Session, stmt: Any, want: int, now: datetime, today: date) -> list:
    rows = session.exec(stmt.order_by(col(Event.summary_due_at), col(Event.id)).limit(want)).all()
    return [
        _row("summary", e, name, e.summary_due_on, e.summary_due_at, now, today) for e, name in rows
    ]


def _hold_rows(session: Session, stmt: Any, want: int, now: datetime, today: date) -> list:
    rows = session.exec(stmt.order_by(col(Event.date_latest), col(Event.id)).limit(want)).all()
    return [
        _row("event_hold", e, name, e.date_latest, end_of_local_day(e.date_latest), now, today)
        for e, name in rows
    ]
