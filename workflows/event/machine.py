"""The event machine: states, the transition table and the service that fires moves.

One module-level `transitions.Machine` (model=None) serves every event row; a move fires
`MACHINE.events[trigger].trigger(row, move=...)` (transitions FAQ, issue #146), because a SQLModel
row refuses the helper methods transitions would bind onto it (issue #635). The database, not the
machine, arbitrates concurrency: the row is locked (PostgreSQL) or the transaction holds SQLite's
write lock, and the event's version column refuses a write based on a stale read.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session
from transitions import Machine

from models import Campaign, Event, EventState, TransitionLog
from workflows.campaign.rules import CampaignRules
from workflows.event.data import MOVE_DATA
from workflows.event.guards import (
    attendance_recorded,
    citizen_share_of_attendees,
    citizen_share_of_invitees,
    event_date_has_come,
    feedback_recorded_or_none_stated,
    invitee_count_in_range,
    new_date_in_campaign,
    new_date_not_past,
    plan_approved,
    reason_given,
    rework_date_not_past,
    summary_has_attachment,
    summary_has_text,
)
from workflows.event.held import (
    forms_held_recorded,
    forms_in_notice,
    held_days_in_order,
    leader_met_visitors,
)
from workflows.event.held import record as record_what_was_held
from workflows.event.moves import (
    Move,
    all_of,
    apply_new_date,
    drop_timers,
    mark_held,
    record_attendance,
    record_feedback_items,
    record_flags,
    record_spot_check,
    send_back,
    send_invitations,
    settle_cancellation,
    stamp_collection,
    stamp_summary,
    step,
    write_summary_text,
)
from workflows.kernel import machine as kernel_machine
from workflows.kernel.visibility import Actor

S = EventState

STATES = [s.value for s in EventState]

TRANSITIONS: list[dict[str, Any]] = [
    {
        "trigger": "invite",
        "source": S.planned,
        "dest": S.invited,
        "conditions": [all_of(plan_approved, invitee_count_in_range, citizen_share_of_invitees)],
        "after": [step(record_flags), step(send_invitations)],
    },
    {
        "trigger": "hold",
        "source": S.invited,
        "dest": S.held,
        "prepare": [step(record_attendance), step(record_what_was_held)],
        "conditions": [
            all_of(
                event_date_has_come,
                held_days_in_order,
                forms_held_recorded,
                forms_in_notice,
                attendance_recorded,
                citizen_share_of_attendees,
                leader_met_visitors,
            )
        ],
        "after": [step(mark_held), step(record_flags)],
    },
    {
        "trigger": "collect_feedback",
        "source": S.held,
        "dest": S.feedback_collected,
        "prepare": [step(record_feedback_items)],
        "conditions": [all_of(feedback_recorded_or_none_stated)],
        "after": [step(stamp_collection)],
    },
    {
        "trigger": "submit_summary",
        "source": S.feedback_collected,
        "dest": S.summary_submitted,
        "prepare": [step(write_summary_text)],
        "conditions": [all_of(summary_has_text, summary_has_attachment)],
        "after": [step(stamp_summary)],
    },
    {
        "trigger": "spot_check",
        "source": S.summary_submitted,
        "dest": S.spot_checked,
        "after": [step(record_spot_check)],
    },
    {
        "trigger": "return_for_rework",
        "source": [S.summary_submitted, S.spot_checked],
        "dest": S.feedback_collected,
        "conditions": [all_of(rework_date_not_past)],
        "after": [step(send_back)],
    },
    {
        "trigger": "reschedule",
        "source": [S.planned, S.invited],
        "dest": "=",
        "conditions": [all_of(reason_given, new_date_not_past, new_date_in_campaign)],
        "after": [step(apply_new_date)],
    },
    {
        "trigger": "cancel",
        "source": [S.planned, S.invited],
        "dest": S.cancelled,
        "conditions": [all_of(reason_given)],
        "after": [step(drop_timers), step(settle_cancellation)],
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
# Unit staff ask to cancel (workflows/event/cancellation.py); a supervisor cancels.
SUPERVISOR_TRIGGERS = frozenset({"spot_check", "return_for_rework", "cancel"})


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

    Nothing is committed here: the caller owns the transaction (see workflows/kernel/machine.py).
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

    return kernel_machine.fire(
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

WORKFLOW = kernel_machine.Workflow(
    machine=MACHINE,
    triggers=TRIGGERS,
    move_data=MOVE_DATA,
    state_labels_zh=STATE_LABELS_ZH,
    trigger_labels_zh=TRIGGER_LABELS_ZH,
    what_zh="活动",
    what_en="event",
    supervisor_triggers=SUPERVISOR_TRIGGERS,
)
