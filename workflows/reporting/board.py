"""The supervisors' board (督查看板) as plain data, a tab at a time: a campaign's stage funnel
and numbers with the overdue list; the spot-check queue; extension requests waiting for a
decision; the latest on-site visits; rectifications past their day; events with flagged
deviations; failed notifications. Each tab reads only its own rows, and the tabs' labels say
what waits behind them (tab_counts). pages/board.py renders them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import (
    Campaign,
    CancellationState,
    Event,
    EventState,
    EventTally,
    ExtensionRequest,
    ExtensionState,
    FeedbackItem,
    FeedbackState,
    Notification,
    NotificationState,
    Rectification,
    RectificationState,
    SiteVisit,
    SpotCheck,
    Unit,
)
from workflows.accounts import units as unit_list
from workflows.escalation import overdue
from workflows.escalation.notifications import visible_notifications
from workflows.event import cancellation
from workflows.event import machine as event_machine
from workflows.kernel import paging
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import Actor, UnitScope, in_districts, scope, within
from workflows.workdays.deadlines import end_of_local_day

FUNNEL = [s for s in EventState if s != EventState.cancelled]
PAGE = 50
BOARD_QUEUE = 10  # spot-check cards on the board itself; the queue page pages the rest


@dataclass(frozen=True)
class OverdueFilters:
    """The board's filters of the overdue list: a unit, a kind of deadline, an escalation level,
    a text in the event's theme or its unit's name."""

    unit: int | None = None
    kind: str | None = None
    level: int | None = None
    q: str | None = None


@dataclass(frozen=True)
class Board:
    """What the board's first tab shows, read in one request: the campaign's numbers (with the
    other tabs' counts) and stage funnel, and the first page of the overdue list."""

    campaign_id: int | None
    rows: list[dict[str, Any]]
    funnel: list[Stage]
    numbers: dict[str, int]
    units: list[Any]  # (id, name, district_id) rows for the unit picker


def collect(
    session: Session,
    actor: Actor,
    now: datetime,
    campaign_id: int | None,
    filters: OverdueFilters,
) -> Board:
    """The board for `campaign_id` (the newest campaign the actor sees when None, another
    district's is not offered) and the overdue filters, of the units the actor sees."""
    campaign_id = chosen_campaign(session, actor, campaign_id)
    units = scope(actor, None)
    counts = {
        **_number_counts(now, campaign_id, units),
        **_tab_counts(session, actor, now, campaign_id),
    }
    return Board(
        campaign_id=campaign_id,
        rows=overdue_rows(session, now, filters, scope(actor, filters.unit)),
        funnel=funnel(session, campaign_id, units),
        numbers=_scalars(session, counts),
        units=unit_list.choices(session, units),
    )


def chosen_campaign(session: Session, actor: Actor, campaign_id: int | None) -> int | None:
    """`campaign_id` when the actor sees that campaign, else the newest one they see (None when
    they see none)."""
    stmt = in_districts(select(Campaign.id), actor, Campaign.district_id)
    seen = list(session.exec(stmt.order_by(col(Campaign.id).desc())).all())
    return campaign_id if campaign_id in seen else (seen[0] if seen else None)


def tab_counts(
    session: Session, actor: Actor, now: datetime, campaign_id: int | None
) -> dict[str, int]:
    """What waits behind the board's tabs (their labels show it), in one statement: events to
    spot-check, extension requests and cancellation requests to decide, rectifications past
    their due day (of the campaign)."""
    return _scalars(session, _tab_counts(session, actor, now, campaign_id))


def _tab_counts(
    session: Session, actor: Actor, now: datetime, campaign_id: int | None
) -> dict[str, Any]:
    units = scope(actor, None)
    asked = select(func.count()).where(ExtensionRequest.state == ExtensionState.pending)
    cancels = cancellation.listing(session, actor, state=CancellationState.pending).order_by(None)
    return {
        "spot_checks": _waiting_for_check(units),
        "extensions": within(asked, ExtensionRequest.unit_id, units),
        "cancellations": select(func.count()).select_from(cancels.subquery()),
        "rectifications": select(func.count()).select_from(
            _overdue_rectifications(now, campaign_id, units).subquery()
        ),
    }


def _scalars(session: Session, counts: dict[str, Any]) -> dict[str, int]:
    """Several counts in one statement, each a scalar subquery (planned as it would be alone)."""
    row = session.execute(
        select(*(stmt.scalar_subquery().label(key) for key, stmt in counts.items()))
    ).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def visit_choices(
    session: Session, units: UnitScope
) -> tuple[list[tuple[Event, str]], list[tuple[SpotCheck, Event, str]]]:
    """What a visit may be recorded for: the first events waiting for their spot check and the
    latest checked ones (event, unit name), and the spot-check rounds of those events."""
    queue = list(spot_check_queue(session, BOARD_QUEUE, None, units).rows)
    visitable = [(e, name) for e, name in queue] + checked_events(session, units)
    return visitable, rounds_of(session, [e.id for e, _ in visitable if e.id is not None])


def overdue_rectifications(
    session: Session, now: datetime, campaign_id: int | None, units: UnitScope
) -> list[tuple[Rectification, Event, str]]:
    """Rectifications past their due day with no report, the longest overdue first:
    (rectification, event, unit name)."""
    stmt = _overdue_rectifications(now, campaign_id, units)
    stmt = stmt.order_by(col(Rectification.due_at), col(Rectification.id)).limit(PAGE)
    return list(session.exec(stmt).all())


def _overdue_rectifications(now: datetime, campaign_id: int | None, units: UnitScope) -> Any:
    stmt = (
        select(Rectification, Event, Unit.name)
        .join(Event, col(Event.id) == Rectification.event_id)
        .join(Unit, col(Unit.id) == Rectification.unit_id)
        .where(Rectification.state == RectificationState.issued, col(Rectification.due_at) < now)
    )
    if campaign_id:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    return within(stmt, Rectification.unit_id, units)


def rounds_of(session: Session, event_ids: list[int]) -> list[tuple[SpotCheck, Event, str]]:
    """The spot-check rounds of some events (a visit may name the one it informed)."""
    if not event_ids:
        return []
    return list(
        session.exec(
            select(SpotCheck, Event, Unit.name)
            .join(Event, col(Event.id) == SpotCheck.event_id)
            .join(Unit, col(Unit.id) == Event.unit_id)
            .where(col(SpotCheck.event_id).in_(event_ids))
            .order_by(col(SpotCheck.event_id), col(SpotCheck.round))
        ).all()
    )


@dataclass(frozen=True)
class Stage:
    """One row of 各阶段活动数: events that reached the stage (cumulative) and those still in it."""

    label: str
    reached: int
    here: int


def funnel(session: Session, campaign_id: int | None, units: UnitScope = None) -> list[Stage]:
    """Each stage from 已计划 on, with the events that reached it (an event counts for its own
    stage and every one before it) and those that are in it now; cancelled events count nowhere.
    Read from the event tally (models/tally.py): a few rows per unit, not every event."""
    stmt = within(select(EventTally.state, func.sum(EventTally.events)), EventTally.unit_id, units)
    stmt = stmt.group_by(col(EventTally.state))
    if campaign_id:
        stmt = stmt.where(EventTally.campaign_id == campaign_id)
    counts = {state: int(n or 0) for state, n in session.exec(stmt).all()}
    out, running = [], 0
    for state in reversed(FUNNEL):
        here = counts.get(state, 0)
        running += here
        out.append(Stage(event_machine.STATE_LABELS_ZH[state], running, here))
    return list(reversed(out))


def overdue_rows(
    session: Session, now: datetime, filters: OverdueFilters, units: UnitScope
) -> list[dict[str, Any]]:
    """The first page of overdue items (not those merely due soon) of `units` (the scope of
    the filters' unit), with their working days late."""
    narrow = overdue.Narrowing(q=filters.q, level=filters.level)
    found = overdue.listing(session, now, 0, units, filters.kind, PAGE, count=False, narrow=narrow)
    rows = [r for r in found.rows if r["overdue"]]
    overdue.count_workdays_late(session, rows, local_date(now))
    return rows


def numbers(
    session: Session, now: datetime, campaign_id: int | None, units: UnitScope = None
) -> dict[str, int]:
    """Units with an event (in the campaign) and the count of overdue items of each kind, in
    one statement (each count a scalar subquery, planned as it would be alone)."""
    return _scalars(session, _number_counts(now, campaign_id, units))


def _number_counts(now: datetime, campaign_id: int | None, units: UnitScope) -> dict[str, Any]:
    # Units with an event (in the campaign), from the event tally: a few rows per unit.
    counted = select(func.count(func.distinct(EventTally.unit_id))).where(EventTally.events > 0)
    if campaign_id:
        counted = counted.where(EventTally.campaign_id == campaign_id)
    counts: dict[str, Any] = {"units": within(counted, EventTally.unit_id, units)}
    today = local_date(now)
    # Only the counts (what the overdue list counts for its total), no page of rows.
    for source in overdue.statements(end_of_local_day(today), today, units, 1):
        counts[source.kind] = source.count
    counts["answered_not_told"] = _not_told(campaign_id, units)
    return counts


def _not_told(campaign_id: int | None, units: UnitScope) -> Any:
    stmt = (
        select(func.count())
        .select_from(FeedbackItem)
        .where(FeedbackItem.state == FeedbackState.answered, col(FeedbackItem.told_at).is_(None))
    )
    stmt = within(stmt, FeedbackItem.unit_id, units)
    if campaign_id:
        # Each of the few not-told answers asks its event's campaign by primary key (a
        # correlated subquery the planner cannot turn into a scan of every event: it misjudges
        # how few answers wait, as state and told_at are not independent).
        campaign_of = (
            select(Event.campaign_id)
            .where(Event.id == FeedbackItem.event_id)
            .correlate(FeedbackItem)
            .scalar_subquery()
        )
        stmt = stmt.where(campaign_of == campaign_id)
    return stmt


def spot_check_queue(
    session: Session, limit: int, after: str | None, units: UnitScope
) -> paging.KeysetPage:
    """Events waiting for their spot check, the longest waiting first: (event, unit name)."""
    stmt = (
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.state == EventState.summary_submitted)
        .order_by(col(Event.updated_at), col(Event.id))
    )
    stmt = within(stmt, Event.unit_id, units)
    return paging.keyset_page(lambda q: session.execute(q).all(), stmt, limit, after, name="spot")


