"""Corrections of an answer (更正答复, issue 24): its text or the day it was given, with a reason.

The unit may correct an answer within the campaign's `correction_workdays` working days of the
day it was typed in; later only a supervisor may (their correction is the district office's
approval), the pattern of workflows/event/corrections.py for a hold's attendance. The day given
is checked as on answering (not before the opinion was received, not after today) and the
lateness is counted again from it, so the report and the assessment follow the corrected day.

Each correction bumps the opinion's version and leaves one audit line `feedback.correct_answer`
(who, when, why, before → after), which the event's history tells as a Chinese sentence.

Past the unit's days a clerk sends the change as a correction request of kind "answer"
(workflows/oversight/correction_requests.py); a supervisor's approval calls `apply` with the
supervisor as actor and the request's id and asker as `extra`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session

from models import Campaign, Event, FeedbackItem, FeedbackState, TransitionLog
from workflows.accounts import districts
from workflows.event.machine import campaign_rules
from workflows.feedback import replies
from workflows.feedback.machine import answer_audit, check_answered_on
from workflows.kernel import audit
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError, Forbidden, stale_version
from workflows.kernel.visibility import Actor
from workflows.workdays.deadlines import load_calendar

ANSWERED = (FeedbackState.answered, FeedbackState.closed)
TRIGGER = "feedback.correct_answer"
KIND = "answer"  # the correction-request kind this module applies


class AnswerCorrection(BaseModel):
    """What changes (either or both) and why."""

    model_config = ConfigDict(extra="forbid")
    answer: str | None = Field(default=None, min_length=1, max_length=10000)
    answered_on: date | None = None
    reason: str = Field(min_length=1, max_length=2000)


@dataclass(frozen=True)
class Window:
    """Who may correct an answer now, and until when the unit may."""

    open: bool  # the opinion has an answer to correct
    unit_until: date | None  # the last day the unit may correct it
    unit_may: bool

    def allows(self, actor: Actor) -> bool:
        """A supervisor may always correct an answer; the unit within its working days."""
        return self.open and (actor.is_supervisor or self.unit_may)


def window(session: Session, item: FeedbackItem, today: date) -> Window:
    """The correction window of an answer, counted from the day it was typed in."""
    if item.state not in ANSWERED or item.answered_at is None:
        return Window(False, None, False)
    start = local_date(item.answered_at)
    event = session.get(Event, item.event_id)
    campaign = session.get(Campaign, event.campaign_id) if event else None
    days = campaign_rules(campaign).correction_workdays if campaign else 0
    until = load_calendar(session).add_workdays(start, days).day if days else start
    return Window(True, until, today <= until)


def windows(session: Session, items: Iterable[FeedbackItem], today: date) -> dict[int, Window]:
    """The window of each answered opinion (for the pages)."""
    return {i.id: window(session, i, today) for i in items if i.id is not None}


def _may_correct(session: Session, item: FeedbackItem, actor: Actor, today: date) -> None:
    found = window(session, item, today)
    if not found.open:
        raise Conflict(
            "answer_not_recorded_yet",
            "这条意见尚未答复，无需更正",
            "the opinion has no answer to correct",
        )
    if not found.allows(actor):
        until = day_zh(found.unit_until)
        office = districts.unit_office_for(session, actor, item.unit_id)
        raise Forbidden(
            "answer_correction_window_closed",
            f"本单位可更正答复的期限已于{until}结束，请提交更正申请，由{office}审批",
            f"the unit could correct the answer until {found.unit_until}; send a correction "
            "request (kind answer) for the district office to approve",
            details={"unit_until": found.unit_until.isoformat() if found.unit_until else None},
        )


def correct(
    session: Session,
    item: FeedbackItem,
    change: AnswerCorrection,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> TransitionLog:
    """Correct a (locked) opinion's answer: the unit within its days, a supervisor any time.
    The role comes first (a viewer is told 403, not that the version moved)."""
    actor.require_write()
    if item.version != expected_version:
        stale = stale_version("意见", "feedback item", item.version, expected_version)
        raise Conflict(stale.code, stale.message_zh, stale.message_en, details=stale.details)
    _may_correct(session, item, actor, local_date(now))
    return apply(session, item, change, actor=actor, now=now)


def apply(
    session: Session,
    item: FeedbackItem,
    change: AnswerCorrection,
    *,
    actor: Actor,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> TransitionLog:
    """Apply a correction (already allowed) and write its audit line; the caller commits.
    `extra`: what the audit line also says (an approved request: its id, who asked, when)."""
    reason = _reason(change)
    before = _answer_of(item)
    today = local_date(now)
    if change.answered_on is not None:
        check_answered_on(session, item, change.answered_on, today)
        item.answered_on = change.answered_on
    if change.answer is not None and change.answer.strip():
        item.answer = change.answer.strip()
    after = _answer_of(item)
    if after == before:
        raise DomainError(
            "correction_no_change",
            "答复内容和答复日期都没有变化，无需更正",
            "neither the answer nor its day changed",
            status=422,
        )
    assert item.answered_on is not None
    # The clock is met when the person is told (issue 26): a corrected day counts again from the
    # day they were told, which is the corrected day only where the answer was told at once.
    told = replies.told_on(session, item)
    item.answered_late_workdays = None if told is None else replies.late_on(session, item, told)
    item.updated_at = now
    flag_modified(item, "updated_at")
    session.flush()  # bumps the version
    data: dict[str, Any] = {
        "before": before,
        "after": after,
        "late_workdays": item.answered_late_workdays,
    }
    if after["answered_on"] != before["answered_on"]:
        data.update(answer_audit(item, today, now, actor))
    data.update(extra or {})
    entry = TransitionLog(
        event_id=item.event_id,
        feedback_item_id=item.id,
        trigger=TRIGGER,
        from_state=item.state,
        to_state=item.state,
        version=item.version,
        actor_id=actor.id,
        actor_name=actor.name,
        at=now,
        reason=reason,
        data=data,
    )
    return audit.append(session, entry)


def _reason(change: AnswerCorrection) -> str:
    reason = change.reason.strip()
    if not reason:
        raise DomainError(
            "correction_reason_missing",
            "请填写更正理由",
            "give the reason for the correction",
            status=422,
            details={"field": "reason"},
        )
    return reason


def _answer_of(item: FeedbackItem) -> dict[str, Any]:
    return {
        "answer": item.answer,
        "answered_on": item.answered_on.isoformat() if item.answered_on else None,
    }
