"""What the notice asks of one event before its day, as its pages and the API show it: per
filing, whether it is asked, its deadline, where it stands and the sentence it comes from."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlmodel import Session

from models import Event, EventFiling, FilingState
from workflows.accounts import districts
from workflows.campaign.rules import CampaignRules
from workflows.filing import timers
from workflows.filing.plans import rules_of, state_zh
from workflows.workdays import deadlines

LABELS = {  # a city of one district's words; each Item's names the event's district office
    timers.PLAN: "活动方案报区政府办审核",
    timers.ANNOUNCEMENT: "公开邀请公告",
    timers.REPRESENTATIVES: "市民代表名单公示",
}
PUBLISHED_ZH: dict[str | None, str] = {None: "未发布", FilingState.published: "已发布"}


@dataclass(frozen=True)
class Item:
    """One filing of the event."""

    rule: str
    label: str  # 活动方案报安岳县政府办审核, 公开邀请公告 …
    asked: bool  # the campaign's rules ask it of this event
    due_on: date | None  # the last day, when asked
    period_zh: str  # 提前5个工作日
    sentence: str  # the notice's sentence
    row: EventFiling | None
    office: str = districts.SOLE_OFFICE  # the event's district office (districts.office_words)

    @property
    def state(self) -> str | None:
        """submitted / approved / returned / published, or None when nothing is filed."""
        return self.row.state if self.row is not None else None

    @property
    def state_zh(self) -> str:
        """待安岳县政府办审核, 已发布, 未报送 …"""
        if self.rule == timers.PLAN:
            return state_zh(self.state, self.office)
        return PUBLISHED_ZH.get(self.state, str(self.state))

    @property
    def done(self) -> bool:
        """Whether the filing answers its deadline."""
        return self.state in timers.SATISFIED[timers.KIND_OF_RULE[self.rule]]

    def as_dict(self) -> dict[str, Any]:
        """For the JSON API."""
        row = self.row
        return {
            "rule": self.rule, "label": self.label, "asked": self.asked,
            "due_on": self.due_on, "state": self.state, "state_zh": self.state_zh,
            "sentence": self.sentence, "round": row.round if row else None,
            "body": row.body if row else None,
            "submitted_by": row.submitted_by_name if row else None,
            "submitted_at": row.submitted_at if row else None,
            "decided_by": row.decided_by_name if row else None,
            "decided_at": row.decided_at if row else None, "note": row.note if row else None,
        }  # fmt: skip


def _sentence(rule: str, rules: CampaignRules) -> str:
    return {
        timers.PLAN: rules.plan_approval_sentence,
        timers.ANNOUNCEMENT: rules.announcement_sentence,
        timers.REPRESENTATIVES: rules.representatives_sentence,
    }[rule]


def of_event(session: Session, event: Event, office: str | None = None) -> list[Item]:
    """Every filing for the event, asked or not, in order; `office` the event's district
    office in words (read when not given: districts.office_words)."""
    if office is None:
        office = districts.unit_office_words(session, event.unit_id)
    rules = rules_of(session, event)
    calendar = deadlines.load_calendar(session)
    filed = timers.filed(session, [event.id or 0])
    out = []
    for rule in timers.RULES:
        asked = timers.applies(rule, event, rules)
        due = timers.due(rule, event.date_earliest, rules, calendar).day if asked else None
        out.append(
            Item(
                rule,
                LABELS[rule].replace(districts.SOLE_OFFICE, office),
                asked,
                due,
                timers.period_zh(rule, rules),
                _sentence(rule, rules),
                filed.get((event.id or 0, timers.KIND_OF_RULE[rule])),
                office,
            )  # fmt: skip
        )
    return out


def any_asked(session: Session, event: Event) -> bool:
    """Whether the campaign asks any filing of this event (the event page links its page)."""
    rules = rules_of(session, event)
    return any(timers.applies(rule, event, rules) for rule in timers.RULES)
