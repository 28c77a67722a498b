"""回访 and satisfaction (issue 26): the person rates an answer that reached them — 满意,
基本满意 or 不满意, with a comment — on the public tracking page (receipt code and the phone on
record) or by phone to the unit, which records it. 不满意 reopens the opinion (重办) with a new
clock of `reopen_workdays` working days (a campaign rule); the unit may appeal (申诉) and a
supervisor decides: upheld, the answer stands again and the rating does not count against the
unit; rejected, the opinion stays reopened. Each step is audited."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from models import (
    AppealState,
    Campaign,
    Event,
    FeedbackItem,
    FeedbackState,
    OpinionReply,
    Rating,
)
from models.codes import normalize
from workflows.campaign.rules import CampaignRules
from workflows.event import invitations
from workflows.feedback import machine, replies
from workflows.kernel import audit, tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import SYSTEM, Actor, require_visible
from workflows.public import registration
from workflows.public.privacy import Keys
from workflows.workdays import deadlines

RATING_ZH = {
    Rating.satisfied: "满意",
    Rating.basically: "基本满意",
    Rating.dissatisfied: "不满意",
}
APPEAL_ZH = {
    AppealState.pending: "申诉待{office}审核",  # appeal_words names the district office
    AppealState.upheld: "申诉成立",
    AppealState.rejected: "申诉不成立",
}


def appeal_words(office: str) -> dict[str, str]:
    """APPEAL_ZH naming the district office that decides (districts.office_words)."""
    return {state: words.format(office=office) for state, words in APPEAL_ZH.items()}


# Who rated: the person on the tracking page, or a clerk who took the rating by phone.
CITIZEN = Actor(id=None, name="市民（查询页面评价）", role="staff", unit_id=None)


class RatingIn(BaseModel):
    """A rating of an answer and an optional comment."""

    model_config = ConfigDict(extra="forbid")
    rating: Literal["satisfied", "basically", "dissatisfied"]
    comment: str | None = Field(default=None, max_length=2000)
    public_consent: bool = False


def rating_from_form(
    rating: str, comment: str | None = None, public_consent: bool = False
) -> RatingIn:
    """A rating typed into a page form: an unknown choice is 422 `rating_invalid` in words a
    person reads (the model's own message would name the field and its English values)."""
    if rating not in RATING_ZH:
        raise DomainError(
            "rating_invalid",
            "请选择评价：满意、基本满意或不满意",
            "choose a rating: satisfied, basically satisfied or dissatisfied",
            status=422,
            details={"field": "rating"},
        )
    return RatingIn(
        rating=rating,  # type: ignore[arg-type]
        comment=(comment or "")[:2000] or None,
        public_consent=public_consent,
    )


class AppealIn(BaseModel):
    """The unit's reason to contest a 不满意 rating."""

    model_config = ConfigDict(extra="forbid")
    reason: str = Field(min_length=1, max_length=2000)


class AppealDecisionIn(BaseModel):
    """A supervisor's decision on an appeal."""

    model_config = ConfigDict(extra="forbid")
    uphold: bool
    note: str | None = Field(default=None, max_length=2000)


_not_found = replies.not_found


def _locked(session: Session, item_id: int) -> FeedbackItem | None:
    return session.exec(
        select(FeedbackItem).where(FeedbackItem.id == item_id).with_for_update()
    ).first()


def _ratable(session: Session, item: FeedbackItem) -> OpinionReply:
    """The current round, if its answer reached the person and is not rated yet (else 409)."""
    reply = replies.latest(session, item.id, lock=True)  # type: ignore[arg-type]
    if reply is None or item.state not in (FeedbackState.answered, FeedbackState.closed):
        raise Conflict(
            "rating_not_open", "该意见尚未答复，暂不能评价", "the opinion has no answer to rate yet"
        )
    if reply.rating is not None:
        raise Conflict(
            "already_rated",
            f"该答复已评价为“{RATING_ZH[Rating(reply.rating)]}”，不能重复评价",
            "this answer is already rated",
        )
    return reply


def rate_public(
    session: Session, code: str, phone: str, data: RatingIn, keys: Keys, now: datetime
) -> OpinionReply:
    """A rating from the tracking page: the receipt code and the phone on record must match
    (one refusal for both, so neither can be guessed alone); the caller throttles first."""
    refused = NotFound(
        "receipt_phone_mismatch",
        "回执码或手机号不正确，请核对后重试",
        "no opinion with this receipt code and phone number",
    )
    normal = normalize(code or "")
    found = (
        session.exec(
            select(FeedbackItem.id, FeedbackItem.event_id).where(
                FeedbackItem.receipt_code == normal
            )
        ).first()
        if normal
        else None
    )
    item = None
    if found is not None and found[0] is not None:
        tenancy.for_citizen(session, found[1])  # a citizen's write: the opinion's district
        item = _locked(session, found[0])
    if item is None or not item.raised_by_invitee_id:
        raise refused
    try:
        typed = registration.clean_phone(phone)
    except DomainError:
        raise refused from None
    on_record = invitations.address_of(
        session, f"{invitations.RECIPIENT_PREFIX}{item.raised_by_invitee_id}", "sms", keys
    )
    if not on_record or _digits(on_record) != typed:
        raise refused
    return rate(session, item, data, via="public", actor=CITIZEN, now=now)


def rate_by_phone(
    session: Session, actor: Actor, item_id: int, data: RatingIn, now: datetime
) -> OpinionReply:
    """A rating the unit took by phone (回访电话), recorded by its clerk."""
    item = replies.locked_for_write(session, actor, item_id)
    return rate(session, item, data, via="phone", actor=actor, now=now)


def rate(
    session: Session, item: FeedbackItem, data: RatingIn, *, via: str, actor: Actor, now: datetime
) -> OpinionReply:
    """Record the rating of the (locked) opinion's current answer; 不满意 reopens it."""
    reply = _ratable(session, item)
    if item.told_at is None:
        raise Conflict(
            "rating_not_open",
            "答复尚未送达，暂不能评价",
            "the answer has not reached the person yet",
        )
    reply.rating, reply.rating_comment = data.rating, (data.comment or "").strip() or None
    reply.rated_at, reply.rated_via = now, via
    reply.rated_by = actor.name[:100] if via == "phone" else None
    reply.public_consent = data.public_consent
    audit.record(
        session, actor, entity="feedback_item", entity_id=item.id, action="reply.rated",
        now=now, after={"round": reply.round, "rating": data.rating, "via": via},
        unit_id=item.unit_id,
    )  # fmt: skip
    if data.rating == Rating.dissatisfied:
        reopen(session, item, now)
    session.flush()
    return reply


def _rules(session: Session, item: FeedbackItem) -> CampaignRules:
    event = session.get(Event, item.event_id)
    campaign = session.get(Campaign, event.campaign_id) if event else None
    return CampaignRules.of(campaign.rules if campaign else {})


def reopen(session: Session, item: FeedbackItem, now: datetime) -> None:
    """不满意 → 重办: in hand again, due `reopen_workdays` working days after today, with its
    reminders and escalations armed again; the answer stays in its reply round."""
    rules = _rules(session, item)
    calendar = deadlines.load_calendar(session)
    due = calendar.add_workdays(local_date(now), rules.reopen_workdays)
    machine.fire(session, item, "reopen", actor=SYSTEM, now=now, system=True)
    item.answer, item.answered_at, item.answered_on, item.answered_by = None, None, None, None
    item.told_at, item.answered_late_workdays = None, None
    item.overdue_since, item.escalation_level = None, 0
    deadlines.arm_feedback_item(session, item, rules, calendar, now, due_on=due.day)
    item.due_provisional = due.provisional


def appeal(
    session: Session, actor: Actor, item_id: int, data: AppealIn, now: datetime
) -> OpinionReply:
    """The unit contests a 不满意 rating (申诉), once per round; a supervisor decides."""
    item = replies.locked_for_write(session, actor, item_id, unit_only=True)
    reply = _rated_round(session, item)
    if reply.appeal_state is not None:
        raise Conflict("appeal_exists", "该评价已申诉过", "this rating was already appealed")
    reply.appeal_state, reply.appeal_reason, reply.appealed_at = (
        AppealState.pending, data.reason.strip(), now,
    )  # fmt: skip
    audit.record(
        session, actor, entity="feedback_item", entity_id=item.id, action="reply.appealed",
        now=now, after={"round": reply.round, "reason": reply.appeal_reason},
        unit_id=item.unit_id,
    )  # fmt: skip
    session.flush()
    return reply


def _rated_round(session: Session, item: FeedbackItem) -> OpinionReply:
    """The latest round rated 不满意 (what an appeal is about), else 409."""
    reply = session.exec(
        select(OpinionReply)
        .where(OpinionReply.feedback_item_id == item.id, OpinionReply.rating == Rating.dissatisfied)
        .order_by(col(OpinionReply.round).desc())
        .limit(1)
        .with_for_update()
    ).first()
    if reply is None:
        raise Conflict(
            "no_dissatisfied_rating", "该意见没有“不满意”评价", "no 不满意 rating to appeal"
        )
    return reply


def decide_appeal(
    session: Session, actor: Actor, item_id: int, data: AppealDecisionIn, now: datetime
) -> OpinionReply:
    """A supervisor upholds (the answer stands again, if not answered anew since) or rejects."""
    actor.require_supervisor()
    unit_of = select(FeedbackItem.unit_id).where(FeedbackItem.id == item_id)
    tenancy.before_lock(session, actor, unit_of)  # a city supervisor: its granted district
    item = _locked(session, item_id)
    if item is None:
        raise _not_found(item_id)
    require_visible(actor, item.unit_id, _not_found(item_id))  # another district's: not found
    actor = tenancy.act_in(session, actor, item.unit_id)
    actor.require_acting_supervisor()
    reply = _rated_round(session, item)
    if reply.appeal_state != AppealState.pending:
        raise Conflict("appeal_not_pending", "没有待审核的申诉", "no pending appeal to decide")
    reply.appeal_state = AppealState.upheld if data.uphold else AppealState.rejected
    reply.appeal_decided_by, reply.appeal_decided_at = actor.name[:100], now
    reply.appeal_note = (data.note or "").strip() or None
    latest = replies.latest(session, item.id)  # type: ignore[arg-type]
    if data.uphold and latest is not None and latest.id == reply.id and item.state != "answered":
        _restore(session, item, reply, now)
    audit.record(
        session, actor, entity="feedback_item", entity_id=item.id, action="reply.appeal_decided",
        now=now, after={"round": reply.round, "appeal": reply.appeal_state,
                        "note": reply.appeal_note},
        unit_id=item.unit_id,
    )  # fmt: skip
    session.flush()
    return reply


def _restore(session: Session, item: FeedbackItem, reply: OpinionReply, now: datetime) -> None:
    machine.fire(session, item, "restore", actor=SYSTEM, now=now, system=True)
    item.answer, item.answered_on, item.answered_at = (
        reply.answer,
        reply.answered_on,
        reply.created_at,
    )
    item.told_at, item.answered_late_workdays = reply.told_at, reply.late_workdays
    item.due_on, item.overdue_since = reply.due_on, None
    item.due_at = deadlines.end_of_local_day(reply.due_on) if reply.due_on else None
    deadlines.cancel(
        session, subject_type="feedback_item", subject_ids=[item.id],  # type: ignore[list-item]
        rule=deadlines.FEEDBACK_ANSWER,
    )  # fmt: skip


def _digits(phone: str) -> str:
    return re.sub(r"[\s-]", "", phone).removeprefix("+86")


def reopened_words(item: FeedbackItem) -> str:
    """What the tracking page says after 不满意."""
    return f"已转回承办单位重新办理，将于{day_zh(item.due_on)}前答复"
