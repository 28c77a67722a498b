"""One move in flight — everything guards and callbacks need, nothing global — and the callbacks:
what a move writes besides the state, in the move's transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from transitions import EventData

from models import (
    Attachment,
    Campaign,
    CancellationRequest,
    CancellationState,
    Event,
    EventState,
    FeedbackItem,
    Invitee,
    SpotCheck,
    Summary,
    TransitionLog,
    User,
)
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.event import checkin, flags, invitations
from workflows.event.data import CancelData, CollectFeedbackData, RescheduleData, SpotCheckData
from workflows.filing import timers as filing
from workflows.inbox import service as inbox
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import DomainError, Violation
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar


@dataclass
class Move:
    """The context of one move, handed to every guard and callback as `move`."""

    session: Session
    event: Event
    campaign: Campaign
    rules: CampaignRules
    actor: Actor
    now: datetime
    reason: str | None
    data: Any
    violations: list[Violation] = field(default_factory=list)
    audit: dict[str, Any] = field(default_factory=dict)
    flags: list[dict[str, Any]] = field(default_factory=list)
    calendar_revision: tuple[Any, ...] | None = None  # read with the event (see fire)
    _calendar: WorkdayCalendar | None = None
    _office: str = ""

    @property
    def calendar(self) -> WorkdayCalendar:
        """The working-day calendar, loaded once per move."""
        if self._calendar is None:
            self._calendar = deadlines.load_calendar(self.session, self.calendar_revision)
        return self._calendar

    @property
    def office(self) -> str:
        """The event's district office as running text names it (districts.office_words), read
        once per move."""
        if not self._office:
            self._office = districts.office_for(self.session, self.actor, self.campaign.district_id)
        return self._office

    @property
    def today(self) -> date:
        """The local (Asia/Shanghai) day of the move."""
        return local_date(self.now)

    def refuse(self, code: str, zh: str, en: str, status: int = 409, **details: Any) -> None:
        """Record a broken rule; the move fails once every guard has had its say."""
        self.violations.append(Violation(code, zh, en, details, status))

    def deviate(
        self, rule: str, at: str, badge: str, code: str, zh: str, en: str, **details: Any
    ) -> None:
        """A deviation from a rule the notice words 原则上 / 不低于 / 左右: refused in the rule's
        `refuse` mode, else recorded as a flag on the event (see record_flags)."""
        if self.rules.mode_of(rule) == "refuse":
            self.refuse(code, zh, en, **details)
            return
        self.flags.append(flags.flag(rule, at, badge, code, zh, en, details, self.now))


Check = Callable[[Move], None]


def all_of(*checks: Check) -> Callable[[EventData], bool]:
    """One transitions condition running every check, so a refusal lists all broken rules."""

    def condition(event_data: EventData) -> bool:
        move: Move = event_data.kwargs["move"]
        for check in checks:
            check(move)
        return not move.violations

    condition.__name__ = "all_of(" + ", ".join(c.__name__ for c in checks) + ")"
    return condition


def step(fn: Callable[[Move], None]) -> Callable[[EventData], None]:
    """Adapt a Move callback to transitions' EventData calling convention."""

    def callback(event_data: EventData) -> None:
        fn(event_data.kwargs["move"])

    callback.__name__ = fn.__name__
    return callback


def count_invitees(session: Session, *where: Any) -> int:
    """How many of the invitees match `where`."""
    return session.exec(select(func.count()).select_from(Invitee).where(*where)).one()


def summary_of(move: Move) -> Summary | None:
    """The moved event's summary, if one was written."""
    return move.session.exec(select(Summary).where(Summary.event_id == move.event.id)).first()


def held_day(move: Move) -> date:
    """hold: the day the event took place, as given with the move, else today."""
    return move.data.held_on or move.today


def rework_due_on(move: Move) -> date:
    """return_for_rework: the new summary deadline, given or by the campaign's rule."""
    given: date | None = move.data.due_on
    return given or move.today + dt.timedelta(days=move.rules.summary_due_days)


# Callbacks: what a move writes besides the state (same transaction)


