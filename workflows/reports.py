"""The campaign report per unit, and the facts it and the assessment read.

`collect` reads a campaign in a handful of grouped queries (not one per unit), keeping for each
unit both counts and the records behind them (event ids, opinion ids, log ids), so the report
shows numbers and the assessment can name the record behind every deduction.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    EventState,
    ExtensionRequest,
    FeedbackItem,
    Invitee,
    Notification,
    SpotCheck,
    Summary,
    TransitionLog,
    Unit,
)
from workflows import campaigns
from workflows.clock import local_date
from workflows.exports import Column, Sheet
from workflows.rules import CampaignRules

HOLD_OPEN = (EventState.planned, EventState.invited)

# Report columns: key, Chinese header (the page, the xlsx and the JSON share them).
COLUMNS: list[tuple[str, str]] = [
    ("events", "活动数"),
    ("cancelled", "已取消"),
    ("held", "已开展"),
    ("held_on_time", "按期开展"),
    ("held_late", "逾期开展"),
    ("not_held_overdue", "逾期未开展"),
    ("invitees", "邀请人数"),
    ("npc_deputy", "人大代表"),
    ("cppcc_member", "政协委员"),
    ("citizen", "市民代表"),
    ("citizen_targeted", "定向邀请"),
    ("citizen_public", "公开邀请"),
    ("attended", "出席人数"),
    ("attended_citizens", "出席市民代表"),
    ("form_office_visit", "参观机关办公场所"),
    ("form_site_visit", "现场参观考察"),
    ("form_dialogue", "政民恳谈交流"),
    ("form_feedback", "意见反馈"),
    ("opinions", "意见建议"),
    ("answered", "已答复"),
    ("answered_on_time", "按时答复"),
    ("answered_late", "逾期答复"),
    ("open_overdue", "逾期未答复"),
    ("workdays_late", "累计超期工作日"),
    ("extensions", "申请延期"),
    ("extensions_approved", "批准延期"),
    ("summaries", "已报送总结"),
    ("summaries_on_time", "总结按时"),
    ("summaries_late", "总结逾期"),
    ("reworks", "退回整改"),
    ("spot_satisfactory", "抽查合格"),
    ("spot_needs_improvement", "抽查需整改"),
    ("spot_unsatisfactory", "抽查不合格"),
    ("escalations_level_1", "一级催办"),
    ("escalations_level_2", "二级催办"),
]


@dataclass
class UnitFacts:
    """One unit's numbers and the records behind the ones the assessment deducts for."""

    unit_id: int
    unit_name: str
    unit_kind: str
    counts: Counter[str] = field(default_factory=Counter)
    held_late: list[dict[str, Any]] = field(default_factory=list)
    not_held: list[dict[str, Any]] = field(default_factory=list)
    citizen_short: list[dict[str, Any]] = field(default_factory=list)
    late_answers: list[dict[str, Any]] = field(default_factory=list)
    open_overdue: list[dict[str, Any]] = field(default_factory=list)
    late_summaries: list[dict[str, Any]] = field(default_factory=list)
    reworks: list[dict[str, Any]] = field(default_factory=list)
    spot_checks: list[dict[str, Any]] = field(default_factory=list)

    def row(self) -> dict[str, Any]:
        """The report row: the unit and every column's number."""
        out: dict[str, Any] = {
            "unit_id": self.unit_id,
            "unit_name": self.unit_name,
            "unit_kind": self.unit_kind,
        }
        out.update({key: int(self.counts.get(key, 0)) for key, _ in COLUMNS})
        return out


@dataclass
class Facts:
    """A campaign's facts at `now`: per unit, in unit name order."""

    campaign: Campaign
    rules: CampaignRules
    now: datetime
    units: dict[int, UnitFacts]


def collect(session: Session, campaign_id: int, now: datetime) -> Facts:
    """Everything the report and the assessment need, for every unit with events."""
    campaign = campaigns.get(session, campaign_id)
    rules = CampaignRules.of(campaign.rules)
    units = _units(session, campaign_id)
    facts = Facts(campaign, rules, now, units)
    event_unit = _events(session, facts, local_date(now))
    if event_unit:
        _invitees(session, facts, event_unit)
        _opinions(session, facts)
        _extensions(session, facts)
        _summaries(session, facts, event_unit)
        _spot_checks(session, facts, event_unit)
        _escalations(session, facts)
    return facts


