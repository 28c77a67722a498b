"""What was heard and what was done (issue 26): a public page per campaign listing the opinions
collected, by unit, with their state, whether the answer reached the person and on time, the
rating, and the answer itself only when the person consented (when rating). Never a name, a
phone, an ID number, an assignee or a staff name."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, District, Event, FeedbackItem, FeedbackState, OpinionReply, Unit
from workflows.kernel.errors import NotFound

LIMIT = 500  # opinions on the page, newest events first
RATING_ZH = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}


@dataclass(frozen=True)
class Heard:
    """One opinion as the public sees it."""

    unit_name: str
    event_theme: str
    content: str
    done: bool
    on_time: bool | None
    answered_on: date | None
    rating: str | None
    answer: str | None  # only with the person's consent


@dataclass(frozen=True)
class HeardPage:
    """The campaign and its opinions; the counts at the top."""

    campaign: Campaign | None  # None: a district's page, over its campaigns
    rows: list[Heard]
    total: int
    done: int
    on_time: int
    title: str = ""  # the campaign's title, or the district's 政府开放日
    district: District | None = None  # whose opinions these are (the footer names its office)


def of_campaign(session: Session, campaign_id: int) -> HeardPage:
    """The campaign's opinions for the public page (404 for an unknown campaign)."""
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound("campaign_not_found", "没有找到该活动", f"campaign {campaign_id} not found")
    stmt = _opinions().where(Event.campaign_id == campaign_id)
    district = session.get(District, campaign.district_id)
    return _page(session, stmt, campaign, campaign.title, district)


def of_district(session: Session, district: District) -> HeardPage:
    """A district's opinions, of every campaign it runs (by unit, newest campaign first), for
    its own public page: another district's never appear."""
    stmt = (
        _opinions()
        .join(Campaign, col(Campaign.id) == Event.campaign_id)
        .where(Campaign.district_id == district.id)
        .order_by(None)
        .order_by(col(Unit.name), col(Campaign.starts_on).desc(), col(FeedbackItem.id))
    )
    return _page(session, stmt, None, f"{district.name}政府开放日", district)


def _opinions() -> Any:
    return (
        select(FeedbackItem, Event.theme, Unit.name)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .join(Unit, col(Unit.id) == FeedbackItem.unit_id)
        .order_by(col(Unit.name), col(FeedbackItem.id))
    )


def _page(
    session: Session, stmt: Any, campaign: Campaign | None, title: str, district: District | None
) -> HeardPage:
    found = session.exec(stmt.limit(LIMIT)).all()
    latest: dict[int, OpinionReply] = {}
    for r in session.exec(
        select(OpinionReply)
        .where(col(OpinionReply.feedback_item_id).in_([i.id for i, _, _ in found]))
        .order_by(col(OpinionReply.round))
    ):
        latest[r.feedback_item_id] = r
    rows = []
    for item, theme, unit_name in found:
        reply = latest.get(item.id)
        done = item.state in (FeedbackState.answered, FeedbackState.closed) and bool(item.told_at)
        rows.append(
            Heard(
                unit_name=unit_name, event_theme=theme, content=item.content, done=done,
                on_time=(not item.answered_late_workdays) if done else None,
                answered_on=item.answered_on if done else None,
                rating=RATING_ZH.get(reply.rating or "") if reply else None,
                answer=item.answer if done and reply and reply.public_consent else None,
            )
        )  # fmt: skip
    return HeardPage(
        campaign=campaign, rows=rows, total=len(rows), done=sum(r.done for r in rows),
        on_time=sum(bool(r.on_time) for r in rows), title=title, district=district,
    )  # fmt: skip
