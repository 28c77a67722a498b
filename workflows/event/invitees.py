"""The invitee list of an event (开放对象): who is invited, how, and who attended."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models import Event, EventState, Invitee, InviteeCategory
from workflows.event import flags, invitations
from workflows.event.machine import STATE_LABELS_ZH
from workflows.event.service import recheck_invite, record_edit, require_version
from workflows.kernel.errors import Conflict, DomainError, MoveRefused, NotFound
from workflows.kernel.visibility import Actor

# The invitee list may change until the event is held; attendance only once invitations are out.
EDITABLE = {EventState.planned, EventState.invited}


def require_editable(event: Event) -> None:
    """The invitee list is frozen once the event has been held (or cancelled)."""
    if event.state not in EDITABLE:
        raise Conflict(
            "invitees_frozen",
            f"活动状态为“{STATE_LABELS_ZH[event.state]}”，受邀名单已不能修改",
            f"the invitee list can no longer change in state '{event.state}'",
        )


def check_fields(category: str, invitation: str | None, targeted_kind: str | None) -> None:
    """Citizens say how they were invited (定向 / 公开); only targeted ones carry a sub-kind."""
    if category == InviteeCategory.citizen:
        if invitation is None:
            raise DomainError(
                "invitation_mode_required",
                "市民代表须注明邀请方式：定向邀请（targeted）或公开邀请（public）",
                "a citizen representative needs an invitation mode: targeted or public",
                status=422,
            )
        if invitation == "public" and targeted_kind is not None:
            raise DomainError(
                "targeted_kind_not_allowed",
                "公开邀请的市民代表不填定向邀请类别",
                "targeted_kind applies only to targeted invitations",
                status=422,
            )
    elif invitation is not None or targeted_kind is not None:
        raise DomainError(
            "invitation_mode_not_allowed",
            "邀请方式仅适用于市民代表",
            "invitation mode applies only to citizen representatives",
            status=422,
        )


def get(session: Session, event: Event, invitee_id: int) -> Invitee:
    """An invitee of this event, or 404."""
    invitee = session.get(Invitee, invitee_id)
    if invitee is None or invitee.event_id != event.id:
        raise NotFound(
            "invitee_not_found", f"受邀人员 {invitee_id} 不存在", f"invitee {invitee_id} not found"
        )
    return invitee


def _public(invitee: Invitee) -> dict[str, Any]:
    """An invitee for the audit line (no phone number: personal data stays out of the log)."""
    return {
        "id": invitee.id,
        "name": invitee.name,
        "category": invitee.category,
        "invitation": invitee.invitation,
        "invited": invitee.invited,
        "attended": invitee.attended,
    }


def public_view(invitee: Invitee) -> dict[str, Any]:
    """An invitee as audit lines keep it: id, name, category, invitation, invited, attended."""
    return _public(invitee)


def _still_valid(session: Session, event: Event, actor: Actor, now: datetime) -> dict[str, Any]:
    """Once invitations are out the list is fixed: a change must pass the invite rules again
    (or the event goes back to planned by rescheduling first). In a rule's `flag` mode the
    change is kept and the invite stage's flags recomputed: what the edit's audit line adds."""
    if event.state != EventState.invited:
        return {}
    session.flush()
    move = recheck_invite(session, event, actor, now)
    if move.violations:
        raise MoveRefused("edit_invitees", event.state, move.violations, [])
    before = event.flags
    event.flags = flags.replace(event.flags, "invite", move.flags)
    return {} if event.flags == before else {"flags": move.flags}


def add(
    session: Session,
    event: Event,
    people: Sequence[dict[str, Any]],
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> list[Invitee]:
    """Add invitees to a (locked) event's list, all or nothing."""
    require_editable(event)
    require_version(event, expected_version)
    assert event.id is not None
    added = []
    for index, fields in enumerate(people):
        try:
            check_fields(fields["category"], fields.get("invitation"), fields.get("targeted_kind"))
        except DomainError as exc:
            exc.details["index"] = index
            raise
        invitee = Invitee(**fields, event_id=event.id, created_at=now)
        session.add(invitee)
        added.append(invitee)
    flagged = _still_valid(session, event, actor, now)
    record_edit(
        session,
        event,
        "invitees",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"added": [_public(i) for i in added], **flagged},
    )
    if event.state == EventState.invited:  # invitations are out: the newcomers are owed theirs
        invitations.owe(session, event, [i for i in added if i.invited], "invitation", now)
    return added


def update(
    session: Session,
    event: Event,
    invitee_id: int,
    changes: dict[str, Any],
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> Invitee:
    """Correct an invitee or record their attendance (attendance once invitations are out)."""
    require_editable(event)
    require_version(event, expected_version)
    invitee = get(session, event, invitee_id)
    if "attended" in changes and event.state != EventState.invited:
        raise Conflict(
            "attendance_not_open",
            "发出邀请后才能登记出席情况",
            "attendance can be recorded only once invitations are out (state invited)",
        )
    before = _public(invitee)
    for key, value in changes.items():
        setattr(invitee, key, value)
    check_fields(invitee.category, invitee.invitation, invitee.targeted_kind)
    flagged = _still_valid(session, event, actor, now)
    record_edit(
        session,
        event,
        "invitee",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"before": before, "after": _public(invitee), **flagged},
    )
    return invitee


def remove(
    session: Session,
    event: Event,
    invitee_id: int,
    *,
    expected_version: int,
    actor: Actor,
    now: datetime,
) -> None:
    """Take an invitee off the list (before the event is held)."""
    require_editable(event)
    require_version(event, expected_version)
    invitee = get(session, event, invitee_id)
    removed = _public(invitee)
    session.delete(invitee)
    flagged = _still_valid(session, event, actor, now)
    record_edit(
        session,
        event,
        "invitees",
        expected_version=expected_version,
        actor=actor,
        now=now,
        data={"removed": [removed], **flagged},
    )


def meter(session: Session, event: Event, rules: Any) -> dict[str, int]:
    """The list against the invite rules, for a live count: invited, citizens, needed, range."""
    invited = [
        i
        for i in session.exec(select(Invitee).where(Invitee.event_id == event.id)).all()
        if i.invited
    ]
    citizens = sum(1 for i in invited if i.category == InviteeCategory.citizen)
    return {
        "invited": len(invited),
        "citizens": citizens,
        "citizens_needed": rules.citizens_needed(len(invited)),
        "min": rules.invitees_min,
        "max": rules.invitees_max,
    }
