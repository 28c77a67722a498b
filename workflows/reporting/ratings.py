"""Satisfaction per unit (回访, issue 26): every rating of an answer in a campaign, counted per
unit, and the 不满意 the assessment deducts for. A 不满意 whose appeal a supervisor upheld does
not count against the unit (it is counted apart as `rated_upheld`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import AppealState, Event, FeedbackItem, OpinionReply, Rating
from workflows.kernel.visibility import UnitScope, within

COLUMNS: list[tuple[str, str]] = [
    ("rated", "回访评价"),
    ("rated_satisfied", "满意"),
    ("rated_basically", "基本满意"),
    ("rated_dissatisfied", "不满意"),
    ("rated_upheld", "不满意申诉成立"),
]


@dataclass(frozen=True)
class Rated:
    """One rating: whose unit, which opinion and round, and whether it counts as 不满意."""

    unit_id: int
    item_id: int
    event_id: int
    round: int
    rating: str
    upheld: bool
    comment: str | None


def of_campaign(
    session: Session, campaign_id: int | Sequence[int], unit_id: UnitScope = None
) -> list[Rated]:
    """Every rating of the campaign's answers (or one unit's), in id order; of several
    campaigns' at once for a sequence of ids."""
    ids = [campaign_id] if isinstance(campaign_id, int) else list(campaign_id)
    campaign = (
        col(Event.campaign_id) == ids[0] if len(ids) == 1 else col(Event.campaign_id).in_(ids)
    )
    stmt = (
        sa.select(
            col(OpinionReply.unit_id), col(OpinionReply.feedback_item_id), col(Event.id),
            col(OpinionReply.round), col(OpinionReply.rating), col(OpinionReply.appeal_state),
            col(OpinionReply.rating_comment),
        )
        .join(FeedbackItem, col(FeedbackItem.id) == OpinionReply.feedback_item_id)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .where(campaign, col(OpinionReply.rating).is_not(None))
        .order_by(col(OpinionReply.id))
    )  # fmt: skip
    stmt = within(stmt, col(Event.unit_id), unit_id)
    return [
        Rated(r[0], r[1], r[2], r[3], r[4], r[5] == AppealState.upheld, r[6])
        for r in session.execute(stmt)
    ]


def counts(rated: list[Rated]) -> dict[int, dict[str, int]]:
    """The report's satisfaction columns per unit."""
    out: dict[int, dict[str, int]] = {}
    for r in rated:
        c = out.setdefault(r.unit_id, dict.fromkeys((k for k, _ in COLUMNS), 0))
        c["rated"] += 1
        if r.rating == Rating.satisfied:
            c["rated_satisfied"] += 1
        elif r.rating == Rating.basically:
            c["rated_basically"] += 1
        elif r.upheld:
            c["rated_upheld"] += 1
        else:
            c["rated_dissatisfied"] += 1
    return out


def dissatisfied_records(rated: list[Rated]) -> dict[int, list[dict[str, Any]]]:
    """Per unit, the 不满意 ratings that stand (the assessment's `dissatisfied`)."""
    out: dict[int, list[dict[str, Any]]] = {}
    for r in rated:
        if r.rating == Rating.dissatisfied and not r.upheld:
            out.setdefault(r.unit_id, []).append(
                {"item_id": r.item_id, "event_id": r.event_id, "round": r.round,
                 "comment": r.comment or ""}
            )  # fmt: skip
    return out


def satisfaction_share(c: dict[str, Any]) -> str:
    """满意率: (满意 + 基本满意) of the ratings that count, as a percentage; — without any."""
    counted = c.get("rated", 0) - c.get("rated_upheld", 0)
    if not counted:
        return "—"
    return f"{round(100 * (c.get('rated_satisfied', 0) + c.get('rated_basically', 0)) / counted)}%"
