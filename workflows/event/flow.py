"""The event workflow: states, the transition table, its guards, and the service that fires moves.

One module-level `transitions.Machine` (model=None) serves every event row; a move fires
`MACHINE.events[trigger].trigger(row, move=...)` (transitions FAQ, issue #146), because a SQLModel
row refuses the helper methods transitions would bind onto it (issue #635). The database, not the
machine, arbitrates concurrency: the row is locked (PostgreSQL) or the transaction holds SQLite's
write lock, and the event's version column refuses a write based on a stale read.
"""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlalchemy import func
from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session, col, select
from transitions import EventData, Machine

from models import (
    Attachment,
    Campaign,
    Event,
    EventForm,
    EventState,
    FeedbackItem,
    Invitee,
    InviteeCategory,
    SpotCheck,
    SpotCheckResult,
    Summary,
    TransitionLog,
)
from workflows.campaign.rules import CampaignRules
from workflows.kernel import audit, machine
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, DomainError, MoveRefused, Violation, stale_version
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar

S = EventState

# --------------------------------------------------------------------------------------------
# The data each move takes (validated before the machine runs; errors answer 422 naming a field)
# --------------------------------------------------------------------------------------------


class _MoveData(BaseModel):
    model_config = ConfigDict(extra="forbid")


# Dates a move may name: the service's reach (issue 14), so 9999-12-31 is a field error.
Day = Annotated[dt.date, Field(ge=dt.date(2000, 1, 1), le=dt.date(2100, 12, 31))]


class NoData(_MoveData):
    """Moves that take nothing but the trigger (invite, cancel)."""


class HoldData(_MoveData):
    """The day the event really took place (default: today) and, optionally, attendance
    (invitee id -> attended). A clerk may record the event days later: every clock that starts
    at the event counts from `held_on`, not from the day it was recorded."""

    held_on: Day | None = Field(
        default=None, description="the day held; not in the future; default today"
    )
    attendance: dict[int, bool] = Field(default_factory=dict, max_length=1000)


class NewFeedbackItem(BaseModel):
    """One opinion recorded as the feedback is collected."""

    model_config = ConfigDict(extra="forbid")
    content: str = Field(min_length=1, max_length=5000)
    raised_by_invitee_id: int | None = None


class CollectFeedbackData(_MoveData):
    """Opinions recorded with the move, or the explicit statement that there were none."""

    items: list[NewFeedbackItem] = Field(default_factory=list, max_length=500)
    no_opinions: bool = False
    statement: str | None = Field(default=None, max_length=2000)


class SubmitSummaryData(_MoveData):
    """The summary text may be given with the move; attachments are uploaded beforehand."""

    text: str | None = Field(default=None, max_length=50000)


class SpotCheckData(_MoveData):
    """The district office's finding."""

    result: SpotCheckResult
    notes: str = Field(default="", max_length=10000)
    site_visit: bool = False


class ReworkData(_MoveData):
    """The district office sends a summary back: what is lacking, and by when to resubmit."""

    reasons: list[
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=2000)]
    ] = Field(
        min_length=1, max_length=20, description="what the summary lacks, one point per entry"
    )
    due_on: Day | None = Field(
        default=None,
        description="new summary deadline; default: the campaign's summary days from today",
    )


class RescheduleData(_MoveData):
    """A new day, or a new window [earliest, latest]."""

    date: Day | None = None
    earliest: Day | None = None
    latest: Day | None = None

    @model_validator(mode="after")
    def _one_form(self) -> RescheduleData:
        if self.date is not None:
            if self.earliest is not None or self.latest is not None:
                raise ValueError("give either date, or earliest and latest, not both")
            self.earliest = self.latest = self.date
        if self.earliest is None or self.latest is None:
            raise ValueError("give date, or both earliest and latest")
        if self.latest < self.earliest:
            raise ValueError("latest must not be before earliest")
        return self


MOVE_DATA: dict[str, type[_MoveData]] = {
    "invite": NoData,
    "hold": HoldData,
    "collect_feedback": CollectFeedbackData,
    "submit_summary": SubmitSummaryData,
    "spot_check": SpotCheckData,
    "reschedule": RescheduleData,
    "cancel": NoData,
    "return_for_rework": ReworkData,
}

# Moves a reason is mandatory for.
REASON_REQUIRED = {"reschedule", "cancel"}


