"""The filings' deadlines as timer rows (never delayed messages), why a fired one no longer
applies, and what its 催办 says.

Each deadline is counted back from the event's first day — working or calendar days, as the
notice words it (提前5个工作日 / 提前3日). At the end of that day, if the filing is missing, level 1
of the campaign's ladder goes to the unit; one working day later (never after the eve of the
event) level 2, which the ladder copies to the district office. The levels are bookkeeping of the
timers alone: the event's own escalation level stays the hold's and the summary's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy.orm import object_session
from sqlmodel import Session, col, select

from models import (
    Campaign,
    Event,
    EventFiling,
    EventState,
    FilingKind,
    FilingState,
    Timer,
    TimerState,
)
from workflows.campaign.rules import CampaignRules
from workflows.kernel.visibility import SOLE_OFFICE
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar, WorkdayResult

PLAN = "filing_plan"
ANNOUNCEMENT = "filing_announcement"
REPRESENTATIVES = "filing_representatives"
RULES = (PLAN, ANNOUNCEMENT, REPRESENTATIVES)
KIND_OF_RULE = {
    PLAN: FilingKind.plan,
    ANNOUNCEMENT: FilingKind.announcement,
    REPRESENTATIVES: FilingKind.representatives,
}
OPEN_STATES = (EventState.planned, EventState.invited)
# A filing that answers its deadline: a plan sent (the office decides next) or approved; a
# publication published.
SATISFIED = {
    FilingKind.plan: (FilingState.submitted, FilingState.approved),
    FilingKind.announcement: (FilingState.published,),
    FilingKind.representatives: (FilingState.published,),
}
WHAT_ZH = {  # the office named in lines() is the event's district's
    PLAN: "活动方案报区政府办审核备案",
    ANNOUNCEMENT: "公开邀请公告",
    REPRESENTATIVES: "市民代表名单公示",
}


def applies(rule: str, event: Event, rules: CampaignRules) -> bool:
    """Whether the campaign's rules ask this filing of this event at all."""
    if rule == PLAN:
        return rules.plan_approval_required
    if rule == ANNOUNCEMENT:
        return rules.announcement_required and event.public_places > 0
    return rules.representatives_publicity_required


def days_of(rule: str, rules: CampaignRules) -> tuple[int, bool]:
    """(days before the event, whether they are working days) for a rule."""
    if rule == PLAN:
        return rules.plan_days_before, rules.plan_workdays
    if rule == ANNOUNCEMENT:
        return rules.announcement_days_before, rules.announcement_workdays
    return rules.representatives_days_before, rules.representatives_workdays


def period_zh(rule: str, rules: CampaignRules) -> str:
    """提前5个工作日 / 提前3日 / 活动前."""
    days, workdays = days_of(rule, rules)
    if not days:
        return "活动前"
    return f"提前{days}个{'工作日' if workdays else '日'}"


def due(
    rule: str, first_day: date, rules: CampaignRules, calendar: WorkdayCalendar
) -> WorkdayResult:
    """The last day the filing may be made: N (working) days before the event's first day."""
    days, workdays = days_of(rule, rules)
    if workdays and days:
        return calendar.subtract_workdays(first_day, days)
    return WorkdayResult(day=first_day - timedelta(days=days), provisional=False, missing_years=())


def deadline(
    rule: str, event: Event, rules: CampaignRules, calendar: WorkdayCalendar
) -> deadlines.Deadline:
    """The filing's deadline and its two escalation timers."""
    assert event.id is not None
    return deadline_of(rule, event.id, event.date_earliest, rules, calendar)


def deadline_of(
    rule: str, event_id: int, first_day: date, rules: CampaignRules, calendar: WorkdayCalendar
) -> deadlines.Deadline:
    """`deadline` for an event known by its id and first day."""
    found = due(rule, first_day, rules, calendar)
    later = calendar.add_workdays(found.day, 1)
    eve = first_day - timedelta(days=1)
    second = max(found.day, min(later.day, eve))
    provisional = found.provisional or later.provisional
    timers = (
        deadlines.TimerSpec(
            deadlines.ESCALATION, 1, deadlines.end_of_local_day(found.day), found.provisional
        ),
        deadlines.TimerSpec(
            deadlines.ESCALATION, 2, deadlines.end_of_local_day(second), provisional
        ),
    )
    return deadlines.Deadline(
        rule, "event", event_id, event_id, found.day,
        deadlines.end_of_local_day(found.day), found.provisional, timers,
    )  # fmt: skip


def arm(
    session: Session,
    event: Event,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
    *,
    rearm_fired: bool = False,
) -> list[str]:
    """Arm (or move) the timers of every filing the rules ask of this event, and cancel those
    they no longer ask (public places closed); returns the rules armed. Called when an event
    is created, rescheduled (`rearm_fired`: the new day owes its 催办 again) or its public
    places change, in that move's transaction."""
    armed, dropped = [], []
    for rule in RULES:
        if applies(rule, event, rules) and event.state in OPEN_STATES:
            deadlines.arm(
                session, deadline(rule, event, rules, calendar), now, rearm_fired=rearm_fired
            )
            armed.append(rule)
        else:
            dropped.append(rule)
    # One UPDATE for every rule not asked (all three where the campaign asks no filing): each
    # reschedule runs this, and a statement per rule was three round trips per move.
    deadlines.cancel_rules(
        session, subject_type="event", subject_ids=[event.id or 0], rules=dropped
    )
    return armed