def _units(session: Session, campaign_id: int) -> dict[int, UnitFacts]:
    rows = session.execute(
        sa.select(Unit.id, Unit.name, Unit.kind)
        .where(Unit.id.in_(sa.select(Event.unit_id).where(Event.campaign_id == campaign_id)))  # type: ignore[union-attr]
        .order_by(Unit.name)
    ).all()
    return {r.id: UnitFacts(r.id, r.name, r.kind) for r in rows}


def _in_campaign(facts: Facts) -> Any:
    return sa.select(Event.id).where(Event.campaign_id == facts.campaign.id)


def _events(session: Session, facts: Facts, today: date) -> dict[int, int]:
    stmt = sa.select(
        Event.id, Event.unit_id, Event.state, Event.date_latest, Event.held_on, Event.forms
    ).where(Event.campaign_id == facts.campaign.id)
    event_unit: dict[int, int] = {}
    for r in session.execute(stmt):
        event_unit[r.id] = r.unit_id
        u = facts.units[r.unit_id]
        if r.state == EventState.cancelled:
            u.counts["cancelled"] += 1
            continue
        u.counts["events"] += 1
        for form in r.forms or []:
            u.counts[f"form_{form}"] += 1
        ref = {"event_id": r.id, "due_on": r.date_latest.isoformat()}
        if r.held_on is not None:
            u.counts["held"] += 1
            on_time = r.held_on <= r.date_latest
            u.counts["held_on_time" if on_time else "held_late"] += 1
            if not on_time:
                u.held_late.append({**ref, "held_on": r.held_on.isoformat()})
        elif r.state in HOLD_OPEN and r.date_latest < today:
            u.counts["not_held_overdue"] += 1
            u.not_held.append(ref)
    return event_unit


def _invitees(session: Session, facts: Facts, event_unit: dict[int, int]) -> None:
    stmt = (
        sa.select(
            Invitee.event_id,
            Invitee.category,
            Invitee.invitation,
            Invitee.attended,
            sa.func.count(),
        )
        .where(Invitee.event_id.in_(_in_campaign(facts)), Invitee.invited.is_(True))  # type: ignore[attr-defined]
        .group_by(Invitee.event_id, Invitee.category, Invitee.invitation, Invitee.attended)
    )
    attendance: dict[int, Counter[str]] = defaultdict(Counter)
    for event_id, category, invitation, attended, n in session.execute(stmt):
        u = facts.units[event_unit[event_id]]
        u.counts["invitees"] += n
        u.counts[category] += n
        if category == "citizen" and invitation in ("targeted", "public"):
            u.counts[f"citizen_{invitation}"] += n
        if attended:
            u.counts["attended"] += n
            attendance[event_id]["all"] += n
            if category == "citizen":
                u.counts["attended_citizens"] += n
                attendance[event_id]["citizens"] += n
    for event_id, seen in attendance.items():
        needed = facts.rules.citizens_needed(seen["all"])
        if seen["citizens"] < needed:
            facts.units[event_unit[event_id]].citizen_short.append(
                {
                    "event_id": event_id,
                    "attended": seen["all"],
                    "citizens": seen["citizens"],
                    "needed": needed,
                }  # fmt: skip
            )


def _opinions(session: Session, facts: Facts) -> None:
    stmt = sa.select(
        FeedbackItem.id, FeedbackItem.event_id, FeedbackItem.unit_id, FeedbackItem.state,
        FeedbackItem.due_at, FeedbackItem.due_on, FeedbackItem.answered_at,
        FeedbackItem.answered_late_workdays,
    ).where(FeedbackItem.event_id.in_(_in_campaign(facts)))  # type: ignore[attr-defined]  # fmt: skip
    for r in session.execute(stmt):
        u = facts.units[r.unit_id]
        u.counts["opinions"] += 1
        ref = {"item_id": r.id, "event_id": r.event_id,
               "due_on": r.due_on.isoformat() if r.due_on else None}  # fmt: skip
        if r.answered_at is not None:
            u.counts["answered"] += 1
            late = r.answered_late_workdays or 0
            if late > 0:
                u.counts["answered_late"] += 1
                u.counts["workdays_late"] += late
                u.late_answers.append({**ref, "workdays_late": late})
            else:
                u.counts["answered_on_time"] += 1
        elif r.state in OPEN_FEEDBACK_STATES and r.due_at is not None and facts.now > r.due_at:
            u.counts["open_overdue"] += 1
            u.open_overdue.append(ref)


