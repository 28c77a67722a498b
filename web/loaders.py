"""Loading events with scoping, for routes and pages: a unit's staff never learn of other units'
events (404, not 403); unit names cached on the session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam
from sqlmodel import Session, select

from models import Campaign, Event, FeedbackItem, Unit
from workflows.campaign import closure
from workflows.kernel import tenancy
from workflows.kernel.errors import NotFound
from workflows.kernel.visibility import Actor, require_visible, sees_unit
from workflows.workdays import deadlines


# The queries load_event and load_move_target run, built once (building and keying a select
# costs more than running it); the event id is their `event_id` parameter.
def _event_query(*extra: Any) -> Any:
    return (
        select(Event, Unit.name, *extra)
        .join(Unit, Unit.id == Event.unit_id)  # type: ignore[arg-type]
        .where(Event.id == bindparam("event_id"))
    )


_EVENT = _event_query()
_EVENT_LOCKED = _EVENT.with_for_update(of=Event)
_MOVE_TARGET = (
    _event_query(Campaign, *deadlines.CALENDAR_REVISION_COLUMNS)
    .join(Campaign, Campaign.id == Event.campaign_id)
    .with_for_update(of=Event)
)


def _visible_event_row(session: Session, actor: Actor, event_id: int, stmt: Any) -> Any:
    if stmt is not _EVENT:  # about to change it: a city supervisor acts where granted only
        tenancy.before_lock(session, actor, select(Event.unit_id).where(Event.id == event_id))
    row = session.execute(stmt, {"event_id": event_id}).first()
    require_visible(
        actor,
        None if row is None else row[0].unit_id,
        NotFound("event_not_found", f"活动 {event_id} 不存在", f"event {event_id} not found"),
    )
    assert row is not None
    session.info.setdefault("unit_names", {})[row[0].unit_id] = row[1]
    return row


def load_event(session: Session, actor: Actor, event_id: int, *, lock: bool = False) -> Event:
    """An event the caller may see; locked FOR UPDATE on PostgreSQL when about to be changed.

    Its unit's name comes in the same query (kept in `session.info`), so answering with the
    event after the commit needs no second round trip.
    """
    row = _visible_event_row(session, actor, event_id, _EVENT_LOCKED if lock else _EVENT)
    return row[0]


@dataclass(frozen=True)
class MoveTarget:
    """An event about to be moved, with what the move reads besides: its campaign (the rules)
    and the working-day calendar's revision, all from the one locking query."""

    event: Event
    campaign: Campaign
    calendar_revision: tuple[Any, ...]


def load_move_target(session: Session, actor: Actor, event_id: int) -> MoveTarget:
    """As load_event(lock=True), for flow.fire: one statement instead of three."""
    row = _visible_event_row(session, actor, event_id, _MOVE_TARGET)
    closure.note_open(session, row[2], event_id)  # the flush's closed-campaign check, read here
    return MoveTarget(row[0], row[2], tuple(row[3:]))


def load_event_for_write(session: Session, actor: Actor, event_id: int) -> Event:
    """As load_event, locked, and refused to read-only accounts."""
    event = load_event(session, actor, event_id, lock=True)
    actor.require_write()
    return event


def unit_name(session: Session, unit_id: int) -> str:
    """A unit's name (cached on the session by load_event)."""
    known = session.info.get("unit_names", {})
    if unit_id in known:
        return known[unit_id]
    unit = session.get(Unit, unit_id)
    return unit.name if unit else ""


def load_item(session: Session, actor: Actor, item_id: int, *, lock: bool = False) -> FeedbackItem:
    """An opinion the caller may see (locked when about to change), or 404: seen by its
    event's unit and by the unit holding it (one it was transferred to)."""
    stmt = select(FeedbackItem).where(FeedbackItem.id == item_id)
    if lock:
        unit_of = select(FeedbackItem.unit_id).where(FeedbackItem.id == item_id)
        tenancy.before_lock(session, actor, unit_of)
        stmt = stmt.with_for_update()
    item = session.exec(stmt).first()
    event = session.get(Event, item.event_id) if item is not None else None
    unit_id = None if event is None else event.unit_id
    if item is not None and sees_unit(actor, item.unit_id):
        unit_id = item.unit_id
    require_visible(
        actor,
        unit_id,
        NotFound(
            "feedback_not_found", f"意见建议 {item_id} 不存在", f"feedback item {item_id} not found"
        ),
    )
    assert item is not None
    return item
