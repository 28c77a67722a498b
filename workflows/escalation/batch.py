"""What handling a batch of fired timers shares, whether its notices go out one by one
(workflows/escalation/service.py) or in a daily digest (workflows/escalation/digests.py): the
service's channel settings, the batch's campaigns, units and calendar loaded once, the insert
that skips duplicate keys, why a timer no longer applies, who a level is for, and the wording of
its level and lateness.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    District,
    Event,
    EventState,
    FeedbackItem,
    FeedbackState,
    Rectification,
    RectificationState,
    Timer,
    Unit,
    User,
)
from workflows.campaign.rules import CampaignRules
from workflows.campaign.rules import Recipient as Audience
from workflows.filing import timers as filing
from workflows.inbox import service as inbox
from workflows.kernel.daywords import day_zh
from workflows.kernel.visibility import SOLE_OFFICE
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar

# Who gets an escalation when the campaign's ladder has no rung for its level.
DEFAULT_AUDIENCE: tuple[Audience, ...] = ("unit_contact", "unit_head")


@dataclass(frozen=True)
class NotifyConfig:
    """The service's channel settings the recipient rule needs (plain values, from settings)."""

    email_enabled: bool = False  # an SMTP server is configured
    supervisor_webhook_url: str | None = None
    supervisor_webhook_format: str = "json"
    office_email: str | None = None  # the district office's mailbox (OPENDAY_OFFICE_EMAIL)
    notify_log: bool = True
    board_url: str = "http://127.0.0.1:8000/board"  # digests link to it


@dataclass
class BatchContext:
    """What every timer of a batch reads, loaded once: campaigns, units, supervisors, days."""

    campaigns: dict[int, Campaign]
    rules: dict[int, CampaignRules]
    units: dict[int, Unit]
    supervisors: dict[int | None, list[User]]  # district id → its active supervisors
    calendar: WorkdayCalendar
    staff: dict[int, list[User]] = field(default_factory=dict)  # unit id → its staff accounts
    districts: dict[int, District] = field(default_factory=dict)  # the units' districts

    def supervisors_of(self, unit: Unit) -> list[User]:
        """The supervisors of the unit's own district (never another district's)."""
        return self.supervisors.get(unit.district_id, [])

    def office_of(self, unit: Unit) -> str:
        """The short name of the unit's district office (雁江区政府办)."""
        found = self.districts.get(unit.district_id)
        return f"{found.name}政府办" if found else OFFICE

    @classmethod
    def load(
        cls, session: Session, events: Any, config: NotifyConfig, holders: Any = ()
    ) -> BatchContext:
        """`holders`: more unit ids to load (the units opinions were transferred to)."""
        events = list(events)
        campaign_ids = sorted({e.campaign_id for e in events})
        unit_ids = sorted({e.unit_id for e in events} | set(holders))
        campaigns = {
            c.id: c
            for c in session.exec(select(Campaign).where(col(Campaign.id).in_(campaign_ids)))
        }
        units = {u.id: u for u in session.exec(select(Unit).where(col(Unit.id).in_(unit_ids)))}
        by_district: dict[int | None, list[User]] = {}
        for person in inbox.supervisors(session):
            by_district.setdefault(person.district_id, []).append(person)
        district_ids = sorted({u.district_id for u in units.values()})
        return cls(
            campaigns=campaigns,  # type: ignore[arg-type]
            rules={cid: CampaignRules.of(c.rules) for cid, c in campaigns.items()},  # type: ignore[misc]
            units=units,  # type: ignore[arg-type]
            supervisors=by_district,
            calendar=deadlines.load_calendar(session),
            staff=inbox.staff_by_unit(session, unit_ids),
            districts={
                d.id: d  # type: ignore[misc]
                for d in session.exec(select(District).where(col(District.id).in_(district_ids)))
            },
        )


