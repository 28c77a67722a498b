"""The overdue list: feedback answers, summaries and events not held, most late first.

Each source is read in deadline order from a partial index that matches its filter (open
answers, summaries owed, events not held), so a page stops after `offset + limit` rows; only the
columns the list shows are fetched, and counts touch one table each (see BENCHMARKS.md).

The list's order is (deadline, kind, id) — id of the feedback item for answers, of the event
otherwise — so a page asked `after=` the last row's cursor (workflows/kernel/paging.py) reads
`limit` rows from each source past that point, however deep it is (`listing`).
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import OPEN_FEEDBACK_STATES, Event, EventState, FeedbackItem, Unit
from workflows.event import search
from workflows.kernel import paging
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.visibility import UnitScope, unit_clause
from workflows.workdays.deadlines import end_of_local_day, load_calendar

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


KINDS = ("event_hold", "feedback_answer", "summary")  # the tie-break order, as sorted text
CURSOR_TAG = "overdue.v1"


def sort_key(row: dict[str, Any]) -> tuple[datetime, str, int]:
    """A row's place in the list: deadline, kind, then the item's or event's id."""
    return row["due_at"], row["kind"], row["feedback_item_id"] or row["event_id"]


@dataclass
class Listing:
    """One page of the list: rows, the total (None on cursor pages), the next page's cursor."""

    rows: list[dict[str, Any]]
    total: int | None
    next_after: str | None


@dataclass(frozen=True)
class Narrowing:
    """Filters of the list beyond unit and kind: a text in the event's theme or unit's name,
    an escalation level (催办级别). The `after=` cursor stays valid under them: the filters are
    conditions of each source's query, so a filtered list pages as the whole one does."""

    q: str | None = None
    level: int | None = None


def decode_cursor(after: str) -> tuple[datetime, str, int]:
    """The (deadline, kind, id) an `after` cursor of this list names, else BadCursor (422)."""
    due_at, kind, ident = paging.decode(CURSOR_TAG, after, [datetime, str, int])
    if kind not in KINDS or ident < 1:
        raise paging.BadCursor("wrong value type")
    return due_at, kind, ident


def listing(
    session: Session,
    now: datetime,
    window_days: int,
    unit_id: UnitScope,
    kind: str | None,
    limit: int,
    *,
    offset: int = 0,
    after: str | None = None,
    count: bool | None = None,
    narrow: Narrowing | None = None,
) -> Listing:
    """One page of everything due by the end of today + window_days, in (deadline, kind, id)
    order: after the cursor `after`, or past `offset` rows. Counted unless asked by cursor
    (or `count` says otherwise)."""
    cursor = decode_cursor(after) if after is not None else None
    today = local_date(now)
    last_day = today + timedelta(days=window_days)
    horizon = end_of_local_day(last_day)
    want = limit + 1 + (0 if cursor else offset)
    sources: list[list[dict[str, Any]]] = []
    total = 0
    counting = cursor is None if count is None else count
    for source in statements(horizon, last_day, unit_id, want, cursor, narrow):
        if kind not in (None, source.kind):
            continue
        if counting:
            total += int(session.exec(source.count).one())
        sources.append([source.row(r, now, today) for r in session.execute(source.page).all()])
    merged = list(heapq.merge(*sources, key=sort_key))
    start = 0 if cursor else offset
    rows = merged[start : start + limit]
    more = len(merged) > start + limit
    next_after = paging.encode(CURSOR_TAG, sort_key(rows[-1])) if more and rows else None
    return Listing(rows, total if counting else None, next_after)


