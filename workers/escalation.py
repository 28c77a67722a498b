"""Handling a fired timer: re-check the subject, apply the timed rule, owe the notifications.

Runs inside a worker, on a timer id. The timer row is locked and must still be `fired`, so a
redelivered message finds it `done` and does nothing; notification keys are unique, so even a
second pass could not owe the same message twice. Everything written here (the overdue move,
the escalation level on the item, the notifications and their outbox rows) commits together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    EventState,
    FeedbackItem,
    FeedbackState,
    Notification,
    NotificationState,
    OutboxMessage,
    Role,
    Timer,
    TimerState,
    Unit,
    User,
)
from settings import Settings
from workers.channels import LogChannel, Message
from workers.scheduler import DELIVER_ACTOR
from workflows import deadlines, feedback
from workflows.accounts import SYSTEM
from workflows.clock import local_date
from workflows.rules import CampaignRules
from workflows.workdays import WorkdayCalendar

log = structlog.get_logger("openday.escalation")


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


def handle_timer(session: Session, timer_id: int, now: datetime, settings: Settings) -> Outcome:
    """Apply a fired timer once; the caller commits and then relays `outbox_ids`."""
    # Locks are taken in one order everywhere — event, then feedback item, then timer — so a
    # worker and a move touching the same event queue behind each other instead of deadlocking.
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
    campaign = session.get(Campaign, event.campaign_id)
    unit = session.get(Unit, event.unit_id)
    assert campaign is not None and unit is not None
    rules = CampaignRules.of(campaign.rules)
    calendar = deadlines.load_calendar(session)
    skip = _stale(timer, event, item, now)
    if skip:
        timer.state, timer.handled_at = TimerState.skipped, now
        log.info("timer_skipped", timer_id=timer.id, rule=timer.rule, reason=skip)
        return Outcome("skipped", skip, 0, ())

    if timer.kind == deadlines.ESCALATION:
        if item is not None:
            if item.state in (FeedbackState.received, FeedbackState.assigned):
                feedback.fire(session, item, "mark_overdue", actor=SYSTEM, now=now, system=True)
            item.escalation_level = max(item.escalation_level, timer.level)
            item.last_notified_at = now
        else:
            event.escalation_level = max(event.escalation_level, timer.level)
            event.last_notified_at = now
    elif item is not None:
        item.last_notified_at = now
    else:
        event.last_notified_at = now

    title, body = compose(timer, event, unit, item, campaign, calendar, now)
    recipients = _recipients(session, timer, unit, rules, settings)
    existing = set(
        session.exec(
            select(Notification.key).where(
                Notification.subject_type == timer.subject_type,
                Notification.subject_id == timer.subject_id,
            )
        ).all()
    )
    created: list[Notification] = []
    for recipient in recipients:
        key = notification_key(timer, recipient)
        if key in existing:
            continue
        notification = Notification(
            key=key,
            timer_id=timer.id,
            subject_type=timer.subject_type,
            subject_id=timer.subject_id,
            event_id=event.id,  # type: ignore[arg-type]
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
    for n in created:
        if n.channel == "log":
            # The log channel cannot fail or block: deliver it here rather than through a
            # second message and two more transactions (the bulk of a 10,000-timer burst).
            LogChannel().send(_message(n))
            n.state, n.attempts, n.sent_at = NotificationState.sent, 1, now
    outbox = [
        OutboxMessage(
            actor=DELIVER_ACTOR,
            args=[n.id],
            dedupe_key=f"deliver:{n.id}",
            created_at=now,
        )
        for n in created
        if n.channel != "log"
    ]
    session.add_all(outbox)
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
    return Outcome("done", "", len(created), tuple(o.id for o in outbox if o.id is not None))


def _message(n: Notification) -> Message:
    return Message(
        key=n.key, channel=n.channel, recipient=n.recipient, subject=n.title, body=n.body
    )


def notification_key(timer: Timer, recipient: Recipient) -> str:
    """The identity of one notification: subject, rule, level, deadline, channel, recipient."""
    # The address is hashed: keys travel in headers and logs, and a robot URL carries a secret.
    address = hashlib.sha256(recipient.address.encode()).hexdigest()[:16]
    return (
        f"{timer.subject_type}:{timer.subject_id}:{timer.rule}:{timer.kind}:{timer.level}:"
        f"{timer.deadline_on.isoformat()}:{recipient.channel}:{address}"
    )


def _stale(timer: Timer, event: Event, item: FeedbackItem | None, now: datetime) -> str | None:
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


def _recipients(
    session: Session, timer: Timer, unit: Unit, rules: CampaignRules, settings: Settings
) -> list[Recipient]:
    if timer.kind == deadlines.REMINDER:
        audience = ["unit_contact"]
    else:
        rung = next((r for r in rules.escalations if r.level == timer.level), None)
        audience = list(rung.notify) if rung else ["unit_contact", "unit_head"]
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
        if settings.supervisor_webhook_url:
            out.append(
                Recipient(
                    f"webhook_{settings.supervisor_webhook_format}",
                    settings.supervisor_webhook_url,
                )
            )
    if not settings.smtp_host:
        out = [r for r in out if r.channel != "email"]
    if settings.notify_log:
        out.append(Recipient("log", f"unit:{unit.id}"))
    seen: set[Recipient] = set()
    return [r for r in out if not (r in seen or seen.add(r))]  # type: ignore[func-returns-value]


def compose(
    timer: Timer,
    event: Event,
    unit: Unit,
    item: FeedbackItem | None,
    campaign: Campaign,
    calendar: WorkdayCalendar,
    now: datetime,
) -> tuple[str, str]:
    """The Chinese title and body: the event, the item, the due date and how late it is."""
    today = local_date(now)
    due = timer.deadline_on
    if timer.kind == deadlines.ESCALATION:
        # Count whole days gone by since the deadline passed (the end of the due day).
        completed = today - timedelta(days=1)
        late_days = (completed - due).days
        late_workdays = calendar.workdays_between(due, completed).count
        if late_days <= 0:
            lateness = f"已于 {due.isoformat()} 到期"
        else:
            lateness = f"已逾期 {late_workdays} 个工作日（{late_days} 天）"
        prefix = "【催办】" if timer.level == 1 else f"【第{timer.level}次催办·抄送区政府办】"
    else:
        left = calendar.workdays_between(today, due).count
        lateness = f"距期限还有 {left} 个工作日"
        prefix = "【提醒】"
    when = event.date_text or (
        event.date_earliest.isoformat()
        if event.date_earliest == event.date_latest
        else f"{event.date_earliest.isoformat()} 至 {event.date_latest.isoformat()}"
    )
    lines = [f"{unit.name}：", ""]
    if timer.rule == deadlines.FEEDBACK_ANSWER:
        assert item is not None
        what = "逾期未办结" if timer.kind == deadlines.ESCALATION else "即将到期"
        title = f"{prefix}{unit.name}：意见建议{what}"
        content = item.content if len(item.content) <= 120 else item.content[:120] + "…"
        lines += [
            f"贵单位“{event.theme}”政府开放日活动（{event.held_on or when} 开展）收集的意见建议"
            f"（编号 {item.id}）：",
            f"“{content}”",
            f"应于 {due.isoformat()} 前办结并反馈（15个工作日内），{lateness}。",
            "请尽快办结，并在系统中登记答复。",
        ]
    elif timer.rule == deadlines.SUMMARY:
        what = "逾期未报送" if timer.kind == deadlines.ESCALATION else "即将到期"
        title = f"{prefix}{unit.name}：活动总结{what}"
        lines += [
            f"贵单位“{event.theme}”政府开放日活动已于 {event.held_on} 开展，",
            f"活动总结（含图文资料）应于 {due.isoformat()} 前报送区政府办，{lateness}。",
            "请尽快在系统中提交活动总结。",
        ]
    else:
        title = f"{prefix}{unit.name}：政府开放日活动未按期开展"
        lines += [
            f"贵单位“{event.theme}”政府开放日活动计划于 {when} 开展，",
            f"截至 {due.isoformat()} 尚未登记开展，{lateness}。",
            "请尽快开展活动，或在系统中办理改期。",
        ]
    lines += ["", f"—— {campaign.issuing_office}（{campaign.doc_number}）"]
    return title, "\n".join(lines)
