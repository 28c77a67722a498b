"""Writes to events outside the machine: planning and creating events, edits checked against the
version a person saw (each leaving an `edit.<what>` audit line), and the invite guards re-run on
the current list.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm.attributes import flag_modified
from sqlmodel import Session

from models import Campaign, Event, EventForm, TransitionLog, Unit
from workflows.campaign.rules import CampaignRules
from workflows.event.guards import (
    citizen_share_of_invitees,
    invitee_count_in_range,
    outside_campaign,
)
from workflows.event.machine import campaign_rules
from workflows.event.moves import Move
from workflows.filing import timers as filing
from workflows.kernel import audit
from workflows.kernel.clock import local_date
from workflows.kernel.errors import (
    Conflict,
    DomainError,
    InvalidData,
    MoveRefused,
    Violation,
    stale_version,
)
from workflows.kernel.visibility import Actor
from workflows.workdays import deadlines


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
    unit = session.get(Unit, unit_id)
    if unit is None or unit.district_id != campaign.district_id:
        raise InvalidData(
            "unit_not_in_campaign_district",
            f"单位 {unit_id} 不属于该活动所在区县",
            f"unit {unit_id} is not of the campaign's district",
        )
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
    calendar = deadlines.load_calendar(session)
    deadlines.arm_hold(session, event, rules, calendar, now)
    filing.arm(session, event, rules, calendar, now)  # what the notice asks before the day
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
    reason: str | None = None,
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
        reason=reason,
        data=data or {},
    )
    session.add(entry)
    session.flush()
    return entry


def recheck_invite(session: Session, event: Event, actor: Actor, now: datetime) -> Move:
    """The invite guards run on the event's current list (after invite, every change to the
    list must still pass them): the move's violations (rules in `refuse` mode) and flags."""
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    move = Move(session, event, campaign, campaign_rules(campaign), actor, now, None, None)
    invitee_count_in_range(move)
    citizen_share_of_invitees(move)
    return move


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
    if "public_places" in changes:  # opening (or closing) public registration: the 公告's 催办
        campaign = session.get(Campaign, event.campaign_id)
        assert campaign is not None
        filing.arm(session, event, campaign_rules(campaign), deadlines.load_calendar(session), now)
    return event
