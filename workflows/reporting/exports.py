"""Exports of the lists as xlsx and CSV, streamed in constant memory.

Each kind of list is a `Sheet`: its Chinese headers, column widths and a generator of rows. Rows
come from keyset-paged queries over plain columns (no ORM identities pile up in the session),
so a 100,000-event export holds one batch at a time. The xlsx is written row by row by
workflows/reporting/xlsx_stream.py into a temporary file, then streamed; CSV is UTF-8 with a BOM,
so Excel and WPS open it with the Chinese intact.
"""

from __future__ import annotations

import csv
import heapq
import io
import json
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col

from models import (
    OPEN_FEEDBACK_STATES,
    CancellationRequest,
    CancellationState,
    ChangeLog,
    Event,
    FeedbackItem,
    Invitee,
    Notification,
    OpinionReply,
    SiteVisit,
    SpotCheck,
    TransitionLog,
    Unit,
    User,
    VisitPhoto,
)
from workflows.accounts import duties
from workflows.escalation import overdue
from workflows.event import flags, held
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.daywords import moment_zh
from workflows.kernel.errors import NotFound
from workflows.kernel.visibility import Actor, UnitScope, within
from workflows.reporting import xlsx_stream

BATCH = 500  # rows per keyset page: 2,000 held ~2.7 MB more at the peak, no faster
CHUNK = 64 * 1024
FORMATS = ("xlsx", "csv")
EVENT_STATES_ZH = {
    "planned": "计划中",
    "invited": "已邀请",
    "held": "已开展",
    "feedback_collected": "已收集意见",
    "summary_submitted": "已报送总结",
    "spot_checked": "已抽查",
    "cancelled": "已取消",
}
FEEDBACK_STATES_ZH = {
    "received": "已收到",
    "assigned": "已交办",
    "overdue": "已逾期",
    "answered": "已答复",
    "closed": "已办结",
}
FORMS_ZH = {
    "office_visit": "参观机关办公场所",
    "site_visit": "现场参观考察",
    "dialogue": "政民恳谈交流",
    "feedback": "意见反馈",
}
POSTS_ZH: dict[str, str] = dict(held.POST_LABELS_ZH)
OVERDUE_KINDS_ZH = {"feedback_answer": "意见答复", "summary": "总结报送", "event_hold": "活动开展"}
SPOT_RESULTS_ZH = {
    "satisfactory": "合格",
    "needs_improvement": "需整改",
    "unsatisfactory": "不合格",
}
NOTIFICATION_STATES_ZH = {
    "pending": "待发送",
    "sending": "发送中",
    "sent": "已发送",
    "failed": "发送失败",
}
NOTIFICATION_KINDS_ZH = {"reminder": "提醒", "escalation": "催办", "digest": "催办汇总"}
CATEGORIES_ZH = {"npc_deputy": "人大代表", "cppcc_member": "政协委员", "citizen": "市民代表"}
INVITATIONS_ZH = {"targeted": "定向邀请", "public": "公开邀请"}
TARGETED_ZH = {
    "expert": "专家学者",
    "conduct_supervisor": "政风行风监督员",
    "service_recipient": "重点服务对象",
    "netizen": "热心网民",
    "resident": "社区居民",
}
ENTITIES_ZH = {
    "event": "活动",
    "campaign": "活动批次",
    "unit": "单位",
    "account": "账号",
    "district": "区县",
    "calendar": "工作日历",
    "public_registration": "公开报名",
}
CELL_MAX = 32000  # Excel holds at most 32,767 characters in a cell


@dataclass(frozen=True)
class Column:
    """One column: its Chinese header and width in characters."""

    header: str
    width: int = 12


@dataclass
class Sheet:
    """A list ready to write: a title, columns and the rows (a generator, read once)."""

    title: str
    columns: list[Column]
    rows: Iterable[Sequence[Any]]  # tuples or lists, iterated once
    filename: str = "export"
    meta: dict[str, Any] = field(default_factory=dict)
    # Grouped headers (xlsx): (label, how many columns) in order, covering every column; the
    # label is merged over its columns above their headers; None: the header spans both rows.
    groups: list[tuple[str | None, int]] | None = None


