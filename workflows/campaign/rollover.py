"""Next year's campaign from last year's (issue 30).

The copy carries the rules and the roster: each unit that took part, with its contacts, robot
and usual forms (组织形式). Every part stays editable until the new campaign opens (its first
day); last year's campaign is closed in the same transaction and becomes read-only
(workflows/campaign/closure.py). A year that already has a campaign refuses the copy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    CampaignUnit,
    Event,
    FeedbackItem,
    Timer,
    TimerState,
    Unit,
)
from workflows.accounts import units as unit_records
from workflows.campaign import service as campaigns
from workflows.campaign.closure import require_open
from workflows.campaign.rules import CampaignRules
from workflows.escalation.batch import NotifyConfig
from workflows.kernel import audit, tenancy
from workflows.kernel.clock import local_date
from workflows.kernel.errors import Conflict, DomainError, NotFound
from workflows.kernel.visibility import Actor

# What a roster entry holds besides its forms: the unit's contacts and robot that year.
CONTACTS = tuple(f for f in unit_records.FIELDS if f not in ("name", "kind", "escalation_delivery"))
ENTRY_FIELDS = [*CONTACTS, "forms"]


@dataclass
class Entry:
    """One unit of a roster: the unit and its contacts, robot and forms for that year."""

    unit: Unit
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def forms(self) -> list[str]:
        """The forms (EventForm values) the unit uses."""
        return list(self.values.get("forms") or [])


@dataclass
class Plan:
    """What a copy of `source` would create: the new campaign's fields and its roster."""

    source: Campaign
    fields: dict[str, Any]
    entries: list[Entry]


def shift_year(day: date, years: int = 1) -> date:
    """The same day `years` later (29 February becomes 28 February)."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def roster(session: Session, campaign: Campaign) -> list[Entry]:
    """A campaign's units: its roster when it has one, else the units of its events (with the
    unit's contacts and the forms its events held, or planned), in schedule order."""
    stored = session.exec(
        select(CampaignUnit, Unit)
        .join(Unit, col(Unit.id) == CampaignUnit.unit_id)
        .where(CampaignUnit.campaign_id == campaign.id)
        .order_by(col(CampaignUnit.id))
    ).all()
    if stored:
        return [Entry(u, {k: getattr(cu, k) for k in ENTRY_FIELDS}) for cu, u in stored]
    rows = session.exec(
        select(Unit, Event.forms, Event.forms_held)
        .join(Event, col(Event.unit_id) == Unit.id)
        .where(Event.campaign_id == campaign.id)
        .order_by(col(Event.seq).is_(None), col(Event.seq), col(Event.id))
    ).all()
    entries: dict[int, Entry] = {}
    for unit, planned, held in rows:
        forms = [*(held or []), *(planned or [])]
        assert unit.id is not None
        entry = entries.setdefault(
            unit.id, Entry(unit, {**{k: getattr(unit, k) for k in CONTACTS}, "forms": []})
        )
        entry.values["forms"] += [f for f in dict.fromkeys(forms) if f not in entry.values["forms"]]
    return list(entries.values())


def plan(session: Session, actor: Actor, source_id: int) -> Plan:
    """The copy's suggested fields (the window a year later, the title's year moved on, a new
    document number left for the supervisor) and the roster it would carry."""
    source = campaigns.get(session, source_id, actor)
    year = source.starts_on.year
    fields = {
        "doc_number": "",
        "title": source.title.replace(str(year), str(year + 1)),
        "issuing_office": source.issuing_office,
        "starts_on": shift_year(source.starts_on),
        "ends_on": shift_year(source.ends_on),
    }
    return Plan(source, fields, roster(session, source))


def _year_taken(session: Session, district_id: int, year: int) -> Campaign | None:
    return session.exec(
        select(Campaign).where(
            Campaign.district_id == district_id,
            col(Campaign.starts_on) >= date(year, 1, 1),
            col(Campaign.starts_on) <= date(year, 12, 31),
        )
    ).first()


