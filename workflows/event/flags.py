"""Deviations recorded on an event (记录偏差): a move that breaks a rule in `flag` mode succeeds and
keeps, on the event and in its audit line, which rule, the numbers and the notice's sentence.

An event's `flags` hold its current deviations, one list per stage (`invite`, `hold`): a later
change to the invitee list recomputes the invite stage's flags; the audit trail keeps them all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from workflows.campaign import notice

# Rule → the sentence of the notice it comes from.
SOURCES: dict[str, notice.Sentence] = {
    "invitee_count": notice.INVITEE_COUNT,
    "citizen_share": notice.CITIZEN_SHARE,
    "leader": notice.LEADER,
    "forms": notice.FORMS,
}
RULE_LABELS_ZH: dict[str, str] = {
    "invitee_count": "邀请人数偏离",
    "citizen_share": "市民代表比例不足",
    "leader": "无主要或分管负责人出面",
    "plan_approval": "方案未经审核即邀请",
    "forms": "组织形式不在通知所列范围",
}
STAGE_LABELS_ZH: dict[str, str] = {"invite": "发出邀请时", "hold": "开展时"}


def flag(
    rule: str,
    at: str,
    badge: str,
    code: str,
    zh: str,
    en: str,
    details: dict[str, Any],
    now: datetime,
) -> dict[str, Any]:
    """One flag as stored on the event and in the audit line."""
    # A rule a notice switched on cites that notice's own sentence (carried in `details`).
    source = SOURCES.get(rule) or notice.Sentence("通知", str(details.get("sentence") or ""))
    return {
        "rule": rule,
        "at": at,
        "code": code,
        "badge": badge,
        "message": zh,
        "message_en": en,
        "details": details,
        "source": source.text,
        "source_where": source.where,
        "flagged_at": now.isoformat(),
    }


def replace(
    current: list[dict[str, Any]] | None, stage: str, new: list[dict[str, Any]]
) -> list[dict[str, Any]] | None:
    """The event's flags with `stage`'s replaced by `new` (None when none are left)."""
    kept = [f for f in current or [] if f.get("at") != stage]
    return (kept + list(new)) or None


def badges(flags: list[dict[str, Any]] | None) -> list[str]:
    """The short Chinese badges of an event's flags, e.g. 市民代表比例不足（2/10）."""
    return [str(f["badge"]) for f in flags or []]


def text(flags: list[dict[str, Any]] | None) -> str:
    """The flags in one cell of a report or an export: badges joined by 、."""
    return "、".join(badges(flags))