@dataclass(frozen=True)
class Filters:
    """What a list may be narrowed by; `unit_id` is already scoped to the caller."""

    campaign_id: int | None = None
    unit_id: UnitScope = None
    states: tuple[str, ...] = ()
    event_id: int | None = None
    kind: str | None = None
    date_from: date | None = None
    date_to: date | None = None
    due_within_days: int = 3
    search: str | None = None  # the overdue list's text in theme or unit name
    level: int | None = None  # the overdue list's 催办级别


def local(value: datetime | None) -> datetime | None:
    """A stored UTC moment as a naive Asia/Shanghai wall-clock time (what a sheet shows)."""
    if value is None:
        return None
    return value.astimezone(LOCAL_TZ).replace(tzinfo=None, microsecond=0)


def keyset(session: Session, stmt: Any, key: Any, batch: int = BATCH) -> Iterator[Any]:
    """Every row of `stmt` in `key` order, fetched `batch` rows at a time (no OFFSET)."""
    last: Any = None
    while True:
        page = stmt if last is None else stmt.where(key > last)
        rows = session.execute(page.order_by(key).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = rows[-1][0]


# ---- the lists ------------------------------------------------------------------------------


def _events(session: Session, f: Filters, now: datetime) -> Sheet:
    stmt = sa.select(
        col(Event.id), col(Unit.name), col(Event.theme), col(Event.date_earliest),
        col(Event.date_latest), col(Event.date_text), col(Event.location), col(Event.forms),
        col(Event.state), col(Event.held_on), col(Event.summary_due_on),
        col(Event.escalation_level), col(Event.created_at), col(Event.flags),
        col(Event.held_until), col(Event.forms_held), col(Event.met_by),
        col(CancellationRequest.reason).label("cancel_reason"),
        col(CancellationRequest.exempt).label("cancel_exempt"),
        col(CancellationRequest.exempt_reason).label("cancel_exempt_reason"),
    ).join(Unit, col(Unit.id) == Event.unit_id).outerjoin(
        CancellationRequest,
        sa.and_(col(CancellationRequest.event_id) == Event.id,
                col(CancellationRequest.state) == CancellationState.approved),
    )  # fmt: skip
    if f.campaign_id is not None:
        stmt = stmt.where(col(Event.campaign_id) == f.campaign_id)
    stmt = within(stmt, col(Event.unit_id), f.unit_id)
    if f.states:
        stmt = stmt.where(col(Event.state).in_(f.states))
    if f.date_from is not None:
        stmt = stmt.where(col(Event.date_latest) >= f.date_from)
    if f.date_to is not None:
        stmt = stmt.where(col(Event.date_earliest) <= f.date_to)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, Event.id):
            forms = "、".join(FORMS_ZH.get(x, x) for x in (r.forms or []))
            yield (
                r.id, r.name, r.theme, r.date_earliest, r.date_latest, r.date_text, r.location,
                forms, EVENT_STATES_ZH.get(r.state, r.state), r.held_on, r.summary_due_on,
                r.escalation_level, local(r.created_at), flags.text(r.flags), r.held_until,
                "、".join(FORMS_ZH.get(x, x) for x in (r.forms_held or [])),
                "、".join(f"{p['name']}（{POSTS_ZH.get(p['post'], p['post'])}）"
                         for p in r.met_by or []),
                r.cancel_reason or "", _cancel_counts(r),
            )  # fmt: skip

    cols = [
        Column("活动编号", 10), Column("责任单位", 20), Column("活动主题", 40),
        Column("开始日期", 12), Column("截止日期", 12), Column("时间（原文）", 14),
        Column("地点", 24), Column("组织形式", 24), Column("状态", 12), Column("开展日期", 12),
        Column("总结截止日期", 14), Column("催办级别", 10), Column("创建时间", 20),
        Column("偏差标记", 30), Column("最后开展日期", 12), Column("实际开展形式", 24),
        Column("面对面沟通人员", 30), Column("取消理由", 30), Column("取消的考核认定", 30),
    ]  # fmt: skip
    return Sheet("开放活动", cols, rows(), "events")


def _cancel_counts(r: Any) -> str:
    """How an approved cancellation counts in the assessment ("" for an event not cancelled)."""
    if r.cancel_reason is None:
        return ""
    return f"不计扣分（{r.cancel_exempt_reason or ''}）" if r.cancel_exempt else "按未开展计扣分"