def record_attendance(move: Move) -> None:
    """prepare(hold): apply attendance given with the move, before the guards look."""
    attendance: dict[int, bool] = move.data.attendance
    if not attendance:
        return
    invitees = move.session.exec(
        select(Invitee).where(Invitee.event_id == move.event.id, col(Invitee.id).in_(attendance))
    ).all()
    unknown = sorted(set(attendance) - {i.id for i in invitees})
    if unknown:
        raise DomainError(
            "invitee_not_found",
            f"受邀人员 {unknown} 不属于此活动",
            f"invitees {unknown} do not belong to this event",
            status=422,
            details={"invitee_ids": unknown},
        )
    corrected = checkin.corrections(move.session, move.event, attendance)
    for invitee in invitees:
        assert invitee.id is not None
        invitee.attended = attendance[invitee.id]
    move.session.flush()
    move.audit["attendance_recorded"] = len(invitees)
    if corrected:  # the clerk changed what check-ins said: marked in the hold's audit line
        move.audit["attendance_corrected"] = corrected


def mark_held(move: Move) -> None:
    """after(hold): the day it was held starts the summary clock; the hold timers stop."""
    event = move.event
    event.held_on = held_day(move)
    attended = count_invitees(move.session, Invitee.event_id == event.id, col(Invitee.attended))
    assert event.id is not None
    deadlines.cancel(
        move.session, subject_type="event", subject_ids=[event.id], rule=deadlines.EVENT_HOLD
    )
    due = deadlines.arm_summary(move.session, event, move.rules, move.calendar, move.now)
    move.audit.update(
        held_on=event.held_on.isoformat(),
        held_until=(event.held_until or event.held_on).isoformat(),
        forms_held=list(event.forms_held or []),
        met_by=list(event.met_by or []),
        recorded_on=move.today.isoformat(),
        # Against the schedule: days after the last planned day (0 when on time).
        late_days=max(0, (event.held_on - event.date_latest).days),
        attendees=attended,
        summary_due_on=due.deadline_on.isoformat(),
    )


def record_flags(move: Move) -> None:
    """after(invite, hold): the deviations this move flagged replace the event's flags of the
    same stage, and the audit line lists them."""
    stage = "hold" if move.event.state == EventState.held else "invite"
    move.event.flags = flags.replace(move.event.flags, stage, move.flags)
    if move.flags:
        move.audit["flags"] = move.flags


def record_feedback_items(move: Move) -> None:
    """prepare(collect_feedback): opinions given with the move become items."""
    data: CollectFeedbackData = move.data
    named = {i.raised_by_invitee_id for i in data.items} - {None}
    if named:
        known = set(
            move.session.exec(
                select(Invitee.id).where(
                    Invitee.event_id == move.event.id, col(Invitee.id).in_(named)
                )
            ).all()
        )
        unknown = sorted(named - known)  # type: ignore[type-var]
        if unknown:
            raise DomainError(
                "invitee_not_found",
                f"提出意见的人员 {unknown} 不在此活动的受邀名单中",
                f"invitees {unknown} who raised opinions are not on this event's list",
                status=422,
                details={"invitee_ids": unknown},
            )
    for item in data.items:
        move.session.add(
            FeedbackItem(
                event_id=move.event.id,  # type: ignore[arg-type]
                unit_id=move.event.unit_id,
                content=item.content,
                raised_by_invitee_id=item.raised_by_invitee_id,
                created_at=move.now,
                updated_at=move.now,
            )
        )
    move.session.flush()


def stamp_collection(move: Move) -> None:
    """after(collect_feedback): opinions count as collected on the day the event was held."""
    data: CollectFeedbackData = move.data
    collected_on = move.event.held_on or move.today
    items = move.session.exec(
        select(FeedbackItem).where(FeedbackItem.event_id == move.event.id)
    ).all()
    due_dates = set()
    for item in items:
        if item.collected_on is None:
            item.collected_on = collected_on
        due = deadlines.arm_feedback_item(move.session, item, move.rules, move.calendar, move.now)
        due_dates.add((due.deadline_on.isoformat(), due.provisional))
    move.audit.update(feedback_items=len(items), no_opinions=data.no_opinions)
    if due_dates:
        move.audit["answer_due"] = [
            {"due_on": day, "provisional": provisional} for day, provisional in sorted(due_dates)
        ]
    if data.statement:
        move.audit["statement"] = data.statement