def _check_target(session: Session, source: Campaign, starts_on: date) -> None:
    """The copy goes to a later year, one without a campaign."""
    if starts_on.year <= source.starts_on.year:
        raise DomainError(
            "rollover_year_not_later",
            f"新活动的年份（{starts_on.year}）应晚于原活动（{source.starts_on.year}）",
            f"the new campaign's year ({starts_on.year}) must come after the source's "
            f"({source.starts_on.year})",
            status=422,
            details={"field": "starts_on"},
        )
    taken = _year_taken(session, source.district_id, starts_on.year)
    if taken is not None:
        raise Conflict(
            "campaign_year_taken",
            f"{starts_on.year} 年已有活动“{taken.title}”（{taken.doc_number}），不能再复制一个",
            f"{starts_on.year} already has a campaign ({taken.doc_number}); nothing was copied",
            details={"field": "starts_on", "campaign_id": taken.id},
        )


def _check_nothing_owed(session: Session, source: Campaign) -> None:
    """Closing makes every record read-only and cancels the timers, so an opinion still owed an
    answer would be stranded unanswered and unescalated: refuse the copy until each is answered
    (409 `campaign_has_open_opinions`, with how many and where)."""
    owed = session.exec(
        select(FeedbackItem.id, Event.id)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .where(Event.campaign_id == source.id, col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES))
    ).all()
    if owed:
        events = sorted({event_id for _, event_id in owed if event_id is not None})
        raise Conflict(
            "campaign_has_open_opinions",
            f"“{source.title}”还有 {len(owed)} 条意见未答复（涉及 {len(events)} 场活动），"
            "须全部答复后才能转入下一年度",
            f"{len(owed)} opinions of the source campaign are still unanswered "
            f"({len(events)} events); answer them before copying into next year",
            details={"open_opinions": len(owed), "event_ids": events[:50]},
        )


def _chosen(entries: list[Entry], unit_ids: list[int] | None) -> list[Entry]:
    """The entries to copy: all, or those named (each must be on the source's roster)."""
    if unit_ids is None:
        return entries
    known = {e.unit.id: e for e in entries}
    unknown = [u for u in unit_ids if u not in known]
    if unknown:
        raise DomainError(
            "rollover_unit_unknown",
            f"单位 {'、'.join(map(str, unknown))} 不在原活动的单位名单中",
            f"units {', '.join(map(str, unknown))} are not on the source campaign's roster",
            status=422,
            details={"field": "unit_ids", "unit_ids": unknown},
        )
    return [known[u] for u in dict.fromkeys(unit_ids)]


def copy(
    session: Session,
    actor: Actor,
    source_id: int,
    fields: dict[str, Any],
    now: datetime,
    unit_ids: list[int] | None = None,
) -> Campaign:
    """Create next year's campaign from `source_id` and close the source, in one transaction.

    `fields`: doc_number, title, issuing_office, starts_on, ends_on, and optionally
    activity_forms (the new notice's forms of activity; last year's rules carry them otherwise).
    Refused, nothing written:
    a closed source (409 `campaign_closed`), a year not later than the source's (422), a year
    that already has a campaign (409 `campaign_year_taken`), a document number in use."""
    actor.require_supervisor()
    source = campaigns.get(session, source_id, actor)
    actor = tenancy.act_in_district(session, actor, source.district_id)  # a city supervisor
    actor.require_acting_supervisor()
    require_open(source)
    _check_nothing_owed(session, source)
    campaigns.check_window(fields["starts_on"], fields["ends_on"])
    _check_target(session, source, fields["starts_on"])
    entries = _chosen(roster(session, source), unit_ids)
    fields = dict(fields)
    rules = CampaignRules.of(source.rules)
    if (forms := fields.pop("activity_forms", None)) is not None:
        rules = with_forms(rules, forms)
    fields = {**fields, "district_id": source.district_id}
    campaign = campaigns.create(session, actor, fields, rules, now)
    campaign.copied_from_id = source.id
    for entry in entries:
        session.add(
            CampaignUnit(
                campaign_id=campaign.id,  # type: ignore[arg-type]
                unit_id=entry.unit.id,  # type: ignore[arg-type]
                **entry.values,
                created_at=now,
                updated_at=now,
            )
        )
    close(session, actor, source, now, successor=campaign)
    return campaign


