"""A unit renamed or merged into another between years: its history kept (issue 30)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlmodel import Session, col, select

from models import Unit, UnitName
from schemas.unit_history import UnitHistoryOut, UnitMergeIn, UnitRenameIn
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep
from workflows.accounts import unit_history

router = APIRouter(prefix=API_PREFIX + "/units", tags=["units"])


def _out(session: Session, unit: Unit) -> UnitHistoryOut:
    names = session.exec(
        select(UnitName).where(UnitName.unit_id == unit.id).order_by(col(UnitName.valid_until))
    ).all()
    return UnitHistoryOut(
        id=unit.id,  # type: ignore[arg-type]
        name=unit.name,
        merged_into_id=unit.merged_into_id,
        merged_on=unit.merged_on.isoformat() if unit.merged_on else None,
        earlier_names=[{"name": n.name, "valid_until": n.valid_until.isoformat()} for n in names],
    )


@router.post("/{unit_id}/rename")
def rename_unit(
    unit_id: int, body: UnitRenameIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> UnitHistoryOut:
    """Rename a unit from a day on (supervisors, the system administrator): its id, events and
    accounts stay; the old name stays valid before that day, so earlier campaigns' reports keep
    showing it."""
    unit = unit_history.rename(session, actor, unit_id, body.name, body.on, clock.now())
    session.commit()
    return _out(session, unit)


@router.post("/{unit_id}/merge")
def merge_unit(
    unit_id: int, body: UnitMergeIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> UnitHistoryOut:
    """Record that the unit merged into another on a day (supervisors, the system
    administrator): its records stay its own, and the year-over-year report counts its earlier
    years as the other unit's."""
    unit = unit_history.merge(session, actor, unit_id, body.into_unit_id, body.on, clock.now())
    session.commit()
    return _out(session, unit)
