"""Corrections of a recorded hold beyond attendance (更正, issue 24): the day(s) held, the forms
held, who met the visitors, and the invitee list after the hold — each with a reason, within
the same window as attendance (workflows/event/corrections.py: the unit within its working
days, a supervisor any time; later a clerk asks, workflows/oversight/correction_requests.py).

Each correction is one audited edit of the event (`edit.hold`, `edit.hold_invitees`) with the
values before and after, and the hold's rules run again on the corrected record: the flags of
the rules it touches are recomputed, a rule in `refuse` mode refuses it. A new last day held
re-arms the summary's deadline (timer rows) when the summary is still owed on the first clock.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator
from sqlmodel import Session, col, func, select

from models import Campaign, Event, EventForm, EventState, Invitee, InviteeCategory, TransitionLog
from workflows.event import flags, held
from workflows.event.corrections import require_correctable, require_reason
from workflows.event.data import Day, MetBy
from workflows.event.guards import attendance_recorded, citizen_share_of_attendees
from workflows.event.invitees import check_fields, public_view
from workflows.event.machine import campaign_rules
from workflows.event.moves import Move, count_invitees
from workflows.event.service import recheck_invite, record_edit, require_version
from workflows.kernel.errors import DomainError, MoveRefused
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50)]


class HoldFix(BaseModel):
    """What of the hold record changes (any of them; at least one)."""

    model_config = ConfigDict(extra="forbid")
    held_on: Day | None = None
    held_until: Day | None = None
    forms_held: list[EventForm] | None = Field(default=None, max_length=4)
    met_by: list[MetBy] | None = Field(default=None, max_length=10)

    @model_validator(mode="after")
    def _something(self) -> HoldFix:
        if not self.model_fields_set:
            raise ValueError("请至少更正一项 / give at least one change")
        return self


class InviteeChange(BaseModel):
    """An invitee's name or kind corrected."""

    model_config = ConfigDict(extra="forbid")
    id: int = Field(ge=1)
    name: Name | None = None
    category: InviteeCategory | None = None


