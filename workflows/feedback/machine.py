"""The feedback-item workflow: received → assigned → answered → closed, and the timed overdue.

Same pattern as the event machine: one module-level Machine fired on rows. `mark_overdue` is the
workers' move when the answer deadline passes; answering late records by how much.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session
from transitions import EventData, Machine

from models import Event, EventState, FeedbackItem, FeedbackState, TransitionLog
from workflows.event import invitees
from workflows.event.service import record_edit, require_version
from workflows.feedback import late, replies
from workflows.kernel import machine
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import DomainError, Violation
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines

F = FeedbackState


class _Data(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignData(_Data):
    """Who handles the opinion (a person or office of the unit)."""

    assignee: str = Field(min_length=1, max_length=100)


class AnswerData(_Data):
    """The unit's answer given back to the person who raised the opinion, and the day it was
    given (default: today; lateness counts from this day, not from when it was typed)."""

    answer: str = Field(min_length=1, max_length=10000)
    answered_on: date | None = None


class OpinionNoData(_Data):
    """Moves without data."""


MOVE_DATA: dict[str, type[_Data]] = {
    "assign": AssignData,
    "answer": AnswerData,
    "close": OpinionNoData,
    "mark_overdue": OpinionNoData,
    "extend": OpinionNoData,
    "reopen": OpinionNoData,
    "restore": OpinionNoData,
}
# The workers' overdue move, and the new deadline an approved extension brings: never sent
# directly by people (extensions go through workflows/feedback/extensions.py). A 不满意 rating
# reopens an answered opinion, and an upheld appeal restores its answer
# (workflows/feedback/satisfaction.py).
SYSTEM_TRIGGERS = {"mark_overdue", "extend", "reopen", "restore"}


@dataclass
class ItemMove:
    """Context of one feedback-item move."""

    session: Session
    item: FeedbackItem
    actor: Actor
    now: datetime
    data: Any
    audit: dict[str, Any] = field(default_factory=dict)
    violations: list[Violation] = field(default_factory=list)


def _record_assignee(event_data: EventData) -> None:
    move: ItemMove = event_data.kwargs["move"]
    move.item.assignee = move.data.assignee
    move.audit["assignee"] = move.data.assignee


def received_on(session: Session, item: FeedbackItem) -> date:
    """The day an opinion was received: its collection day, else the day its event was held,
    else the day it was recorded."""
    if item.collected_on is not None:
        return item.collected_on
    event = session.get(Event, item.event_id)
    if event is not None and event.held_on is not None:
        return event.held_on
    return local_date(item.created_at)


def check_answered_on(session: Session, item: FeedbackItem, given: date, today: date) -> None:
    """The day an answer was given: never before the opinion was received, never after today
    (422 naming the field; nothing is written)."""
    received = received_on(session, item)
    if given < received:
        raise DomainError(
            "answered_on_before_received",
            f"答复日期（{day_zh(given)}）不能早于收到意见的日期（{day_zh(received)}）",
            f"answered_on {given.isoformat()} is before the opinion was received "
            f"({received.isoformat()})",
            status=422,
            details={"field": "answered_on", "received_on": received.isoformat()},
        )
    if given > today:
        raise DomainError(
            "answered_on_in_future",
            f"答复日期（{day_zh(given)}）不能晚于今天（{day_zh(today)}）",
            f"answered_on {given.isoformat()} is in the future (today is {today.isoformat()})",
            status=422,
            details={"field": "answered_on", "today": today.isoformat()},
        )


def late_workdays(session: Session, item: FeedbackItem, given: date) -> int:
    """How many working days after its due day an answer given on `given` came (0: on time)."""
    if item.due_on is None or given <= item.due_on:
        return 0
    return deadlines.load_calendar(session).workdays_between(item.due_on, given).count


def answer_audit(item: FeedbackItem, today: date, now: datetime, actor: Actor) -> dict[str, Any]:
    """What an answer's audit line says of its day: the day given and, when that is before the
    day it was typed, that it is a back-dated entry (补录) with who entered it and when."""
    assert item.answered_on is not None
    out: dict[str, Any] = {"answered_on": item.answered_on.isoformat()}
    if item.answered_on < today:
        out.update(backdated=True, entered_by=actor.name, entered_at=now.isoformat())
    return out


def _record_answer(event_data: EventData) -> None:
    """The answer move, the single place where answering happens (issue 26 hooks on it)."""
    move: ItemMove = event_data.kwargs["move"]
    item = move.item
    today = local_date(move.now)
    given = move.data.answered_on or today
    check_answered_on(move.session, item, given, today)
    item.answer = move.data.answer
    item.answered_at = move.now
    item.answered_on = given
    item.answered_by = move.actor.name[:100]
    item.answered_late_workdays = late_workdays(move.session, item, given)
    move.audit.update(answer_audit(item, today, move.now, move.actor))
    if item.answered_late_workdays:
        move.audit["late_workdays"] = item.answered_late_workdays
    assert item.id is not None
    # Tell the person who raised it (SMS, e-mail or a letter); the clock is met when they are.
    reply = replies.on_answer(move.session, item, move.now)
    move.audit["tell"] = replies.ways(reply)
    if item.told_at is None:
        move.audit.pop("late_workdays", None)
    # Signing for it is moot once answered; the answer's own reminders and escalations stay
    # until the person is told (a text not yet sent, a letter not yet posted is still owed;
    # the timers re-check `told_at` when they fire).
    owed_done = [deadlines.FEEDBACK_SIGN]
    if item.told_at is not None:
        owed_done.append(deadlines.FEEDBACK_ANSWER)
    for rule in owed_done:
        deadlines.cancel(
            move.session, subject_type="feedback_item", subject_ids=[item.id], rule=rule
        )


def _stamp_overdue(event_data: EventData) -> None:
    move: ItemMove = event_data.kwargs["move"]
    move.item.overdue_since = move.item.due_at or move.now


def _clear_overdue(event_data: EventData) -> None:
    move: ItemMove = event_data.kwargs["move"]
    move.item.overdue_since = None
    move.item.escalation_level = 0


TRANSITIONS: list[dict[str, Any]] = [
    {"trigger": "assign", "source": [F.received, F.assigned], "dest": F.assigned,
     "before": [_record_assignee]},
    # Re-assigning an overdue opinion keeps it overdue.
    {"trigger": "assign", "source": F.overdue, "dest": "=", "before": [_record_assignee]},
    {"trigger": "mark_overdue", "source": [F.received, F.assigned], "dest": F.overdue,
     "after": [_stamp_overdue]},
    {"trigger": "answer", "source": [F.received, F.assigned, F.overdue], "dest": F.answered,
     "before": [_record_answer]},
    {"trigger": "close", "source": F.answered, "dest": F.closed},
    # An approved extension: an overdue opinion is in hand again until its new date.
    {"trigger": "extend", "source": F.overdue, "dest": F.assigned, "after": [_clear_overdue]},
    {"trigger": "extend", "source": [F.received, F.assigned], "dest": "="},
    # 不满意 → 重办: in hand again with a new clock; an upheld appeal (申诉) gives the answer back.
    {"trigger": "reopen", "source": F.answered, "dest": F.assigned},
    {"trigger": "restore", "source": [F.received, F.assigned, F.overdue], "dest": F.answered},
]  # fmt: skip

MACHINE = Machine(
    model=None,
    states=[s.value for s in FeedbackState],
    transitions=TRANSITIONS,
    initial=F.received,
    model_attribute="state",
    auto_transitions=False,
    send_event=True,
)

TRIGGERS = ["assign", "answer", "close", "mark_overdue", "extend", "reopen", "restore"]

TRIGGER_LABELS_ZH = {
    "assign": "交办",
    "answer": "答复",
    "close": "办结",
    "mark_overdue": "标记逾期",
    "extend": "延期",
    "reopen": "不满意重办",
    "restore": "申诉成立，恢复答复",
}

STATE_LABELS_ZH: dict[str, str] = {
    F.received: "已收集",
    F.assigned: "办理中",
    F.overdue: "已逾期",
    F.answered: "已答复",
    F.closed: "已办结",
}


WORKFLOW = machine.Workflow(
    machine=MACHINE,
    triggers=TRIGGERS,
    move_data=MOVE_DATA,
    state_labels_zh=STATE_LABELS_ZH,
    trigger_labels_zh=TRIGGER_LABELS_ZH,
    what_zh="意见",
    what_en="feedback item",
    audit_prefix="feedback.",
    system_triggers=frozenset(SYSTEM_TRIGGERS),
)


def allowed_triggers(state: str, actor: Actor | None = None) -> list[str]:
    """Moves allowed from a state (the system-only overdue move is never offered to people)."""
    return WORKFLOW.allowed(state, actor)


def fire(
    session: Session,
    item: FeedbackItem,
    trigger: str,
    *,
    actor: Actor,
    now: datetime,
    expected_version: int | None = None,
    data: BaseModel | dict[str, Any] | None = None,
    system: bool = False,
) -> TransitionLog:
    """Apply a move to a (locked) feedback item and append its audit line; caller commits.

    The same discipline as event moves (workflows/kernel/machine.py): people name the version they
    saw; `system` moves (the workers' mark_overdue) act on what they just locked.
    """
    if expected_version is None:
        if not system:
            raise DomainError(
                "expected_version_required",
                "请提供意见的当前版本号",
                "expected_version is required: the opinion's version you saw",
                status=422,
            )
        expected_version = item.version
    return machine.fire(
        session,
        WORKFLOW,
        item,
        trigger,
        expected_version=expected_version,
        actor=actor,
        now=now,
        make_move=lambda parsed: ItemMove(session, item, actor, now, parsed),
        audit_ids={"event_id": item.event_id, "feedback_item_id": item.id},
        data=data,
        system=system,
    )


def record(
    session: Session,
    event: Event,
    *,
    content: str,
    raised_by_invitee_id: int | None,
    expected_version: int,
    actor: Actor,
    now: datetime,
    received_on: date | None = None,
) -> FeedbackItem:
    """Record an opinion raised at a (locked) event: while held, it waits for collect_feedback;
    after it and until the summary is submitted, it is added late with the day it was received
    and its own answer clock (workflows/feedback/late.py)."""
    late.refuse_unless_open(session, event, actor)
    if raised_by_invitee_id is not None:
        invitees.get(session, event, raised_by_invitee_id)
    if event.state == EventState.feedback_collected:
        return late.add_late(
            session,
            event,
            content=content,
            received_on=received_on,
            raised_by_invitee_id=raised_by_invitee_id,
            expected_version=expected_version,
            actor=actor,
            now=now,
        )
    require_version(event, expected_version)
    item = FeedbackItem(
        event_id=event.id,  # type: ignore[arg-type]
        unit_id=event.unit_id,
        content=content,
        raised_by_invitee_id=raised_by_invitee_id,
        created_at=now,
        updated_at=now,
    )
    session.add(item)
    session.flush()
    record_edit(
        session,
        event,
        "feedback",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"added": item.id},
    )
    return item
