"""The city's districts (区/县, issue 28): read by whoever sees them (a district's accounts:
their own only), added and edited by the city's system administrator (docs/tenancy.md)."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.common import Page
from schemas.districts import DistrictIn, DistrictOut, DistrictPatch
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.accounts import districts

router = APIRouter(prefix=API_PREFIX + "/districts", tags=["districts"])


@router.get("")
def list_districts(actor: ActorDep, session: SessionDep, pg: PagingDep) -> Page[DistrictOut]:
    """The districts the caller sees, in the order they were added (a district's accounts:
    their own)."""
    rows, total = fetch_page(session, districts.listing(actor), pg)
    return pg.page([DistrictOut.model_validate(d) for d in rows], total)


@router.post("", status_code=201)
def add_district(
    body: DistrictIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> DistrictOut:
    """Add a district (the city's system administrator; 403 `city_level_required` for a
    district's accounts; 409 `district_exists` for a code or name in use)."""
    district = districts.add(session, actor, now=clock.now(), **body.model_dump())
    session.commit()
    return DistrictOut.model_validate(district)


@router.get("/{district_id}")
def get_district(district_id: int, actor: ActorDep, session: SessionDep) -> DistrictOut:
    """One district (404 for one the caller does not see)."""
    return DistrictOut.model_validate(districts.get(session, actor, district_id))


@router.patch("/{district_id}")
def patch_district(
    district_id: int, body: DistrictPatch, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> DistrictOut:
    """Change a district's name, office or contacts (the city's system administrator)."""
    changes = body.model_dump(exclude_unset=True)
    district = districts.update(session, actor, district_id, changes, clock.now())
    session.commit()
    return DistrictOut.model_validate(district)