def _opinions(session: Session, f: Filters, now: datetime) -> Sheet:
    stmt = sa.select(
        col(FeedbackItem.id), col(FeedbackItem.event_id), col(Unit.name), col(Event.theme),
        col(FeedbackItem.content), col(FeedbackItem.state), col(FeedbackItem.assignee),
        col(FeedbackItem.collected_on), col(FeedbackItem.due_on), col(FeedbackItem.due_at),
        col(FeedbackItem.answered_at), col(FeedbackItem.answered_on),
        col(FeedbackItem.answered_by), col(FeedbackItem.answer),
        col(FeedbackItem.answered_late_workdays), col(FeedbackItem.escalation_level),
        col(FeedbackItem.added_late), col(User.display_name).label("answered_by_name"),
        col(FeedbackItem.told_at), _latest_rating().label("rating"),
    )  # fmt: skip
    stmt = (
        stmt.join(Event, col(Event.id) == FeedbackItem.event_id)
        .join(Unit, col(Unit.id) == FeedbackItem.unit_id)
        .outerjoin(User, col(User.username) == FeedbackItem.answered_by)
    )
    if f.campaign_id is not None:
        stmt = stmt.where(col(Event.campaign_id) == f.campaign_id)
    stmt = within(stmt, col(FeedbackItem.unit_id), f.unit_id)
    if f.states:
        stmt = stmt.where(col(FeedbackItem.state).in_(f.states))
    if f.event_id is not None:
        stmt = stmt.where(col(FeedbackItem.event_id) == f.event_id)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, FeedbackItem.id):
            open_late = r.state in OPEN_FEEDBACK_STATES and r.due_at is not None and now > r.due_at
            late = r.answered_late_workdays or 0
            lateness = "逾期未答复" if open_late else ("逾期答复" if late > 0 else "")
            if r.answered_at is not None and r.told_at is None:  # issue 26: typed, not told
                late_now = r.due_at is not None and now > r.due_at
                lateness = "逾期未送达" if late_now else "已答复未送达"
            if r.state not in OPEN_FEEDBACK_STATES and not lateness:
                lateness = "按时答复"
            yield (
                r.id, r.event_id, r.name, r.theme, r.content,
                FEEDBACK_STATES_ZH.get(r.state, r.state), r.assignee, r.collected_on,
                "活动后补充收集" if r.added_late else "", r.due_on,
                local(r.answered_at), r.answered_on, backdated_note(r), r.answer, lateness,
                r.answered_late_workdays, r.escalation_level, local(r.told_at),
                RATINGS_ZH.get(r.rating or "", ""),
            )  # fmt: skip

    cols = [
        Column("意见编号", 10), Column("活动编号", 10), Column("责任单位", 20),
        Column("活动主题", 30), Column("意见内容", 40), Column("状态", 10), Column("承办人", 12),
        Column("收集日期", 12), Column("收集方式", 14), Column("答复期限", 12),
        Column("答复录入时间", 20), Column("答复日期", 12), Column("补录说明", 36),
        Column("答复内容", 40), Column("是否按时", 12), Column("超期工作日", 12),
        Column("催办级别", 10), Column("答复送达时间", 20), Column("回访评价", 10),
    ]  # fmt: skip
    return Sheet("意见建议", cols, rows(), "opinions")


RATINGS_ZH = {"satisfied": "满意", "basically": "基本满意", "dissatisfied": "不满意"}


def _latest_rating() -> Any:
    """The rating of the opinion's latest rated answer (回访, issue 26)."""
    return (
        sa.select(col(OpinionReply.rating))
        .where(
            col(OpinionReply.feedback_item_id) == col(FeedbackItem.id),
            col(OpinionReply.rating).is_not(None),
        )
        .order_by(col(OpinionReply.round).desc())
        .limit(1)
        .scalar_subquery()
    )


def opinions_sheet(session: Session, f: Filters, now: datetime) -> Sheet:
    """The opinions list (意见建议): each opinion, its answer, the day given and its lateness."""
    return _opinions(session, f, now)


def backdated_note(r: Any) -> str:
    """补录：张三于2022年10月20日（星期四）15:30录入 when an answer was typed in after the day
    it was given; empty otherwise."""
    if r.answered_on is None or r.answered_at is None:
        return ""
    if r.answered_on >= local_date(r.answered_at):
        return ""
    who = getattr(r, "answered_by_name", None) or r.answered_by or "（未记录）"
    return f"补录：{who}于{moment_zh(r.answered_at)}录入"


