"""Deadline rules and the timers that enforce them.

Rules are data (CampaignRules): a feedback answer within 15 working days of collection, the
summary within 3 calendar days after the event, the event held by its date (or the last day of
its window), reminders ahead of each, and an escalation ladder after. A deadline falls at the end
of its local (Asia/Shanghai) day; every moment is stored in UTC.

Timers are rows written in the caller's transaction (`arm`, `cancel`), so a move and the timers it
sets commit together. A count that reaches a year without published working-day data is computed
Monday–Friday and flagged provisional; `recompute_provisional` re-derives those once the year is
loaded and records old and new due dates in the audit log.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import (
    OPEN_FEEDBACK_STATES,
    CalendarDay,
    CalendarYear,
    Campaign,
    Event,
    EventState,
    ExtensionRequest,
    ExtensionState,
    FeedbackItem,
    Timer,
    TimerState,
    TransitionLog,
)
from models.db import core_connection
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import LOCAL_TZ
from workflows.workdays.days import DayRule, WorkdayCalendar, WorkdayResult

log = structlog.get_logger("openday.deadlines")

FEEDBACK_ANSWER = "feedback_answer"
FEEDBACK_SIGN = "feedback_sign"  # 签收: the holding unit signs for an opinion (issue 26)
SUMMARY = "summary"
EVENT_HOLD = "event_hold"
RECTIFICATION = "rectification"  # a rectification report (整改情况) after a notice
REMINDER = "reminder"
ESCALATION = "escalation"

# How schedulers hear that a transaction changed timers (`wake_schedulers`); installed by the
# composition roots, so the rules here know nothing of NOTIFY or threads.
WakeHook = Callable[[Session], None]
_wake_hook: WakeHook | None = None
# A scheduler never sleeps longer than this (OPENDAY_SCHEDULER_MAX_SLEEP, 30 s by default), so
# only a timer due sooner needs to wake it; the rest are found on its next regular pass.
WAKE_HORIZON = timedelta(seconds=60)


def end_of_local_day(day: date) -> datetime:
    """The moment a deadline on `day` passes: local midnight after it, in UTC."""
    return datetime.combine(day + timedelta(days=1), time(0), LOCAL_TZ).astimezone(UTC)


def at_local(day: date, hour: int) -> datetime:
    """`hour` o'clock local time on `day`, in UTC."""
    return datetime.combine(day, time(hour), LOCAL_TZ).astimezone(UTC)


# Per database (engine), so two databases in one process never share a calendar; an engine
# that is garbage-collected takes its entry with it.
_calendar_cache: weakref.WeakKeyDictionary[Engine, tuple[tuple[Any, ...], WorkdayCalendar]] = (
    weakref.WeakKeyDictionary()
)
_calendar_lock = threading.Lock()


def _engine_of(session: Session) -> Engine:
    bind = session.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


# What tells a cached calendar is still current: row counts and last load times. A query that
# runs anyway at the start of a move may carry these columns and hand their values to
# load_calendar (one round trip fewer); otherwise load_calendar reads them itself.
CALENDAR_REVISION_COLUMNS = (
    select(func.count()).select_from(CalendarDay).scalar_subquery(),
    select(func.max(CalendarDay.loaded_at)).scalar_subquery(),
    select(func.count()).select_from(CalendarYear).scalar_subquery(),
    select(func.max(CalendarYear.loaded_at)).scalar_subquery(),
)
# Built once, run on the session's connection without the ORM layer.
_CALENDAR_REVISION = sa.select(*CALENDAR_REVISION_COLUMNS)


def load_calendar(session: Session, revision: tuple[Any, ...] | None = None) -> WorkdayCalendar:
    """The working-day calendar: chinese-calendar's published years plus what was loaded.

    Built once per process and database, and reused while the loaded data is unchanged: one
    small query (row counts and last load times) tells whether any process loaded a calendar
    since. `revision`: the CALENDAR_REVISION_COLUMNS as read earlier in this transaction.
    """
    engine = _engine_of(session)
    if revision is None:
        revision = tuple(core_connection(session).execute(_CALENDAR_REVISION).one())
    with _calendar_lock:
        cached = _calendar_cache.get(engine)
    if cached is not None and cached[0] == revision:
        return cached[1]
    days = [
        DayRule(day=d.day, workday=d.workday, source=d.source, reason=d.reason)
        for d in session.exec(select(CalendarDay)).all()
    ]
    years = session.exec(select(CalendarYear.year)).all()
    calendar = WorkdayCalendar(loaded_days=days, complete_years=years)
    with _calendar_lock:
        _calendar_cache[engine] = (revision, calendar)
    return calendar


