"""A unit's history across years (issue 30): its id is its stable identity; a rename keeps the
old name with the day it ended, and a merge records which unit took it over and when. Reports
read the name a unit had on a campaign's first day; the year-over-year report counts a merged
unit's earlier years as the unit it joined.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from models import OPEN_FEEDBACK_STATES, ChangeLog, Event, FeedbackItem, Unit, UnitName
from workflows.accounts.units import get, require_units
from workflows.kernel import audit
from workflows.kernel.errors import Conflict, DomainError
from workflows.kernel.visibility import Actor


def name_since(session: Session, unit_id: int) -> date | None:
    """The first day of the unit's current name: the day of its last rename (None: never)."""
    return session.exec(
        select(func.max(UnitName.valid_until)).where(UnitName.unit_id == unit_id)
    ).one()


def _refuse(code: str, zh: str, en: str, field: str) -> DomainError:
    return DomainError(code, zh, en, status=422, details={"field": field})


def _check_day(session: Session, unit: Unit, on: date, what_zh: str, what_en: str) -> None:
    """A rename or merge dated on or before the day the unit's current name began would
    rewrite a name already in use: refused (`unit_date_before_current_name`)."""
    since = name_since(session, unit.id)  # type: ignore[arg-type]
    if since is not None and on <= since:
        raise _refuse(
            "unit_date_before_current_name",
            f"{what_zh}日期 {on.isoformat()} 不晚于“{unit.name}”现名称的启用日期 "
            f"{since.isoformat()}，请填写其后的日期",
            f"the {what_en} date {on.isoformat()} is not after {since.isoformat()}, the day "
            f"'{unit.name}' took its current name",
            "on",
        )


def rename(
    session: Session, actor: Actor, unit_id: int, name: str, on: date, now: datetime
) -> Unit:
    """Rename a unit from day `on` (supervisors, the system administrator); the old name stays
    valid before it."""
    actor.require_acting()  # city readers rename and merge nothing
    require_units(session, actor, now)
    unit = get(session, unit_id, actor)
    name = name.strip()
    if not name:
        raise _refuse("unit_name_missing", "请填写新名称", "give the new name", "name")
    if name == unit.name:
        raise _refuse(
            "unit_name_unchanged",
            f"新名称与现名称“{name}”相同",
            f"the new name is the unit's current name '{name}'",
            "name",
        )
    same = select(Unit).where(Unit.name == name, Unit.district_id == unit.district_id)
    if session.exec(same).first():
        raise Conflict(
            "unit_exists", f"单位“{name}”已存在", f"unit '{name}' exists", details={"field": "name"}
        )
    _check_day(session, unit, on, "更名", "rename")
    old = unit.name
    session.add(UnitName(unit_id=unit_id, name=old, valid_until=on, created_at=now))
    unit.name = name
    session.flush()
    audit.record(
        session, actor, entity="unit", entity_id=unit_id, unit_id=unit_id, action="rename",
        now=now, before={"name": old}, after={"name": name, "renamed_on": on},
    )  # fmt: skip
    return unit


def _check_merge(unit: Unit, into: Unit) -> None:
    """A merge into itself, into a merged unit, or of a unit already merged: refused."""
    if unit.id == into.id:
        raise _refuse(
            "unit_merge_into_itself",
            f"不能把“{unit.name}”并入其自身，请选择另一个单位",
            f"'{unit.name}' cannot merge into itself; choose another unit",
            "into_unit_id",
        )
    if unit.merged_into_id is not None:
        raise _refuse(
            "unit_already_merged",
            f"“{unit.name}”已于 {unit.merged_on} 并入其他单位，不能再次合并",
            f"'{unit.name}' already merged into another unit on {unit.merged_on}",
            "into_unit_id",
        )
    if unit.district_id != into.district_id:
        raise _refuse(
            "unit_merge_other_district",
            f"“{into.name}”属于其他区县，不能并入",
            f"'{into.name}' is another district's unit",
            "into_unit_id",
        )
    if into.merged_into_id is not None:
        raise _refuse(
            "unit_merge_target_merged",
            f"“{into.name}”已并入其他单位，请选择它并入的单位",
            f"'{into.name}' has itself merged into another unit; choose that unit",
            "into_unit_id",
        )


def merge(
    session: Session, actor: Actor, unit_id: int, into_id: int, on: date, now: datetime
) -> Unit:
    """Record that `unit_id` merged into `into_id` on day `on` (supervisors, the system
    administrator). Its records stay its own; the year-over-year report counts them as the
    other unit's. Open opinions do not stop it: the unit's accounts still answer them."""
    actor.require_acting()  # city readers rename and merge nothing
    require_units(session, actor, now)
    unit, into = get(session, unit_id, actor), get(session, into_id, actor)
    _check_merge(unit, into)
    _check_day(session, unit, on, "合并", "merge")
    unit.merged_into_id, unit.merged_on = into_id, on
    session.flush()
    audit.record(
        session, actor, entity="unit", entity_id=unit_id, unit_id=unit_id, action="merge",
        now=now, after={"merged_into_id": into_id, "merged_into": into.name, "merged_on": on,
                        "open_opinions": open_opinions(session, unit_id)},
    )  # fmt: skip
    return unit


def open_opinions(session: Session, unit_id: int) -> int:
    """Opinions of the unit's events still owed an answer (a merge warns of them)."""
    return int(
        session.exec(
            select(func.count())
            .select_from(FeedbackItem)
            .join(Event, col(Event.id) == FeedbackItem.event_id)
            .where(Event.unit_id == unit_id, col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES))
        ).one()
    )


@dataclass(frozen=True)
class NameSpan:
    """One name a unit had, from a day (None: since it was created) until a day (None: today)."""

    name: str
    since: date | None
    until: date | None


def names(session: Session, unit: Unit) -> list[NameSpan]:
    """Every name the unit had, oldest first, each with the days it held."""
    rows = session.exec(
        select(UnitName).where(UnitName.unit_id == unit.id).order_by(col(UnitName.valid_until))
    ).all()
    out, since = [], None
    for row in rows:
        out.append(NameSpan(row.name, since, row.valid_until))
        since = row.valid_until
    out.append(NameSpan(unit.name, since, None))
    return out


def merged_in(session: Session, unit_id: int) -> list[Unit]:
    """Units merged into this one, in the order they merged."""
    stmt = select(Unit).where(Unit.merged_into_id == unit_id).order_by(col(Unit.merged_on))
    return list(session.exec(stmt).all())


def changes(session: Session, unit_id: int) -> list[ChangeLog]:
    """The audit lines of the unit's renames and merges, newest first."""
    stmt = (
        select(ChangeLog)
        .where(ChangeLog.entity == "unit", ChangeLog.entity_id == unit_id)
        .where(col(ChangeLog.action).in_(("rename", "merge")))
        .order_by(col(ChangeLog.at).desc(), col(ChangeLog.id).desc())
    )
    return list(session.exec(stmt).all())


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