def _overdue(session: Session, f: Filters, now: datetime) -> Sheet:
    # The overdue list is bounded by what is open; it merges three sources in deadline order.
    narrow = overdue.Narrowing(f.search, f.level)
    found, total = overdue.page(
        session, now, f.due_within_days, f.unit_id, f.kind, 10**9, 0, narrow
    )
    overdue.count_workdays_late(session, found, local_date(now))

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in found:
            yield (
                r["unit_name"], OVERDUE_KINDS_ZH.get(r["kind"], r["kind"]), r["event_id"],
                r["feedback_item_id"], r["theme"], r["due_on"],
                "已逾期" if r["overdue"] else "即将到期",
                r["late_workdays"], max(0, r["late_days"]),
                r["escalation_level"], local(r["last_notified_at"]),
            )  # fmt: skip

    cols = [
        Column("责任单位", 20), Column("事项", 10), Column("活动编号", 10), Column("意见编号", 10),
        Column("活动主题", 40), Column("应于", 12), Column("状态", 10),
        Column("逾期工作日", 10), Column("逾期自然日", 10),
        Column("催办级别", 10), Column("最近催办时间", 20),
    ]  # fmt: skip
    return Sheet("逾期清单", cols, rows(), "overdue", {"total": total})


def _notifications(session: Session, f: Filters, now: datetime) -> Sheet:
    # An outer join: digests (催办汇总) belong to a recipient, not to a unit.
    stmt = sa.select(
        col(Notification.id), col(Notification.created_at), col(Notification.event_id),
        col(Unit.name), col(Notification.rule), col(Notification.kind), col(Notification.level),
        col(Notification.channel), col(Notification.recipient), col(Notification.title),
        col(Notification.state), col(Notification.attempts), col(Notification.sent_at),
        col(Notification.last_error),
    ).outerjoin(Unit, col(Unit.id) == Notification.unit_id)  # fmt: skip
    stmt = within(stmt, col(Notification.unit_id), f.unit_id)
    if f.states:
        stmt = stmt.where(col(Notification.state).in_(f.states))
    if f.event_id is not None:
        stmt = stmt.where(col(Notification.event_id) == f.event_id)
    if f.campaign_id is not None:
        stmt = stmt.join(Event, col(Event.id) == Notification.event_id).where(
            col(Event.campaign_id) == f.campaign_id
        )

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, Notification.id):
            yield (
                r.id, local(r.created_at), r.event_id, r.name,
                OVERDUE_KINDS_ZH.get(r.rule, r.rule), NOTIFICATION_KINDS_ZH.get(r.kind, r.kind),
                r.level, r.channel, r.recipient, r.title,
                NOTIFICATION_STATES_ZH.get(r.state, r.state), r.attempts, local(r.sent_at),
                r.last_error,
            )  # fmt: skip

    cols = [
        Column("通知编号", 10), Column("生成时间", 20), Column("活动编号", 10),
        Column("责任单位", 20), Column("事项", 10), Column("类型", 8), Column("级别", 6),
        Column("渠道", 10), Column("接收方", 30), Column("标题", 40), Column("状态", 10),
        Column("尝试次数", 10), Column("发送时间", 20), Column("失败原因", 30),
    ]  # fmt: skip
    return Sheet("通知", cols, rows(), "notifications")


def _spot_checks(session: Session, f: Filters, now: datetime) -> Sheet:
    stmt = (
        sa.select(
            col(SpotCheck.id),
            col(SpotCheck.event_id),
            col(Unit.name),
            col(Event.theme),
            col(SpotCheck.round),
            col(SpotCheck.result),
            col(SpotCheck.site_visit),
            col(SpotCheck.notes),
            col(SpotCheck.checked_at),
        )  # fmt: skip
        .join(Event, col(Event.id) == SpotCheck.event_id)
        .join(Unit, col(Unit.id) == Event.unit_id)
    )
    if f.campaign_id is not None:
        stmt = stmt.where(col(Event.campaign_id) == f.campaign_id)
    stmt = within(stmt, col(Event.unit_id), f.unit_id)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, SpotCheck.id):
            yield (
                r.id, r.event_id, r.name, r.theme, r.round, SPOT_RESULTS_ZH.get(r.result, r.result),
                "是" if r.site_visit else "否", r.notes, local(r.checked_at),
            )  # fmt: skip

    cols = [
        Column("抽查编号", 10), Column("活动编号", 10), Column("责任单位", 20),
        Column("活动主题", 40), Column("轮次", 6), Column("抽查结果", 10),
        Column("现场走访", 10), Column("抽查意见", 40), Column("抽查时间", 20),
    ]  # fmt: skip
    return Sheet("抽查结果", cols, rows(), "spot-checks")