@dataclass(frozen=True)
class TimerSpec:
    """One timer a deadline needs."""

    kind: str
    level: int
    due_at: datetime
    provisional: bool


@dataclass(frozen=True)
class Deadline:
    """A subject's deadline under one rule, and every timer that goes with it."""

    rule: str
    subject_type: str
    subject_id: int
    event_id: int
    deadline_on: date
    due_at: datetime
    provisional: bool
    timers: tuple[TimerSpec, ...]


def _ladder(deadline_on: date, rules: CampaignRules, calendar: WorkdayCalendar) -> list[TimerSpec]:
    specs = []
    for rung in rules.escalations:
        if rung.after_workdays:
            later = calendar.add_workdays(deadline_on, rung.after_workdays)
            specs.append(
                TimerSpec(ESCALATION, rung.level, end_of_local_day(later.day), later.provisional)
            )
        else:
            specs.append(TimerSpec(ESCALATION, rung.level, end_of_local_day(deadline_on), False))
    return specs


def feedback_deadline(
    item: FeedbackItem,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    due_on: date | None = None,
) -> Deadline:
    """Answer within N working days of collection (counting from the next day), or by `due_on`
    when a supervisor granted an extension."""
    assert item.collected_on is not None and item.id is not None
    if due_on is not None:  # a day a person chose, not a count: nothing guessed
        due = WorkdayResult(day=due_on, provisional=False, missing_years=())
    else:
        due = calendar.add_workdays(item.collected_on, rules.feedback_answer_workdays)
    timers = []
    if rules.feedback_reminder_workdays_before:
        before = calendar.subtract_workdays(due.day, rules.feedback_reminder_workdays_before)
        timers.append(
            TimerSpec(
                REMINDER,
                0,
                at_local(before.day, rules.reminder_hour),
                due.provisional or before.provisional,
            )
        )
    ladder = _ladder(due.day, rules, calendar)
    timers += [
        TimerSpec(t.kind, t.level, t.due_at, t.provisional or due.provisional) for t in ladder
    ]
    return Deadline(
        FEEDBACK_ANSWER,
        "feedback_item",
        item.id,
        item.event_id,
        due.day,
        end_of_local_day(due.day),
        due.provisional,
        tuple(timers),
    )


def summary_deadline(
    event: Event, rules: CampaignRules, calendar: WorkdayCalendar, due_on: date | None = None
) -> Deadline:
    """The summary within N calendar days after the (last) day the event was held (or by
    `due_on`, the new deadline a supervisor set when sending it back for rework)."""
    assert event.held_on is not None and event.id is not None
    last_day = event.held_until or event.held_on
    due_on = due_on or last_day + timedelta(days=rules.summary_due_days)
    timers = []
    if rules.summary_reminder_days_before:
        remind_on = due_on - timedelta(days=rules.summary_reminder_days_before)
        timers.append(TimerSpec(REMINDER, 0, at_local(remind_on, rules.reminder_hour), False))
    timers += _ladder(due_on, rules, calendar)
    return Deadline(
        SUMMARY, "event", event.id, event.id, due_on, end_of_local_day(due_on), False, tuple(timers)
    )


def hold_deadline(event: Event, rules: CampaignRules, calendar: WorkdayCalendar) -> Deadline:
    """The event held by its date, or by the last day of its window (上旬/中旬/下旬 …)."""
    assert event.id is not None
    due_on = event.date_latest
    return Deadline(
        EVENT_HOLD,
        "event",
        event.id,
        event.id,
        due_on,
        end_of_local_day(due_on),
        False,
        tuple(_ladder(due_on, rules, calendar)),
    )


