"""What an event's people need to see: the stage it is at, what is due next and by when.

Read-only arithmetic over rows the pages already loaded; deadlines themselves were computed by
workflows/deadlines when the moves ran, and working days come from the same calendar.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models import Event, EventState
from workflows.kernel.daywords import day_zh
from workflows.workdays.days import WorkdayCalendar

S = EventState

# 【待报送总结】-style labels: the stage an event waits in, as a clerk would say it.
STAGE_LABELS = {
    S.planned: "待邀请",
    S.invited: "待开展",
    S.held: "待收集意见",
    S.feedback_collected: "待报送总结",
    S.summary_submitted: "待抽查",
    S.spot_checked: "已抽查",
    S.cancelled: "已取消",
}

NEXT_STEP = {
    S.planned: ("邀请人员", "invitees"),
    S.invited: ("开展活动", "hold"),
    S.held: ("收集意见建议", "feedback"),
    S.feedback_collected: ("报送总结", "summary"),
}


@dataclass(frozen=True)
class Due:
    """The next thing due: what, by which day, and how that day stands in working days."""

    what: str
    due_on: date | None
    workdays_left: int = 0
    late_workdays: int = 0
    overdue: bool = False
    provisional: bool = False

    @property
    def words(self) -> str:
        """还剩 1 个工作日，2022年9月19日（星期一）前 / 今天截止 / 已超 6 个工作日，应于…."""
        if self.due_on is None:
            return ""
        day = day_zh(self.due_on)
        if self.overdue:
            return f"已超 {self.late_workdays} 个工作日，应于{day}"
        if self.workdays_left == 0:
            return f"今天截止，{day}"
        return f"还剩 {self.workdays_left} 个工作日，{day}前"


def due_of(what: str, due_on: date | None, today: date, calendar: WorkdayCalendar) -> Due:
    """A deadline in working days from today (late ones counted like a late answer)."""
    if due_on is None:
        return Due(what, None)
    if today > due_on:
        late = calendar.workdays_between(due_on, today)
        return Due(
            what, due_on, late_workdays=late.count, overdue=True, provisional=late.provisional
        )
    left = calendar.workdays_between(today, due_on)
    return Due(what, due_on, workdays_left=left.count, provisional=left.provisional)


def next_due(
    event: Event,
    answer_due: date | None,
    today: date,
    calendar: WorkdayCalendar,
    rectify_due: date | None = None,
) -> Due | None:
    """The most pressing deadline of an event (`rectify_due`: an open rectification's), or
    None when nothing is owed."""
    candidates: list[tuple[str, date]] = []
    if rectify_due is not None and event.state != S.cancelled:
        candidates.append(("报送整改情况", rectify_due))
    if event.state in (S.planned, S.invited):
        candidates.append((NEXT_STEP[S(event.state)][0], event.date_latest))
    elif event.state in (S.held, S.feedback_collected) and event.summary_due_on:
        candidates.append(("报送总结", event.summary_due_on))
    if answer_due is not None and event.state != S.cancelled:
        candidates.append(("答复意见", answer_due))
    if not candidates:
        return None
    what, day = min(candidates, key=lambda c: c[1])
    return due_of(what, day, today, calendar)


@dataclass(frozen=True)
class Stage:
    """One row of the event's task list."""

    number: int
    title: str
    slug: str
    status: str  # 已完成 / 待办理 / 未开始 / 等待中 / 已取消
    detail: str = ""
    has_record: bool = False  # something to look at already (an earlier spot-check round)

    @property
    def css(self) -> str:
        """The status tag's style."""
        return {
            "已完成": "done",
            "待办理": "todo",
            "等待中": "wait",
        }.get(self.status, "off")

    @property
    def action(self) -> str:
        """The button word: 开始 / 办理 / 查看."""
        if self.status == "待办理":
            return "办理"
        return "查看" if self.status in ("已完成", "等待中") or self.has_record else ""


ORDER = [S.planned, S.invited, S.held, S.feedback_collected, S.summary_submitted, S.spot_checked]


def stage_status(state: str, number: int) -> str:
    """Stage `number` (1–5) is done, to do, waiting or not started in `state`."""
    if state == S.cancelled:
        return "已取消"
    position = ORDER.index(S(state))  # 0..5
    if position >= number:
        return "已完成"
    if position == number - 1:
        return "等待中" if number == 5 else "待办理"
    return "未开始"