def page(
    session: Session,
    now: datetime,
    window_days: int,
    unit_id: UnitScope,
    kind: str | None,
    limit: int,
    offset: int,
    narrow: Narrowing | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """One page by offset, and the total (the board and the exports)."""
    found = listing(
        session, now, window_days, unit_id, kind, limit, offset=offset, count=True, narrow=narrow
    )
    return found.rows, int(found.total or 0)


def count_workdays_late(session: Session, rows: list[dict[str, Any]], today: date) -> None:
    """Add each row's working days past its due day (`late_workdays`) beside its calendar days
    (`late_days`): the one count the board, the overdue page and the exports all show."""
    calendar = load_calendar(session)
    for r in rows:
        r["late_workdays"] = calendar.workdays_between(r["due_on"], today).count


@dataclass(frozen=True)
class Source:
    """One kind of deadline: its page query, its count query and how a row reads."""

    kind: str
    page: Any
    count: Any
    row: Callable[[Any, datetime, date], dict[str, Any]]


def _after(cursor: tuple[datetime, str, int] | None, kind: str, due: Any, ident: Any) -> list[Any]:
    """The keyset condition of one source: rows after the cursor in (deadline, kind, id)."""
    if cursor is None:
        return []
    c_due, c_kind, c_id = cursor
    if kind > c_kind:
        return [due >= c_due]
    if kind < c_kind:
        return [due > c_due]
    return [paging.after_condition([paging.Key(due), paging.Key(ident)], (c_due, c_id))]


def _hold_after(cursor: tuple[datetime, str, int] | None) -> list[Any]:
    """As _after for events not held, whose deadline is the end of `date_latest` (local): the
    same conditions written on the date, so the partial index on (date_latest, id) serves."""
    if cursor is None:
        return []
    c_due, c_kind, c_id = cursor
    local = c_due.astimezone(LOCAL_TZ)
    midnight = local.time() == time(0)
    day = local.date()
    latest = col(Event.date_latest)
    if c_kind < "event_hold":  # deadline >= c_due
        return [latest >= (day - timedelta(days=1) if midnight else day)]
    if c_kind > "event_hold" or not midnight:  # deadline > c_due
        return [latest >= day]
    key = [paging.Key(latest), paging.Key(col(Event.id))]
    return [paging.after_condition(key, (day - timedelta(days=1), c_id))]


def statements(
    horizon: datetime,
    last_day: date,
    unit_id: UnitScope,
    want: int,
    cursor: tuple[datetime, str, int] | None = None,
    narrow: Narrowing | None = None,
) -> list[Source]:
    """The three sources' queries, after `cursor` when given (also run bare by bench/overdue.py),
    narrowed by `narrow`'s search and level."""
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
        answers_where.append(unit_clause(FeedbackItem.unit_id, unit_id))
        summary_where.append(unit_clause(Event.unit_id, unit_id))
        hold_where.append(unit_clause(Event.unit_id, unit_id))
    _narrow(narrow, answers_where, summary_where, hold_where)
    answers_page = answers_where + _after(
        cursor, "feedback_answer", col(FeedbackItem.due_at), col(FeedbackItem.id)
    )
    summary_page = summary_where + _after(
        cursor, "summary", col(Event.summary_due_at), col(Event.id)
    )
    hold_page = hold_where + _hold_after(cursor)
    summaries = (
        _events(summary_page, Event.summary_due_on, Event.summary_due_at)
        .order_by(col(Event.summary_due_at), col(Event.id))
        .limit(want)
    )
    holds = (
        _events(hold_page, Event.date_latest)
        .order_by(col(Event.date_latest), col(Event.id))
        .limit(want)
    )
    return [
        Source(
            "feedback_answer",
            _answers(answers_page, unit_id, want),
            _count(FeedbackItem, answers_where),
            _answer_row,
        ),
        Source("summary", summaries, _count(Event, summary_where), _summary_row),
        Source("event_hold", holds, _count(Event, hold_where), _hold_row),
    ]


def _narrow(narrow: Narrowing | None, answers: list[Any], *events: list[Any]) -> None:
    """Add the search and level conditions to the answers' and the events' conditions."""
    if narrow is None:
        return
    text = search.normalize(narrow.q)
    if text is not None:
        answers.append(search.answer_matches(text))
        for where in events:
            where.append(search.event_matches(text))
    if narrow.level is not None:
        answers.append(FeedbackItem.escalation_level == narrow.level)
        for where in events:
            where.append(Event.escalation_level == narrow.level)


def _answers(where: list[Any], unit_id: UnitScope, want: int) -> Any:
    """Open opinions due by the horizon, with their events' columns, soonest first."""
    answers = (
        sa.select(  # type: ignore[call-overload]
            col(FeedbackItem.id).label("item_id"),
            col(FeedbackItem.state).label("item_state"),
            FeedbackItem.due_on,
            FeedbackItem.due_at,
            FeedbackItem.due_provisional,
            col(FeedbackItem.escalation_level).label("item_level"),
            col(FeedbackItem.last_notified_at).label("item_notified"),
            *EVENT_COLUMNS,
        )
        .join(Event, Event.id == FeedbackItem.event_id)
        .join(Unit, Unit.id == Event.unit_id)
        .where(*where)
    )
    if isinstance(unit_id, int):
        # Ordering by the unit index's own columns lets the planner walk it in order.
        answers = answers.order_by(col(FeedbackItem.unit_id))
    return answers.order_by(col(FeedbackItem.due_at), col(FeedbackItem.id)).limit(want)


def _events(where: list[Any], *extra: Any) -> Any:
    """Events (with their unit) matching `where`, with the event columns every row shows."""
    return (
        sa.select(*EVENT_COLUMNS, *extra)  # type: ignore[call-overload]
        .join(Unit, Unit.id == Event.unit_id)
        .where(*where)
    )


def _count(model: Any, where: list[Any]) -> Any:
    """How many rows of `model` match `where` (a source's total)."""
    return select(func.count()).select_from(model).where(*where)


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