def insert_ignoring_duplicates(session: Session, table: Any) -> Any:
    """INSERT … ON CONFLICT DO NOTHING for this session's database (PostgreSQL or SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql.insert(table).on_conflict_do_nothing()
    return sqlite.insert(table).on_conflict_do_nothing()


# --------------------------------------------------------------------------------------------
# Staleness: why a fired timer no longer applies
# --------------------------------------------------------------------------------------------


def stale(
    timer: Timer, event: Event, item: FeedbackItem | Rectification | None, now: datetime
) -> str | None:
    """Why this timer no longer applies (re-checked at the moment it is handled), if it doesn't.
    `item`: the timer's opinion or rectification (None for an event's own timers)."""
    if event.state == EventState.cancelled:
        return "event cancelled"
    if timer.rule in filing.RULES:
        return filing.stale_now(timer, event)
    if timer.rule == deadlines.RECTIFICATION:
        if not isinstance(item, Rectification):
            return "rectification not found"
        if item.state != RectificationState.issued:
            return f"rectification {item.state}"
        if timer.deadline_on != item.due_on:
            return "rectification due day moved"
    elif timer.rule == deadlines.FEEDBACK_SIGN:
        assert isinstance(item, FeedbackItem)
        if item.state not in OPEN_FEEDBACK_STATES:
            return f"feedback item {item.state}"
        if item.signed_at is not None:
            return "signed for"
        if timer.deadline_on != item.sign_due_on:
            return "sign-for day moved"
    elif timer.rule == deadlines.FEEDBACK_ANSWER:
        assert isinstance(item, FeedbackItem)
        untold = item.state == FeedbackState.answered and item.told_at is None
        if item.state not in OPEN_FEEDBACK_STATES and not untold:
            return f"feedback item {item.state}"
        if timer.kind == deadlines.REMINDER and item.due_at is not None and now >= item.due_at:
            return "reminder after the deadline"
    elif timer.rule == deadlines.SUMMARY:
        if event.state not in (EventState.held, EventState.feedback_collected):
            return f"event {event.state}"
        due = event.summary_due_at
        if timer.kind == deadlines.REMINDER and due is not None and now >= due:
            return "reminder after the deadline"
    elif timer.rule == deadlines.EVENT_HOLD:
        if event.state not in (EventState.planned, EventState.invited):
            return f"event {event.state}"
        if timer.deadline_on != event.date_latest:
            return "event rescheduled"
    return None


# --------------------------------------------------------------------------------------------
# Audience: who gets each level
# --------------------------------------------------------------------------------------------


def audience_of(timer: Timer, rules: CampaignRules) -> tuple[Audience, ...]:
    """Who a timer's notice is for: reminders the unit's contact, escalations per the ladder."""
    return audience_for(timer.kind, timer.level, rules)


def audience_for(kind: str, level: int, rules: CampaignRules) -> tuple[Audience, ...]:
    """Who a notice of this kind and level is for (also counted before a timer exists)."""
    if kind == deadlines.REMINDER:
        return ("unit_contact",)
    rung = next((r for r in rules.escalations if r.level == level), None)
    return tuple(rung.notify) if rung else DEFAULT_AUDIENCE


# --------------------------------------------------------------------------------------------
# Wording shared by single notices and digests
# --------------------------------------------------------------------------------------------


OFFICE = SOLE_OFFICE  # a district office named without its district (no district loaded)


def prefix_of(timer: Timer, rules: CampaignRules, office: str = OFFICE) -> str:
    """【提醒】, 【催办】, 【第2次催办】; a level the supervisors get says it is copied to them,
    naming the event's own district office (【第2次催办·抄送雁江区政府办】)."""
    if timer.kind != deadlines.ESCALATION:
        return "【提醒】"
    label = "催办" if timer.level == 1 else f"第{timer.level}次催办"
    if "supervisors" in audience_of(timer, rules):
        label += f"·抄送{office}"
    return f"【{label}】"


def lateness_text(timer: Timer, calendar: WorkdayCalendar, today: date) -> str:
    """How far the deadline is: working days left, or working (and calendar) days late."""
    due = timer.deadline_on
    if timer.kind != deadlines.ESCALATION:
        left = calendar.workdays_between(today, due).count
        return f"距期限还有 {left} 个工作日"
    # Count whole days gone by since the deadline passed (the end of the due day).
    completed = today - timedelta(days=1)
    late_days = (completed - due).days
    if late_days <= 0:
        return f"已于 {day_zh(due)} 到期"
    late_workdays = calendar.workdays_between(due, completed).count
    return f"已逾期 {late_workdays} 个工作日（{late_days} 天）"