def with_forms(rules: CampaignRules, forms: list[str]) -> CampaignRules:
    """`rules` with another list of forms of activity, checked as the rules check it."""
    try:
        return CampaignRules.model_validate({**rules.model_dump(), "activity_forms": forms})
    except ValidationError as exc:
        raise DomainError(
            "activity_forms_invalid",
            "组织形式：" + str(exc.errors()[0]["msg"]).removeprefix("Value error, "),
            "activity_forms: " + str(exc.errors()[0]["msg"]),
            status=422,
            details={"field": "activity_forms"},
        ) from None


def close(
    session: Session, actor: Actor, campaign: Campaign, now: datetime, *, successor: Campaign
) -> None:
    """Make `campaign` read-only and cancel its pending timers (no reminder or escalation is
    owed for a finished year); the audit line names the campaign that follows it."""
    campaign.closed_at = now
    session.flush()
    events = select(Event.id).where(Event.campaign_id == campaign.id)
    cancelled = session.execute(
        sa.update(Timer)
        .where(col(Timer.state) == TimerState.pending, col(Timer.event_id).in_(events))
        .values(state=TimerState.cancelled)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    audit.record(
        session,
        actor,
        entity="campaign",
        entity_id=campaign.id,
        action="close",
        now=now,
        after={
            "closed_at": now,
            "successor_id": successor.id,
            "successor_doc_number": successor.doc_number,
            "timers_cancelled": int(cancelled or 0),
        },
    )


def has_opened(campaign: Campaign, now: datetime) -> bool:
    """The campaign's first day has come (local time)."""
    return local_date(now) >= campaign.starts_on


def require_editable(campaign: Campaign, now: datetime) -> None:
    """A roster is edited while its campaign is open and before its first day."""
    require_open(campaign)
    if has_opened(campaign, now):
        raise Conflict(
            "campaign_already_open",
            f"活动已于 {campaign.starts_on} 开始，单位名单不能再在此修改"
            "（可在单位信息中修改联系人）",
            f"the campaign opened on {campaign.starts_on}; its roster can no longer be edited "
            "here (change the unit's contacts on the unit instead)",
        )


def entry(session: Session, campaign_id: int, unit_id: int) -> CampaignUnit:
    """A roster entry, or 404."""
    row = session.exec(
        select(CampaignUnit).where(
            CampaignUnit.campaign_id == campaign_id, CampaignUnit.unit_id == unit_id
        )
    ).first()
    if row is None:
        raise NotFound(
            "roster_entry_not_found",
            f"单位 {unit_id} 不在活动 {campaign_id} 的单位名单中",
            f"unit {unit_id} is not on campaign {campaign_id}'s roster",
        )
    return row


def edit_entry(
    session: Session,
    actor: Actor,
    campaign_id: int,
    unit_id: int,
    changes: dict[str, Any],
    now: datetime,
    notify: NotifyConfig | None = None,
) -> CampaignUnit:
    """Change a unit's contacts, robot or forms on a roster before the campaign opens
    (supervisors). Contacts and robot go to the unit record too, which is what
    reminders and escalations use."""
    actor.require_supervisor()
    campaign = campaigns.get(session, campaign_id, actor)
    actor = tenancy.act_in_district(session, actor, campaign.district_id)  # a city supervisor
    actor.require_acting_supervisor()
    require_editable(campaign, now)  # before the entry: an opened campaign answers 409
    row = entry(session, campaign_id, unit_id)
    before = audit.snapshot(row, ENTRY_FIELDS)
    for key, value in changes.items():
        setattr(row, key, value)
    row.updated_at = now
    session.flush()
    audit.record(
        session,
        actor,
        entity="campaign_unit",
        entity_id=row.id,
        unit_id=unit_id,
        action="update",
        now=now,
        before=before,
        after=audit.snapshot(row, ENTRY_FIELDS),
    )
    contacts = {k: v for k, v in changes.items() if k in CONTACTS}
    if contacts:
        unit_records.update(session, actor, unit_id, contacts, now, notify)
    return row
