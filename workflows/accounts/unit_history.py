"""A unit's history across years (issue 30): its id is its stable identity; a rename keeps the
old name with the day it ended, and a merge records which unit took it over and when. Reports
read the name a unit had on a campaign's first day; the year-over-year report counts a merged
unit's earlier years as the unit it joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

from sqlmodel import Session, col, select

from models import Unit, UnitName
from workflows.accounts.units import get
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, DomainError
from workflows.kernel.visibility import Actor


def rename(
    session: Session, actor: Actor, unit_id: int, name: str, on: date, now: datetime
) -> Unit:
    """Rename a unit from day `on` (supervisors, admins); the old name stays valid before it."""
    actor.require_supervisor()
    unit = get(session, unit_id)
    name = name.strip()
    if name == unit.name:
        raise DomainError(
            "unit_name_unchanged",
            f"新名称与现名称“{name}”相同",
            f"the new name is the unit's current name '{name}'",
            status=422,
            details={"field": "name"},
        )
    if session.exec(select(Unit).where(Unit.name == name)).first():
        raise Conflict("unit_exists", f"单位“{name}”已存在", f"unit '{name}' exists")
    old = unit.name
    session.add(UnitName(unit_id=unit_id, name=old, valid_until=on, created_at=now))
    unit.name = name
    session.flush()
    audit.record(
        session, actor, entity="unit", entity_id=unit_id, unit_id=unit_id, action="rename",
        now=now, before={"name": old}, after={"name": name, "renamed_on": on},
    )  # fmt: skip
    return unit


def merge(
    session: Session, actor: Actor, unit_id: int, into_id: int, on: date, now: datetime
) -> Unit:
    """Record that `unit_id` merged into `into_id` on day `on` (supervisors, admins). Its
    records stay its own; the year-over-year report counts them as the other unit's."""
    actor.require_supervisor()
    unit, into = get(session, unit_id), get(session, into_id)
    if unit_id == into_id or into.merged_into_id is not None or unit.merged_into_id is not None:
        raise DomainError(
            "unit_merge_invalid",
            "不能并入自身、已并入其他单位的单位，也不能重复合并",
            "a unit cannot merge into itself or into a merged unit, nor merge twice",
            status=422,
            details={"field": "into_unit_id"},
        )
    unit.merged_into_id, unit.merged_on = into_id, on
    session.flush()
    audit.record(
        session, actor, entity="unit", entity_id=unit_id, unit_id=unit_id, action="merge",
        now=now, after={"merged_into_id": into_id, "merged_into": into.name, "merged_on": on},
    )  # fmt: skip
    return unit


def names_on(session: Session, unit_ids: Iterable[int], day: date) -> dict[int, str]:
    """The name each unit had on `day` (one query): the earliest old name still valid that day;
    units not renamed since keep today's name (absent from the answer)."""
    ids = list(unit_ids)
    if not ids:
        return {}
    rows = session.exec(
        select(UnitName.unit_id, UnitName.name)
        .where(col(UnitName.unit_id).in_(ids), col(UnitName.valid_until) > day)
        .order_by(col(UnitName.unit_id), col(UnitName.valid_until).desc())
    ).all()
    return {unit_id: name for unit_id, name in rows}  # the last (earliest) per unit wins


def survivors(session: Session) -> dict[int, int]:
    """Each merged unit's id → the id of the unit it lives on in (following merges of merges)."""
    rows = session.exec(
        select(Unit.id, Unit.merged_into_id).where(col(Unit.merged_into_id).is_not(None))
    ).all()
    pairs: dict[int, int] = {int(a): int(b) for a, b in rows if a is not None and b is not None}
    out: dict[int, int] = {}
    for unit_id in pairs:
        target, seen = pairs[unit_id], {unit_id}
        while target in pairs and target not in seen:
            seen.add(target)
            target = pairs[target]
        out[unit_id] = target
    return out
