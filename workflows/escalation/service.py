"""Escalation rules: applying fired timers, who gets each level, and what the message says.

`handle_timers` runs inside a worker's transaction on a batch of timer ids, set-based: a fixed
number of statements per batch, not per timer (DESIGN.md, issue 15). It locks the batch's events,
then their feedback items, then the timers still `fired` (the one lock order everywhere, so a
move on the same event queues behind it instead of deadlocking); a redelivered message finds the
timers `done` and does nothing. Then per batch: the open opinions' overdue moves, one UPDATE per
subject table and level for the escalation level, one multi-row INSERT … ON CONFLICT DO NOTHING
of notifications (keys are unique, so even a second pass could not owe the same message twice),
one of their outbox rows, one UPDATE per outcome for the timers. Recipients who take a daily
digest get their items attached to it (workflows/escalation/digests.py) instead of a message each.

Pure domain: the audience comes from the campaign's escalation ladder, the wording from its rules
(answer window, summary days), and the service's channel settings arrive as a `NotifyConfig`.
Sending is the workers' business: they deliver `inline` notifications (the log) themselves before
committing and relay `outbox_ids` after.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from models import (
    DEFAULT_DISTRICT,
    Campaign,
    District,
    Event,
    FeedbackItem,
    FeedbackState,
    Notification,
    NotificationState,
    Rectification,
    Timer,
    TimerState,
    TransitionLog,
    Unit,
    User,
)
from models.db import lock_by_id
from workflows.campaign.rules import CampaignRules
from workflows.campaign.rules import Recipient as Audience
from workflows.escalation import digests
from workflows.escalation.batch import (
    OFFICE,
    BatchContext,
    NotifyConfig,
    audience_of,
    insert_ignoring_duplicates,
    lateness_text,
    prefix_of,
    stale,
)
from workflows.event import invitations
from workflows.feedback import machine as feedback
from workflows.filing import timers as filing
from workflows.inbox import service as inbox
from workflows.kernel import jobs
from workflows.kernel.clock import local_date
from workflows.kernel.daywords import day_zh, hours_zh, window_zh
from workflows.kernel.visibility import SYSTEM
from workflows.public import offers, registration
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar
from workflows.workdays.deadlines import wake_schedulers

log = structlog.get_logger("openday.escalation")

# The channel the workers deliver while handling the timer, in the same transaction.
INLINE_CHANNELS = frozenset({"log"})


@dataclass(frozen=True)
class Recipient:
    """Where one copy goes, and how this recipient takes escalations if they chose."""

    channel: str  # email | webhook_json | webhook_wecom | webhook_dingtalk | inbox | log
    address: str
    # individual | digest where the recipient is configured (unit, account); None: campaign's.
    delivery: str | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Outcome:
    """What handling one timer did."""

    state: str  # done | skipped | absent
    reason: str
    notifications: int
    outbox_ids: tuple[int, ...]
    # Notifications on INLINE_CHANNELS: the caller delivers them before it commits.
    inline: tuple[Notification, ...] = ()


@dataclass
class BatchOutcome:
    """What handling a batch of timers did."""

    states: dict[int, str] = field(default_factory=dict)  # timer id → done | skipped | absent
    reasons: dict[int, str] = field(default_factory=dict)  # why a timer was skipped
    notifications: int = 0  # rows owed (individual, inline and digested)
    digested: int = 0  # of which attached to a digest
    digests_sent: int = 0  # digests composed and owed by digest timers of this batch
    outbox_ids: list[int] = field(default_factory=list)
    # Notifications on INLINE_CHANNELS (already recorded as sent): the caller writes them out
    # before it commits.
    inline: list[Notification] = field(default_factory=list)

    def count(self, state: str) -> int:
        """How many timers of the batch ended in `state`."""
        return sum(1 for s in self.states.values() if s == state)


# --------------------------------------------------------------------------------------------
# Applying fired timers, a batch at a time
# --------------------------------------------------------------------------------------------


def handle_timer(session: Session, timer_id: int, now: datetime, config: NotifyConfig) -> Outcome:
    """Apply one fired timer (a batch of one); the caller delivers `inline`, commits, relays."""
    batch = handle_timers(session, [timer_id], now, config)
    state = batch.states.get(timer_id, "absent")
    return Outcome(
        state,
        batch.reasons.get(timer_id, ""),
        batch.notifications,
        tuple(batch.outbox_ids),
        tuple(batch.inline),
    )


def handle_timers(
    session: Session, timer_ids: list[int], now: datetime, config: NotifyConfig
) -> BatchOutcome:
    """Apply a batch of fired timers once, set-based; the caller delivers `inline`, commits,
    then relays `outbox_ids`."""
    out = BatchOutcome()
    ids = sorted(set(timer_ids))
    if not ids:
        return out
    peek = session.execute(
        sa.select(
            col(Timer.id), col(Timer.rule), col(Timer.event_id), col(Timer.subject_type),
            col(Timer.subject_id),
        )
        .where(col(Timer.id).in_(ids), col(Timer.state) == TimerState.fired)
    ).all()  # fmt: skip
    for timer_id in ids:
        out.states[timer_id] = "absent"
    peek = _send_digests(session, peek, now, config, out)
    peek = _remind_attendees(session, peek, now, out)
    peek = _lapse_offers(session, peek, now, out)
    if not peek:
        return out
    events, items, rects, timers = _lock_batch(session, peek)
    if not timers:
        return out
    holders = {i.unit_id for i in items.values()}
    work = _Work(BatchContext.load(session, events.values(), config, holders), config, now)
    for timer in timers:
        assert timer.event_id is not None
        event = events[timer.event_id]
        item: FeedbackItem | Rectification | None = None
        if timer.subject_type == "feedback_item":
            item = items.get(timer.subject_id)
        elif timer.subject_type == "rectification":
            item = rects.get(timer.subject_id)
        _apply(session, work, timer, event, item, out)
    _mark_overdue(session, list(work.overdue.values()), now)
    loaded: dict[type, dict[int | None, Any]] = {
        Event: events, FeedbackItem: items, Rectification: rects,
    }  # fmt: skip
    _record_levels(session, work.levels, loaded, now)
    _owe(session, work.rows, now, out)
    _finish_timers(session, work.done, work.skipped, now)
    if work.done or work.skipped:
        log.info(
            "timers_handled",
            done=len(work.done),
            skipped=len(work.skipped),
            notifications=out.notifications,
            digested=out.digested,
        )
    return out


def _send_digests(
    session: Session, peek: Sequence[Any], now: datetime, config: NotifyConfig, out: BatchOutcome
) -> list[Any]:
    """Fire the batch's digest timers (workflows/escalation/digests.py); the other timers left."""
    digest_timer_ids = [p.id for p in peek if p.rule == digests.RULE]
    if digest_timer_ids:
        sent = digests.send_due(session, digest_timer_ids, now, config)
        out.digests_sent = len(sent.owed)
        out.outbox_ids += sent.outbox_ids
        for timer_id in sent.handled:
            out.states[timer_id] = "done"
    return [p for p in peek if p.rule != digests.RULE]