class NewAttendee(BaseModel):
    """Someone who came but was not on the list."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    category: InviteeCategory
    invitation: str | None = Field(default=None, max_length=16)
    attended: bool = True


class InviteesFix(BaseModel):
    """The invitee list after the hold: names or kinds corrected, people added, people taken
    off (kept in the record as not invited)."""

    model_config = ConfigDict(extra="forbid")
    change: list[InviteeChange] = Field(default_factory=list, max_length=200)
    add: list[NewAttendee] = Field(default_factory=list, max_length=200)
    remove: list[int] = Field(default_factory=list, max_length=200)

    @model_validator(mode="after")
    def _something(self) -> InviteesFix:
        if not (self.change or self.add or self.remove):
            raise ValueError("请至少更正一项 / give at least one change")
        return self


def record_of(event: Event) -> dict[str, Any]:
    """The hold record as the audit keeps it."""
    return {
        "held_on": event.held_on.isoformat() if event.held_on else None,
        "held_until": (event.held_until or event.held_on).isoformat() if event.held_on else None,
        "forms_held": list(event.forms_held or []),
        "met_by": list(event.met_by or []),
    }


def correct_hold(
    session: Session,
    event: Event,
    fix: HoldFix,
    reason: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> TransitionLog:
    """Correct the day(s) held, the forms held or who met the visitors, with why."""
    require_version(event, expected_version)
    actor.require_write()
    require_correctable(session, event, actor, now)
    require_reason(reason)
    before = record_of(event)
    _apply(event, fix, before)
    after = record_of(event)
    if after == before:
        raise DomainError(
            "correction_no_change",
            "开展情况没有变化，无需更正",
            "the hold record is unchanged",
            status=422,
        )
    move = _move(session, event, actor, now, reason)
    held.held_days_in_order(move)
    held.forms_held_recorded(move)
    held.forms_in_notice(move)
    held.leader_met_visitors(move)
    _refuse_or_flag(move, "correct_hold", HOLD_RECORD_RULES)
    data: dict[str, Any] = {"before": before, "after": after, **(extra or {})}
    if after["held_until"] != before["held_until"]:
        data["summary_due_on"] = _rearm_summary(session, event, move, now)
    if move.flags or _had_flag(before, event):
        data["flags"] = move.flags
    return record_edit(
        session, event, "hold", expected_version=event.version, actor=actor, now=now,
        reason=reason.strip(), data=data,
    )  # fmt: skip


def _apply(event: Event, fix: HoldFix, before: dict[str, Any]) -> None:
    one_day = before["held_until"] == before["held_on"]
    if fix.held_on is not None:
        event.held_on = fix.held_on
        if fix.held_until is None and one_day:
            event.held_until = fix.held_on
    if fix.held_until is not None:
        event.held_until = fix.held_until
    if fix.forms_held is not None:
        event.forms_held = held.forms_in_order(list(fix.forms_held))
    if fix.met_by is not None:
        event.met_by = held.people(list(fix.met_by))


def _had_flag(before: dict[str, Any], event: Event) -> bool:
    return any(f.get("rule") in HOLD_RECORD_RULES for f in event.flags or [])


def _move(session: Session, event: Event, actor: Actor, now: datetime, reason: str) -> Move:
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return Move(session, event, campaign, campaign_rules(campaign), actor, now, reason, None)


# The hold's own record (forms held, who met the visitors): its flags a hold correction redoes.
HOLD_RECORD_RULES = frozenset({"leader", "forms"})


def _refuse_or_flag(move: Move, what: str, rules: frozenset[str] | set[str]) -> None:
    """Refuse on a broken rule; else the hold flags of `rules` replaced by the new ones."""
    if move.violations:
        raise MoveRefused(what, move.event.state, move.violations, [])
    kept = [f for f in move.event.flags or [] if not (f.get("at") == "hold" and f["rule"] in rules)]
    move.event.flags = (kept + move.flags) or None


def _rearm_summary(session: Session, event: Event, move: Move, now: datetime) -> str | None:
    """A new last day held moves the summary's due day while it is still owed on the first
    clock (not sent back for rework, not submitted): its timers re-armed, fired ones again."""
    if event.state not in (EventState.held, EventState.feedback_collected):
        return None
    reworked = session.exec(
        select(func.count())
        .select_from(TransitionLog)
        .where(TransitionLog.event_id == event.id, TransitionLog.trigger == "return_for_rework")
    ).one()
    if reworked:
        return None
    due: date = deadlines.summary_deadline(event, move.rules, move.calendar).deadline_on
    deadlines.arm_summary(session, event, move.rules, move.calendar, now, due_on=due)
    return due.isoformat()


def correct_invitees(
    session: Session,
    event: Event,
    fix: InviteesFix,
    reason: str,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
    extra: dict[str, Any] | None = None,
) -> TransitionLog:
    """Correct the invitee list of a held event (names, kinds, people added or taken off),
    with why; the invite and hold rules run again on the corrected list."""
    require_version(event, expected_version)
    actor.require_write()
    require_correctable(session, event, actor, now)
    require_reason(reason)
    people = {p.id: p for p in session.exec(select(Invitee).where(Invitee.event_id == event.id))}
    unknown = sorted(({c.id for c in fix.change} | set(fix.remove)) - set(people))
    if unknown:
        raise DomainError(
            "invitee_not_found",
            f"受邀人员 {unknown} 不属于此活动",
            f"invitees {unknown} do not belong to this event",
            status=422,
            details={"invitee_ids": unknown},
        )
    data: dict[str, Any] = {**_change_list(session, event, people, fix, now), **(extra or {})}
    data.update(_recheck_lists(session, event, actor, now, reason))
    return record_edit(
        session, event, "hold_invitees", expected_version=event.version, actor=actor,
        now=now, reason=reason.strip(), data=data,
    )  # fmt: skip


def _change_list(
    session: Session, event: Event, people: dict[Any, Invitee], fix: InviteesFix, now: datetime
) -> dict[str, Any]:
    """Apply the list's changes; what the audit line keeps of them."""
    data: dict[str, Any] = {"changed": [], "added": [], "removed": []}
    for c in fix.change:
        person = people[c.id]
        was = public_view(person)
        person.name = c.name or person.name
        if c.category is not None and c.category.value != person.category:
            person.category = c.category.value
            if person.category != InviteeCategory.citizen:
                person.invitation = person.targeted_kind = None
            elif person.invitation is None:
                person.invitation = "targeted"
        data["changed"].append({"before": was, "after": public_view(person)})
    for i, new in enumerate(fix.add):
        invitation = new.invitation or ("targeted" if new.category == "citizen" else None)
        try:
            check_fields(new.category.value, invitation, None)
        except DomainError as exc:
            exc.details["index"] = i
            raise
        person = Invitee(
            event_id=event.id,  # type: ignore[arg-type]
            name=new.name,
            category=new.category.value,
            invitation=invitation,
            attended=new.attended,
            created_at=now,
        )
        session.add(person)
        data["added"].append(person)
    for invitee_id in fix.remove:
        person = people[invitee_id]
        person.invited, person.attended = False, False
        data["removed"].append(public_view(person))
    session.flush()
    data["added"] = [public_view(p) for p in data["added"]]
    return data


def _recheck_lists(
    session: Session, event: Event, actor: Actor, now: datetime, reason: str
) -> dict[str, Any]:
    """The invite rules on the corrected list and the hold's attendance rules: refused in a
    rule's `refuse` mode, else their flags recomputed."""
    invite = recheck_invite(session, event, actor, now)
    if invite.violations:
        raise MoveRefused("correct_invitees", event.state, invite.violations, [])
    event.flags = flags.replace(event.flags, "invite", invite.flags)
    move = _move(session, event, actor, now, reason)
    attendance_recorded(move)
    citizen_share_of_attendees(move)
    _refuse_or_flag(move, "correct_invitees", {"citizen_share"})
    attended = count_invitees(session, Invitee.event_id == event.id, col(Invitee.attended))
    return {"attendees": attended, "flags": invite.flags + move.flags}