def write_summary_text(move: Move) -> None:
    """prepare(submit_summary): text given with the move replaces the draft's."""
    text = move.data.text
    if text is None:
        return
    summary = summary_of(move)
    if summary is None:
        summary = Summary(event_id=move.event.id, updated_at=move.now)  # type: ignore[arg-type]
        move.session.add(summary)
    summary.text = text
    summary.updated_at = move.now
    move.session.flush()


def stamp_summary(move: Move) -> None:
    """after(submit_summary): the summary is submitted now; the line keeps the round and the
    deadline it answers to, and how late it came (workflows/event/submissions.py reads them)."""
    summary = summary_of(move)
    assert summary is not None and move.event.id is not None
    summary.submitted_at = move.now
    deadlines.cancel(
        move.session, subject_type="event", subject_ids=[move.event.id], rule=deadlines.SUMMARY
    )
    earlier = move.session.exec(
        select(func.count())
        .select_from(TransitionLog)
        .where(TransitionLog.event_id == move.event.id, TransitionLog.trigger == "submit_summary")
    ).one()
    move.audit["round"] = earlier + 1
    late = 0
    if move.event.summary_due_at is not None:
        late = max(0, int((move.now - move.event.summary_due_at).total_seconds()))
        move.audit.update(
            due_on=move.event.summary_due_on.isoformat() if move.event.summary_due_on else None,
            due_at=move.event.summary_due_at.isoformat(),
            late_seconds=late,
        )
    if earlier == 0:  # the summary's own lateness is its first submission's (reports read it)
        move.event.summary_late_seconds = late
    move.audit["attachments"] = move.session.exec(
        select(func.count()).select_from(Attachment).where(Attachment.event_id == move.event.id)
    ).one()


def record_spot_check(move: Move) -> None:
    """after(spot_check): the finding is stored with the move."""
    data: SpotCheckData = move.data
    rounds = move.session.exec(
        select(func.count()).select_from(SpotCheck).where(SpotCheck.event_id == move.event.id)
    ).one()
    move.session.add(
        SpotCheck(
            event_id=move.event.id,  # type: ignore[arg-type]
            round=rounds + 1,
            result=data.result,
            notes=data.notes,
            site_visit=data.site_visit,
            checked_by=move.actor.id,
            checked_at=move.now,
        )
    )
    move.audit.update(result=data.result.value, site_visit=data.site_visit, round=rounds + 1)


def send_back(move: Move) -> None:
    """after(return_for_rework): the summary is a draft again with a new deadline and its own
    reminder and escalations; the reasons and the round are kept in the history."""
    summary = summary_of(move)
    if summary is not None:
        summary.submitted_at = None
    due = deadlines.arm_summary(
        move.session, move.event, move.rules, move.calendar, move.now, due_on=rework_due_on(move)
    )
    rounds = move.session.exec(
        select(func.count())
        .select_from(TransitionLog)
        .where(
            TransitionLog.event_id == move.event.id, TransitionLog.trigger == "return_for_rework"
        )
    ).one()
    move.audit.update(
        reasons=list(move.data.reasons),
        summary_due_on=due.deadline_on.isoformat(),
        round=rounds + 2,
    )
    reasons = "\n".join(f"{n}. {r}" for n, r in enumerate(move.data.reasons, 1))
    office = move.office
    inbox.post(
        move.session, "rework", subject_type="event", subject_id=move.event.id,  # type: ignore[arg-type]
        event_id=move.event.id, unit_id=move.event.unit_id, now=move.now, round=str(rounds + 2),
        title=f"【总结退回整改】“{move.event.theme}”请于 {day_zh(due.deadline_on)} 前重新报送",
        body=f"{office}抽查后退回了活动总结，请按以下意见修改后重新报送：\n{reasons}",
    )  # fmt: skip


