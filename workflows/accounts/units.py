"""Responsible units (责任单位) and their contacts, who receive reminders and escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session, col, select

from models import Event, Unit
from workflows.accounts import duties
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, NotFound
from workflows.kernel.visibility import (
    Actor,
    UnitScope,
    district_of_new,
    other_unit,
    require_district,
    require_visible,
    within,
)


def get(session: Session, unit_id: int, actor: Actor) -> Unit:
    """A unit of a district the actor sees, or 404 (another district's is not found)."""
    unit = session.get(Unit, unit_id)
    require_district(
        actor,
        None if unit is None else unit.district_id,
        NotFound("unit_not_found", f"单位 {unit_id} 不存在", f"unit {unit_id} not found"),
    )
    assert unit is not None
    return unit


def _schedule_order() -> tuple[Any, ...]:
    # Each unit's lowest 序号 by one probe of ix_event_unit_seq (a correlated subquery), not
    # a grouping of every event: the board and every form with a unit drop-down ask this.
    first = (
        select(func.min(Event.seq))
        .where(Event.unit_id == Unit.id)
        .correlate(Unit)
        .scalar_subquery()
    )
    return (first.is_(None), first, col(Unit.id))


def in_schedule_order(session: Session, units: UnitScope = None) -> list[Unit]:
    """Every unit in the order of the schedule table (the lowest 序号 among its events), then
    units without a numbered event in the order they were added. Drop-downs use it: a list
    sorted by name would follow code points, which no Chinese reader expects (issue 24)."""
    stmt = select(Unit).order_by(*_schedule_order())
    return list(session.exec(within(stmt, Unit.id, units)).all())


def choices(session: Session, units: UnitScope = None) -> list[Any]:
    """`in_schedule_order` as a picker needs it: each unit's id, name and district only (rows,
    not loaded units: the board and the overdue list show a district's few hundred)."""
    stmt = sa.select(col(Unit.id), col(Unit.name), col(Unit.district_id))
    return list(session.execute(within(stmt.order_by(*_schedule_order()), Unit.id, units)).all())


def of_district(session: Session, unit: Unit) -> frozenset[int]:
    """The ids of the units of `unit`'s district (those it may be merged into)."""
    same = select(Unit.id).where(Unit.district_id == unit.district_id)
    return frozenset(i for i in session.exec(same).all() if i is not None)


def require_units(session: Session | None, actor: Actor, now: datetime) -> None:
    """Supervisors (the district office) manage units, and so does the system administrator
    (三员分立: units are a system duty, audited); the other administrators do not. Without a
    session (a page only looking) the system administrator's duty leaves no audit line."""
    duties.require_or_supervisor(session, actor, duties.Duty.units, now)


def create(session: Session, actor: Actor, fields: dict[str, Any], now: datetime) -> Unit:
    """Create a unit of the actor's district (supervisors and the system administrator; a
    city administrator names the district in `fields`); names are unique in a district."""
    actor.require_acting()
    require_units(session, actor, now)
    district_id = district_of_new(actor, fields.get("district_id"))
    name = fields["name"]
    same = select(Unit).where(Unit.name == name, Unit.district_id == district_id)
    if session.exec(same).first():
        raise Conflict("unit_exists", f"单位“{name}”已存在", f"unit '{name}' exists")
    unit = Unit(**{**fields, "district_id": district_id}, created_at=now)
    session.add(unit)
    session.flush()
    audit.record(
        session,
        actor,
        entity="unit",
        entity_id=unit.id,
        unit_id=unit.id,
        action="create",
        now=now,
        after=audit.snapshot(unit, FIELDS),
    )
    return unit


# What the audit line keeps of a unit (who is told of its escalations decides who hears).
FIELDS = [
    "name",
    "kind",
    "contact_name",
    "contact_phone",
    "contact_email",
    "head_name",
    "head_phone",
    "head_email",
    "webhook_url",
    "webhook_format",
    "escalation_delivery",
]


# A unit gaining one of these while items are open owes it those items at once.
ADDRESSES = ("contact_email", "head_email", "webhook_url")


def update(
    session: Session,
    actor: Actor,
    unit_id: int,
    changes: dict[str, Any],
    now: datetime,
    notify: NotifyConfig | None = None,
) -> Unit:
    """Update a unit's contacts (its own staff, supervisors, the system administrator); its
    kind only supervisors and the system administrator.

    With `notify` (the service's channel settings), an address the unit gains while it has open
    items is owed those items in the same transaction (workflows/escalation/service.py
    `owe_open`), instead of hearing only the next level."""
    if not duties.require_if_administrator(session, actor, duties.Duty.units, now):
        actor.require_write()
    unit = get(session, unit_id, actor)
    require_visible(
        actor, unit_id, other_unit("不能修改其他单位的信息", "cannot change another unit's details")
    )
    if "kind" in changes:
        require_units(session, actor, now)
    if "webhook_format" in changes and changes["webhook_format"] is None:
        del changes["webhook_format"]  # the format always has a value
    before = audit.snapshot(unit, FIELDS)
    for key, value in changes.items():
        setattr(unit, key, value)
    session.flush()
    audit.record(
        session,
        actor,
        entity="unit",
        entity_id=unit.id,
        unit_id=unit.id,
        action="update",
        now=now,
        before=before,
        after=audit.snapshot(unit, FIELDS),
    )
    gained = [k for k in ADDRESSES if changes.get(k) and changes[k] != before.get(k)]
    if notify is not None and gained:
        escalation.owe_open(session, unit_id, now, notify)
    return unit