def _remind_attendees(
    session: Session, peek: list[Any], now: datetime, out: BatchOutcome
) -> list[Any]:
    """Fire the batch's attendee reminder timers (workflows/event/invitations.py): their
    notifications go to invitees, not to units; the other timers are left."""
    ids = [p.id for p in peek if p.rule == invitations.REMINDER_RULE]
    if ids:
        out.states.update(invitations.send_reminders(session, ids, now))
    return [p for p in peek if p.rule != invitations.REMINDER_RULE]


def _lapse_offers(session: Session, peek: list[Any], now: datetime, out: BatchOutcome) -> list[Any]:
    """Fire the batch's waiting-list offer timers (workflows/public/registration.py): an
    offer not answered in time lapses and the next waiting is offered; the rest are left."""
    ids = [p.id for p in peek if p.rule == offers.RULE]
    if ids:
        out.states.update(registration.lapse_offers(session, ids, now))
    return [p for p in peek if p.rule != offers.RULE]


def _lock_batch(
    session: Session, peek: list[Any]
) -> tuple[
    dict[int | None, Event],
    dict[int | None, FeedbackItem],
    dict[int | None, Rectification],
    list[Timer],
]:
    """Lock the batch's events, then their feedback items and rectifications, then the timers
    still `fired`."""
    event_ids = sorted({p.event_id for p in peek if p.event_id is not None})
    item_ids = sorted({p.subject_id for p in peek if p.subject_type == "feedback_item"})
    rect_ids = sorted({p.subject_id for p in peek if p.subject_type == "rectification"})
    events = {e.id: e for e in lock_by_id(session, Event, event_ids)}
    items: dict[int | None, FeedbackItem] = {}
    if item_ids:
        items = {i.id: i for i in lock_by_id(session, FeedbackItem, item_ids)}
    rects: dict[int | None, Rectification] = {}
    if rect_ids:
        rects = {r.id: r for r in lock_by_id(session, Rectification, rect_ids)}
    # Still `fired` once we hold the subjects: anything handled meanwhile is left alone.
    fired = col(Timer.state) == TimerState.fired
    timers = lock_by_id(session, Timer, [p.id for p in peek], fired)
    # One subject's timers in order, lowest level first: when a reminder and both levels are
    # due at once (a backdated event), their notifications are owed (and relayed) in order.
    timers = sorted(timers, key=lambda t: (t.subject_type, t.subject_id, t.rule, t.level))
    return events, items, rects, timers