def _invitees(session: Session, f: Filters, now: datetime) -> Sheet:
    stmt: Any = sa.select(
        col(Invitee.id), col(Invitee.event_id), col(Unit.name).label("unit_name"), col(Event.theme),
        col(Invitee.name), col(Invitee.category), col(Invitee.invitation),
        col(Invitee.targeted_kind), col(Invitee.organization), col(Invitee.phone),
        col(Invitee.invited), col(Invitee.attended), col(Invitee.created_at),
    ).join(Event, col(Event.id) == Invitee.event_id)  # fmt: skip
    stmt = stmt.join(Unit, col(Unit.id) == Event.unit_id)
    stmt = _event_scope(stmt, f)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, Invitee.id):
            attended = "未登记" if r.attended is None else ("出席" if r.attended else "未出席")
            yield (
                r.id, r.event_id, r.unit_name, r.theme, r.name,
                CATEGORIES_ZH.get(r.category, r.category),
                INVITATIONS_ZH.get(r.invitation or "", r.invitation),
                TARGETED_ZH.get(r.targeted_kind or "", r.targeted_kind), r.organization,
                r.phone, "是" if r.invited else "否", attended, local(r.created_at),
            )  # fmt: skip

    cols = [
        Column("人员编号", 10), Column("活动编号", 10), Column("责任单位", 20),
        Column("活动主题", 30), Column("姓名", 12), Column("类别", 10), Column("邀请方式", 10),
        Column("定向邀请对象", 14), Column("工作单位及职务", 24), Column("联系电话", 14),
        Column("已邀请", 8), Column("出席情况", 10), Column("添加时间", 20),
    ]  # fmt: skip
    return Sheet("开放对象", cols, rows(), "invitees")


def _event_scope(stmt: Any, f: Filters) -> Any:
    """A statement joined to `event`, narrowed by campaign, unit and event."""
    if f.campaign_id is not None:
        stmt = stmt.where(Event.campaign_id == f.campaign_id)
    stmt = within(stmt, Event.unit_id, f.unit_id)
    if f.event_id is not None:
        stmt = stmt.where(Event.id == f.event_id)
    return stmt


def _visits(session: Session, f: Filters, now: datetime) -> Sheet:
    photos = (
        sa.select(sa.func.count())
        .where(col(VisitPhoto.visit_id) == SiteVisit.id)
        .correlate(SiteVisit)
        .scalar_subquery()
    )
    stmt = sa.select(
        col(SiteVisit.id), col(SiteVisit.event_id), col(Unit.name).label("unit_name"),
        col(Event.theme), col(SiteVisit.visited_on), col(SiteVisit.people), col(SiteVisit.findings),
        col(SiteVisit.problem), col(SpotCheck.round).label("check_round"),
        photos.label("photos"), col(SiteVisit.created_at),
    ).join(Event, col(Event.id) == SiteVisit.event_id)  # fmt: skip
    stmt = stmt.join(Unit, col(Unit.id) == Event.unit_id)
    stmt = stmt.outerjoin(SpotCheck, col(SpotCheck.id) == SiteVisit.spot_check_id)
    stmt = _event_scope(stmt, f)
    if f.date_from is not None:
        stmt = stmt.where(col(SiteVisit.visited_on) >= f.date_from)
    if f.date_to is not None:
        stmt = stmt.where(col(SiteVisit.visited_on) <= f.date_to)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset(session, stmt, SiteVisit.id):
            yield (
                r.id, r.event_id, r.unit_name, r.theme, r.visited_on, r.people,
                r.findings, "是" if r.problem else "否",
                f"第 {r.check_round} 轮" if r.check_round else None, r.photos, local(r.created_at),
            )  # fmt: skip

    cols = [
        Column("走访编号", 10), Column("活动编号", 10), Column("责任单位", 20),
        Column("活动主题", 30), Column("走访日期", 12), Column("走访人员", 24),
        Column("走访发现", 50), Column("发现问题", 10), Column("关联抽查", 10),
        Column("照片数", 8), Column("登记时间", 20),
    ]  # fmt: skip
    return Sheet("现场走访", cols, rows(), "visits")


