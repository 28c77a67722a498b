"""Answers back to the citizen (issue 26): when an opinion is answered, the person who raised it
is told — by SMS through the gateway, by e-mail when they gave an address, else by a printed
reply letter the unit posts and marks posted.

The answer move (workflows/feedback/machine.py `_record_answer`) calls `on_answer` in its own
transaction: it writes the round's `opinion_reply` row and, per channel that reaches the person,
a Notification row (recipient `invitee:<id>`, resolved by the worker at send time; the key is
unique per reply and channel, so nothing is owed twice) with its outbox row. The 15 working days
are met when the answer reaches the person: when the first message of the round is recorded sent
(`on_sent`, from the delivery worker) or the letter is marked posted — not when it was typed. An
answer nobody is identified for is told at once (the tracking page is the only way); a back-dated
answer (补录) states it was given to the person that day, so the day stated counts.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col, func, select

from models import (
    Event,
    FeedbackItem,
    FeedbackState,
    Invitee,
    Notification,
    NotificationState,
    OpinionReply,
    Unit,
)
from workflows.event import invitations
from workflows.feedback import tally
from workflows.inbox import service as inbox
from workflows.kernel import audit, jobs
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, NotFound
from workflows.kernel.visibility import Actor, other_unit, require_visible, scope, within
from workflows.public import notices
from workflows.public.receipts import TOLD_VIA_ZH, track_url
from workflows.workdays import deadlines
from workflows.workdays.deadlines import wake_schedulers

log = structlog.get_logger("openday.replies")

SUBJECT_TYPE = "opinion_reply"
RULE = "reply"
KIND = "answer"
HOW_ZH = TOLD_VIA_ZH


def ways(reply: OpinionReply) -> list[str]:
    """The ways a round's answer goes to the person (sms, email, letter or none)."""
    return [w for w in reply.how.split(",") if w]


def latest(session: Session, item_id: int, *, lock: bool = False) -> OpinionReply | None:
    """The opinion's current answer round (None before its first answer)."""
    stmt = (
        select(OpinionReply)
        .where(OpinionReply.feedback_item_id == item_id)
        .order_by(col(OpinionReply.round).desc())
        .limit(1)
    )
    return session.exec(stmt.with_for_update() if lock else stmt).first()


def late_on(session: Session, item: FeedbackItem, day: date) -> int:
    """Working days after the due day that `day` is (0: on time)."""
    if item.due_on is None or day <= item.due_on:
        return 0
    return deadlines.load_calendar(session).workdays_between(item.due_on, day).count


def told_on(session: Session, item: FeedbackItem) -> date | None:
    """The day the person was told the current answer (None: not yet): the day the answer was
    given when it was told at once (nobody to reach, or typed in after the day it was given),
    else the day the first message went out or the letter was posted, never before the answer."""
    if item.told_at is None or item.answered_on is None:
        return None
    reply = latest(session, item.id) if item.id is not None else None
    if reply is None or reply.told_at is None or reply.told_via in ("none", "given"):
        return item.answered_on
    return max(item.answered_on, local_date(reply.told_at))


def compose(item: FeedbackItem, event: Event, unit_name: str, base_url: str) -> str:
    """The message: the unit, the event, the opinion's start, the answer and the tracking link."""
    opinion = " ".join(item.content.split())
    opinion = opinion if len(opinion) <= 30 else opinion[:30] + "…"
    url = ""
    if item.receipt_code:
        url = f" 查询及评价：{track_url(base_url, item.receipt_code)}"
    answer = " ".join((item.answer or "").split())
    answer = answer if len(answer) <= 300 else answer[:300] + "…（全文见查询页面）"
    return f"您在“{event.theme}”政府开放日提出的意见“{opinion}”，{unit_name}答复如下：{answer}{url}"


def notification_key(reply_id: int, channel: str) -> str:
    """One message per answer round and channel, ever."""
    return f"{SUBJECT_TYPE}:{reply_id}:{KIND}:{channel}"