def waiting_for_check(session: Session, units: UnitScope) -> int:
    """How many events wait for their spot check (from the event tally)."""
    return int(session.exec(_waiting_for_check(units)).one())


def _waiting_for_check(units: UnitScope) -> Any:
    stmt = select(func.coalesce(func.sum(EventTally.events), 0))
    stmt = stmt.where(EventTally.state == EventState.summary_submitted)
    return within(stmt, EventTally.unit_id, units)


def failed_notifications(session: Session, units: UnitScope) -> list[Notification]:
    """The latest notifications whose delivery failed (of the units seen, and the digests
    carrying only their items)."""
    stmt = (
        select(Notification)
        .where(Notification.state == NotificationState.failed)
        .order_by(col(Notification.id).desc())
        .limit(PAGE)
    )
    return list(session.exec(visible_notifications(stmt, units)).all())


def flagged_events(
    session: Session, campaign_id: int | None, units: UnitScope
) -> list[tuple[Event, str]]:
    """Events (of the campaign) whose record carries deviations flagged instead of refused,
    the latest first: (event, unit name)."""
    stmt = (
        select(Event, Unit.name)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(col(Event.flags).is_not(None))
        .order_by(col(Event.id).desc())
        .limit(PAGE)
    )
    if campaign_id:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    return list(session.exec(within(stmt, Event.unit_id, units)).all())