def _json(value: Any) -> str:
    if not value:
        return ""
    return json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)[:CELL_MAX]


def keyset_by_time(
    session: Session, stmt: Any, at: Any, key: Any, batch: int = BATCH
) -> Iterator[Any]:
    """Every row of `stmt` in (`at`, `key`) order, `batch` rows at a time (no OFFSET); the
    statement's first two columns must be `at` and `key`."""
    last: tuple[Any, Any] | None = None
    while True:
        page = stmt if last is None else stmt.where(sa.tuple_(at, key) > sa.tuple_(*last))
        rows = session.execute(page.order_by(at, key).limit(batch)).all()
        yield from rows
        if len(rows) < batch:
            return
        last = (rows[-1][0], rows[-1][1])


def _day_bounds(column: Any, f: Filters) -> list[Any]:
    """`column` (a UTC moment) within the filters' local days, both ends included."""

    def start(day: date) -> datetime:
        return datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC)

    bounds = []
    if f.date_from is not None:
        bounds.append(column >= start(f.date_from))
    if f.date_to is not None:
        bounds.append(column < start(f.date_to + timedelta(days=1)))
    return bounds


def _audit(session: Session, f: Filters, now: datetime) -> Sheet:
    """Event moves and edits (transition log) and other changes (change log), oldest first,
    merged by time."""
    moves = sa.select(
        col(TransitionLog.at), col(TransitionLog.id), col(TransitionLog.actor_name),
        col(TransitionLog.event_id), col(Unit.name).label("unit_name"), col(TransitionLog.trigger),
        col(TransitionLog.from_state), col(TransitionLog.to_state), col(TransitionLog.reason),
        col(TransitionLog.data),
    )  # fmt: skip
    moves = moves.join(Event, col(Event.id) == TransitionLog.event_id).join(
        Unit, col(Unit.id) == Event.unit_id
    )
    moves = _event_scope(moves, f)
    changes = sa.select(
        col(ChangeLog.at), col(ChangeLog.id), col(ChangeLog.actor_name), col(ChangeLog.entity),
        col(ChangeLog.entity_id), col(Unit.name).label("unit_name"), col(ChangeLog.action),
        col(ChangeLog.before), col(ChangeLog.after),
    ).outerjoin(Unit, col(Unit.id) == ChangeLog.unit_id)  # fmt: skip
    changes = within(changes, col(ChangeLog.unit_id), f.unit_id)
    if f.campaign_id is not None:
        changes = changes.where(
            col(ChangeLog.entity) == "campaign", col(ChangeLog.entity_id) == f.campaign_id
        )
    moves = moves.where(*_day_bounds(TransitionLog.at, f))
    changes = changes.where(*_day_bounds(ChangeLog.at, f))

    def move_rows() -> Iterator[tuple[Any, ...]]:
        for r in keyset_by_time(session, moves, TransitionLog.at, TransitionLog.id):
            before = {"state": r.from_state} if r.from_state else {}
            after = {"state": r.to_state, **(r.data or {})}
            yield (
                r.at, 0, r.id, "活动流转", r.actor_name, "活动", r.event_id, r.unit_name,
                r.trigger, _json(before), _json(after), r.reason,
            )  # fmt: skip

    def change_rows() -> Iterator[tuple[Any, ...]]:
        if f.event_id is not None:
            return
        for r in keyset_by_time(session, changes, ChangeLog.at, ChangeLog.id):
            yield (
                r.at, 1, r.id, "变更记录", r.actor_name, ENTITIES_ZH.get(r.entity, r.entity),
                r.entity_id, r.unit_name, r.action, _json(r.before), _json(r.after), None,
            )  # fmt: skip

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in heapq.merge(move_rows(), change_rows(), key=lambda r: (r[0], r[1], r[2])):
            yield (local(r[0]), *r[3:])

    cols = [
        Column("时间", 20), Column("来源", 10), Column("操作人", 14), Column("对象", 10),
        Column("对象编号", 10), Column("责任单位", 20), Column("操作", 18),
        Column("变更前", 30), Column("变更后", 50), Column("理由", 30),
    ]  # fmt: skip
    return Sheet("操作日志", cols, rows(), "audit")


