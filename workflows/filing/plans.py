"""The plan (活动方案) an event files with the district office (报送审核备案), when the campaign's
notice asks for it: the unit fills in its plan while the event is planned; a supervisor approves
it or sends it back with a reason (the unit revises and sends it again). With the rule on, the
`invite` move asks `check_invite` (workflows/event/guards.py): refused until the plan is
approved, or — where the notice says 原则上 (mode `flag`) — recorded and flagged as a deviation.
Every step leaves an audit line in the event's history and a message in the inbox.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import (
    Campaign,
    Event,
    EventFiling,
    EventState,
    FilingKind,
    FilingState,
    Unit,
)
from workflows.campaign.rules import CampaignRules
from workflows.filing import timers
from workflows.inbox import service as inbox
from workflows.kernel import audit, tenancy
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Conflict, DomainError
from workflows.kernel.visibility import SOLE_OFFICE, Actor, visible
from workflows.workdays import deadlines

PLAN_MIN_CHARS = 10
PLAN_MAX_CHARS = 5000
NOTE_MIN_CHARS = 5
NOTE_MAX_CHARS = 1000
STATE_ZH: dict[str | None, str] = {  # a city of one district's words: see state_zh
    None: "未报送",
    FilingState.submitted: "待区政府办审核",
    FilingState.approved: "已审核通过",
    FilingState.returned: "已退回修改",
}


def state_zh(state: str | None, office: str = SOLE_OFFICE) -> str:
    """The plan's state in words, naming the event's district office (待安岳县政府办审核;
    districts.office_words)."""
    return STATE_ZH[state].replace(SOLE_OFFICE, office)


def rules_of(session: Session, event: Event) -> CampaignRules:
    """The event's campaign rules."""
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return CampaignRules.of(campaign.rules)


line = audit.event_line  # an audit line about the event that leaves its version as it is


def of(session: Session, event_id: int, kind: str = FilingKind.plan) -> EventFiling | None:
    """The event's filing of this kind, if any."""
    return session.exec(
        select(EventFiling).where(EventFiling.event_id == event_id, EventFiling.kind == kind)
    ).first()


def _text(value: str | None, field: str, label: str, low: int, high: int) -> str:
    text = (value or "").strip()
    if not low <= len(text) <= high:
        raise DomainError(
            f"{field}_invalid",
            f"{label}应为 {low}–{high} 个字（现为 {len(text)} 个字）",
            f"{field}: between {low} and {high} characters (got {len(text)})",
            status=422,
            details={"field": field, "min_length": low, "max_length": high},
        )
    return text


def submit(
    session: Session, event: Event, *, text: str, actor: Actor, shown: str, now: datetime
) -> EventFiling:
    """The unit files (or revises) its plan of a (locked, visible) planned event."""
    actor.require_write()
    body = _text(text, "plan", "活动方案", PLAN_MIN_CHARS, PLAN_MAX_CHARS)
    if not rules_of(session, event).plan_approval_required:
        raise Conflict(
            "plan_not_required",
            "本次活动的通知未要求报送活动方案审核",
            "this campaign's notice does not ask for plans to be approved",
        )
    if event.state != EventState.planned:
        raise Conflict(
            "plan_not_open",
            "活动已发出邀请，不能再报送或修改方案",
            f"the plan can only be filed while the event is planned (it is {event.state})",
            details={"state": event.state},
        )
    row = of(session, event.id or 0)
    if row is not None and row.state == FilingState.approved:
        raise Conflict(
            "plan_approved", "活动方案已审核通过，不能再修改", "the plan is already approved"
        )
    if row is None:
        row = EventFiling(
            event_id=event.id, unit_id=event.unit_id, kind=FilingKind.plan,  # type: ignore[arg-type]
            state=FilingState.submitted, submitted_at=now,
        )  # fmt: skip
        session.add(row)
    elif row.state == FilingState.returned:
        row.round += 1
    row.state, row.body = FilingState.submitted, {"text": body}
    row.submitted_by_name, row.submitted_at = shown, now
    row.decided_by_name = row.decided_at = row.note = None
    session.flush()
    timers.cancel(session, event.id or 0, timers.PLAN)
    line(session, event, "plan_submit", actor, now, None, {"round": row.round, "text": body})
    inbox.post(
        session, "plan_submitted", subject_type="event_filing", subject_id=row.id,  # type: ignore[arg-type]
        event_id=event.id, unit_id=event.unit_id, now=now, round=str(row.round),
        title=f"【方案待审核】{event.theme}（计划{day_zh(event.date_earliest)}开展）",
        body=f"报送人：{shown}\n{body[:200]}",
    )  # fmt: skip
    return row


