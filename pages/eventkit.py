"""Helpers the event pages share: loading an event for a person, its rules, versioned writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import ColumnElement, func
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from models import Campaign, Event, Invitee, InviteeCategory, TransitionLog
from pages.auth import PageUser
from web.loaders import load_event, load_event_for_write, unit_name
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.event import invitees
from workflows.event import machine as event_machine
from workflows.kernel.errors import DomainError

CATEGORY_LABELS = {
    InviteeCategory.npc_deputy: "人大代表",
    InviteeCategory.cppcc_member: "政协委员",
    InviteeCategory.citizen: "市民代表",
}
INVITATION_LABELS = {"targeted": "定向邀请", "public": "公开邀请"}
TARGETED_LABELS = {
    "expert": "专家学者",
    "conduct_supervisor": "政风行风监督员",
    "service_recipient": "重点服务对象",
    "netizen": "热心网民",
    "resident": "社区居民",
}


@dataclass(frozen=True)
class Quota:
    """The invite rules' numbers (workflows.invitees.meter, the guard's own arithmetic) in words."""

    total: int
    low: int
    high: int
    citizens: int
    citizens_needed: int

    @property
    def count_ok(self) -> bool:
        """The list size is within the campaign's range."""
        return self.low <= self.total <= self.high

    @property
    def share_ok(self) -> bool:
        """Citizen representatives reach the campaign's share (never on an empty list: 0 of 0
        is nothing to tick)."""
        return self.total > 0 and self.citizens >= self.citizens_needed

    @property
    def count_zh(self) -> str:
        """共 12 人（应为 10–20 人）."""
        return f"共 {self.total} 人（应为 {self.low}–{self.high} 人）"

    @property
    def share_zh(self) -> str:
        """市民代表 3 人，至少需要 4 人."""
        return f"市民代表 {self.citizens} 人，至少需要 {self.citizens_needed} 人"


@dataclass(frozen=True)
class EventView:
    """An event with what every stage page shows at its top."""

    event: Event
    unit_name: str
    campaign: Campaign
    rules: CampaignRules
    office_zh: str = districts.SOLE_OFFICE  # its district office in running text


def view(session: Session, user: PageUser, event_id: int, *, write: bool = False) -> EventView:
    """The event if this person may see it (locked and writable when `write`), or 404."""
    if write:
        event = load_event_for_write(session, user.actor, event_id)
    else:
        event = load_event(session, user.actor, event_id)
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return EventView(
        event,
        unit_name(session, event.unit_id),
        campaign,
        CampaignRules.of(campaign.rules),
        districts.office_for(session, user.actor, campaign.district_id),
    )


def invitee_list(session: Session, event_id: int) -> list[Invitee]:
    """The invitees of an event in the order they were added."""
    return list(
        session.exec(
            select(Invitee).where(Invitee.event_id == event_id).order_by(col(Invitee.id))
        ).all()
    )


def list_quota(session: Session, ev: EventView) -> Quota:
    """The invite rule's numbers for the current list, computed by the workflow."""
    m = invitees.meter(session, ev.event, ev.rules)
    return Quota(m["invited"], m["min"], m["max"], m["citizens"], m["citizens_needed"])


def attendees(session: Session, event_id: int) -> int:
    """How many invitees attended."""
    stmt = select(func.count()).select_from(Invitee)
    # The column is nullable (typed bool | None); as a criterion NULL counts as not attended.
    attended = cast(ColumnElement[bool], Invitee.attended)
    return session.exec(stmt.where(Invitee.event_id == event_id, attended)).one()


def version_of(form: FormData) -> int:
    """The event version the form was rendered from."""
    raw = str(form.get("version", ""))
    if not raw.isdigit():
        raise DomainError(
            "version_missing",
            "表单缺少版本号，请刷新页面后重试",
            "the form lacks the event version",
            status=422,
        )
    return int(raw)


def fire(
    session: Session,
    ev: EventView,
    trigger: str,
    form: FormData,
    user: PageUser,
    now: datetime,
    data: dict[str, Any] | None = None,
) -> TransitionLog:
    """A stage page's move: the event machine's own `fire`, at the version the form was
    rendered from, by the signed-in person."""
    return event_machine.fire(
        session,
        ev.event,
        trigger,
        expected_version=version_of(form),
        actor=user.actor,
        now=now,
        data=data,
    )


def text(form: FormData, name: str) -> str:
    """A trimmed text field."""
    return str(form.get(name, "") or "").strip()