def rectification_deadline(
    subject_id: int,
    event_id: int,
    issued_on: date,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
) -> Deadline:
    """The rectification report within N working days of the notice (or of a send-back),
    counting from the next day; no reminder, the escalation ladder after."""
    due = calendar.add_workdays(issued_on, rules.rectification_workdays)
    ladder = [
        TimerSpec(t.kind, t.level, t.due_at, t.provisional or due.provisional)
        for t in _ladder(due.day, rules, calendar)
    ]
    return Deadline(
        RECTIFICATION,
        "rectification",
        subject_id,
        event_id,
        due.day,
        end_of_local_day(due.day),
        due.provisional,
        tuple(ladder),
    )


_TIMER_KEY = ("subject_type", "subject_id", "rule", "kind", "level")  # uq_timer_subject_rule_level
_arm_statements: dict[tuple[str, bool], Any] = {}


def _arm_statement(dialect: str, rearm_fired: bool) -> Any:
    """INSERT … ON CONFLICT DO UPDATE of a deadline's timers (PostgreSQL and SQLite spell it
    alike): a missing timer is created; an existing one moves to its new moment and is pending
    again if it was pending or `rearm_fired`, else stays as it is. Built once per dialect."""
    found = _arm_statements.get((dialect, rearm_fired))
    if found is None:
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = insert(Timer.__table__)  # type: ignore[attr-defined]
        table = Timer.__table__.c  # type: ignore[attr-defined]
        found = stmt.on_conflict_do_update(
            index_elements=list(_TIMER_KEY),
            set_={
                "state": TimerState.pending.value,
                "fired_at": None,
                "handled_at": None,
                "due_at": stmt.excluded.due_at,
                "deadline_on": stmt.excluded.deadline_on,
                "provisional": stmt.excluded.provisional,
            },
            where=None if rearm_fired else table.state == TimerState.pending.value,
        )
        _arm_statements[(dialect, rearm_fired)] = found
    return found


def arm(session: Session, deadline: Deadline, now: datetime, *, rearm_fired: bool = False) -> None:
    """Create or move the deadline's timers in the caller's transaction.

    Pending timers move to their new moment; handled ones stay as they are unless `rearm_fired`
    (a rescheduled event owes its escalations again for the new date). One statement, whatever
    exists already (every move that sets a deadline runs it).
    """
    if deadline.timers:
        loaded = _loaded_timers(session, deadline)
        if any(sa.inspect(t).modified for t in loaded):
            session.flush()  # the statement below must not overtake changes made in memory
        connection = core_connection(session)
        connection.execute(
            _arm_statement(connection.dialect.name, rearm_fired),
            [
                {
                    "rule": deadline.rule,
                    "kind": spec.kind,
                    "level": spec.level,
                    "subject_type": deadline.subject_type,
                    "subject_id": deadline.subject_id,
                    "event_id": deadline.event_id,
                    "deadline_on": deadline.deadline_on,
                    "due_at": spec.due_at,
                    "provisional": spec.provisional,
                    "state": TimerState.pending.value,
                    "created_at": now,
                }
                for spec in deadline.timers
            ],
        )
        for timer in loaded:  # wrote past the ORM: read them afresh at their next use
            session.expire(timer)
    if any(spec.due_at <= now + WAKE_HORIZON for spec in deadline.timers):
        wake_schedulers(session)
    if deadline.provisional:
        log.warning(
            "deadline_provisional",
            rule=deadline.rule,
            subject_type=deadline.subject_type,
            subject_id=deadline.subject_id,
            deadline_on=deadline.deadline_on.isoformat(),
        )


def _loaded_timers(session: Session, deadline: Deadline) -> list[Timer]:
    """Timers of this deadline the session holds (few: sessions that arm timers rarely load
    any)."""
    return [
        obj
        for obj in session.identity_map.values()
        if isinstance(obj, Timer)
        and obj.subject_id == deadline.subject_id
        and obj.subject_type == deadline.subject_type
        and obj.rule == deadline.rule
    ]


def cancel(session: Session, *, subject_type: str, subject_ids: Iterable[int], rule: str) -> int:
    """Cancel the pending timers of subjects under a rule; returns how many."""
    return cancel_rules(session, subject_type=subject_type, subject_ids=subject_ids, rules=[rule])


