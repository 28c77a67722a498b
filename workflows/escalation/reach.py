"""Who the escalation ladder reaches outside the in-app inbox: the start-up warning for levels
that only the inbox (and the log) would carry — with the embedded defaults there is no SMTP, no
robot, and supervisors have no e-mail address, so the office hears level 2 only in its inbox."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import DEFAULT_DISTRICT, Campaign, District, Role, Unit, User
from workflows.campaign.rules import CampaignRules
from workflows.escalation.batch import NotifyConfig


@dataclass(frozen=True)
class Unreached:
    """A ladder level that reaches nobody outside the inbox, and the campaigns it is in."""

    level: int
    campaigns: tuple[int, ...]
    audience: tuple[str, ...]


def inbox_only_levels(session: Session, config: NotifyConfig) -> list[Unreached]:
    """Each escalation level (of every campaign's ladder) that no e-mail or robot reaches; a
    level copied to the office is judged by the campaign's own district's office (its
    supervisors' and contact addresses; the service-wide office mailbox and robot are
    district 1's)."""
    units = session.exec(select(Unit)).all()
    mail = config.email_enabled
    outside = {
        "unit_contact": any(u.webhook_url or (mail and u.contact_email) for u in units),
        "unit_head": mail and any(u.head_email for u in units),
    }
    offices = _offices_reached(session, config)
    found: dict[tuple[int, tuple[str, ...]], list[int]] = defaultdict(list)
    for campaign in session.exec(select(Campaign).order_by(col(Campaign.id))).all():
        reached = {**outside, "supervisors": campaign.district_id in offices}
        for rung in CampaignRules.of(campaign.rules).escalations:
            if not any(reached.get(who, False) for who in rung.notify):
                found[(rung.level, tuple(rung.notify))].append(campaign.id)  # type: ignore[arg-type]
    return [Unreached(level, tuple(ids), who) for (level, who), ids in sorted(found.items())]


def _offices_reached(session: Session, config: NotifyConfig) -> set[int]:
    """The districts whose office hears level 2 outside the inbox."""
    mail = config.email_enabled
    out: set[int] = set()
    if config.supervisor_webhook_url or (mail and config.office_email):
        out.add(DEFAULT_DISTRICT)
    if mail:
        out |= {
            d for d in session.exec(
                select(User.district_id).where(
                    User.role == Role.supervisor, col(User.is_active), col(User.email).is_not(None)
                )
            ).all() if d is not None
        }  # fmt: skip
        contact = col(District.contact_email).is_not(None)
        out |= {d for d in session.exec(select(District.id).where(contact)).all() if d}
    return out
