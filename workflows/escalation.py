"""Escalation rules: applying a fired timer, who gets each level, and what the message says.

`handle_timer` runs inside a worker's transaction, on a timer id. The timer row is locked and
must still be `fired`, so a redelivered message finds it `done` and does nothing; notification
keys are unique, so even a second pass could not owe the same message twice. Everything written
here (the overdue move, the escalation level, the notifications and their outbox rows) commits
with the caller's transaction.

Pure domain: the audience comes from the campaign's escalation ladder, the wording from its rules
(answer window, summary days), and the service's channel settings arrive as a `NotifyConfig`.
Sending is the workers' business: they deliver `Outcome.inline` notifications themselves before
committing and relay `Outcome.outbox_ids` after.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
import structlog
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    EventState,
    FeedbackItem,
    FeedbackState,
    Notification,
    Role,
    Timer,
    TimerState,
    Unit,
    User,
)
from workflows import deadlines, feedback, jobs
from workflows.accounts import SYSTEM
from workflows.clock import local_date
from workflows.rules import CampaignRules
from workflows.rules import Recipient as Audience
from workflows.workdays import WorkdayCalendar

log = structlog.get_logger("openday.escalation")

# Who gets an escalation when the campaign's ladder has no rung for its level.
DEFAULT_AUDIENCE: tuple[Audience, ...] = ("unit_contact", "unit_head")
# The channel the workers deliver while handling the timer, in the same transaction.
INLINE_CHANNELS = frozenset({"log"})


@dataclass(frozen=True)
class NotifyConfig:
    """The service's channel settings the recipient rule needs (plain values, from settings)."""

    email_enabled: bool = False  # an SMTP server is configured
    supervisor_webhook_url: str | None = None
    supervisor_webhook_format: str = "json"
    notify_log: bool = True


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes."""

    channel: str  # email | webhook_json | webhook_wecom | webhook_dingtalk | log
    address: str


@dataclass(frozen=True)
class Outcome:
    """What handling a timer did."""

    state: str  # done | skipped | absent
    reason: str
    notifications: int
    outbox_ids: tuple[int, ...]
    # Notifications on INLINE_CHANNELS: the caller delivers them before it commits.
    inline: tuple[Notification, ...] = ()


@dataclass(frozen=True)
class _Subject:
    """A fired timer and the rows it concerns, locked in order."""

    timer: Timer
    event: Event
    item: FeedbackItem | None


# --------------------------------------------------------------------------------------------
# Applying a fired timer
# --------------------------------------------------------------------------------------------


def handle_timer(session: Session, timer_id: int, now: datetime, config: NotifyConfig) -> Outcome:
    """Apply a fired timer once; the caller delivers `inline`, commits, then relays."""
    subject = _lock(session, timer_id)
    if isinstance(subject, Outcome):
        return subject
    timer, event, item = subject.timer, subject.event, subject.item
    skip = stale(timer, event, item, now)
    if skip:
        timer.state, timer.handled_at = TimerState.skipped, now
        log.info("timer_skipped", timer_id=timer.id, rule=timer.rule, reason=skip)
        return Outcome("skipped", skip, 0, ())
    campaign = session.get(Campaign, event.campaign_id)
    unit = session.get(Unit, event.unit_id)
    assert campaign is not None and unit is not None
    rules = CampaignRules.of(campaign.rules)
    _apply_level(session, timer, event, item, now)
    title, body = compose(
        timer, event, unit, item, campaign, rules, deadlines.load_calendar(session), now
    )
    audience = audience_of(timer, rules)
    created = _owe_notifications(
        session, subject, unit, recipients(session, audience, unit, config), title, body, now
    )
    outbox = [
        jobs.owe(session, jobs.DELIVER_ACTOR, [n.id], now, dedupe_key=f"deliver:{n.id}")
        for n in created
        if n.channel not in INLINE_CHANNELS
    ]
    timer.state, timer.handled_at = TimerState.done, now
    session.flush()
    log.info(
        "timer_handled",
        timer_id=timer.id,
        rule=timer.rule,
        kind=timer.kind,
        ladder_level=timer.level,  # "level" is the log level
        notifications=len(created),
    )
    return Outcome(
        "done",
        "",
        len(created),
        tuple(o.id for o in outbox if o.id is not None),
        tuple(n for n in created if n.channel in INLINE_CHANNELS),
    )


def _lock(session: Session, timer_id: int) -> _Subject | Outcome:
    """Lock event, then feedback item, then timer, and re-check the timer is still `fired`.

    Locks are taken in this one order everywhere, so a worker and a move touching the same event
    queue behind each other instead of deadlocking.
    """
    peek = session.get(Timer, timer_id)
    if peek is None or peek.state != TimerState.fired:
        return Outcome("absent", peek.state if peek else "missing", 0, ())
    event = session.exec(select(Event).where(Event.id == peek.event_id).with_for_update()).one()
    item: FeedbackItem | None = None
    if peek.subject_type == "feedback_item":
        item = session.exec(
            select(FeedbackItem)
            .where(FeedbackItem.id == peek.subject_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        ).one()
    timer = session.exec(
        select(Timer)
        .where(Timer.id == timer_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    if timer.state != TimerState.fired:  # handled by someone else while we waited
        return Outcome("absent", timer.state, 0, ())
    return _Subject(timer, event, item)


def _apply_level(
    session: Session, timer: Timer, event: Event, item: FeedbackItem | None, now: datetime
) -> None:
    """The timed move: an open opinion goes overdue; the subject records level and notice."""
    subject: Event | FeedbackItem = item if item is not None else event
    values: dict[str, object] = {"last_notified_at": now}
    if timer.kind == deadlines.ESCALATION:
        if item is not None and item.state in (FeedbackState.received, FeedbackState.assigned):
            feedback.fire(session, item, "mark_overdue", actor=SYSTEM, now=now, system=True)
        values["escalation_level"] = max(subject.escalation_level, timer.level)
    # Bookkeeping, not a person's change: written beside the row's version counter, so a
    # clerk who read the event before this escalation can still make their move (issue 10).
    table = type(subject)
    session.execute(
        sa.update(table)
        .where(table.id == subject.id)  # type: ignore[arg-type]
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    for key, value in values.items():
        set_committed_value(subject, key, value)


def _owe_notifications(
    session: Session,
    subject: _Subject,
    unit: Unit,
    to: list[Recipient],
    title: str,
    body: str,
    now: datetime,
) -> list[Notification]:
    """One notification per recipient not already owed under the same key; flushed (ids set)."""
    timer = subject.timer
    existing = set(
        session.exec(
            select(Notification.key).where(
                Notification.subject_type == timer.subject_type,
                Notification.subject_id == timer.subject_id,
            )
        ).all()
    )
    created: list[Notification] = []
    for recipient in to:
        key = notification_key(timer, recipient)
        if key in existing:
            continue
        notification = Notification(
            key=key,
            timer_id=timer.id,
            subject_type=timer.subject_type,
            subject_id=timer.subject_id,
            event_id=subject.event.id,  # type: ignore[arg-type]
            unit_id=unit.id,  # type: ignore[arg-type]
            rule=timer.rule,
            kind=timer.kind,
            level=timer.level,
            channel=recipient.channel,
            recipient=recipient.address,
            title=title,
            body=body,
            created_at=now,
        )
        session.add(notification)
        created.append(notification)
    session.flush()
    return created


def notification_key(timer: Timer, recipient: Recipient) -> str:
    """The identity of one notification: subject, rule, level, deadline, channel, recipient."""
    # The address is hashed: keys travel in headers and logs, and a robot URL carries a secret.
    address = hashlib.sha256(recipient.address.encode()).hexdigest()[:16]
    return (
        f"{timer.subject_type}:{timer.subject_id}:{timer.rule}:{timer.kind}:{timer.level}:"
        f"{timer.deadline_on.isoformat()}:{recipient.channel}:{address}"
    )


# --------------------------------------------------------------------------------------------
# Staleness: why a fired timer no longer applies
# --------------------------------------------------------------------------------------------


def stale(timer: Timer, event: Event, item: FeedbackItem | None, now: datetime) -> str | None:
    """Why this timer no longer applies (re-checked at the moment it is handled), if it doesn't."""
    if event.state == EventState.cancelled:
        return "event cancelled"
    if timer.rule == deadlines.FEEDBACK_ANSWER:
        assert item is not None
        if item.state not in OPEN_FEEDBACK_STATES:
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