def on_answer(
    session: Session,
    item: FeedbackItem,
    now: datetime,
    *,
    on: notices.Channels | None = None,
) -> OpinionReply:
    """The answer move's telling: the round's reply row, the messages owed, and whether the
    answer already counts as given (nobody to tell, or a back-dated answer)."""
    assert item.id is not None and item.answer is not None
    rounds = session.exec(
        select(func.max(OpinionReply.round)).where(OpinionReply.feedback_item_id == item.id)
    ).one()
    invitee = session.get(Invitee, item.raised_by_invitee_id) if item.raised_by_invitee_id else None
    how = ["none"]
    if invitee is not None:
        reach = invitations.reach_of(session, [invitee])[invitee.id]  # type: ignore[index]
        how = invitations.how_invited(reach, invitations.channels() if on is None else on)
    # Written past the ORM, so the move's opinion row is not flushed early (its version moves
    # once per move).
    table = OpinionReply.__table__  # type: ignore[attr-defined]
    reply_id = session.execute(
        sa.insert(table).returning(table.c.id),
        [{
            "feedback_item_id": item.id, "unit_id": item.unit_id, "round": (rounds or 0) + 1,
            "answer": item.answer, "answered_on": item.answered_on, "due_on": item.due_on,
            "invitee_id": invitee.id if invitee else None, "how": ",".join(how),
            "public_consent": False, "created_at": now,
        }],
    ).scalar_one()  # fmt: skip
    reply = session.get(OpinionReply, reply_id)
    assert reply is not None
    if "letter" in how:
        owe_letter(session, item, reply.round, now)
    given = item.answered_on or local_date(now)
    if how == ["none"]:
        told(session, item, reply, now, via="none", day=given)
    elif given < local_date(now):
        told(session, item, reply, now, via="given", day=given)
    else:
        item.told_at, item.answered_late_workdays = None, None
    _owe_messages(session, item, reply, now)
    return reply


def _owe_messages(session: Session, item: FeedbackItem, reply: OpinionReply, now: datetime) -> None:
    channels = [w for w in ways(reply) if w in ("sms", "email")]
    if not channels:
        return
    event = session.get(Event, item.event_id)
    unit = session.get(Unit, item.unit_id)
    assert event is not None and reply.id is not None
    body = compose(item, event, unit.name if unit else "", invitations.public_base())
    rows = [
        {
            "key": notification_key(reply.id, channel), "subject_type": SUBJECT_TYPE,
            "subject_id": reply.id, "event_id": item.event_id, "unit_id": item.unit_id,
            "rule": RULE, "kind": KIND, "level": 0, "channel": channel,
            "recipient": f"{invitations.RECIPIENT_PREFIX}{reply.invitee_id}",
            "title": "政府开放日：意见建议答复", "body": body, "state": "pending", "attempts": 0,
            "created_at": now,
        }
        for channel in channels
    ]  # fmt: skip
    table = Notification.__table__  # type: ignore[attr-defined]
    ids = list(session.execute(sa.insert(table).returning(table.c.id), rows).scalars())
    jobs.owe_deliveries(session, ids, now)
    wake_schedulers(session)
    log.info("reply_owed", feedback_item_id=item.id, round=reply.round, channels=channels)


def told(
    session: Session,
    item: FeedbackItem,
    reply: OpinionReply,
    now: datetime,
    *,
    via: str,
    day: date,
) -> None:
    """The answer reached the person on `day`: the clock is met then (lateness counted)."""
    reply.told_at, reply.told_via = now, via
    item.told_at = now
    item.answered_late_workdays = reply.late_workdays = late_on(session, item, day)


def on_sent(session: Session, row: Notification, now: datetime) -> None:
    """A reply message was recorded sent (the delivery worker's transaction): the first one of
    its round tells the person. Background bookkeeping: the opinion's version stays."""
    if row.rule != RULE or row.subject_type != SUBJECT_TYPE:
        return
    reply = session.exec(
        select(OpinionReply).where(OpinionReply.id == row.subject_id).with_for_update()
    ).first()
    if reply is None or reply.told_at is not None:
        return
    reply.told_at, reply.told_via = now, row.channel
    item = session.get(FeedbackItem, reply.feedback_item_id)
    current = latest(session, reply.feedback_item_id)
    if item is None or current is None or current.id != reply.id or item.told_at is not None:
        return
    late = reply.late_workdays = late_on(session, item, local_date(now))
    table = FeedbackItem.__table__  # type: ignore[attr-defined]
    told = session.execute(
        sa.update(table)
        .where(table.c.id == item.id, table.c.told_at.is_(None))
        .values(told_at=now, answered_late_workdays=late)
    )
    if told.rowcount:  # type: ignore[attr-defined]
        tally.updated(session, item, told_at=now, answered_late_workdays=late)
    log.info("reply_told", feedback_item_id=item.id, channel=row.channel)


def owe_letter(session: Session, item: FeedbackItem, round: int, now: datetime) -> None:
    """Tell the unit's staff in their inbox (站内信) that a reply letter waits to be printed and
    posted: nothing else reaches the person, and the answer's clock runs until it is posted.
    Once per opinion and answer round (the inbox key), in the caller's transaction."""
    assert item.id is not None
    opinion = " ".join(item.content.split())
    opinion = opinion if len(opinion) <= 30 else opinion[:30] + "…"
    due = f"，答复期限{item.due_on.isoformat()}" if item.due_on else ""
    inbox.post(
        session, "reply_letter", subject_type="feedback_item", subject_id=item.id,
        event_id=item.event_id, unit_id=item.unit_id,
        title=f"答复函待打印寄送：{opinion}",
        body=f"意见“{opinion}”的提出人无法通过短信或电子邮件收到答复，请打印答复函寄出，"
        f"并在“答复待送达”中标记已寄出（寄出之日计为答复送达{due}）。",
        now=now, round=str(round),
    )  # fmt: skip