@dataclass
class _Work:
    """What applying a batch's timers collects before writing it set-based."""

    ctx: BatchContext
    config: NotifyConfig
    now: datetime
    done: list[int] = field(default_factory=list)
    skipped: list[int] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)  # notifications owed
    levels: dict[tuple[type, int], list[int]] = field(default_factory=lambda: defaultdict(list))
    overdue: dict[int, FeedbackItem] = field(default_factory=dict)


def _apply(
    session: Session,
    work: _Work,
    timer: Timer,
    event: Event,
    item: FeedbackItem | Rectification | None,
    out: BatchOutcome,
) -> None:
    """One timer of the batch: skipped if stale, else its level, overdue move and notices."""
    assert timer.id is not None
    skip = stale(timer, event, item, work.now)
    if skip:
        work.skipped.append(timer.id)
        out.states[timer.id], out.reasons[timer.id] = "skipped", skip
        log.info("timer_skipped", timer_id=timer.id, rule=timer.rule, reason=skip)
        return
    subject: Event | FeedbackItem | Rectification = item if item is not None else event
    if timer.rule == deadlines.FEEDBACK_SIGN or timer.rule in filing.RULES:
        # An unsigned opinion, a missing plan or 公示 is told: no overdue move, and the event's
        # own level stays the hold's and the summary's.
        pass
    elif timer.kind == deadlines.ESCALATION:
        open_states = (FeedbackState.received, FeedbackState.assigned)
        if isinstance(item, FeedbackItem) and item.state in open_states:
            work.overdue[item.id] = item  # type: ignore[index]
        work.levels[(type(subject), timer.level)].append(subject.id)  # type: ignore[arg-type]
    else:
        work.levels[(type(subject), 0)].append(subject.id)  # type: ignore[arg-type]
    _owe_notices(session, work, timer, event, item)
    work.done.append(timer.id)
    out.states[timer.id] = "done"


def _owe_notices(
    session: Session,
    work: _Work,
    timer: Timer,
    event: Event,
    item: FeedbackItem | Rectification | None,
) -> None:
    """The timer's notice, one row per recipient its level reaches now."""
    ctx = work.ctx
    # An opinion's notices go to the unit holding it (the one it was transferred to).
    unit_id = item.unit_id if isinstance(item, FeedbackItem) else event.unit_id
    campaign, unit = ctx.campaigns[event.campaign_id], ctx.units[unit_id]
    rules = ctx.rules[event.campaign_id]
    office = ctx.office_of(unit)
    title, body = compose(
        timer, event, unit, item, campaign, rules, ctx.calendar, work.now, office=office
    )
    for recipient in recipients(
        session,
        audience_of(timer, rules),
        unit,
        work.config,
        supervisors=ctx.supervisors_of(unit),
        staff=ctx.staff.get(unit_id, []),
        district=ctx.districts.get(unit.district_id),
    ):
        work.rows.append(_notification_row(timer, event, unit, rules, recipient, title, body))


