"""Opinions collected at events, and their moves."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated

from fastapi import APIRouter, Body, Depends
from sqlmodel import Session, col, select

from models import Event, FeedbackItem, Timer
from routes.events import role_gate
from schemas.common import Page
from schemas.deadlines import TimerOut
from schemas.feedback import (
    AnswerCorrectionIn,
    FeedbackDetailOut,
    FeedbackIn,
    FeedbackOut,
    FeedbackTransitionIn,
)
from web import loaders, moves
from web.deps import (
    API_PREFIX,
    ActorDep,
    ClockDep,
    ExpectedVersion,
    PagingDep,
    SessionDep,
    fetch_page,
)
from web.loaders import load_event, load_event_for_write
from workflows.feedback import corrections, lamps
from workflows.feedback import machine as flow
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import Actor

router = APIRouter(prefix=API_PREFIX, tags=["feedback"])


def load_item(session: Session, actor: Actor, item_id: int, *, lock: bool = False) -> FeedbackItem:
    """An opinion the caller may see (locked when about to change), or 404."""
    return loaders.load_item(session, actor, item_id, lock=lock)


def _lamp(session: Session, item: FeedbackItem, today: date) -> dict[str, object] | None:
    event = session.get(Event, item.event_id)
    shown = lamps.of_item(lamps.Lamps(session, today), item, event.campaign_id if event else None)
    return lamps.as_dict(shown)


def detail(session: Session, item: FeedbackItem, actor: Actor, now: datetime) -> FeedbackDetailOut:
    """An opinion with its allowed moves, timers and lamp."""
    timers = session.exec(
        select(Timer)
        .where(Timer.subject_type == "feedback_item", Timer.subject_id == item.id)
        .order_by(col(Timer.due_at))
    ).all()
    return FeedbackDetailOut.model_validate(
        {
            **item.model_dump(),
            "allowed_triggers": flow.allowed_triggers(item.state, actor),
            "timers": [TimerOut.model_validate(t) for t in timers],
            "lamp": _lamp(session, item, local_date(now)),
        }
    )


@router.get("/events/{event_id}/feedback")
def list_feedback(
    event_id: int, actor: ActorDep, session: SessionDep, pg: PagingDep, clock: ClockDep
) -> Page[FeedbackOut]:
    """The opinions collected at an event, each open one with its lamp (红黄绿灯)."""
    event = load_event(session, actor, event_id)
    stmt = (
        select(FeedbackItem).where(FeedbackItem.event_id == event_id).order_by(col(FeedbackItem.id))
    )
    rows, total = fetch_page(session, stmt, pg)
    shown = lamps.Lamps(session, local_date(clock.now()))
    return pg.page(
        [
            FeedbackOut.model_validate(
                {
                    **f.model_dump(),
                    "lamp": lamps.as_dict(lamps.of_item(shown, f, event.campaign_id)),
                }
            )
            for f in rows
        ],
        total,
    )


@router.post("/events/{event_id}/feedback", status_code=201)
def add_feedback(
    event_id: int,
    body: FeedbackIn,
    expected_version: ExpectedVersion,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> FeedbackOut:
    """Record an opinion raised at a held event; after the collect_feedback move and until the
    summary is submitted, an opinion added late with its day received (`received_on`) and its
    own answer deadline."""
    event = load_event_for_write(session, actor, event_id)
    item = flow.record(
        session,
        event,
        content=body.content,
        raised_by_invitee_id=body.raised_by_invitee_id,
        received_on=body.received_on,
        expected_version=expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return FeedbackOut.model_validate(item)


@router.get("/feedback/{item_id}")
def get_feedback(
    item_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> FeedbackDetailOut:
    """One opinion: its answer deadline, lamp (红黄绿灯), escalation level and timers."""
    return detail(session, load_item(session, actor, item_id), actor, clock.now())


@router.post("/feedback/{item_id}/transitions", dependencies=[Depends(role_gate(flow.WORKFLOW))])
def feedback_transition(
    item_id: int,
    body: Annotated[FeedbackTransitionIn, Body()],
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> FeedbackDetailOut:
    """Move an opinion: assign (data.assignee), answer (data.answer, data.answered_on: the day
    it was given, default today), close."""
    item = load_item(session, actor, item_id, lock=True)
    entry = flow.fire(
        session,
        item,
        body.trigger,
        actor=actor,
        now=clock.now(),
        expected_version=body.expected_version,
        data=body.data,
    )
    session.commit()
    moves.moved(entry, door="api")
    return detail(session, item, actor, clock.now())


@router.post("/feedback/{item_id}/answer-corrections")
def correct_answer(
    item_id: int,
    body: AnswerCorrectionIn,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
) -> FeedbackDetailOut:
    """Correct an answer's text or the day it was given, with a reason: the unit within the
    campaign's correction_workdays of typing it in, a supervisor any time (403
    answer_correction_window_closed otherwise)."""
    item = load_item(session, actor, item_id, lock=True)
    change = corrections.AnswerCorrection.model_validate(
        body.model_dump(exclude={"expected_version"})
    )
    corrections.correct(
        session,
        item,
        change,
        expected_version=body.expected_version,
        actor=actor,
        now=clock.now(),
    )
    session.commit()
    return detail(session, item, actor, clock.now())
