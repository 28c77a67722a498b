"""Answers back to the citizen (issue 26): an opinion's reply rounds, its printed reply letter
and marking it posted, a rating taken by phone, the unit's appeal and its decision; and the
rating from the public tracking page (receipt code and phone, throttled like look-ups)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlmodel import col, select

from models import OpinionReply
from routes.feedback import load_item
from schemas.common import ErrorOut
from schemas.public import ReceiptOut
from schemas.replies import AppealDecisionIn, AppealIn, PublicRatingIn, RatingIn, ReplyOut
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from web.downloads import DOCX, attachment
from web.public import keys, limit_rating
from workflows.feedback import letters, replies, satisfaction
from workflows.public import receipts

router = APIRouter(prefix=API_PREFIX, tags=["feedback"])
public_router = APIRouter(
    prefix=API_PREFIX + "/public",
    tags=["public"],
    responses={429: {"model": ErrorOut, "description": "rate limit: Retry-After says when"}},
)


@router.get("/feedback/{item_id}/replies")
def list_replies(item_id: int, actor: ActorDep, session: SessionDep) -> list[ReplyOut]:
    """The opinion's answer rounds, first to last: how each was told, rated and appealed."""
    load_item(session, actor, item_id)
    rows = session.exec(
        select(OpinionReply)
        .where(OpinionReply.feedback_item_id == item_id)
        .order_by(col(OpinionReply.round))
    ).all()
    return [ReplyOut.model_validate(r) for r in rows]


@router.get("/feedback/{item_id}/reply-letter", response_class=Response)
def reply_letter(item_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep) -> Response:
    """The printed reply letter (A4 .docx) of the current answer, for the unit to post."""
    body = letters.reply_letter(session, actor, item_id, clock.now())
    name = attachment(f"reply-{item_id}.docx", f"答复函-{item_id}.docx")
    return Response(body, media_type=DOCX, headers={"Content-Disposition": name})


@router.post("/feedback/{item_id}/letter-posted")
def letter_posted(item_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep) -> ReplyOut:
    """The reply letter was posted: the answer counts as given today (once; again: 409)."""
    row = replies.mark_posted(session, actor, item_id, clock.now())
    session.commit()
    return ReplyOut.model_validate(row)


@router.post("/feedback/{item_id}/rating")
def rate_by_phone(
    item_id: int, body: RatingIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> ReplyOut:
    """A rating the unit took by phone (回访); 不满意 reopens the opinion with a new due day."""
    row = satisfaction.rate_by_phone(session, actor, item_id, body, clock.now())
    session.commit()
    return ReplyOut.model_validate(row)


@router.post("/feedback/{item_id}/appeal")
def appeal(
    item_id: int, body: AppealIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> ReplyOut:
    """The unit contests a 不满意 rating (申诉); a supervisor decides."""
    row = satisfaction.appeal(session, actor, item_id, body, clock.now())
    session.commit()
    return ReplyOut.model_validate(row)


@router.post("/feedback/{item_id}/appeal/decision")
def decide_appeal(
    item_id: int, body: AppealDecisionIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> ReplyOut:
    """Uphold (the answer stands again) or reject (it stays reopened): supervisors."""
    row = satisfaction.decide_appeal(session, actor, item_id, body, clock.now())
    session.commit()
    return ReplyOut.model_validate(row)


@public_router.post("/receipts/{code}/rating")
def rate_public(
    code: str, body: PublicRatingIn, request: Request, session: SessionDep, clock: ClockDep
) -> ReceiptOut:
    """Rate the answer (满意 / 基本满意 / 不满意): the receipt code and the phone on record, the
    same limits as look-ups; a wrong pair is 404 `receipt_phone_mismatch`, nothing written."""
    limit_rating(request, body.phone)
    data = RatingIn(rating=body.rating, comment=body.comment, public_consent=body.public_consent)
    satisfaction.rate_public(session, code[:40], body.phone, data, keys(request), clock.now())
    session.commit()
    return ReceiptOut(**receipts.track(session, code[:40]).__dict__)
