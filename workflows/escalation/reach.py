"""Who the escalation ladder reaches outside the in-app inbox: the start-up warning for levels
that only the inbox (and the log) would carry — with the embedded defaults there is no SMTP, no
robot, and supervisors have no e-mail address, so the office hears level 2 only in its inbox."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from sqlmodel import Session, col, select

from models import Campaign, Role, Unit, User
from workflows.campaign.rules import CampaignRules
from workflows.escalation.batch import NotifyConfig


@dataclass(frozen=True)
class Unreached:
    """A ladder level that reaches nobody outside the inbox, and the campaigns it is in."""

    level: int
    campaigns: tuple[int, ...]
    audience: tuple[str, ...]


def inbox_only_levels(session: Session, config: NotifyConfig) -> list[Unreached]:
    """Each escalation level (of every campaign's ladder) that no e-mail or robot reaches."""
    units = session.exec(select(Unit)).all()
    mail = config.email_enabled
    outside = {
        "unit_contact": any(u.webhook_url or (mail and u.contact_email) for u in units),
        "unit_head": mail and any(u.head_email for u in units),
        "supervisors": bool(config.supervisor_webhook_url)
        or bool(mail and config.office_email)
        or (
            mail
            and session.exec(
                select(User.id).where(
                    User.role == Role.supervisor, col(User.is_active), col(User.email).is_not(None)
                )
            ).first()
            is not None
        ),
    }
    found: dict[tuple[int, tuple[str, ...]], list[int]] = defaultdict(list)
    for campaign in session.exec(select(Campaign).order_by(col(Campaign.id))).all():
        for rung in CampaignRules.of(campaign.rules).escalations:
            if not any(outside.get(who, False) for who in rung.notify):
                found[(rung.level, tuple(rung.notify))].append(campaign.id)  # type: ignore[arg-type]
    return [Unreached(level, tuple(ids), who) for (level, who), ids in sorted(found.items())]