# --------------------------------------------------------------------------------------------
# One move in flight: everything guards and callbacks need, nothing global
# --------------------------------------------------------------------------------------------


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
    calendar_revision: tuple[Any, ...] | None = None  # read with the event (see fire)
    _calendar: WorkdayCalendar | None = None

    @property
    def calendar(self) -> WorkdayCalendar:
        """The working-day calendar, loaded once per move."""
        if self._calendar is None:
            self._calendar = deadlines.load_calendar(self.session, self.calendar_revision)
        return self._calendar

    @property
    def today(self) -> date:
        """The local (Asia/Shanghai) day of the move."""
        return local_date(self.now)

    def refuse(self, code: str, zh: str, en: str, status: int = 409, **details: Any) -> None:
        """Record a broken rule; the move fails once every guard has had its say."""
        self.violations.append(Violation(code, zh, en, details, status))


Check = Callable[[Move], None]


def _all_of(*checks: Check) -> Callable[[EventData], bool]:
    """One transitions condition running every check, so a refusal lists all broken rules."""

    def condition(event_data: EventData) -> bool:
        move: Move = event_data.kwargs["move"]
        for check in checks:
            check(move)
        return not move.violations

    condition.__name__ = "all_of(" + ", ".join(c.__name__ for c in checks) + ")"
    return condition


def _step(fn: Callable[[Move], None]) -> Callable[[EventData], None]:
    """Adapt a Move callback to transitions' EventData calling convention."""

    def callback(event_data: EventData) -> None:
        fn(event_data.kwargs["move"])

    callback.__name__ = fn.__name__
    return callback


def _count(session: Session, *where: Any) -> int:
    return session.exec(select(func.count()).select_from(Invitee).where(*where)).one()


# --------------------------------------------------------------------------------------------
# Guards (each reads its limit from the campaign's rules)
# --------------------------------------------------------------------------------------------


def invitee_count_in_range(move: Move) -> None:
    """invite: the list holds 'about 15' people — a settable range."""
    total = _count(move.session, Invitee.event_id == move.event.id, col(Invitee.invited))
    low, high = move.rules.invitees_min, move.rules.invitees_max
    if not low <= total <= high:
        move.refuse(
            "invitee_count_out_of_range",
            f"邀请人数 {total} 人，应在 {low}–{high} 人之间（通知要求每个开放点15人左右）",
            f"{total} invitees, need between {low} and {high} (the notice asks for about 15)",
            invitees=total,
            min=low,
            max=high,
        )


def citizen_share_of_invitees(move: Move) -> None:
    """invite: citizen representatives are at least a third of the list."""
    ev = move.event.id
    total = _count(move.session, Invitee.event_id == ev, col(Invitee.invited))
    citizens = _count(
        move.session,
        Invitee.event_id == ev,
        col(Invitee.invited),
        Invitee.category == InviteeCategory.citizen,
    )
    need = move.rules.citizens_needed(total)
    if citizens < need:
        move.refuse(
            "citizen_share_too_low",
            f"市民代表 {citizens} 人（共 {total} 人），不低于{move.rules.citizen_share_zh}"
            f"须至少 {need} 人",
            f"citizens {citizens} of {total}, need at least {need} "
            f"({move.rules.citizen_share_min} of the invitees)",
            citizens=citizens,
            total=total,
            needed=need,
        )


def held_day(move: Move) -> date:
    """hold: the day the event took place, as given with the move, else today."""
    return move.data.held_on or move.today  # type: ignore[no-any-return]


def event_date_has_come(move: Move) -> None:
    """hold: the day held is not in the future, and not before the event's window unless a
    reason says why (it was brought forward)."""
    day, earliest = held_day(move), move.event.date_earliest
    if day > move.today:
        move.refuse(
            "held_on_in_future",
            f"开展日期 {day.isoformat()} 晚于今天（{move.today.isoformat()}），不能预先登记",
            f"the day held {day.isoformat()} is after today ({move.today.isoformat()})",
            held_on=day.isoformat(),
            today=move.today.isoformat(),
        )
    elif move.data.held_on is None and move.today < earliest:
        move.refuse(
            "event_date_not_reached",
            f"活动日期 {earliest.isoformat()} 尚未到来（今天是 {move.today.isoformat()}）",
            f"the event's date {earliest.isoformat()} has not come "
            f"(today is {move.today.isoformat()})",
            event_date=earliest.isoformat(),
            today=move.today.isoformat(),
        )
    elif day < earliest and not (move.reason or "").strip():
        move.refuse(
            "held_before_window",
            f"开展日期 {day.isoformat()} 早于计划日期 {earliest.isoformat()}，请说明理由",
            f"the day held {day.isoformat()} is before the planned date {earliest.isoformat()}; "
            "give a reason",
            held_on=day.isoformat(),
            event_date=earliest.isoformat(),
        )


