"""我的活动: a unit's events, most urgent first, each with what is due next and one button."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    EventState,
    FeedbackItem,
    Rectification,
    RectificationState,
    Unit,
)
from pages.auth import UserDep
from pages.progress import STAGE_LABELS, Due, next_due
from pages.render import PageRoute, redirect, render
from web.deps import ClockDep, SessionDep
from workflows.event import cancellation, history, search
from workflows.kernel import paging
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import in_districts, visible
from workflows.workdays.deadlines import load_calendar

router = APIRouter(route_class=PageRoute, include_in_schema=False)
PAGE = 50  # cards per page; further pages by keyset cursor (after=)


@dataclass(frozen=True)
class Row:
    """One event card on the home page."""

    event: Event
    unit_name: str
    stage: str
    due: Due | None
    reminders: int
    returned: history.Returned | None = None
    rectify: Rectification | None = None  # an open rectification notice (待整改)
    cancel_asked: bool = False  # 取消申请待审批

    @property
    def sort_key(self) -> tuple[Any, ...]:
        """Overdue first (most late first), then the nearest deadline, then nothing owed."""
        if self.due is None or self.due.due_on is None:
            return (2, date.max, self.event.id)
        return (0 if self.due.overdue else 1, self.due.due_on, self.event.id)


def _answers_due(session: Session, event_ids: list[int]) -> dict[int, tuple[date | None, int]]:
    """Per event: the earliest open answer's due day and the highest reminder level sent."""
    if not event_ids:
        return {}
    rows = session.exec(
        select(
            FeedbackItem.event_id,
            func.min(FeedbackItem.due_on),
            func.max(FeedbackItem.escalation_level),
        )
        .where(col(FeedbackItem.event_id).in_(event_ids))
        .where(col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES))
        .group_by(col(FeedbackItem.event_id))
    ).all()
    return {r[0]: (r[1], r[2] or 0) for r in rows}


def _open_rectifications(session: Session, event_ids: list[int]) -> dict[int, Rectification]:
    """Per event: its open rectification notice due first (waiting for the unit's report)."""
    if not event_ids:
        return {}
    rows = session.exec(
        select(Rectification)
        .where(col(Rectification.event_id).in_(event_ids))
        .where(Rectification.state == RectificationState.issued)
        .order_by(col(Rectification.due_on).desc())
    ).all()
    return {r.event_id: r for r in rows}  # the earliest due wins (last written)


def event_rows(
    session: Session,
    user: Any,
    today: date,
    campaign_id: int | None,
    state: str | None,
    after: str | None = None,
    q: str | None = None,
) -> tuple[list[Row], str | None]:
    """One page of the caller's events (their unit's, or all for supervisors) in date order,
    most urgent first within it, and the next page's cursor; `q` narrows it to events whose
    theme or unit name contains it."""
    stmt = select(Event, col(Unit.name)).join(Unit, col(Unit.id) == Event.unit_id)
    stmt = visible(stmt, user.actor, Event.unit_id)
    text = search.normalize(q)
    if text is not None:
        stmt = stmt.where(search.event_matches(text))
    if campaign_id:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    if state:
        stmt = stmt.where(Event.state == state)
    page = paging.keyset_page(
        lambda q: session.execute(q).all(),
        stmt.order_by(col(Event.date_latest), col(Event.id)),
        PAGE,
        after,
        name="home",
    )
    found = page.rows
    calendar = load_calendar(session)
    answers = _answers_due(session, [e.id for e, _ in found if e.id is not None])
    returned = history.returned(session, [e for e, _ in found])
    rectify = _open_rectifications(session, [e.id for e, _ in found if e.id is not None])
    asked = cancellation.pending_of(session, [e.id for e, _ in found if e.id is not None])
    rows = []
    for event, unit_name in found:
        answer_due, answer_level = answers.get(event.id or 0, (None, 0))
        rect = rectify.get(event.id or 0)
        stage = STAGE_LABELS[EventState(event.state)]
        stage = "退回整改" if event.id in returned else ("待整改" if rect else stage)
        rows.append(
            Row(
                event=event,
                unit_name=unit_name,
                stage=stage,
                due=next_due(event, answer_due, today, calendar, rect.due_on if rect else None),
                reminders=max(
                    event.escalation_level, answer_level, rect.escalation_level if rect else 0
                ),
                returned=returned.get(event.id or 0),
                rectify=rect,
                cancel_asked=event.id in asked,
            )
        )
    return sorted(rows, key=lambda r: r.sort_key), page.next_after


def _int(value: str | None) -> int | None:
    return int(value) if value and value.isdigit() else None


@router.get("/")
def home(request: Request, user: UserDep, session: SessionDep, clock: ClockDep) -> Response:
    """Staff land on their events; supervisors on the board."""
    if user.is_supervisor and not request.query_params.get("all"):
        return redirect("/board", request.query_params.get("done", "")[:200])  # the note goes on
    return events_page(request, user, session, clock)


def events_page(request: Request, user: Any, session: Session, clock: Any) -> HTMLResponse:
    """我的活动 with its filters."""
    campaign_id = _int(request.query_params.get("campaign"))
    state = request.query_params.get("stage") or None
    if state not in STAGE_LABELS:
        state = None
    today = local_date(clock.now())
    after = request.query_params.get("after") or None
    if after is not None and len(after) > 200:
        after = None
    q = search.normalize(request.query_params.get("q"))
    rows, next_after = event_rows(session, user, today, campaign_id, state, after, q)
    kept = {"all": "1" if user.is_supervisor else "", "campaign": campaign_id or "", "stage": state}
    mine = in_districts(select(Campaign), user.actor, Campaign.district_id)
    campaigns = session.exec(mine.order_by(col(Campaign.id).desc())).all()
    return render(
        request,
        "home.html",
        rows=rows,
        campaigns=campaigns,
        stages=STAGE_LABELS,
        campaign_id=campaign_id,
        state=state,
        q=q or "",
        query=urlencode({k: v for k, v in {**kept, "q": q}.items() if v}),
        today=today,
        after=after,
        next_after=next_after,
    )
