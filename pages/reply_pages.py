"""Answers back to the citizen, on staff pages (issue 26): 答复待送达 — the opinions answered
whose answer has not reached the person yet, with the reply letters to print and mark posted;
and, on the opinions page, marking a letter posted, recording a rating taken by phone (回访),
the unit's appeal (申诉) against 不满意 and the supervisor's decision. Every rule is in
workflows/feedback/replies.py and satisfaction.py; a refusal re-renders the page with its error
summary."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from sqlmodel import col, select

from models import Event, FeedbackItem, FeedbackState, Unit
from pages import eventkit as kit
from pages.attempt import attempt
from pages.auth import FormDep, UserDep
from pages.render import PageRoute, redirect, render
from pages.stage_pages import feedback_page
from web.deps import ClockDep, SessionDep
from web.downloads import DOCX, attachment
from workflows.accounts import districts
from workflows.feedback import letters, replies, satisfaction
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import visible

router = APIRouter(route_class=PageRoute, include_in_schema=False)
LIST = 200  # rows on the page; the opinions export lists every one


@router.get("/replies")
def not_told(request: Request, user: UserDep, session: SessionDep) -> HTMLResponse:
    """答复待送达: answered opinions not yet with their person, oldest first (own unit)."""
    stmt = (
        select(FeedbackItem, Event.theme, Unit.name)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .join(Unit, col(Unit.id) == FeedbackItem.unit_id)
        .where(FeedbackItem.state == FeedbackState.answered, col(FeedbackItem.told_at).is_(None))
        .order_by(col(FeedbackItem.answered_at), col(FeedbackItem.id))
        .limit(LIST)
    )
    rows = session.exec(visible(stmt, user.actor, FeedbackItem.unit_id)).all()
    rounds = replies.for_items(session, [i.id for i, _, _ in rows if i.id is not None])
    return render(
        request, "replies.html", rows=rows, rounds=rounds, how_zh=replies.HOW_ZH, limit=LIST
    )


def _item(session: Any, item_id: int) -> FeedbackItem:
    item = session.get(FeedbackItem, item_id)
    if item is None:
        raise replies.not_found(item_id)
    return item


@router.get("/feedback/{item_id}/reply-letter")
def reply_letter(item_id: int, user: UserDep, session: SessionDep, clock: ClockDep) -> Response:
    """The reply letter (A4 .docx) to print and post."""
    body = letters.reply_letter(session, user.actor, item_id, clock.now())
    name = attachment(f"reply-{item_id}.docx", f"答复函-{item_id}.docx")
    return Response(body, media_type=DOCX, headers={"Content-Disposition": name})


def _back(form: Any, event_id: int, item_id: int) -> str:
    """Back to where the form was: the 答复待送达 list or the opinion on its event's page."""
    if str(form.get("back", "")) == "replies":
        return "/replies"
    return f"/events/{event_id}/feedback#item-{item_id}"


def _act(
    request: Request, item_id: int, form: Any, user: Any, session: Any, clock: Any,
    fields: dict[str, str], act: Callable[[], Any], done: str,
) -> Response:  # fmt: skip
    """Run one act on an opinion: back where the form was, or its page with the error."""
    event_id = _item(session, item_id).event_id
    with attempt(session, fields) as tried:
        act()
    if tried.errors:
        ev = kit.view(session, user, event_id)
        return feedback_page(request, session, ev, tried.errors, today=local_date(clock.now()))
    return redirect(_back(form, event_id, item_id), done)


@router.post("/feedback/{item_id}/letter-posted")
def letter_posted(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """Mark the reply letter posted: the answer counts as given today."""
    return _act(
        request, item_id, form, user, session, clock, {},
        lambda: replies.mark_posted(session, user.actor, item_id, clock.now()),
        "已标记答复信已寄出",
    )  # fmt: skip


@router.post("/feedback/{item_id}/rating")
def rating(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """Record a rating the unit took by phone (回访)."""

    def act() -> Any:
        data = satisfaction.rating_from_form(
            str(form.get("rating", "")), str(form.get("comment", ""))
        )
        return satisfaction.rate_by_phone(session, user.actor, item_id, data, clock.now())

    fields = {"rating": f"rating-{item_id}", "validation_error": f"rating-{item_id}"}
    return _act(request, item_id, form, user, session, clock, fields, act, "已记录回访评价")


@router.post("/feedback/{item_id}/appeal")
def appeal(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """The unit contests a 不满意 rating (申诉)."""

    def act() -> Any:
        data = satisfaction.AppealIn(reason=str(form.get("reason", ""))[:2000])
        return satisfaction.appeal(session, user.actor, item_id, data, clock.now())

    fields = {"reason": f"appeal-{item_id}", "validation_error": f"appeal-{item_id}"}
    office = districts.unit_office_words(session, _item(session, item_id).unit_id)
    done = f"申诉已提交，待{office}审核"
    return _act(request, item_id, form, user, session, clock, fields, act, done)


@router.post("/feedback/{item_id}/appeal/decision")
def decide(
    request: Request, item_id: int, form: FormDep, user: UserDep, session: SessionDep,
    clock: ClockDep,
) -> Response:  # fmt: skip
    """A supervisor upholds or rejects the unit's appeal."""

    def act() -> Any:
        data = satisfaction.AppealDecisionIn(
            uphold=str(form.get("uphold", "")) == "yes",
            note=str(form.get("note", ""))[:2000] or None,
        )
        return satisfaction.decide_appeal(session, user.actor, item_id, data, clock.now())

    fields = {"note": f"appeal-note-{item_id}"}
    return _act(request, item_id, form, user, session, clock, fields, act, "已处理申诉")