def checked_events(session: Session, units: UnitScope) -> list[tuple[Event, str]]:
    """Events already spot-checked (a visit may follow the check): (event, unit name)."""
    stmt = (
        select(Event, Unit.name)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .where(Event.state == EventState.spot_checked)
        .order_by(col(Event.updated_at).desc())
        .limit(BOARD_QUEUE * 2)
    )
    return list(session.exec(within(stmt, Event.unit_id, units)).all())


def recent_visits(session: Session, units: UnitScope) -> list[tuple[SiteVisit, str, str]]:
    """The latest on-site visits: visit, unit, theme."""
    stmt = (
        select(SiteVisit, Unit.name, Event.theme)
        .join(Event, col(Event.id) == SiteVisit.event_id)
        .join(Unit, col(Unit.id) == Event.unit_id)
        .order_by(col(SiteVisit.id).desc())
        .limit(PAGE)
    )
    return list(session.exec(within(stmt, Event.unit_id, units)).all())


def pending_extensions(
    session: Session, units: UnitScope
) -> list[tuple[ExtensionRequest, str, str, str]]:
    """Extension requests waiting for a decision: request, unit, theme, opinion."""
    stmt = (
        select(ExtensionRequest, Unit.name, Event.theme, FeedbackItem.content)
        .join(Unit, col(Unit.id) == ExtensionRequest.unit_id)
        .join(Event, col(Event.id) == ExtensionRequest.event_id)
        .join(FeedbackItem, col(FeedbackItem.id) == ExtensionRequest.feedback_item_id)
        .where(ExtensionRequest.state == ExtensionState.pending)
        .order_by(col(ExtensionRequest.id))
        .limit(PAGE)
    )
    return list(session.exec(within(stmt, ExtensionRequest.unit_id, units)).all())