def decide(
    session: Session,
    event: Event,
    *,
    approve: bool,
    note: str | None,
    actor: Actor,
    shown: str,
    now: datetime,
) -> EventFiling:
    """A supervisor approves the event's plan, or sends it back with a reason the unit sees
    (its deadline's 催办 is armed again: a plan sent back is a plan missing)."""
    actor.require_supervisor()
    actor = tenancy.act_in(session, actor, event.unit_id)  # a city supervisor: where granted
    actor.require_acting_supervisor()
    row = of(session, event.id or 0)
    if row is None or row.state != FilingState.submitted:
        raise Conflict(
            "plan_not_submitted",
            f"活动方案{STATE_ZH[row.state if row else None]}，没有待审核的方案",
            "there is no plan waiting for a decision",
            details={"state": row.state if row else None},
        )
    text = None
    if not approve:
        text = _text(note, "note", "退回理由", NOTE_MIN_CHARS, NOTE_MAX_CHARS)
    row.state = FilingState.approved if approve else FilingState.returned
    row.decided_by_name, row.decided_at, row.note = shown, now, text
    session.flush()
    trigger = "plan_approve" if approve else "plan_return"
    line(session, event, trigger, actor, now, text, {"round": row.round})
    if not approve:
        rules = rules_of(session, event)
        calendar = deadlines.load_calendar(session)
        found = timers.deadline(timers.PLAN, event, rules, calendar)
        deadlines.arm(session, found, now, rearm_fired=True)
    said = "已审核通过，可以发出邀请" if approve else "被退回修改"
    inbox.post(
        session, "plan_decision", subject_type="event_filing", subject_id=row.id,  # type: ignore[arg-type]
        event_id=event.id, unit_id=event.unit_id, now=now, round=f"{row.round}-{row.state}",
        title=f"【方案审核】{event.theme}：活动方案{said}",
        body=f"审核人：{shown}" + (f"\n退回理由：{text}" if text else ""),
    )  # fmt: skip
    return row


def check_invite(
    session: Session, event: Event, rules: CampaignRules, office: Callable[[], str]
) -> dict[str, Any] | None:
    """What the invite guard reports when the rule is on and the plan is not approved: the
    plan's state (in words naming `office()`, the event's district office, asked only then)
    and the notice's sentence; None when nothing stands in the way."""
    if not rules.plan_approval_required:
        return None
    row = of(session, event.id or 0)
    state = row.state if row is not None else None
    if state == FilingState.approved:
        return None
    return {"plan_state": state, "plan_state_zh": state_zh(state, office()),
            "sentence": rules.plan_approval_sentence}  # fmt: skip


def waiting(session: Session, actor: Actor) -> list[tuple[EventFiling, Event, str]]:
    """Plans waiting for a decision that the caller may see, oldest first."""
    stmt = (
        select(EventFiling, Event, Unit.name)
        .join(Event, col(Event.id) == EventFiling.event_id)
        .join(Unit, col(Unit.id) == EventFiling.unit_id)
        .where(EventFiling.kind == FilingKind.plan, EventFiling.state == FilingState.submitted)
        .order_by(col(EventFiling.submitted_at), col(EventFiling.id))
    )
    stmt = visible(stmt, actor, EventFiling.unit_id)
    return [(r, e, name) for r, e, name in session.exec(stmt).all()]