def owe_open(
    session: Session, unit_id: int | None, now: datetime, config: NotifyConfig
) -> BatchOutcome:
    """A unit's items still open, owed to whoever their level reaches now: called when the unit
    gains a contact, an address, a robot or a staff account while items are open, so the new
    recipient hears them at once rather than at the next level. Each open item's latest notice
    (its current level) is composed again; the recipients who had it already are skipped by
    its unique key, so calling this twice owes nothing twice. `unit_id` None: every unit's (a
    new supervisor). The caller delivers `inline`."""
    out = BatchOutcome()
    stmt = (
        select(Timer)
        .join(Event, col(Event.id) == Timer.event_id)
        .where(
            Timer.state == TimerState.done,
            col(Timer.kind).in_([deadlines.REMINDER, deadlines.ESCALATION]),
        )
    )
    if unit_id is not None:
        stmt = stmt.where(Event.unit_id == unit_id)
    handled = session.exec(stmt).all()
    latest: dict[tuple[str, int, str], Timer] = {}
    for t in sorted(handled, key=lambda t: (t.kind == deadlines.ESCALATION, t.level, t.id)):
        latest[(t.subject_type, t.subject_id, t.rule)] = t
    if not latest:
        return out
    peek = [_Peek(t) for t in latest.values()]
    events, items, rects, _ = _lock_batch(session, peek)
    holders = {i.unit_id for i in items.values()}
    work = _Work(BatchContext.load(session, events.values(), config, holders), config, now)
    subjects: dict[str, dict[int | None, Any]] = {"feedback_item": items, "rectification": rects}
    for timer in sorted(latest.values(), key=lambda t: (t.subject_type, t.subject_id, t.rule)):
        event = events[timer.event_id]
        item = subjects.get(timer.subject_type, {}).get(timer.subject_id)
        if stale(timer, event, item, now) is None:
            _owe_notices(session, work, timer, event, item)
    _owe(session, work.rows, now, out)
    if out.outbox_ids:
        wake_schedulers(session)  # the relay hands the deliveries out at once
    if out.notifications:
        log.info("open_items_owed", unit_id=unit_id, notifications=out.notifications)
    return out


@dataclass(frozen=True)
class _Peek:
    """A handled timer as `_lock_batch` reads a fired one."""

    timer: Timer

    @property
    def id(self) -> int | None:
        return self.timer.id

    @property
    def event_id(self) -> int | None:
        return self.timer.event_id

    @property
    def subject_type(self) -> str:
        return self.timer.subject_type

    @property
    def subject_id(self) -> int:
        return self.timer.subject_id


def _notification_row(
    timer: Timer,
    event: Event,
    unit: Unit,
    rules: CampaignRules,
    recipient: Recipient,
    title: str,
    body: str,
) -> dict[str, Any]:
    """The row one recipient's notice is owed as (`_digest`: its digest hour, if it takes one)."""
    delivery = recipient.delivery or rules.escalation_delivery
    if recipient.channel in INLINE_CHANNELS:
        delivery = "individual"  # the log records every notice as it happens
    return {
        "key": notification_key(timer, recipient),
        "timer_id": timer.id,
        "subject_type": timer.subject_type,
        "subject_id": timer.subject_id,
        "event_id": event.id,
        "unit_id": unit.id,
        "rule": timer.rule,
        "kind": timer.kind,
        "level": timer.level,
        "channel": recipient.channel,
        "recipient": recipient.address,
        "title": title,
        "body": body,
        "_digest": (rules.digest_hour if delivery == "digest" else None),
    }


def _mark_overdue(session: Session, items: list[FeedbackItem], now: datetime) -> None:
    """The workers' `mark_overdue` move on every open opinion of the batch at once: one UPDATE
    (state, overdue_since, version, as the feedback machine's move writes them) and their audit
    lines in one flush (sealed into the hash chain in order, like any move's)."""
    if not items:
        return
    table = FeedbackItem.__table__  # type: ignore[attr-defined]
    source = [FeedbackState.received, FeedbackState.assigned]
    if not all(feedback.WORKFLOW.machine.get_transitions("mark_overdue", s) for s in source):
        raise AssertionError("the feedback machine no longer moves open opinions to overdue")
    session.flush()
    moved = {
        r.id: r
        for r in session.execute(
            sa.update(table)
            .where(table.c.id.in_([i.id for i in items]), table.c.state.in_(source))
            .values(
                state=FeedbackState.overdue,
                overdue_since=sa.func.coalesce(table.c.due_at, now),
                version=table.c.version + 1,
                updated_at=now,
            )
            .returning(table.c.id, table.c.version, table.c.overdue_since)
        )
    }
    lines = []
    for item in sorted(items, key=lambda i: i.id or 0):
        row = moved.get(item.id)
        if row is None:
            continue
        lines.append(
            TransitionLog(
                event_id=item.event_id,
                feedback_item_id=item.id,
                trigger=feedback.WORKFLOW.audit_prefix + "mark_overdue",
                from_state=item.state,
                to_state=FeedbackState.overdue,
                version=row.version,
                actor_id=SYSTEM.id,
                actor_name=SYSTEM.name,
                at=now,
                data={},
            )
        )
        for key, value in (
            ("state", FeedbackState.overdue),
            ("version", row.version),
            ("overdue_since", row.overdue_since),
            ("updated_at", now),
        ):
            set_committed_value(item, key, value)
    session.add_all(lines)
    session.flush()