def cancel_rules(
    session: Session, *, subject_type: str, subject_ids: Iterable[int], rules: Sequence[str]
) -> int:
    """Cancel the pending timers of subjects under any of several rules in one statement (a
    move that owes none of them sends one UPDATE, not one per rule); returns how many."""
    ids = list(subject_ids)
    if not ids or not rules:
        return 0
    params = {"of_type": subject_type, "ids": ids, "rules": list(rules)}
    result = session.execute(_CANCEL, params)
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


# Built once (every reschedule runs it): building and cache-keying an UPDATE costs more Python
# than sending it; the lists are expanding parameters.
_CANCEL = (
    sa.update(Timer)
    .where(
        col(Timer.subject_type) == sa.bindparam("of_type"),
        col(Timer.subject_id).in_(sa.bindparam("ids", expanding=True)),
        col(Timer.rule).in_(sa.bindparam("rules", expanding=True)),
        col(Timer.state) == TimerState.pending,
    )
    .values(state=TimerState.cancelled)
    .execution_options(synchronize_session=False)
)


def set_wake_hook(hook: WakeHook | None) -> None:
    """Install how schedulers hear that timers changed; composition roots do this at start-up
    (the real one is workers/wake.install_wake_hook: PostgreSQL NOTIFY, an in-process event)."""
    global _wake_hook
    _wake_hook = hook


def wake_schedulers(session: Session) -> None:
    """Announce that this session's transaction changed timers a scheduler should see soon.

    With no hook installed nothing is lost: schedulers find the timers on their next pass.
    """
    hook = _wake_hook
    if hook is not None:
        hook(session)


# --------------------------------------------------------------------------------------------
# Applying rules to subjects (called from the workflows, in the move's transaction)
# --------------------------------------------------------------------------------------------


def arm_feedback_item(
    session: Session,
    item: FeedbackItem,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
    *,
    due_on: date | None = None,
) -> Deadline:
    """Compute an item's answer deadline, store it on the item and arm its timers (an
    extension's new day re-arms reminders and escalations already sent)."""
    deadline = feedback_deadline(item, rules, calendar, due_on)
    moved = due_on is not None and due_on != item.due_on  # a new day owes its notices again
    item.due_on = deadline.deadline_on
    item.due_at = deadline.due_at
    item.due_provisional = deadline.provisional
    arm(session, deadline, now, rearm_fired=moved)
    if item.signed_at is None and item.sign_due_on is None and item.collected_on is not None:
        arm_sign(session, item, item.collected_on, rules, calendar, now)
    return deadline


def arm_sign(
    session: Session,
    item: FeedbackItem,
    start: date,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
) -> Deadline:
    """The holding unit signs for (签收) the opinion within the rule's working days of `start`
    (the day it was received, or transferred), counting from the next day; unsigned at the end
    of that day it is escalated to the unit (one escalation, level 1 of the ladder's audience).
    A new start (a transfer) owes its notice again."""
    assert item.id is not None
    due = calendar.add_workdays(start, rules.sign_workdays)
    deadline = Deadline(
        FEEDBACK_SIGN,
        "feedback_item",
        item.id,
        item.event_id,
        due.day,
        end_of_local_day(due.day),
        due.provisional,
        (TimerSpec(ESCALATION, 1, end_of_local_day(due.day), due.provisional),),
    )
    item.sign_due_on = due.day
    arm(session, deadline, now, rearm_fired=True)
    return deadline


def arm_summary(
    session: Session,
    event: Event,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
    *,
    due_on: date | None = None,
) -> Deadline:
    """The summary deadline starts when the event is held; a rework sets a new one (`due_on`),
    whose reminder and escalations are owed again."""
    deadline = summary_deadline(event, rules, calendar, due_on)
    event.summary_due_on = deadline.deadline_on
    event.summary_due_at = deadline.due_at
    event.escalation_level = 0
    arm(session, deadline, now, rearm_fired=due_on is not None)
    return deadline


def arm_hold(
    session: Session,
    event: Event,
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
    *,
    rearm_fired: bool = False,
) -> Deadline:
    """The event must be held by the last day of its date window."""
    deadline = hold_deadline(event, rules, calendar)
    if rearm_fired:
        event.escalation_level = 0
    arm(session, deadline, now, rearm_fired=rearm_fired)
    return deadline