def attendance_recorded(move: Move) -> None:
    """hold: every invitee's attendance is recorded and enough people came."""
    ev = move.event.id
    unrecorded = _count(
        move.session, Invitee.event_id == ev, col(Invitee.invited), col(Invitee.attended).is_(None)
    )
    if unrecorded:
        move.refuse(
            "attendance_not_recorded",
            f"尚有 {unrecorded} 名受邀人员未登记出席情况",
            f"attendance not recorded for {unrecorded} invitees",
            unrecorded=unrecorded,
        )
        return
    attended = _count(move.session, Invitee.event_id == ev, col(Invitee.attended))
    if attended < move.rules.attendees_min:
        move.refuse(
            "too_few_attendees",
            f"出席人数 {attended} 人，至少需要 {move.rules.attendees_min} 人",
            f"{attended} attendees, need at least {move.rules.attendees_min}",
            attendees=attended,
            min=move.rules.attendees_min,
        )


def citizen_share_of_attendees(move: Move) -> None:
    """hold: citizen representatives are at least a third of those who attended."""
    ev = move.event.id
    attended = _count(move.session, Invitee.event_id == ev, col(Invitee.attended))
    citizens = _count(
        move.session,
        Invitee.event_id == ev,
        col(Invitee.attended),
        Invitee.category == InviteeCategory.citizen,
    )
    need = move.rules.citizens_needed(attended)
    if attended and citizens < need:
        move.refuse(
            "attendee_citizen_share_too_low",
            f"出席的市民代表 {citizens} 人（共 {attended} 人出席），不低于"
            f"{move.rules.citizen_share_zh}须至少 {need} 人",
            f"citizens {citizens} of {attended} attendees, need at least {need}",
            citizens=citizens,
            attendees=attended,
            needed=need,
        )


def feedback_recorded_or_none_stated(move: Move) -> None:
    """collect_feedback: every opinion is an item, or the unit states there were none."""
    items = move.session.exec(
        select(func.count()).select_from(FeedbackItem).where(FeedbackItem.event_id == move.event.id)
    ).one()
    data: CollectFeedbackData = move.data
    if items and data.no_opinions:
        move.refuse(
            "feedback_contradiction",
            f"已登记 {items} 条意见建议，不能同时声明“无意见”",
            f"{items} feedback items are recorded; cannot also state there were no opinions",
            items=items,
        )
    elif not items and not data.no_opinions:
        move.refuse(
            "feedback_not_recorded",
            "尚未登记任何意见建议；如确无意见，请明确声明“无意见”（no_opinions）",
            "no feedback item recorded and no explicit 'no opinions' statement (no_opinions)",
            items=0,
        )


def summary_has_text(move: Move) -> None:
    """submit_summary: the report has text."""
    summary = _summary(move)
    if summary is None or not summary.text.strip():
        move.refuse("summary_text_missing", "总结文字为空", "the summary text is empty")


def summary_has_attachment(move: Move) -> None:
    """submit_summary: the report has at least one photo or file (图文资料)."""
    need = move.rules.summary_min_attachments
    have = move.session.exec(
        select(func.count()).select_from(Attachment).where(Attachment.event_id == move.event.id)
    ).one()
    if have < need:
        move.refuse(
            "summary_attachment_missing",
            f"总结须附至少 {need} 张照片或 {need} 个文件（现有 {have} 个）",
            f"the summary needs at least {need} photo or file (has {have})",
            attachments=have,
            needed=need,
        )


def reason_given(move: Move) -> None:
    """reschedule, cancel: a reason is kept with the move."""
    if not (move.reason or "").strip():
        move.refuse("reason_required", "此操作必须说明理由", "a reason is required for this move")