def recipients(
    session: Session, audience: tuple[Audience, ...], unit: Unit, config: NotifyConfig
) -> list[Recipient]:
    """The addresses of an audience on the configured channels, without duplicates."""
    out: list[Recipient] = []
    if "unit_contact" in audience:
        if unit.contact_email:
            out.append(Recipient("email", unit.contact_email))
        if unit.webhook_url:
            out.append(Recipient(f"webhook_{unit.webhook_format}", unit.webhook_url))
    if "unit_head" in audience and unit.head_email:
        out.append(Recipient("email", unit.head_email))
    if "supervisors" in audience:
        emails = session.exec(
            select(User.email).where(
                User.role == Role.supervisor, col(User.is_active), col(User.email).is_not(None)
            )
        ).all()
        out += [Recipient("email", e) for e in sorted(e for e in emails if e)]
        if config.supervisor_webhook_url:
            out.append(
                Recipient(
                    f"webhook_{config.supervisor_webhook_format}", config.supervisor_webhook_url
                )
            )
    if not config.email_enabled:
        out = [r for r in out if r.channel != "email"]
    if config.notify_log:
        out.append(Recipient("log", f"unit:{unit.id}"))
    return list(dict.fromkeys(out))


# --------------------------------------------------------------------------------------------
# Wording: the Chinese title and body
# --------------------------------------------------------------------------------------------