def hold_timer_rows(
    event_ids: Iterable[int],
    latest_days: Iterable[date],
    rules: CampaignRules,
    calendar: WorkdayCalendar,
    now: datetime,
) -> list[dict[str, Any]]:
    """Timer rows for many new events at once (bulk import): the hold deadline's ladder."""
    ladders: dict[date, list[TimerSpec]] = {}
    rows = []
    for event_id, latest in zip(event_ids, latest_days, strict=True):
        if latest not in ladders:
            ladders[latest] = _ladder(latest, rules, calendar)
        for spec in ladders[latest]:
            rows.append(
                {
                    "rule": EVENT_HOLD,
                    "kind": spec.kind,
                    "level": spec.level,
                    "subject_type": "event",
                    "subject_id": event_id,
                    "event_id": event_id,
                    "deadline_on": latest,
                    "due_at": spec.due_at,
                    "provisional": spec.provisional,
                    "state": TimerState.pending.value,
                    "created_at": now,
                }
            )
    return rows


def cancel_event_timers(session: Session, event: Event) -> None:
    """A cancelled event owes nothing any more: its own timers and its items'."""
    assert event.id is not None
    for rule in (EVENT_HOLD, SUMMARY):
        cancel(session, subject_type="event", subject_ids=[event.id], rule=rule)
    item_ids = session.exec(select(FeedbackItem.id).where(FeedbackItem.event_id == event.id)).all()
    for rule in (FEEDBACK_ANSWER, FEEDBACK_SIGN):
        cancel(
            session,
            subject_type="feedback_item",
            subject_ids=[i for i in item_ids if i is not None],
            rule=rule,
        )


@dataclass(frozen=True)
class TimerChange:
    """One timer a recompute moved (or added): when it fired before, and when it fires now."""

    timer_id: int | None
    event_id: int | None  # as on Timer; a recompute only moves event and opinion timers
    subject_type: str
    subject_id: int
    rule: str
    kind: str
    level: int
    old_due_at: datetime | None  # None: the recompute added this timer
    new_due_at: datetime
    old_deadline_on: date | None
    new_deadline_on: date
    provisional: bool

    @property
    def old_day(self) -> date | None:
        """The local day the timer was due on before (see `due_day`)."""
        return due_day(self.old_due_at) if self.old_due_at else None

    @property
    def new_day(self) -> date:
        """The local day the timer is due on now (see `due_day`)."""
        return due_day(self.new_due_at)


def due_day(moment: datetime) -> date:
    """The local day a timer belongs to: an escalation due at the end of a day (local midnight
    after it) is that day's, a reminder at 09:00 its own day's."""
    return (moment - timedelta(microseconds=1)).astimezone(LOCAL_TZ).date()


@dataclass(frozen=True)
class Recomputed:
    """What a recompute did: how many deadlines it re-derived, and the timers that moved."""

    deadlines: int
    moved: tuple[TimerChange, ...]


def _pending_timers(session: Session, subject_type: str, subject_id: int) -> list[Timer]:
    return list(
        session.exec(
            select(Timer).where(
                Timer.subject_type == subject_type,
                Timer.subject_id == subject_id,
                Timer.state == TimerState.pending,
            )
        ).all()
    )


class _Watch:
    """Remembers a subject's pending timers before a re-arm, to list which ones moved."""

    def __init__(self) -> None:
        self.moved: list[TimerChange] = []

    def before(
        self, session: Session, subject_type: str, subject_id: int
    ) -> dict[tuple[str, str, int], tuple[datetime, date]]:
        return {
            (t.rule, t.kind, t.level): (t.due_at, t.deadline_on)
            for t in _pending_timers(session, subject_type, subject_id)
        }

    def after(
        self,
        session: Session,
        subject_type: str,
        subject_id: int,
        old: dict[tuple[str, str, int], tuple[datetime, date]],
    ) -> None:
        session.flush()
        for t in _pending_timers(session, subject_type, subject_id):
            was = old.get((t.rule, t.kind, t.level))
            if was is not None and was[0] == t.due_at:
                continue
            self.moved.append(
                TimerChange(
                    timer_id=t.id,
                    event_id=t.event_id,
                    subject_type=subject_type,
                    subject_id=subject_id,
                    rule=t.rule,
                    kind=t.kind,
                    level=t.level,
                    old_due_at=was[0] if was else None,
                    new_due_at=t.due_at,
                    old_deadline_on=was[1] if was else None,
                    new_deadline_on=t.deadline_on,
                    provisional=t.provisional,
                )
            )


