"""Next year's campaign copied from last year's, and a campaign's roster of units (issue 30)."""

from __future__ import annotations

from fastapi import APIRouter

from models import Unit
from routes.campaigns import campaign_out
from schemas.campaigns import CampaignOut
from schemas.rollover import RolloverIn, RolloverPlanOut, RosterEntryOut, RosterEntryPatch
from web.deps import API_PREFIX, ActorDep, ClockDep, SessionDep, SettingsDep
from workers.runtime import notify_config
from workflows.campaign import rollover
from workflows.campaign import service as campaigns

router = APIRouter(prefix=API_PREFIX + "/campaigns", tags=["campaigns"])


@router.get("/{campaign_id}/rollover")
def rollover_plan(campaign_id: int, actor: ActorDep, session: SessionDep) -> RolloverPlanOut:
    """What copying the campaign into next year would create (supervisors)."""
    actor.require_supervisor()
    plan = rollover.plan(session, actor, campaign_id)
    return RolloverPlanOut(
        source=campaign_out(session, plan.source),
        **plan.fields,
        units=[RosterEntryOut.of(e.unit, e.values) for e in plan.entries],
    )


@router.post("/{campaign_id}/rollover", status_code=201)
def rollover_copy(
    campaign_id: int, body: RolloverIn, actor: ActorDep, session: SessionDep, clock: ClockDep
) -> CampaignOut:
    """Create next year's campaign from this one (rules and roster copied) and close this one:
    from then on its records are read-only (409 `campaign_closed`). A year that already has a
    campaign answers 409 `campaign_year_taken`, nothing written."""
    fields = body.model_dump(exclude={"unit_ids"})
    campaign = rollover.copy(session, actor, campaign_id, fields, clock.now(), body.unit_ids)
    session.commit()
    return campaign_out(session, campaign)


@router.get("/{campaign_id}/units")
def roster(campaign_id: int, actor: ActorDep, session: SessionDep) -> list[RosterEntryOut]:
    """The campaign's units with that year's contacts, robot and forms."""
    campaign = campaigns.get(session, campaign_id, actor)
    return [RosterEntryOut.of(e.unit, e.values) for e in rollover.roster(session, campaign)]


@router.patch("/{campaign_id}/units/{unit_id}")
def edit_roster_entry(
    campaign_id: int,
    unit_id: int,
    body: RosterEntryPatch,
    actor: ActorDep,
    session: SessionDep,
    clock: ClockDep,
    settings: SettingsDep,
) -> RosterEntryOut:
    """Change a unit's contacts, robot or forms before the campaign opens (supervisors);
    409 `campaign_already_open` from its first day. Contacts also go to the unit."""
    changes = body.model_dump(mode="json", exclude_unset=True)
    row = rollover.edit_entry(
        session, actor, campaign_id, unit_id, changes, clock.now(), notify_config(settings)
    )
    session.commit()
    unit = session.get(Unit, unit_id)
    values = {k: getattr(row, k) for k in rollover.ENTRY_FIELDS}
    return RosterEntryOut.of(unit, values)