def new_date_not_past(move: Move) -> None:
    """reschedule: the new date is not in the past."""
    data: RescheduleData = move.data
    assert data.latest is not None
    if data.latest < move.today:
        move.refuse(
            "reschedule_date_in_past",
            f"新日期 {data.latest.isoformat()} 早于今天（{move.today.isoformat()}）",
            f"the new date {data.latest.isoformat()} is before today ({move.today.isoformat()})",
            new_latest=data.latest.isoformat(),
            today=move.today.isoformat(),
        )


def outside_campaign(campaign: Campaign, earliest: date, latest: date) -> Violation | None:
    """A window that leaves the campaign's own window (活动时间), as a refusal."""
    if campaign.starts_on <= earliest and latest <= campaign.ends_on:
        return None
    return Violation(
        "outside_campaign_window",
        f"日期 {earliest.isoformat()}–{latest.isoformat()} 超出活动时间 "
        f"{campaign.starts_on.isoformat()}–{campaign.ends_on.isoformat()}"
        "（督查人员可说明理由后调整）",
        f"dates {earliest.isoformat()}–{latest.isoformat()} fall outside the campaign window "
        f"{campaign.starts_on.isoformat()}–{campaign.ends_on.isoformat()} "
        "(a supervisor may override with a reason)",
        {
            "campaign_starts_on": campaign.starts_on.isoformat(),
            "campaign_ends_on": campaign.ends_on.isoformat(),
        },
    )


def new_date_in_campaign(move: Move) -> None:
    """reschedule: the new dates stay in the campaign's window; a supervisor may override with
    the move's reason, which is logged."""
    data: RescheduleData = move.data
    assert data.earliest is not None and data.latest is not None
    violation = outside_campaign(move.campaign, data.earliest, data.latest)
    if violation is None:
        return
    if move.actor.is_supervisor and (move.reason or "").strip():
        move.audit["campaign_window_override"] = True
        return
    move.violations.append(violation)


# --------------------------------------------------------------------------------------------
# Callbacks: what a move writes besides the state (same transaction)
# --------------------------------------------------------------------------------------------


def _summary(move: Move) -> Summary | None:
    return move.session.exec(select(Summary).where(Summary.event_id == move.event.id)).first()


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
    for invitee in invitees:
        assert invitee.id is not None
        invitee.attended = attendance[invitee.id]
    move.session.flush()
    move.audit["attendance_recorded"] = len(invitees)


def mark_held(move: Move) -> None:
    """after(hold): the day it was held starts the summary clock; the hold timers stop."""
    event = move.event
    event.held_on = held_day(move)
    attended = _count(move.session, Invitee.event_id == event.id, col(Invitee.attended))
    assert event.id is not None
    deadlines.cancel(
        move.session, subject_type="event", subject_ids=[event.id], rule=deadlines.EVENT_HOLD
    )
    due = deadlines.arm_summary(move.session, event, move.rules, move.calendar, move.now)
    move.audit.update(
        held_on=event.held_on.isoformat(),
        recorded_on=move.today.isoformat(),
        # Against the schedule: days after the last planned day (0 when on time).
        late_days=max(0, (event.held_on - event.date_latest).days),
        attendees=attended,
        summary_due_on=due.deadline_on.isoformat(),
    )


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
    summary = _summary(move)
    if summary is None:
        summary = Summary(event_id=move.event.id, updated_at=move.now)  # type: ignore[arg-type]
        move.session.add(summary)
    summary.text = text
    summary.updated_at = move.now
    move.session.flush()


def stamp_summary(move: Move) -> None:
    """after(submit_summary): the summary is submitted now; note whether it was on time."""
    summary = _summary(move)
    assert summary is not None and move.event.id is not None
    summary.submitted_at = move.now
    deadlines.cancel(
        move.session, subject_type="event", subject_ids=[move.event.id], rule=deadlines.SUMMARY
    )
    if move.event.summary_due_at is not None:
        move.audit["late_seconds"] = max(
            0, int((move.now - move.event.summary_due_at).total_seconds())
        )
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


def rework_due_on(move: Move) -> date:
    """return_for_rework: the new summary deadline, given or by the campaign's rule."""
    given: date | None = move.data.due_on
    return given or move.today + dt.timedelta(days=move.rules.summary_due_days)