def _record_levels(
    session: Session,
    levels: dict[tuple[type, int], list[int]],
    loaded_by_table: dict[type, dict[int | None, Any]],
    now: datetime,
) -> None:
    """The escalation level and last notice on each subject: one UPDATE per table and level
    (an escalated rectification is also marked overdue, for the assessment).

    Bookkeeping, not a person's change: written beside the row's version counter, so a clerk
    who read the event before this escalation can still make their move (issue 10).
    """
    session.flush()  # the overdue moves first
    for (table, level), ids in sorted(levels.items(), key=lambda kv: (kv[0][0].__name__, kv[0][1])):
        values: dict[str, Any] = {"last_notified_at": now}
        if level:
            current = table.escalation_level  # type: ignore[attr-defined]
            values["escalation_level"] = sa.case((current < level, level), else_=current)
            if table is Rectification:
                values["overdue"] = True
        session.execute(
            sa.update(table)
            .where(table.id.in_(sorted(set(ids))))  # type: ignore[attr-defined]
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        loaded = loaded_by_table.get(table, {})
        for subject_id in ids:
            row = loaded.get(subject_id)
            if row is None:
                continue
            set_committed_value(row, "last_notified_at", now)
            if level:
                set_committed_value(row, "escalation_level", max(row.escalation_level, level))
                if table is Rectification:
                    set_committed_value(row, "overdue", True)


def _owe(session: Session, rows: list[dict[str, Any]], now: datetime, out: BatchOutcome) -> None:
    """One multi-row insert of the batch's notifications (duplicate keys skipped), then one of
    the outbox rows for those a worker must deliver."""
    if not rows:
        return
    wants = {(r["channel"], r["recipient"]): r["_digest"] for r in rows if r["_digest"] is not None}
    into = digests.attach(session, wants, now) if wants else {}
    values: list[dict[str, Any]] = []
    seen: set[str] = set()
    for row in rows:
        if row["key"] in seen:
            continue
        seen.add(row["key"])
        digest_id = (
            into.get((row["channel"], row["recipient"])) if row["_digest"] is not None else None
        )
        # The log, and an inbox taking items one by one: delivered in this transaction.
        inline = row["channel"] in INLINE_CHANNELS or (
            row["channel"] == inbox.INBOX and digest_id is None
        )
        state = NotificationState.pending
        if inline:
            state = NotificationState.sent
        elif digest_id is not None:
            state = NotificationState.digested
        values.append(
            {
                **{k: v for k, v in row.items() if not k.startswith("_")},
                "state": state,
                "attempts": 1 if inline else 0,
                "sent_at": now if inline else None,
                "created_at": now,
                "digest_id": digest_id,
            }
        )
    table = Notification.__table__  # type: ignore[attr-defined]
    inserted = session.execute(
        insert_ignoring_duplicates(session, table).returning(
            table.c.id, table.c.key, table.c.state
        ),
        values,
    ).all()
    by_key = {v["key"]: v for v in values}
    deliver: list[int] = []
    boxed: list[dict[str, Any]] = []
    for row_id, key, state in sorted(inserted, key=lambda r: r[0]):
        out.notifications += 1
        v = by_key[key]
        if state == NotificationState.pending:
            deliver.append(row_id)
        elif state == NotificationState.digested:
            out.digested += 1
        elif v["channel"] == inbox.INBOX:
            boxed.append({**v, "id": row_id})
        elif state == NotificationState.sent:
            out.inline.append(Notification(id=row_id, **{k: v[k] for k in _INLINE_FIELDS}))
    inbox.deliver(session, boxed, now)
    out.outbox_ids += jobs.owe_deliveries(session, deliver, now)


_INLINE_FIELDS = (
    "key", "timer_id", "subject_type", "subject_id", "event_id", "unit_id", "rule", "kind",
    "level", "channel", "recipient", "title", "body", "state", "attempts", "created_at",
    "sent_at",
)  # fmt: skip


def _finish_timers(session: Session, done: list[int], skipped: list[int], now: datetime) -> None:
    """One UPDATE per outcome: the batch's timers done or skipped."""
    for state, ids in ((TimerState.done, done), (TimerState.skipped, skipped)):
        if ids:
            session.execute(
                sa.update(Timer)
                .where(col(Timer.id).in_(ids))
                .values(state=state, handled_at=now)
                .execution_options(synchronize_session=False)
            )


def notification_key(timer: Timer, recipient: Recipient) -> str:
    """The identity of one notification: subject, rule, level, deadline, channel, recipient."""
    # The address is hashed: keys travel in headers and logs, and a robot URL carries a secret.
    address = hashlib.sha256(recipient.address.encode()).hexdigest()[:16]
    return (
        f"{timer.subject_type}:{timer.subject_id}:{timer.rule}:{timer.kind}:{timer.level}:"
        f"{timer.deadline_on.isoformat()}:{recipient.channel}:{address}"
    )


# --------------------------------------------------------------------------------------------
# Recipients: the addresses an audience reaches on the configured channels
# --------------------------------------------------------------------------------------------


def recipients(
    session: Session,
    audience: tuple[Audience, ...],
    unit: Unit,
    config: NotifyConfig,
    *,
    supervisors: list[User] | None = None,
    staff: list[User] | None = None,
    district: District | None = None,
) -> list[Recipient]:
    """The addresses of an audience on the configured channels, without duplicates; each with
    its own delivery choice (the unit's for its contact, head and robot; an account's own).

    Every level reaches the inbox of each staff account it concerns: the unit's staff when it
    is addressed to the unit (its contact or head), the active supervisors of the unit's own
    district when it is copied to the district office (`supervisors`: theirs, loaded when not
    given; never another district's, nor the city's). What is addressed to the office goes to
    the supervisors' addresses and the district's own mailbox (its contact e-mail), never to a
    unit's robot; the service-wide office mailbox and robot (OPENDAY_OFFICE_EMAIL,
    OPENDAY_SUPERVISOR_WEBHOOK_URL) are district 1's, the office they were set up for before
    a city had districts, so another district's escalations never reach them.
    """
    out: list[Recipient] = []
    own = unit.escalation_delivery
    to_unit = "unit_contact" in audience or "unit_head" in audience
    if "unit_contact" in audience:
        if unit.contact_email:
            out.append(Recipient("email", unit.contact_email, own))
        if unit.webhook_url:
            out.append(Recipient(f"webhook_{unit.webhook_format}", unit.webhook_url, own))
    if "unit_head" in audience and unit.head_email:
        out.append(Recipient("email", unit.head_email, own))
    if to_unit:
        if staff is None:
            staff = inbox.staff_by_unit(session, [unit.id]).get(unit.id, [])  # type: ignore[arg-type,list-item]
        out += [_inbox_of(u, own) for u in staff]
    if "supervisors" in audience:
        if supervisors is None:
            supervisors = inbox.supervisors(session, unit.district_id)
        if district is None:
            district = session.get(District, unit.district_id)
        people = sorted((u for u in supervisors if u.email), key=lambda u: u.email or "")
        out += [Recipient("email", u.email, u.escalation_delivery) for u in people]  # type: ignore[arg-type]
        if district is not None and district.contact_email:
            out.append(Recipient("email", district.contact_email))
        first = unit.district_id == DEFAULT_DISTRICT  # the service-wide settings' office
        if config.office_email and first:
            out.append(Recipient("email", config.office_email))
        if config.supervisor_webhook_url and first:
            out.append(
                Recipient(
                    f"webhook_{config.supervisor_webhook_format}", config.supervisor_webhook_url
                )
            )
        out += [_inbox_of(u, None) for u in supervisors]
    if not config.email_enabled:
        out = [r for r in out if r.channel != "email"]
    if config.notify_log:
        out.append(Recipient("log", f"unit:{unit.id}"))
    return list(dict.fromkeys(out))


def _inbox_of(user: User, fallback: str | None) -> Recipient:
    """An account's inbox, taking items one by one or in its daily digest as it chose."""
    return Recipient(inbox.INBOX, inbox.address(user.id), user.escalation_delivery or fallback)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Wording: the Chinese title and body
# --------------------------------------------------------------------------------------------


def compose(
    timer: Timer,
    event: Event,
    unit: Unit,
    item: FeedbackItem | Rectification | None,
    campaign: Campaign,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
    office: str = OFFICE,
) -> tuple[str, str]:
    """The Chinese title and body: the event, the item, the due date and how late it is;
    `office` the event's own district office (雁江区政府办)."""
    prefix = prefix_of(timer, rules, office)
    lateness = lateness_text(timer, calendar, local_date(now))
    escalated = timer.kind == deadlines.ESCALATION
    due = day_zh(timer.deadline_on)
    if timer.rule in filing.RULES:
        title = filing.title(timer, unit.name, prefix, office)
        lines = filing.lines(timer, event, rules, due, lateness, office)
    elif timer.rule == deadlines.RECTIFICATION:
        assert isinstance(item, Rectification)
        lines = _rectification_lines(event, item, rules, due, lateness, office)
        title = f"{prefix}{unit.name}：抽查整改{'逾期未报送' if escalated else '即将到期'}"
    elif timer.rule == deadlines.FEEDBACK_SIGN:
        assert isinstance(item, FeedbackItem)
        title = f"{prefix}{unit.name}：意见建议逾期未签收"
        lines = _sign_lines(event, item, rules, due)
    elif timer.rule == deadlines.FEEDBACK_ANSWER:
        assert isinstance(item, FeedbackItem)
        title = f"{prefix}{unit.name}：意见建议{'逾期未办结' if escalated else '即将到期'}"
        content = item.content if len(item.content) <= 120 else item.content[:120] + "…"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动（{day_zh(event.held_on) or when_of(event)} 开展）"
            f"收集的意见建议（编号 {item.id}）：",
            f"“{content}”",
            f"应于 {due} 前办结并反馈（{rules.feedback_answer_workdays}个工作日内），{lateness}。",
            "请尽快办结，并在系统中登记答复。",
        ]
    elif timer.rule == deadlines.SUMMARY:
        title = f"{prefix}{unit.name}：活动总结{'逾期未报送' if escalated else '即将到期'}"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动已于 {day_zh(event.held_on)} 开展，",
            f"活动总结（含图文资料）应于 {due} 前报送{office}"
            f"（活动开展后{rules.summary_due_days}日内），{lateness}。",
            "请尽快在系统中提交活动总结。",
        ]
    else:
        title = f"{prefix}{unit.name}：政府开放日活动未按期开展"
        lines = [
            f"贵单位“{event.theme}”政府开放日活动计划于 {when_of(event)} 开展，",
            f"截至 {due} 尚未登记开展，{lateness}。",
            "请尽快开展活动，或在系统中办理改期。",
        ]
    signature = f"—— {campaign.issuing_office}（{campaign.doc_number}）"
    return title, "\n".join([f"{unit.name}：", "", *lines, "", signature])