def recompute_provisional(session: Session, now: datetime, actor_name: str) -> Recomputed:
    """Re-derive every open deadline that rested on missing data; log old and new due dates.

    Returns how many deadlines were re-derived and every pending timer whose moment changed
    (old and new), for the page that loads a calendar year to list.
    """
    calendar = load_calendar(session)
    watch = _Watch()
    rules_for = _RulesOfEvents(session)
    changed = 0
    provisional_timers = session.exec(
        select(Timer).where(Timer.state == TimerState.pending, col(Timer.provisional))
    ).all()
    item_ids = {t.subject_id for t in provisional_timers if t.subject_type == "feedback_item"}
    item_ids |= set(
        session.exec(  # type: ignore[arg-type]
            select(FeedbackItem.id).where(
                col(FeedbackItem.due_provisional),
                col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES),
            )
        ).all()
    )
    for item_id in sorted(i for i in item_ids if i is not None):
        item = session.get(FeedbackItem, item_id)
        if item is None or item.state not in OPEN_FEEDBACK_STATES:
            continue
        _recompute_item(session, item, rules_for, calendar, now, actor_name, watch)
        changed += 1
    event_ids = {t.subject_id for t in provisional_timers if t.subject_type == "event"}
    for event_id in sorted(event_ids):
        event = session.get(Event, event_id)
        if event is None:
            continue
        rules = rules_for(event_id)
        old_timers = watch.before(session, "event", event_id)
        if event.state in (EventState.planned, EventState.invited):
            arm_hold(session, event, rules, calendar, now)
        elif event.held_on is not None:
            arm(session, summary_deadline(event, rules, calendar), now)
        watch.after(session, "event", event_id, old_timers)
        changed += 1
    return Recomputed(changed, tuple(watch.moved))


class _RulesOfEvents:
    """An event's campaign rules, each campaign's validated once."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.rules_of: dict[int, CampaignRules] = {}

    def __call__(self, event_id: int) -> CampaignRules:
        event = self.session.get(Event, event_id)
        assert event is not None
        if event.campaign_id not in self.rules_of:
            campaign = self.session.get(Campaign, event.campaign_id)
            assert campaign is not None
            self.rules_of[event.campaign_id] = CampaignRules.of(campaign.rules)
        return self.rules_of[event.campaign_id]


def _recompute_item(
    session: Session,
    item: FeedbackItem,
    rules_for: _RulesOfEvents,
    calendar: WorkdayCalendar,
    now: datetime,
    actor_name: str,
    watch: _Watch,
) -> None:
    """Re-arm one open opinion's answer deadline and log the old and new due dates."""
    assert item.id is not None
    old_due, old_flag = item.due_on, item.due_provisional
    # An approved extension's day was chosen by a person: keep it, re-derive only the ladder.
    extended = session.exec(
        select(col(ExtensionRequest.new_due_on))
        .where(
            ExtensionRequest.feedback_item_id == item.id,
            ExtensionRequest.state == ExtensionState.approved,
        )
        .order_by(col(ExtensionRequest.id).desc())
    ).first()
    old_timers = watch.before(session, "feedback_item", item.id)
    arm_feedback_item(
        session, item, rules_for(item.event_id), calendar, now, due_on=extended or None
    )
    watch.after(session, "feedback_item", item.id, old_timers)
    session.add(
        TransitionLog(
            event_id=item.event_id,
            feedback_item_id=item.id,
            trigger="recompute_deadline",
            from_state=item.state,
            to_state=item.state,
            version=item.version,
            actor_name=actor_name,
            at=now,
            reason="工作日数据更新，重新计算办结期限",
            data={
                "old_due_on": old_due.isoformat() if old_due else None,
                "new_due_on": item.due_on.isoformat() if item.due_on else None,
                "was_provisional": old_flag,
                "provisional": item.due_provisional,
            },
        )
    )


def forget_calendar(session: Session) -> None:
    """Drop this database's cached calendar (after a rolled-back preview of a load)."""
    with _calendar_lock:
        _calendar_cache.pop(_engine_of(session), None)