def rework_date_not_past(move: Move) -> None:
    """return_for_rework: the new deadline is not before today."""
    due = rework_due_on(move)
    if due < move.today:
        move.refuse(
            "rework_due_in_past",
            f"整改期限 {due.isoformat()} 早于今天（{move.today.isoformat()}）",
            f"the rework deadline {due.isoformat()} is before today ({move.today.isoformat()})",
            due_on=due.isoformat(),
            today=move.today.isoformat(),
        )


def send_back(move: Move) -> None:
    """after(return_for_rework): the summary is a draft again with a new deadline and its own
    reminder and escalations; the reasons and the round are kept in the history."""
    summary = _summary(move)
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
    deadlines.arm_hold(move.session, ev, move.rules, move.calendar, move.now, rearm_fired=True)


def drop_timers(move: Move) -> None:
    """after(cancel): a cancelled event owes no reminders or escalations."""
    deadlines.cancel_event_timers(move.session, move.event)


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------

STATES = [s.value for s in EventState]

TRANSITIONS: list[dict[str, Any]] = [
    {
        "trigger": "invite",
        "source": S.planned,
        "dest": S.invited,
        "conditions": [_all_of(invitee_count_in_range, citizen_share_of_invitees)],
    },
    {
        "trigger": "hold",
        "source": S.invited,
        "dest": S.held,
        "prepare": [_step(record_attendance)],
        "conditions": [
            _all_of(event_date_has_come, attendance_recorded, citizen_share_of_attendees)
        ],
        "after": [_step(mark_held)],
    },
    {
        "trigger": "collect_feedback",
        "source": S.held,
        "dest": S.feedback_collected,
        "prepare": [_step(record_feedback_items)],
        "conditions": [_all_of(feedback_recorded_or_none_stated)],
        "after": [_step(stamp_collection)],
    },
    {
        "trigger": "submit_summary",
        "source": S.feedback_collected,
        "dest": S.summary_submitted,
        "prepare": [_step(write_summary_text)],
        "conditions": [_all_of(summary_has_text, summary_has_attachment)],
        "after": [_step(stamp_summary)],
    },
    {
        "trigger": "spot_check",
        "source": S.summary_submitted,
        "dest": S.spot_checked,
        "after": [_step(record_spot_check)],
    },
    {
        "trigger": "return_for_rework",
        "source": [S.summary_submitted, S.spot_checked],
        "dest": S.feedback_collected,
        "conditions": [_all_of(rework_date_not_past)],
        "after": [_step(send_back)],
    },
    {
        "trigger": "reschedule",
        "source": [S.planned, S.invited],
        "dest": "=",
        "conditions": [_all_of(reason_given, new_date_not_past, new_date_in_campaign)],
        "after": [_step(apply_new_date)],
    },
    {
        "trigger": "cancel",
        "source": [S.planned, S.invited],
        "dest": S.cancelled,
        "conditions": [_all_of(reason_given)],
        "after": [_step(drop_timers)],
    },
]

MACHINE = Machine(
    model=None,
    states=STATES,
    transitions=TRANSITIONS,
    initial=S.planned,
    model_attribute="state",
    auto_transitions=False,
    send_event=True,
)

TRIGGERS: list[str] = [t["trigger"] for t in TRANSITIONS]
SUPERVISOR_TRIGGERS = frozenset({"spot_check", "return_for_rework"})


def allowed_triggers(state: str, actor: Actor | None = None) -> list[str]:
    """Moves the machine allows from a state, for this caller's role."""
    return WORKFLOW.allowed(state, actor)


def parse_move_data(trigger: str, data: dict[str, Any] | None) -> BaseModel:
    """Validate a move's data against the trigger's schema (raises pydantic's ValidationError)."""
    return WORKFLOW.parse(trigger, data)


_rules_seen: dict[int | None, tuple[dict[str, Any], CampaignRules]] = {}


def campaign_rules(campaign: Campaign) -> CampaignRules:
    """The campaign's rules, validated once per stored value rather than on every move (the
    rules are only read; a changed value, or another database's campaign, is validated anew)."""
    stored = campaign.rules or {}
    seen = _rules_seen.get(campaign.id)
    if seen is not None and seen[0] == stored:
        return seen[1]
    rules = CampaignRules.of(stored)
    _rules_seen[campaign.id] = (copy.deepcopy(stored), rules)
    return rules


