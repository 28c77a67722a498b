"""Corrections of what was recorded (更正): a hold's attendance, corrected with a reason.

The unit that recorded the hold may correct it within the campaign's `correction_workdays`
working days of recording it; later only a supervisor may (their correction is the district
office's approval). Each correction is an edit of the event (`edit.attendance`, through
service.record_edit: checked against the version the person saw, audited with its reason,
who, when, and who was changed), and the hold's rules run again on the corrected attendance:
too few attendees is refused; a citizen share under the rule is refused or flagged by the
rule's mode, like the hold itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, Event, EventState, Invitee, TransitionLog
from workflows.accounts import districts
from workflows.event.guards import attendance_recorded, citizen_share_of_attendees
from workflows.event.invitees import public_view
from workflows.event.machine import campaign_rules
from workflows.event.moves import Move
from workflows.event.service import record_edit, require_version
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, DomainError, Forbidden, MoveRefused
from workflows.kernel.visibility import Actor
from workflows.workdays.deadlines import load_calendar

CORRECTABLE = (
    EventState.held,
    EventState.feedback_collected,
    EventState.summary_submitted,
    EventState.spot_checked,
)


@dataclass(frozen=True)
class Window:
    """Who may correct a recorded hold now, and until when the unit may."""

    open: bool  # the event has a hold to correct
    unit_until: date | None  # the last day the unit may correct it
    unit_may: bool  # today is within the unit's working days

    def allows(self, actor: Actor) -> bool:
        """A supervisor may always correct a recorded hold; the unit within its days."""
        return self.open and (actor.is_supervisor or self.unit_may)


def window(session: Session, event: Event, today: date) -> Window:
    """The correction window of an event's hold (counted from the day it was recorded)."""
    if event.state not in CORRECTABLE or event.held_on is None:
        return Window(False, None, False)
    recorded = session.exec(
        select(TransitionLog.at)
        .where(TransitionLog.event_id == event.id, TransitionLog.trigger == "hold")
        .order_by(col(TransitionLog.id).desc())
    ).first()
    start = local_date(recorded) if recorded else event.held_on
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    days = campaign_rules(campaign).correction_workdays
    until = load_calendar(session).add_workdays(start, days).day if days else start
    return Window(True, until, today <= until)


def correct_attendance(
    session: Session,
    event: Event,
    attendance: dict[int, bool],
    reason: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> TransitionLog:
    """Correct who attended a held event (every invitee named: attended or not), with why
    (`extra`: what the audit line adds, e.g. the approved request it applies)."""
    require_version(event, expected_version)
    actor.require_write()
    _may_correct(session, event, actor, now)
    require_reason(reason)
    people = session.exec(select(Invitee).where(Invitee.event_id == event.id)).all()
    came = [p for p in people if p.attended is not True and attendance.get(p.id or 0) is True]
    left = [p for p in people if p.attended is True and attendance.get(p.id or 0) is False]
    if not came and not left:
        raise DomainError(
            "correction_no_change",
            "出席情况没有变化，无需更正",
            "the attendance is unchanged",
            status=422,
        )
    for person in came:
        person.attended = True
    for person in left:
        person.attended = False
    session.flush()
    flagged = _recheck(session, event, actor, now)
    attendees = sum(1 for p in people if p.attended)
    return record_edit(
        session,
        event,
        "attendance",
        expected_version=expected_version,
        actor=actor,
        now=now,
        reason=reason.strip(),
        data={
            "now_attended": [public_view(p) for p in came],
            "now_absent": [public_view(p) for p in left],
            "attendees": attendees,
            **flagged,
            **(extra or {}),
        },
    )


def require_reason(reason: str) -> None:
    """Every correction says why (422 naming 更正理由)."""
    if not reason.strip():
        raise DomainError(
            "correction_reason_missing",
            "请填写更正理由",
            "reason: give the reason for the correction",
            status=422,
            details={"field": "reason"},
        )


def require_correctable(session: Session, event: Event, actor: Actor, now: datetime) -> None:
    """Refuse a correction of an event with no hold, or the unit's after its working days."""
    _may_correct(session, event, actor, now)


def _may_correct(session: Session, event: Event, actor: Actor, now: datetime) -> None:
    """Refuse a correction of an event with no hold, or the unit's after its working days."""
    found = window(session, event, local_date(now))
    if not found.open:
        raise Conflict(
            "attendance_not_recorded_yet",
            "活动尚未登记开展情况，无需更正",
            "the event's hold has not been recorded",
        )
    if not found.allows(actor):
        until = found.unit_until.isoformat() if found.unit_until else ""
        office = districts.unit_office_for(session, actor, event.unit_id)
        raise Forbidden(
            "correction_window_closed",
            f"本单位可更正的期限已于 {until} 结束，请联系{office}更正",
            f"the unit could correct the hold until {until}; ask the district office",
        )


def _recheck(session: Session, event: Event, actor: Actor, now: datetime) -> dict[str, object]:
    """The hold's attendance rules on the corrected list: refused, or the flags it changes."""
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    move = Move(session, event, campaign, campaign_rules(campaign), actor, now, None, None)
    attendance_recorded(move)
    citizen_share_of_attendees(move)
    if move.violations:
        raise MoveRefused("correct_attendance", event.state, move.violations, [])
    before = event.flags
    kept = [f for f in event.flags or []
            if not (f.get("at") == "hold" and f["rule"] not in ("leader", "forms"))]  # fmt: skip
    event.flags = (kept + move.flags) or None
    return {} if event.flags == before else {"flags": move.flags}