def on_failed(session: Session, row: Notification, now: datetime | None = None) -> None:
    """A reply message failed for good: when no other message of its round can still reach the
    person, the unit is owed a printed letter instead."""
    if row.rule != RULE or row.subject_type != SUBJECT_TYPE:
        return
    reply = session.get(OpinionReply, row.subject_id)
    if reply is None or reply.told_at is not None or "letter" in ways(reply):
        return
    others = session.exec(
        select(func.count())
        .select_from(Notification)
        .where(
            Notification.subject_type == SUBJECT_TYPE,
            Notification.subject_id == reply.id,
            col(Notification.id) != row.id,
            col(Notification.state).in_(
                [NotificationState.pending, NotificationState.sending, NotificationState.sent]
            ),
        )
    ).one()
    if not others:
        reply.how = ",".join([*ways(reply), "letter"])
        item = session.get(FeedbackItem, reply.feedback_item_id)
        if item is not None:
            owe_letter(session, item, reply.round, now or row.created_at)
        log.info("reply_letter_owed", feedback_item_id=reply.feedback_item_id)


def not_found(item_id: int) -> NotFound:
    """The refusal of an opinion that does not exist or is another unit's."""
    return NotFound(
        "feedback_not_found", f"意见建议 {item_id} 不存在", f"opinion {item_id} not found"
    )


def locked_for_write(
    session: Session, actor: Actor, item_id: int, *, unit_only: bool = False
) -> FeedbackItem:
    """The opinion locked for a change by its unit's staff (or supervisors, unless
    `unit_only`): another unit's is 404, a read-only account or a supervisor refused 403."""
    actor.require_write()
    item = session.exec(
        select(FeedbackItem).where(FeedbackItem.id == item_id).with_for_update()
    ).first()
    require_visible(actor, item.unit_id if item else None, not_found(item_id))
    assert item is not None
    if unit_only and actor.sees_all_units:
        raise other_unit("只有承办单位可以办理此事项", "only the answering unit may do this")
    return item


def _letter_reply(session: Session, item: FeedbackItem) -> OpinionReply:
    reply = latest(session, item.id, lock=True)  # type: ignore[arg-type]
    if (
        reply is None
        or item.state not in (FeedbackState.answered, FeedbackState.closed)
        or "letter" not in ways(reply)
    ):
        raise Conflict(
            "letter_not_owed",
            "该意见没有待邮寄的答复信",
            "no reply letter is owed for this opinion",
        )
    return reply


def mark_posted(session: Session, actor: Actor, item_id: int, now: datetime) -> OpinionReply:
    """The unit posted the reply letter: the person counts as told today (once; twice: 409)."""
    item = locked_for_write(session, actor, item_id)
    reply = _letter_reply(session, item)
    if reply.letter_posted_at is not None:
        raise Conflict(
            "letter_already_posted",
            f"答复信已于{local_date(reply.letter_posted_at).isoformat()}标记为已邮寄，不能重复标记",
            "the reply letter is already marked posted",
            details={"posted_at": reply.letter_posted_at.isoformat()},
        )
    reply.letter_posted_at, reply.letter_posted_by = now, actor.name[:100]
    if item.told_at is None:
        told(session, item, reply, now, via="letter", day=local_date(now))
        item.updated_at = now
    audit.record(
        session, actor, entity="feedback_item", entity_id=item.id, action="reply.letter_posted",
        now=now, after={"round": reply.round, "posted_at": now,
                        "late_workdays": item.answered_late_workdays},
        unit_id=item.unit_id,
    )  # fmt: skip
    session.flush()
    return reply


def letters_owed(session: Session, actor: Actor, unit_id: int | None = None) -> list[OpinionReply]:
    """Reply letters of the current rounds still to post, oldest first (the actor's units)."""
    stmt = (
        select(OpinionReply)
        .where(
            col(OpinionReply.how).contains("letter"), col(OpinionReply.letter_posted_at).is_(None)
        )
        .order_by(col(OpinionReply.id))
    )
    narrowed = scope(actor, unit_id)  # staff: their own unit; district accounts: as asked
    stmt = within(stmt, OpinionReply.unit_id, narrowed)
    return list(session.exec(stmt).all())


def for_items(session: Session, item_ids: list[int]) -> dict[int, OpinionReply]:
    """The current round of each opinion (for lists and pages), in one query."""
    if not item_ids:
        return {}
    out: dict[int, OpinionReply] = {}
    for r in session.exec(
        select(OpinionReply)
        .where(col(OpinionReply.feedback_item_id).in_(item_ids))
        .order_by(col(OpinionReply.round))
    ):
        out[r.feedback_item_id] = r
    return out


def not_told(item: FeedbackItem) -> bool:
    """Answered, not yet told: the state the board and the lists show."""
    return item.state == FeedbackState.answered and item.told_at is None