def fire(
    session: Session,
    event: Event,
    trigger: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    reason: str | None = None,
    data: BaseModel | dict[str, Any] | None = None,
    campaign: Campaign | None = None,
    calendar_revision: tuple[Any, ...] | None = None,
) -> TransitionLog:
    """Apply one move to an event already loaded (and locked) in `session`, with its audit line.

    Nothing is committed here: the caller owns the transaction (see workflows/machine.py).
    A caller that read the event's campaign, or deadlines.CALENDAR_REVISION_COLUMNS, with the
    event in this transaction passes them on, which spares the move a statement each.
    """

    def make_move(parsed: BaseModel) -> Move:
        found = campaign if campaign is not None else session.get(Campaign, event.campaign_id)
        assert found is not None and found.id == event.campaign_id
        return Move(
            session=session,
            event=event,
            campaign=found,
            rules=campaign_rules(found),
            actor=actor,
            now=now,
            reason=reason.strip() if reason else None,
            data=parsed,
            calendar_revision=calendar_revision,
        )

    return machine.fire(
        session,
        WORKFLOW,
        event,
        trigger,
        expected_version=expected_version,
        actor=actor,
        now=now,
        make_move=make_move,
        audit_ids={"event_id": event.id},
        reason=reason.strip() if reason else None,
        data=data,
    )


STATE_LABELS_ZH: dict[str, str] = {
    S.planned: "已计划",
    S.invited: "已邀请",
    S.held: "已开展",
    S.feedback_collected: "意见已收集",
    S.summary_submitted: "总结已报送",
    S.spot_checked: "已抽查",
    S.cancelled: "已取消",
}

TRIGGER_LABELS_ZH: dict[str, str] = {
    "invite": "发出邀请",
    "hold": "开展活动",
    "collect_feedback": "收集意见",
    "submit_summary": "报送总结",
    "spot_check": "抽查",
    "reschedule": "改期",
    "cancel": "取消",
    "return_for_rework": "退回整改",
}

WORKFLOW = machine.Workflow(
    machine=MACHINE,
    triggers=TRIGGERS,
    move_data=MOVE_DATA,
    state_labels_zh=STATE_LABELS_ZH,
    trigger_labels_zh=TRIGGER_LABELS_ZH,
    what_zh="活动",
    what_en="event",
    supervisor_triggers=SUPERVISOR_TRIGGERS,
)


# --------------------------------------------------------------------------------------------
# Writes outside the machine: creating events and keeping their invitee lists
# --------------------------------------------------------------------------------------------


def plan(
    session: Session,
    *,
    campaign: Campaign,
    unit_id: int,
    theme: str,
    earliest: date,
    latest: date,
    actor: Actor,
    now: datetime,
    override_reason: str | None = None,
    **fields: Any,
) -> Event:
    """A person plans an event: not in the past, inside the campaign's window (a supervisor may
    override either with a reason, kept in the audit line)."""
    actor.require_write()
    check_window(earliest, latest)
    today = local_date(now)
    violations = []
    if latest < today:
        violations.append(
            Violation(
                "event_date_in_past",
                f"活动日期 {latest.isoformat()} 早于今天（{today.isoformat()}），"
                "不能新建已过去的活动（督查人员可说明理由后补录）",
                f"the event's date {latest.isoformat()} is before today ({today.isoformat()}) "
                "(a supervisor may backfill it with a reason)",
                {"latest": latest.isoformat(), "today": today.isoformat()},
            )
        )
    window = outside_campaign(campaign, earliest, latest)
    if window is not None:
        violations.append(window)
    # A supervisor may backfill a past event or place one outside the window, saying why.
    overridden = bool(violations) and actor.is_supervisor and bool((override_reason or "").strip())
    if violations and not overridden:
        raise MoveRefused("create", "", violations, [])
    return create_event(
        session,
        campaign=campaign,
        unit_id=unit_id,
        theme=theme,
        earliest=earliest,
        latest=latest,
        actor=actor,
        now=now,
        audit={"override_reason": override_reason, "overridden": [v.code for v in violations]}
        if overridden
        else None,
        **fields,
    )