def rows_for_import(
    event_ids: Sequence[int],
    first_days: Sequence[date],
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
) -> list[dict[str, Any]]:
    """Timer rows for many new events at once (the schedule import): the plan's and the
    representatives' (an imported event takes no public registration yet: no announcement)."""
    rows = []
    for event_id, first in zip(event_ids, first_days, strict=True):
        for rule in (PLAN, REPRESENTATIVES):
            if rule == PLAN and not rules.plan_approval_required:
                continue
            if rule == REPRESENTATIVES and not rules.representatives_publicity_required:
                continue
            found = deadline_of(rule, event_id, first, rules, calendar)
            rows += [
                {
                    "rule": rule,
                    "kind": spec.kind,
                    "level": spec.level,
                    "subject_type": "event",
                    "subject_id": event_id,
                    "event_id": event_id,
                    "deadline_on": found.deadline_on,
                    "due_at": spec.due_at,
                    "provisional": spec.provisional,
                    "state": TimerState.pending.value,
                    "created_at": now,
                }  # fmt: skip
                for spec in found.timers
            ]
    return rows


def cancel(session: Session, event_id: int, rule: str) -> None:
    """The filing is made: its timers still pending owe nothing."""
    deadlines.cancel(session, subject_type="event", subject_ids=[event_id], rule=rule)


def filed(session: Session, event_ids: Iterable[int]) -> dict[tuple[int, str], EventFiling]:
    """The filings of these events, by (event id, kind)."""
    ids = sorted(set(event_ids))
    if not ids:
        return {}
    rows = session.exec(select(EventFiling).where(col(EventFiling.event_id).in_(ids))).all()
    return {(r.event_id, r.kind): r for r in rows}


def stale(
    timer: Timer,
    event: Event,
    filing: EventFiling | None,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
) -> str | None:
    """Why a filing timer no longer applies when it is handled, if it doesn't."""
    if event.state not in OPEN_STATES:
        return f"event {event.state}"
    if not applies(timer.rule, event, rules):
        return "rule no longer applies"
    if timer.rule == PLAN and event.state != EventState.planned:
        return "event invited"  # invited without the plan: flagged on the event instead
    if filing is not None and filing.state in SATISFIED[KIND_OF_RULE[timer.rule]]:
        return f"{filing.kind} {filing.state}"
    if timer.deadline_on != due(timer.rule, event.date_earliest, rules, calendar).day:
        return "event rescheduled"
    return None


def stale_now(timer: Timer, event: Event) -> str | None:
    """`stale` for a timer handled on its own: the event's session reads the filing, the
    campaign's rules and the calendar (filing timers are few; the batch stays set-based)."""
    session = cast(Session, object_session(event))
    assert session is not None
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    row = session.exec(
        select(EventFiling).where(
            EventFiling.event_id == event.id, EventFiling.kind == KIND_OF_RULE[timer.rule]
        )
    ).first()
    calendar = deadlines.load_calendar(session)
    return stale(timer, event, row, CampaignRules.of(campaign.rules), calendar)


def lines(
    timer: Timer,
    event: Event,
    rules: CampaignRules,
    due_zh: str,
    lateness: str,
    office: str = SOLE_OFFICE,
) -> list[str]:
    """What a filing's 催办 says: the event, what is missing, the rule and its deadline;
    `office` the event's district office, as the rest of the escalation names it."""
    what = WHAT_ZH[timer.rule].replace(SOLE_OFFICE, office)
    how = {
        PLAN: f"请尽快在系统中填报活动方案，报{office}审核；方案审核通过前不能发出邀请。",
        ANNOUNCEMENT: "请尽快在系统中发布公开邀请公告（含报名方式、名额和活动主题）。",
        REPRESENTATIVES: "请尽快在系统中公示拟邀请的市民代表名单。",
    }[timer.rule]
    sentence = {
        PLAN: rules.plan_approval_sentence,
        ANNOUNCEMENT: rules.announcement_sentence,
        REPRESENTATIVES: rules.representatives_sentence,
    }[timer.rule]
    out = [
        f"贵单位“{event.theme}”政府开放日活动计划于 {event.date_earliest.month}月"
        f"{event.date_earliest.day}日开展，",
        f"{what}应于 {due_zh} 前完成（{period_zh(timer.rule, rules)}），{lateness}。",
        how,
    ]
    if sentence:
        out.append(f"通知要求：“{sentence}”")
    return out


def title(timer: Timer, unit_name: str, prefix: str, office: str = SOLE_OFFICE) -> str:
    """【催办】区住建局：活动方案逾期未报雁江区政府办审核."""
    missing = {
        PLAN: f"活动方案逾期未报{office}审核",
        ANNOUNCEMENT: "公开邀请公告逾期未发布",
        REPRESENTATIVES: "市民代表名单逾期未公示",
    }[timer.rule]
    return f"{prefix}{unit_name}：{missing}"


def arm_campaign(session: Session, campaign: Campaign, now: datetime) -> int:
    """Arm (or cancel) the filing timers of every open event of a campaign whose rules just
    changed (a rule switched on after the schedule was imported); returns how many events."""
    rules = CampaignRules.of(campaign.rules)
    calendar = deadlines.load_calendar(session)
    events = session.exec(
        select(Event).where(Event.campaign_id == campaign.id, col(Event.state).in_(OPEN_STATES))
    ).all()
    for event in events:
        arm(session, event, rules, calendar, now)
    return len(events)