def compose(
    timer: Timer,
    event: Event,
    unit: Unit,
    item: FeedbackItem | None,
    campaign: Campaign,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
) -> tuple[str, str]:
    """The Chinese title and body: the event, the item, the due date and how late it is."""
    prefix = _prefix(timer, rules)
    lateness = _lateness(timer, calendar, local_date(now))
    escalated = timer.kind == deadlines.ESCALATION
    due = timer.deadline_on.isoformat()
    if timer.rule == deadlines.FEEDBACK_ANSWER:
        assert item is not None
        title = f"{prefix}{unit.name}：意见建议{'逾期未办结' if escalated else '即将到期'}"
        content = item.content if len(item.content) <= 120 else item.content[:120] + "…"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动（{event.held_on or _when(event)} 开展）"
            f"收集的意见建议（编号 {item.id}）：",
            f"“{content}”",
            f"应于 {due} 前办结并反馈（{rules.feedback_answer_workdays}个工作日内），{lateness}。",
            "请尽快办结，并在系统中登记答复。",
        ]
    elif timer.rule == deadlines.SUMMARY:
        title = f"{prefix}{unit.name}：活动总结{'逾期未报送' if escalated else '即将到期'}"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动已于 {event.held_on} 开展，",
            f"活动总结（含图文资料）应于 {due} 前报送区政府办"
            f"（活动开展后{rules.summary_due_days}日内），{lateness}。",
            "请尽快在系统中提交活动总结。",
        ]
    else:
        title = f"{prefix}{unit.name}：政府开放日活动未按期开展"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动计划于 {_when(event)} 开展，",
            f"截至 {due} 尚未登记开展，{lateness}。",
            "请尽快开展活动，或在系统中办理改期。",
        ]
    signature = f"—— {campaign.issuing_office}（{campaign.doc_number}）"
    return title, "\n".join([f"{unit.name}：", "", *lines, "", signature])


def _prefix(timer: Timer, rules: CampaignRules) -> str:
    """【提醒】, 【催办】, 【第2次催办】; a level the supervisors get says it is copied to them."""
    if timer.kind != deadlines.ESCALATION:
        return "【提醒】"
    label = "催办" if timer.level == 1 else f"第{timer.level}次催办"
    if "supervisors" in audience_of(timer, rules):
        label += "·抄送区政府办"
    return f"【{label}】"


def _lateness(timer: Timer, calendar: WorkdayCalendar, today: date) -> str:
    """How far the deadline is: working days left, or working (and calendar) days late."""
    due = timer.deadline_on
    if timer.kind != deadlines.ESCALATION:
        left = calendar.workdays_between(today, due).count
        return f"距期限还有 {left} 个工作日"
    # Count whole days gone by since the deadline passed (the end of the due day).
    completed = today - timedelta(days=1)
    late_days = (completed - due).days
    if late_days <= 0:
        return f"已于 {due.isoformat()} 到期"
    late_workdays = calendar.workdays_between(due, completed).count
    return f"已逾期 {late_workdays} 个工作日（{late_days} 天）"


def _when(event: Event) -> str:
    """The event's date as planned (its text, one day, or a window), its time and place."""
    if event.date_text:
        when = event.date_text
    elif event.date_earliest == event.date_latest:
        when = event.date_earliest.isoformat()
    else:
        when = f"{event.date_earliest.isoformat()} 至 {event.date_latest.isoformat()}"
    if event.start_time is not None and not event.date_text:
        when += f" {event.start_time:%H:%M}"
        if event.end_time is not None:
            when += f"–{event.end_time:%H:%M}"
    if event.location:
        when += f"，地点：{event.location}"
    return when
