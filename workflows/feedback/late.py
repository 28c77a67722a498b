"""Opinions added after collection (issue 25): the notice has opinions 活动过程中收集，由本单位统一
整理, so one that reaches the unit after the collect_feedback move is still recorded, until the
summary is submitted.

Such an opinion carries the day it was received (not before the first day held, not after
today), gets its own answer deadline counted from that day (the same working days, reminder
and escalation ladder as the others, as timer rows), and counts in the summary, the report, the
exports and the assessment like any other. The event's edit line says it was added late.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import Session

from models import Campaign, Event, EventState, FeedbackItem
from workflows.accounts import districts
from workflows.event.machine import STATE_LABELS_ZH, campaign_rules
from workflows.event.service import record_edit, require_version
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines

# After these the summary is in: an opinion can no longer be added to it.
SUMMARY_IN = (EventState.summary_submitted, EventState.spot_checked)


def refuse_unless_open(session: Session, event: Event, actor: Actor) -> None:
    """Opinions are added while the event is held or, late, until the summary is submitted."""
    if event.state in SUMMARY_IN:
        office = districts.unit_office_for(session, actor, event.unit_id)
        raise Conflict(
            "feedback_after_summary",
            f"总结已报送，不能再补充登记意见建议；如有新的意见，请联系{office}",
            "the summary has been submitted: opinions can no longer be added",
        )
    if event.state not in (EventState.held, EventState.feedback_collected):
        raise Conflict(
            "feedback_not_open",
            f"活动状态为“{STATE_LABELS_ZH[event.state]}”，只有已开展、尚未报送总结的活动可以登记意见",
            "opinions are recorded once the event is held and until the summary is submitted",
        )


def check_received_on(event: Event, received_on: date, today: date) -> None:
    """The day a late opinion was received: from the first day held to today (422, the field)."""
    first = event.held_on
    if first is not None and received_on < first:
        raise DomainError(
            "received_on_before_held",
            f"收到意见的日期（{day_zh(received_on)}）不能早于活动开展日期（{day_zh(first)}）",
            f"received_on {received_on.isoformat()} is before the event was held "
            f"({first.isoformat()})",
            status=422,
            details={"field": "received_on", "held_on": first.isoformat()},
        )
    if received_on > today:
        raise DomainError(
            "received_on_in_future",
            f"收到意见的日期（{day_zh(received_on)}）不能晚于今天（{day_zh(today)}）",
            f"received_on {received_on.isoformat()} is in the future "
            f"(today is {today.isoformat()})",
            status=422,
            details={"field": "received_on", "today": today.isoformat()},
        )


def add_late(
    session: Session,
    event: Event,
    *,
    content: str,
    received_on: date | None,
    raised_by_invitee_id: int | None,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> FeedbackItem:
    """Add an opinion to a (locked) event after collect_feedback, with its own answer clock."""
    refuse_unless_open(session, event, actor)
    require_version(event, expected_version)
    today = local_date(now)
    day = received_on or today
    check_received_on(event, day, today)
    item = FeedbackItem(
        event_id=event.id,  # type: ignore[arg-type]
        unit_id=event.unit_id,
        content=content,
        raised_by_invitee_id=raised_by_invitee_id,
        collected_on=day,
        added_late=True,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    due = deadlines.arm_feedback_item(
        session, item, campaign_rules(campaign), deadlines.load_calendar(session), now
    )
    record_edit(
        session,
        event,
        "feedback",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={
            "added": item.id,
            "late": True,
            "received_on": day.isoformat(),
            "due_on": due.deadline_on.isoformat(),
        },
    )
    return item
