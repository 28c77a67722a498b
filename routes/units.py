"""Responsible units and their contacts."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from sqlmodel import col, select

from models import Unit, UnitKind
from schemas.common import Page
from schemas.units import UnitIn, UnitOut, UnitPatch
from web.deps import (
    API_PREFIX,
    ActorDep,
    ClockDep,
    PagingDep,
    SessionDep,
    SettingsDep,
    fetch_page,
)
from workers.runtime import notify_config
from workflows.accounts import units
from workflows.kernel.visibility import in_districts

router = APIRouter(prefix=API_PREFIX + "/units", tags=["units"])


@router.get("")
def list_units(
    actor: ActorDep,
    session: SessionDep,
    pg: PagingDep,
    kind: UnitKind | None = None,
    name: Annotated[str | None, Query(max_length=100)] = None,
) -> Page[UnitOut]:
    """Units, optionally filtered by kind or a part of the name (taken literally)."""
    stmt = in_districts(select(Unit), actor, Unit.district_id).order_by(col(Unit.id))
    if kind:
        stmt = stmt.where(Unit.kind == kind)
    if name:
        stmt = stmt.where(col(Unit.name).contains(name, autoescape=True))
    rows, total = fetch_page(session, stmt, pg)
    return pg.page([UnitOut.of(u) for u in rows], total)


@router.post("", status_code=201)
def create_unit(body: UnitIn, actor: ActorDep, session: SessionDep, clock: ClockDep) -> UnitOut:
    """Create a unit (supervisors and the system administrator)."""
    unit = units.create(session, actor, body.model_dump(), clock.now())
    session.commit()
    return UnitOut.of(unit)


@router.get("/{unit_id}")
def get_unit(unit_id: int, actor: ActorDep, session: SessionDep) -> UnitOut:
    """One unit with its contacts."""
    return UnitOut.of(units.get(session, unit_id, actor))


@router.patch("/{unit_id}")
def patch_unit(
    unit_id: int,
    body: UnitPatch,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> UnitOut:
    """Update a unit's contacts, e-mails and robot webhook (its own staff, supervisors, the
    system administrator); escalations are addressed from these at the moment each one is
    sent, and an address added while items are open is sent those items at once."""
    changes = body.model_dump(exclude_unset=True)
    unit = units.update(session, actor, unit_id, changes, clock.now(), notify_config(settings))
    session.commit()
    return UnitOut.of(unit)