def _extensions(session: Session, facts: Facts) -> None:
    stmt = (
        sa.select(ExtensionRequest.unit_id, ExtensionRequest.state, sa.func.count())
        .where(ExtensionRequest.event_id.in_(_in_campaign(facts)))  # type: ignore[attr-defined]
        .group_by(ExtensionRequest.unit_id, ExtensionRequest.state)
    )
    for unit_id, state, n in session.execute(stmt):
        u = facts.units[unit_id]
        u.counts["extensions"] += n
        if state == "approved":
            u.counts["extensions_approved"] += n


def _summaries(session: Session, facts: Facts, event_unit: dict[int, int]) -> None:
    submitted = sa.select(Summary.event_id).where(
        Summary.event_id.in_(_in_campaign(facts)),  # type: ignore[attr-defined]
        Summary.submitted_at.is_not(None),  # type: ignore[union-attr]
    )
    for (event_id,) in session.execute(submitted):
        facts.units[event_unit[event_id]].counts["summaries"] += 1
    # On time or not is the first submission's, as its log line recorded it.
    logs = sa.select(
        TransitionLog.id, TransitionLog.event_id, TransitionLog.trigger, TransitionLog.data
    ).where(
        TransitionLog.event_id.in_(_in_campaign(facts)),  # type: ignore[attr-defined]
        TransitionLog.trigger.in_(("submit_summary", "return_for_rework")),  # type: ignore[attr-defined]
    )
    first_seen: set[int] = set()
    for r in session.execute(logs.order_by(TransitionLog.id)):
        u = facts.units[event_unit[r.event_id]]
        if r.trigger == "return_for_rework":
            u.counts["reworks"] += 1
            u.reworks.append({"event_id": r.event_id, "log_id": r.id})
            continue
        if r.event_id in first_seen:
            continue
        first_seen.add(r.event_id)
        late = int((r.data or {}).get("late_seconds") or 0)
        u.counts["summaries_late" if late > 0 else "summaries_on_time"] += 1
        if late > 0:
            u.late_summaries.append(
                {"event_id": r.event_id, "log_id": r.id, "late_hours": round(late / 3600, 1)}
            )


def _spot_checks(session: Session, facts: Facts, event_unit: dict[int, int]) -> None:
    stmt = (
        sa.select(SpotCheck.id, SpotCheck.event_id, SpotCheck.round, SpotCheck.result)
        .where(SpotCheck.event_id.in_(_in_campaign(facts)))  # type: ignore[attr-defined]
        .order_by(SpotCheck.event_id, SpotCheck.round, SpotCheck.id)
    )
    latest: dict[int, Any] = {}
    for r in session.execute(stmt):
        latest[r.event_id] = r  # the last round stands
    for event_id, r in latest.items():
        u = facts.units[event_unit[event_id]]
        u.counts[f"spot_{r.result}"] += 1
        u.spot_checks.append(
            {"event_id": event_id, "spot_check_id": r.id, "round": r.round, "result": r.result}
        )


def _escalations(session: Session, facts: Facts) -> None:
    # One escalation per item, rule and level, however many channels and recipients it reached.
    stmt = (
        sa.select(
            Notification.unit_id,
            Notification.subject_type,
            Notification.subject_id,
            Notification.rule,
            Notification.level,
        )  # fmt: skip
        .where(
            Notification.event_id.in_(_in_campaign(facts)),  # type: ignore[attr-defined]
            Notification.kind == "escalation",
        )
        .distinct()
    )
    for r in session.execute(stmt):
        if r.unit_id in facts.units:
            facts.units[r.unit_id].counts[f"escalations_level_{r.level}"] += 1


def report(facts: Facts) -> dict[str, Any]:
    """Rows per unit and the district's totals."""
    rows = [u.row() for u in facts.units.values()]
    totals = {key: sum(r[key] for r in rows) for key, _ in COLUMNS}
    return {
        "campaign_id": facts.campaign.id,
        "campaign_title": facts.campaign.title,
        "doc_number": facts.campaign.doc_number,
        "as_of": facts.now,
        "columns": [{"key": k, "label": label} for k, label in COLUMNS],
        "units": rows,
        "totals": totals,
    }


def sheet(data: dict[str, Any]) -> Sheet:
    """The report as one sheet: a row per unit, then the district's totals."""
    keys = [k for k, _ in COLUMNS]
    columns = [Column("责任单位", 20)] + [
        Column(label, max(8, 2 * len(label) + 2)) for _, label in COLUMNS
    ]
    rows = [[r["unit_name"], *(r[k] for k in keys)] for r in data["units"]]
    rows.append(["全区合计", *(data["totals"][k] for k in keys)])
    return Sheet("分单位情况", columns, rows, "report")