def create_event(
    session: Session,
    *,
    campaign: Campaign,
    unit_id: int,
    theme: str,
    earliest: date,
    latest: date,
    actor: Actor,
    now: datetime,
    audit: dict[str, Any] | None = None,
    **fields: Any,
) -> Event:
    """Create a planned event with its first audit line (trigger `create`)."""
    check_window(earliest, latest)
    event = Event(
        campaign_id=campaign.id,  # type: ignore[arg-type]
        unit_id=unit_id,
        theme=theme,
        date_earliest=earliest,
        date_latest=latest,
        created_at=now,
        updated_at=now,
        **fields,
    )
    session.add(event)
    session.flush()
    rules = CampaignRules.of(campaign.rules)
    deadlines.arm_hold(session, event, rules, deadlines.load_calendar(session), now)
    session.add(
        TransitionLog(
            event_id=event.id,  # type: ignore[arg-type]
            trigger="create",
            from_state=None,
            to_state=event.state,
            version=event.version,
            actor_id=actor.id,
            actor_name=actor.name,
            at=now,
            data={"earliest": earliest.isoformat(), "latest": latest.isoformat(), **(audit or {})},
        )
    )
    return event


def window_of(day: date | None, earliest: date | None, latest: date | None) -> tuple[date, date]:
    """An event's date window from a single day, or from earliest and latest."""
    if day is not None and earliest is None and latest is None:
        return day, day
    if day is None and earliest is not None and latest is not None:
        check_window(earliest, latest)
        return earliest, latest
    raise DomainError(
        "date_required",
        "请给出活动日期 date，或日期范围 earliest 与 latest",
        "give the event's date, or both earliest and latest",
        status=422,
    )


def check_window(earliest: date, latest: date) -> None:
    """A window ends on or after the day it starts."""
    if latest < earliest:
        raise DomainError(
            "date_window_reversed",
            f"结束日期 {latest} 早于开始日期 {earliest}",
            f"latest date {latest} is before earliest date {earliest}",
            status=422,
        )


def require_version(event: Event, expected: int) -> None:
    """A write based on an old version of the event is refused."""
    if event.version != expected:
        violation = stale_version("活动", "event", event.version, expected)
        raise Conflict(
            violation.code, violation.message_zh, violation.message_en, details=violation.details
        )


def record_edit(
    session: Session,
    event: Event,
    what: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TransitionLog:
    """A person's change to the event or what hangs on it (invitees, opinions, summary, files)
    outside the machine: checked against the version they saw, bumps it, and leaves an audit
    line `edit.<what>` (who, when, what, before → after) in the event's history."""
    require_version(event, expected_version)
    actor.require_write()
    event.updated_at = now
    flag_modified(event, "updated_at")  # an UPDATE (and a version) even at the same instant
    session.flush()  # the version counter goes up with this UPDATE
    entry = TransitionLog(
        event_id=event.id,  # type: ignore[arg-type]
        trigger=f"edit.{what}",
        from_state=event.state,
        to_state=event.state,
        version=event.version,
        actor_id=actor.id,
        actor_name=actor.name,
        at=now,
        data=data or {},
    )
    session.add(entry)
    session.flush()
    return entry


def invite_violations(
    session: Session, event: Event, actor: Actor, now: datetime
) -> list[Violation]:
    """The invite guards run on the event's current list (after invite, every change to the
    list must still pass them)."""
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    move = Move(session, event, campaign, campaign_rules(campaign), actor, now, None, None)
    invitee_count_in_range(move)
    citizen_share_of_invitees(move)
    return move.violations


# What an edit outside the machine may change (dates change only by the reschedule move).
EDITABLE_FIELDS = {"theme", "location", "start_time", "end_time", "forms", "public_places"}


def edit(
    session: Session,
    event: Event,
    changes: dict[str, Any],
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> Event:
    """Edit a (locked) event's theme, location or forms."""
    unknown = set(changes) - EDITABLE_FIELDS
    if unknown:
        raise DomainError(
            "field_not_editable",
            f"不能直接修改：{'、'.join(sorted(unknown))}（日期请用改期）",
            f"not editable: {', '.join(sorted(unknown))} (dates change by reschedule)",
            status=422,
        )
    require_version(event, expected_version)
    if "forms" in changes:
        changes["forms"] = [EventForm(f).value for f in changes["forms"]]
    before = {key: getattr(event, key) for key in changes}
    for key, value in changes.items():
        setattr(event, key, value)
    record_edit(
        session,
        event,
        "event",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"before": audit.plain(before), "after": audit.plain(changes)},
    )
    return event