KINDS: dict[str, Callable[[Session, Filters, datetime], Sheet]] = {
    "events": _events,
    "opinions": _opinions,
    "overdue": _overdue,
    "notifications": _notifications,
    "spot-checks": _spot_checks,
    "invitees": _invitees,
    "visits": _visits,
    "audit": _audit,
}
TITLES_ZH = {
    "events": "开放活动",
    "opinions": "意见建议",
    "overdue": "逾期清单",
    "notifications": "通知",
    "spot-checks": "抽查结果",
    "invitees": "开放对象",
    "visits": "现场走访",
    "audit": "操作日志",
}


def require_export(session: Session, actor: Actor, kind: str, now: datetime) -> None:
    """Of the three administrators only the audit administrator exports the audit (三员分立,
    403 `separation_of_duties` for the other two); its export is itself an audit line in
    `session` (the caller commits it, since the export streams from a session of its own).
    Everyone else exports what the lists show them (staff: their own unit's rows)."""
    if kind == "audit":
        duties.require_if_administrator(session, actor, duties.Duty.audit_export, now)


def sheet(session: Session, kind: str, filters: Filters, now: datetime) -> Sheet:
    """The named list with its filters applied; unknown kinds are 404."""
    build = KINDS.get(kind)
    if build is None:
        raise NotFound(
            "export_kind_unknown",
            f"没有名为“{kind}”的导出；可导出：{'、'.join(KINDS)}",
            f"no export named '{kind}'; known: {', '.join(KINDS)}",
        )
    return build(session, filters, now)


# ---- writers --------------------------------------------------------------------------------


def write_xlsx(sheet: Sheet | list[Sheet], target: Any) -> None:
    """Write sheets to a path or binary file: frozen bold header, widths, real dates."""
    xlsx_stream.write(
        target,
        [
            xlsx_stream.SheetSpec(
                one.title,
                [c.header for c in one.columns],
                [c.width for c in one.columns],
                one.rows,
                one.groups,
            )
            for one in (sheet if isinstance(sheet, list) else [sheet])
        ],
    )


def xlsx_chunks(sheet: Sheet | list[Sheet]) -> Iterator[bytes]:
    """The workbook's bytes, written to a temporary file and read back in chunks."""
    fd, path = tempfile.mkstemp(suffix=".xlsx", prefix="openday-export-")
    os.close(fd)
    try:
        write_xlsx(sheet, path)
        with open(path, "rb") as fh:
            while chunk := fh.read(CHUNK):
                yield chunk
    finally:
        os.unlink(path)


FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: str) -> str:
    """Text that a spreadsheet would read as a formula, behind a single quote (OWASP's advice
    for CSV injection): `=HYPERLINK(...)` becomes `'=HYPERLINK(...)`, shown as typed."""
    return "'" + value if value.startswith(FORMULA_LEADS) else value


def _text(value: Any) -> Any:
    """One CSV cell. Only text is neutralised: every text column may carry citizen- or
    staff-typed words, while numbers (ints, floats, decimals) and dates are the service's own
    and stay numbers, so a negative count is still -3, not '-3."""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return neutralise(value)
    return "" if value is None else value


def csv_chunks(sheet: Sheet) -> Iterator[bytes]:
    """UTF-8 with a BOM, header first, flushed every few hundred rows."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    buffer.write("\ufeff")
    writer.writerow([c.header for c in sheet.columns])
    for n, row in enumerate(sheet.rows, start=1):
        writer.writerow([_text(v) for v in row])
        if n % 500 == 0:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def chunks(sheet: Sheet, fmt: str) -> Iterator[bytes]:
    """The sheet's bytes in the asked format."""
    return xlsx_chunks(sheet) if fmt == "xlsx" else csv_chunks(sheet)


MEDIA_TYPES = {
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv; charset=utf-8",
}


def split_name(name: str) -> tuple[str, str]:
    """'events.xlsx' → ('events', 'xlsx'); unknown kinds or formats are 404."""
    kind, _, fmt = name.rpartition(".")
    if fmt not in FORMATS or kind not in KINDS:
        raise NotFound(
            "export_not_found",
            f"没有“{name}”这项导出；可导出：{'、'.join(KINDS)}，格式 xlsx 或 csv",
            f"no export '{name}'; kinds: {', '.join(KINDS)}; formats: xlsx, csv",
        )
    return kind, fmt
