"""Campaigns: the notice's document number, window and rule settings."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlmodel import Session, select

from models import Campaign, District
from workflows.campaign import scoring
from workflows.campaign.closure import require_open
from workflows.campaign.rules import CampaignRules
from workflows.filing import timers as filing
from workflows.kernel import audit, tenancy
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import (
    Actor,
    district_of_new,
    require_district,
    require_write_somewhere,
)


def get(session: Session, campaign_id: int, actor: Actor) -> Campaign:
    """A campaign of a district the actor sees, or 404 (another district's is not found).

    Pass `SYSTEM` only where the campaign was reached through a row already checked."""
    campaign = session.get(Campaign, campaign_id)
    require_district(
        actor,
        None if campaign is None else campaign.district_id,
        NotFound(
            "campaign_not_found", f"活动 {campaign_id} 不存在", f"campaign {campaign_id} not found"
        ),
    )
    assert campaign is not None
    return campaign


def check_window(starts_on: date, ends_on: date) -> None:
    """A campaign ends on or after the day it starts."""
    if ends_on < starts_on:
        raise DomainError(
            "campaign_window_reversed",
            f"活动结束日期 {ends_on} 早于开始日期 {starts_on}",
            f"the campaign ends ({ends_on}) before it starts ({starts_on})",
            status=422,
        )


def create(
    session: Session, actor: Actor, fields: dict[str, Any], rules: CampaignRules, now: datetime
) -> Campaign:
    """Create a campaign of the actor's district (supervisors; a city administrator names the
    district in `fields`, and so does a city supervisor, which acts there by the district's
    grant: 422 `district_required` without one); document numbers are unique in a district."""
    district_id, actor = acting_for_new(session, actor, fields.get("district_id"))
    check_window(fields["starts_on"], fields["ends_on"])
    fields = {**fields, "district_id": district_id}
    doc_number = fields["doc_number"]
    same = select(Campaign).where(
        Campaign.doc_number == doc_number, Campaign.district_id == fields["district_id"]
    )
    if session.exec(same).first():
        raise Conflict(
            "campaign_exists",
            f"文号“{doc_number}”的活动已存在",
            f"a campaign with document number '{doc_number}' exists",
        )
    campaign = Campaign(**fields, rules=rules.model_dump(), created_at=now)
    session.add(campaign)
    session.flush()
    audit.record(
        session,
        actor,
        entity="campaign",
        entity_id=campaign.id,
        action="create",
        now=now,
        after=audit.snapshot(campaign, FIELDS),
    )
    return campaign


def known_district(session: Session, district_id: int) -> int:
    """`district_id`, or 404 `district_not_found` when the city has no such district."""
    if not 0 < district_id < 2**31 or session.get(District, district_id) is None:
        raise NotFound(
            "district_not_found", f"区县 {district_id} 不存在", f"district {district_id} not found"
        )
    return district_id


def acting_for_new(session: Session, actor: Actor, requested: int | None) -> tuple[int, Actor]:
    """The district a new campaign goes to and the actor creating it there: a district's
    supervisor its own district (another one named: 404 `district_not_found`); a city
    supervisor the district it names (422 `district_required` without one, 404 for an unknown
    one), as that district's supervisor where it holds the district's grant (403
    `district_grant_required` otherwise). Nothing is written; every new campaign (created,
    imported from a notice, rolled over) comes through here."""
    actor.require_supervisor()
    require_write_somewhere(actor)  # a city supervisor holding no grant: 403 before the district
    district_id = known_district(session, district_of_new(actor, requested))
    actor = tenancy.act_in_district(session, actor, district_id)
    actor.require_acting_supervisor()
    return district_id, actor


FIELDS = ["doc_number", "title", "issuing_office", "starts_on", "ends_on", "rules"]


def update(
    session: Session, actor: Actor, campaign_id: int, changes: dict[str, Any], now: datetime
) -> Campaign:
    """Change title, window or rules (supervisors); rules merge over the current ones.

    Invalid rules raise pydantic's ValidationError, located under `rules`.
    """
    actor.require_supervisor()
    campaign = get(session, campaign_id, actor)
    actor = tenancy.act_in_district(session, actor, campaign.district_id)
    actor.require_acting_supervisor()
    require_open(campaign)
    for key in ("starts_on", "ends_on"):
        if key in changes and changes[key] is None:
            raise DomainError(
                "field_required",
                f"{key} 不能为空",
                f"{key} cannot be null",
                status=422,
                details={"field": key},
            )
    before = audit.snapshot(campaign, FIELDS)
    rules_changed = "rules" in changes
    if "rules" in changes:
        given = changes.pop("rules") or {}
        merged = {**CampaignRules.of(campaign.rules).model_dump(), **given}
        context = {"write": "scoring" in given}
        campaign.rules = CampaignRules.model_validate(merged, context=context).model_dump()
    for key, value in changes.items():
        setattr(campaign, key, value)
    check_window(campaign.starts_on, campaign.ends_on)
    session.flush()
    if rules_changed:  # a filing rule switched on (or off) reaches the events already planned
        filing.arm_campaign(session, campaign, now)
    audit.record(
        session,
        actor,
        entity="campaign",
        entity_id=campaign.id,
        action="update",
        now=now,
        before=before,
        after=audit.snapshot(campaign, FIELDS),
    )
    return campaign


def set_scoring_rules(session: Session, actor: Actor, campaign_id: int, raw: Any) -> Any:
    """Set the campaign's scoring rules (supervisors acting in its district; city readers and
    another district's supervisors are refused): points non-negative, criteria known. Returns
    the rules as stored; the caller commits."""
    actor.require_supervisor()
    campaign = get(session, campaign_id, actor)
    tenancy.act_in_district(session, actor, campaign.district_id).require_acting_supervisor()
    rules = scoring.validate(raw)
    stored = dict(campaign.rules or {})
    stored["scoring"] = rules.model_dump()
    campaign.rules = stored
    session.add(campaign)
    return rules
