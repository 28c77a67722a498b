"""The supervisors' board (督查看板) as plain data: a campaign's stage funnel and numbers, the
overdue list, the spot-check queue with its evidence checks, extension requests waiting for a
decision, the latest on-site visits, events with flagged deviations and failed notifications.
pages/board.py renders it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import (
    Campaign,
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
from workflows.event import machine as event_machine
from workflows.files.store import FileStore
from workflows.kernel import paging
from workflows.kernel.clock import local_date
from workflows.kernel.visibility import Actor, UnitScope, in_districts, scope, within
from workflows.oversight import evidence
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
    """Everything the board shows, read in one request."""

    campaigns: list[Campaign]
    campaign_id: int | None
    rows: list[dict[str, Any]]
    funnel: list[Stage]
    queue: list[tuple[Event, str]]
    queue_total: int
    checks: dict[int, evidence.EventEvidence]
    failed: list[Notification]
    numbers: dict[str, int]
    units: list[Any]  # (id, name, district_id) rows for the unit picker
    asked: list[tuple[ExtensionRequest, str, str, str]]
    visits: list[tuple[SiteVisit, str, str]]
    visitable: list[tuple[Event, str]]
    flagged: list[tuple[Event, str]]
    rectifications_overdue: list[tuple[Rectification, Event, str]]
    visit_rounds: list[tuple[SpotCheck, Event, str]]


def collect(
    session: Session,
    actor: Actor,
    now: datetime,
    store: FileStore,
    campaign_id: int | None,
    filters: OverdueFilters,
) -> Board:
    """The board for `campaign_id` (the newest campaign the actor sees when None, another
    district's is not offered) and the overdue filters, of the units the actor sees."""
    stmt = in_districts(select(Campaign), actor, Campaign.district_id)
    campaigns = list(session.exec(stmt.order_by(col(Campaign.id).desc())).all())
    if campaign_id not in {c.id for c in campaigns}:
        campaign_id = campaigns[0].id if campaigns else None
    units = scope(actor, None)
    rows = overdue_rows(session, now, filters, scope(actor, filters.unit))
    stages = funnel(session, campaign_id, units)
    queue = list(spot_check_queue(session, BOARD_QUEUE, None, units).rows)
    queue_total = waiting_for_check(session, units)
    checks = evidence.check_events(session, [e.id for e, _ in queue], store)
    failed = failed_notifications(session, units)
    visitable = [(e, name) for e, name in queue] + checked_events(session, units)
    return Board(
        campaigns=campaigns,
        campaign_id=campaign_id,
        rows=rows,
        funnel=stages,
        queue=queue,
        queue_total=queue_total,
        checks=checks,
        failed=failed,
        numbers=numbers(session, now, campaign_id, units),
        units=unit_list.choices(session, units),
        asked=pending_extensions(session, units),
        visits=recent_visits(session, units),
        visitable=visitable,
        flagged=flagged_events(session, campaign_id, units),
        rectifications_overdue=overdue_rectifications(session, now, campaign_id, units),
        visit_rounds=rounds_of(session, [e.id for e, _ in visitable if e.id is not None]),
    )


def overdue_rectifications(
    session: Session, now: datetime, campaign_id: int | None, units: UnitScope
) -> list[tuple[Rectification, Event, str]]:
    """Rectifications past their due day with no report, the longest overdue first:
    (rectification, event, unit name)."""
    stmt = (
        select(Rectification, Event, Unit.name)
        .join(Event, col(Event.id) == Rectification.event_id)
        .join(Unit, col(Unit.id) == Rectification.unit_id)
        .where(Rectification.state == RectificationState.issued, col(Rectification.due_at) < now)
        .order_by(col(Rectification.due_at), col(Rectification.id))
        .limit(PAGE)
    )
    if campaign_id:
        stmt = stmt.where(Event.campaign_id == campaign_id)
    return list(session.exec(within(stmt, Rectification.unit_id, units)).all())


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
    row = session.execute(
        select(*(stmt.scalar_subquery().label(key) for key, stmt in counts.items()))
    ).one()
    return {key: int(value or 0) for key, value in row._mapping.items()}


def answered_not_told(session: Session, campaign_id: int | None, units: UnitScope = None) -> int:
    """Opinions answered whose answer has not reached the person yet (issue 26)."""
    return int(session.exec(_not_told(campaign_id, units)).one())


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
    stmt = select(func.coalesce(func.sum(EventTally.events), 0))
    stmt = stmt.where(EventTally.state == EventState.summary_submitted)
    return int(session.exec(within(stmt, EventTally.unit_id, units)).one())


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