def _sign_lines(event: Event, item: FeedbackItem, rules: CampaignRules, due: str) -> list[str]:
    """What an unsigned opinion's notice says: sign for it, or transfer it with a reason."""
    content = item.content if len(item.content) <= 120 else item.content[:120] + "…"
    return [
        f"“{event.theme}”政府开放日活动收集的意见建议（编号 {item.id}）：",
        f"“{content}”",
        f"应于 {due} 前签收（{rules.sign_workdays}个工作日内），至今未签收。",
        "请尽快在系统中签收；不属于贵单位职责的，请注明理由转办。",
    ]


def _rectification_lines(
    event: Event,
    rect: Rectification,
    rules: CampaignRules,
    due: str,
    lateness: str,
    office: str = OFFICE,
) -> list[str]:
    """What an overdue rectification's notice says: the event, what to fix, the due day."""
    notice = rect.notice if len(rect.notice) <= 120 else rect.notice[:120] + "…"
    return [
        f"贵单位“{event.theme}”政府开放日活动经{office}抽查需整改（整改通知编号 {rect.id}）：",
        f"“{notice}”",
        f"整改情况应于 {due} 前报送{office}（{rules.rectification_workdays}个工作日内），"
        f"{lateness}。",
        "请尽快整改，并在系统中报送整改情况。",
    ]


def when_of(event: Event) -> str:
    """The event's date as planned (one day or a window, with its year), its time and place."""
    when = window_zh(event.date_earliest, event.date_latest)
    when += hours_zh(event.start_time, event.end_time)
    if event.location:
        when += f"，地点：{event.location}"
    return when
