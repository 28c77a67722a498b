"""Responsible units (责任单位) and their contacts, who receive reminders and escalations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from models import Unit
from workflows.accounts import Actor
from workflows.errors import Conflict, Forbidden, NotFound


def get(session: Session, unit_id: int) -> Unit:
    """A unit, or 404."""
    unit = session.get(Unit, unit_id)
    if unit is None:
        raise NotFound("unit_not_found", f"单位 {unit_id} 不存在", f"unit {unit_id} not found")
    return unit


def create(session: Session, actor: Actor, fields: dict[str, Any], now: datetime) -> Unit:
    """Create a unit (supervisors and admins); names are unique."""
    actor.require_supervisor()
    name = fields["name"]
    if session.exec(select(Unit).where(Unit.name == name)).first():
        raise Conflict("unit_exists", f"单位“{name}”已存在", f"unit '{name}' exists")
    unit = Unit(**fields, created_at=now)
    session.add(unit)
    session.flush()
    return unit


def update(session: Session, actor: Actor, unit_id: int, changes: dict[str, Any]) -> Unit:
    """Update a unit's contacts (its own staff, supervisors, admins); its kind only supervisors."""
    actor.require_write()
    unit = get(session, unit_id)
    if not actor.sees_all_units and actor.unit_id != unit_id:
        raise Forbidden(
            "other_unit", "不能修改其他单位的信息", "cannot change another unit's details"
        )
    if "kind" in changes:
        actor.require_supervisor()
    for key, value in changes.items():
        setattr(unit, key, value)
    session.flush()
    return unit
