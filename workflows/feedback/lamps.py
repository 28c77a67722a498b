"""Lamps (红黄绿灯): how close an open item is to its due day, in working days, by the
campaign's thresholds — red at most `lamp_red_workdays` left (or overdue), yellow at most
`lamp_yellow_workdays`, else green. Pure arithmetic on rows already loaded: the calendar is the
cached one and each campaign's rules are read once per list (`Lamps`), so a list of any length
costs no query per row."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Literal

from sqlmodel import Session, col, select

from models import (
    OPEN_FEEDBACK_STATES,
    Campaign,
    Event,
    FeedbackItem,
    InboxMessage,
    Notification,
)
from workflows.campaign.rules import CampaignRules
from workflows.workdays import deadlines
from workflows.workdays.days import WorkdayCalendar

Lamp = Literal["red", "yellow", "green"]
LABELS_ZH: dict[str, str] = {"red": "红灯", "yellow": "黄灯", "green": "绿灯"}


@dataclass(frozen=True)
class Shown:
    """One item's lamp and the working days left (negative: late)."""

    lamp: Lamp
    left: int

    @property
    def label(self) -> str:
        """红灯 / 黄灯 / 绿灯."""
        return LABELS_ZH[self.lamp]

    @property
    def words(self) -> str:
        """What the lamp means, for its title and screen readers."""
        if self.left < 0:
            return f"{self.label}：已逾期 {-self.left} 个工作日"
        if self.left == 0:
            return f"{self.label}：今天到期"
        return f"{self.label}：剩余 {self.left} 个工作日"


def overdue(late_workdays: int) -> Shown:
    """The lamp of an item `late_workdays` working days past its due day: red whatever the
    campaign's thresholds (a row of the overdue list carries the count already)."""
    return Shown("red", -max(late_workdays, 1))


def lamp_of(due_on: date, today: date, rules: CampaignRules, calendar: WorkdayCalendar) -> Shown:
    """The lamp of an item due on `due_on`, seen on `today`."""
    if due_on < today:
        return overdue(calendar.workdays_between(due_on, today).count)
    left = calendar.workdays_between(today, due_on).count
    if left <= rules.lamp_red_workdays:
        return Shown("red", left)
    if left <= rules.lamp_yellow_workdays:
        return Shown("yellow", left)
    return Shown("green", left)


@dataclass
class Lamps:
    """Lamps for the rows of one list: the calendar and each campaign's rules loaded once."""

    session: Session
    today: date
    calendar: WorkdayCalendar | None = None
    rules: dict[int | None, CampaignRules] = field(default_factory=dict)

    def _rules(self, campaign_id: int | None) -> CampaignRules:
        if campaign_id not in self.rules:
            campaign = self.session.get(Campaign, campaign_id) if campaign_id else None
            self.rules[campaign_id] = CampaignRules.of(campaign.rules if campaign else None)
        return self.rules[campaign_id]

    def of(self, due_on: date | None, campaign_id: int | None = None) -> Shown | None:
        """The lamp of an open item due on `due_on` (None without a due day)."""
        if due_on is None:
            return None
        if self.calendar is None:
            self.calendar = deadlines.load_calendar(self.session)
        return lamp_of(due_on, self.today, self._rules(campaign_id), self.calendar)


def of_messages(session: Session, messages: list[InboxMessage], today: date) -> dict[int, Shown]:
    """The lamp of each inbox message about an opinion still open, in one query for the page."""
    ids = [m.notification_id for m in messages if m.notification_id is not None]
    if not ids:
        return {}
    rows = session.exec(
        select(col(Notification.id), col(FeedbackItem.due_on), col(Event.campaign_id))
        .join(FeedbackItem, col(FeedbackItem.id) == Notification.subject_id)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .where(
            col(Notification.id).in_(ids),
            Notification.subject_type == "feedback_item",
            col(FeedbackItem.state).in_(OPEN_FEEDBACK_STATES),
        )
    ).all()
    lamps = Lamps(session, today)
    by_note = {note_id: lamps.of(due_on, campaign_id) for note_id, due_on, campaign_id in rows}
    out = {}
    for m in messages:
        shown = by_note.get(m.notification_id)
        if shown is not None and m.id is not None:
            out[m.id] = shown
    return out


def of_item(lamps: Lamps, item: FeedbackItem, campaign_id: int | None) -> Shown | None:
    """The lamp of one opinion, if it is still open."""
    if item.state not in OPEN_FEEDBACK_STATES:
        return None
    return lamps.of(item.due_on, campaign_id)


def as_dict(shown: Shown | None) -> dict[str, object] | None:
    """A lamp as the JSON API gives it."""
    if shown is None:
        return None
    return {"lamp": shown.lamp, "label": shown.label, "workdays_left": shown.left,
            "words": shown.words}  # fmt: skip
