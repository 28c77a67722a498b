"""The city's districts (区/县, issue 28): read by whoever sees them (a district's accounts:
their own only), added and edited by the city's system administrator; a district's acting
grants for city supervisors, granted and revoked by its security administrator
(docs/tenancy.md)."""

from __future__ import annotations

from fastapi import APIRouter

from schemas.common import Page
from schemas.districts import DistrictIn, DistrictOut, DistrictPatch, GrantIn, GrantOut
from web.deps import API_PREFIX, ActorDep, ClockDep, PagingDep, SessionDep, fetch_page
from workflows.accounts import districts, grants

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


@router.get("/{district_id}/grants")
def list_grants(
    district_id: int, actor: ActorDep, session: SessionDep, pg: PagingDep
) -> Page[GrantOut]:
    """The district's acting grants for city supervisors, newest first, revoked ones too. Read
    by the district's security administrator and the city's system and security
    administrators (403 `grants_forbidden` for the others who see the district; 404
    `district_not_found` for a district the caller does not see)."""
    rows, total = fetch_page(session, grants.require_listing(session, actor, district_id), pg)
    return pg.page([GrantOut.of(row) for row in rows], total)


@router.post("/{district_id}/grants", status_code=201)
def add_grant(
    district_id: int, body: GrantIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> GrantOut:
    """Grant a city supervisor acting in the district as its own supervisor would (the
    district's security administrator: 403 `district_admin_required` for another's,
    `separation_of_duties` for other roles). 422 `grantee_not_found` for no such account,
    `city_supervisor_required` for one that is not an active city supervisor; 409
    `grant_exists` while the supervisor holds an active grant here."""
    row = grants.grant(session, actor, district_id, body.account_id, body.reason, clock.now())
    session.commit()
    return GrantOut.of(grants.with_account(session, row))


@router.post("/{district_id}/grants/{grant_id}/revoke")
def revoke_grant(
    district_id: int, grant_id: int, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> GrantOut:
    """Revoke a grant (the district's security administrator). 404 `grant_not_found` for an
    unknown grant or one of another district; 409 `grant_revoked` when already revoked."""
    row = grants.revoke(session, actor, grant_id, clock.now(), district_id=district_id)
    session.commit()
    return GrantOut.of(grants.with_account(session, row))