def apply_new_date(move: Move) -> None:
    """after(reschedule): keep the old and new dates in the audit line."""
    data: RescheduleData = move.data
    ev = move.event
    move.audit.update(
        old_earliest=ev.date_earliest.isoformat(),
        old_latest=ev.date_latest.isoformat(),
        new_earliest=data.earliest.isoformat() if data.earliest else None,
        new_latest=data.latest.isoformat() if data.latest else None,
    )
    assert data.earliest is not None and data.latest is not None
    ev.date_earliest, ev.date_latest = data.earliest, data.latest
    ev.date_text = None
    ev.tentative = False
    ev.planned_until = None  # the new dates are a window; an import sets its days after
    deadlines.arm_hold(move.session, ev, move.rules, move.calendar, move.now, rearm_fired=True)
    filing.arm(move.session, ev, move.rules, move.calendar, move.now, rearm_fired=True)
    if ev.state == EventState.invited:
        invitations.arm_reminder(move.session, ev, move.rules, move.now)


def send_invitations(move: Move) -> None:
    """after(invite): every invitee on the list is owed an invitation (issue 27) and the
    day-before reminder is armed, in the move's transaction."""
    people = list(
        move.session.exec(
            select(Invitee).where(Invitee.event_id == move.event.id, col(Invitee.invited))
        )
    )
    owed = invitations.owe(move.session, move.event, people, "invitation", move.now)
    move.audit["invitations_owed"] = len(owed)
    invitations.arm_reminder(move.session, move.event, move.rules, move.now)


def drop_timers(move: Move) -> None:
    """after(cancel): a cancelled event owes no reminders or escalations (nor the invitees'
    day-before reminder)."""
    deadlines.cancel_event_timers(move.session, move.event)
    deadlines.cancel(
        move.session,
        subject_type="event",
        subject_ids=[move.event.id],  # type: ignore[list-item]
        rule=invitations.REMINDER_RULE,
    )


def shown_name(session: Session, actor: Actor) -> str:
    """The name a person goes by on pages and in the history (display name, else account)."""
    user = session.get(User, actor.id) if actor.id is not None else None
    return (user.display_name if user is not None else "") or actor.name


def settle_cancellation(move: Move) -> None:
    """after(cancel): the supervisor's cancellation settles the event's pending request (it is
    approved), or is recorded as a direct one; either way the report keeps its reason and
    whether it is exempt from the assessment (workflows/event/cancellation.py asks and refuses).
    """
    data: CancelData = move.data
    row = move.session.exec(
        select(CancellationRequest)
        .where(
            CancellationRequest.event_id == move.event.id,
            CancellationRequest.state == CancellationState.pending,
        )
        .with_for_update()
    ).first()
    if row is None:
        row = CancellationRequest(
            event_id=move.event.id,  # type: ignore[arg-type]
            unit_id=move.event.unit_id,
            reason=move.reason or "",
            direct=True,
            requested_by=move.actor.id,
            requested_by_name=shown_name(move.session, move.actor),
            requested_at=move.now,
        )
        move.session.add(row)
    row.state = CancellationState.approved
    name = shown_name(move.session, move.actor)
    row.decided_by, row.decided_by_name, row.decided_at = move.actor.id, name, move.now
    row.decision_note = (data.note or "").strip() or None
    if data.exempt:
        row.exempt, row.exempt_reason = True, (data.exempt_reason or "").strip()
        row.exempt_by_name, row.exempt_at = name, move.now
    move.session.flush([row])  # its id for the line; the event is written once, by fire()
    exempt = f"\n考核：不计扣分（{row.exempt_reason}）" if row.exempt else "\n考核：按未开展计扣分"
    office = move.office
    said = f"【活动已由{office}取消】" if row.direct else "【取消申请已批准】"
    inbox.post(
        move.session, "cancel_decision", subject_type="event", subject_id=move.event.id,  # type: ignore[arg-type]
        event_id=move.event.id, unit_id=move.event.unit_id, now=move.now, round=str(row.id),
        title=said + move.event.theme,
        body=f"取消理由：{row.reason}\n审批意见：{row.decision_note or '（无）'}{exempt}",
    )  # fmt: skip
    move.audit.update(
        request_id=row.id,
        direct=row.direct,
        requested_by=row.requested_by_name,
        requested_at=row.requested_at.isoformat(),
        request_reason=row.reason,
        note=row.decision_note,
        exempt=row.exempt,
        exempt_reason=row.exempt_reason,
    )
