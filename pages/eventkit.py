"""Helpers the event pages share: loading an event for a person, its rules, versioned writes."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.datastructures import FormData

from models import Campaign, Event, Invitee, InviteeCategory
from pages.auth import PageUser
from routes.deps import load_event, load_event_for_write, unit_name
from workflows import event as flow
from workflows.errors import DomainError
from workflows.quota import Quota, quota
from workflows.rules import CampaignRules

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
class EventView:
    """An event with what every stage page shows at its top."""

    event: Event
    unit_name: str
    campaign: Campaign
    rules: CampaignRules


def view(session: Session, user: PageUser, event_id: int, *, write: bool = False) -> EventView:
    """The event if this person may see it (locked and writable when `write`), or 404."""
    if write:
        event = load_event_for_write(session, user.actor, event_id)
    else:
        event = load_event(session, user.actor, event_id)
    campaign = session.get(Campaign, event.campaign_id)
    assert campaign is not None
    return EventView(
        event, unit_name(session, event.unit_id), campaign, CampaignRules.of(campaign.rules)
    )


def invitee_list(session: Session, event_id: int) -> list[Invitee]:
    """The invitees of an event in the order they were added."""
    return list(
        session.exec(
            select(Invitee).where(Invitee.event_id == event_id).order_by(col(Invitee.id))
        ).all()
    )


def list_quota(session: Session, ev: EventView, *, attended: bool = False) -> Quota:
    """The invite rule's numbers for the current list (or for those who attended)."""
    flag = col(Invitee.attended) if attended else col(Invitee.invited)
    base = select(func.count()).select_from(Invitee).where(Invitee.event_id == ev.event.id, flag)
    total = session.exec(base).one()
    citizens = session.exec(base.where(Invitee.category == InviteeCategory.citizen)).one()
    return quota(ev.rules, total, citizens)


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


def versioned(fn: Callable[..., Any], event: Event, version: int, *args: Any, **kw: Any) -> Any:
    """Call a workflow write with the form's event version.

    Workflows that take `expected_version` check it themselves; for the others the page checks
    it first with the same rule (workflows.event.require_version).
    """
    if "expected_version" in inspect.signature(fn).parameters:
        return fn(*args, expected_version=version, **kw)
    flow.require_version(event, version)
    return fn(*args, **kw)


def text(form: FormData, name: str) -> str:
    """A trimmed text field."""
    return str(form.get(name, "") or "").strip()
