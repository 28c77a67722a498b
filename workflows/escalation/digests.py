"""Daily digests (催办汇总): one message per recipient and day instead of one per item.

A recipient takes escalations one by one or as a digest: the campaign's `escalation_delivery`
setting, overridden per unit (its contact, head and robot) or per supervisor account. When a timer
owes a digest recipient a notice, the notice is still written (its unique key, its level, for the
reports) but as `digested`, attached to that recipient's digest for the next digest hour
(`digest_hour`, 09:00 Asia/Shanghai by default): one `held` notification of kind `digest`, unique
per recipient and day (`digest_key`), with a timer row due at that hour — durable like every
deadline, no delayed broker message.

When the digest's timer fires, the digest re-checks each item (one answered, held or rescheduled
meanwhile is `withdrawn`), lists the rest in order (per item, lowest level first) and becomes an
ordinary pending notification relayed through the outbox: its delivery, retries, failure and
resend are those of any notification. E-mail gets a plain-text table in Chinese; 企业微信 and 钉钉
robots one markdown message within their length limits, cut with a count of the rest and a link to
the board.
"""

from __future__ import annotations

import hashlib
import io
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from rich import box
from rich.console import Console
from rich.table import Table
from sqlmodel import Session, col, select

from models import (
    Event,
    FeedbackItem,
    Notification,
    NotificationState,
    Rectification,
    Timer,
    TimerState,
    Unit,
)
from models.db import lock_by_id
from workflows.escalation.batch import (
    OFFICE,
    BatchContext,
    NotifyConfig,
    insert_ignoring_duplicates,
    lateness_text,
    prefix_of,
    stale,
)
from workflows.filing import timers as filing
from workflows.kernel import jobs, tenancy
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.daywords import day_zh
from workflows.workdays import deadlines

log = structlog.get_logger("openday.digests")

RULE = "digest"  # timer.rule and notification.rule/kind of a digest
SUBJECT = "digest"  # notification.subject_type of a digest (subject_id: its own id)

# Robot message limits (UTF-8 bytes of the markdown text). 企业微信 group robots: markdown
# content at most 4096 bytes. 钉钉 custom robots refuse a message body over 20000 bytes; the text
# is kept well under that to leave room for the title and the JSON around it.
MARKDOWN_MAX_BYTES = {"webhook_wecom": 4096, "webhook_dingtalk": 18000}
# A JSON webhook or an e-mail lists at most this many items (the rest counted, with the link).
PLAIN_MAX_ITEMS = 500

RULE_ZH = {
    deadlines.EVENT_HOLD: "活动开展",
    deadlines.FEEDBACK_ANSWER: "意见办理",
    deadlines.FEEDBACK_SIGN: "意见签收",
    deadlines.SUMMARY: "活动总结",
    filing.PLAN: "活动方案审核",
    filing.ANNOUNCEMENT: "公开邀请公告",
    filing.REPRESENTATIVES: "市民代表公示",
    deadlines.RECTIFICATION: "抽查整改",
}


def digest_day(now: datetime, hour: int) -> date:
    """The day of the next digest hour at or after `now` (local time)."""
    local = now.astimezone(LOCAL_TZ)
    day = local.date()
    return day if local < deadlines.at_local(day, hour).astimezone(LOCAL_TZ) else day + timedelta(1)


def digest_key(channel: str, address: str, day: date) -> str:
    """One digest per recipient and day (the address hashed: robot URLs carry a secret)."""
    return f"digest:{channel}:{hashlib.sha256(address.encode()).hexdigest()[:16]}:{day.isoformat()}"


# --------------------------------------------------------------------------------------------
# Attaching items: in the escalating worker's transaction
# --------------------------------------------------------------------------------------------


def attach(
    session: Session, wants: dict[tuple[str, str], int], now: datetime
) -> dict[tuple[str, str], int]:
    """The id of the held digest each (channel, address) gets its items in, creating digests
    (and their timers) as needed: a few statements per batch, whatever its size.

    `wants` maps each recipient to its digest hour. A digest already on its way (its hour came
    while this transaction waited) takes nothing more: the item goes into the next day's.
    """
    # A digest is city-level (one per recipient, items of any district): a district's timer
    # job finds or makes it under the jobs' city scope (docs/tenancy.md).
    with tenancy.as_jobs(session):
        return _attach(session, wants, now)


def _attach(
    session: Session, wants: dict[tuple[str, str], int], now: datetime
) -> dict[tuple[str, str], int]:
    table = Notification.__table__  # type: ignore[attr-defined]
    pending = {who: (digest_day(now, hour), hour) for who, hour in wants.items()}
    found: dict[tuple[str, str], int] = {}
    for _ in range(3):  # today's digest, else tomorrow's; a third round never needs a fourth
        if not pending:
            break
        keys = {who: digest_key(who[0], who[1], day) for who, (day, _) in pending.items()}
        rows = [
            {
                "key": keys[who],
                "subject_type": SUBJECT,
                "subject_id": 0,
                "event_id": None,
                "unit_id": None,
                "rule": RULE,
                "kind": RULE,
                "level": 0,
                "channel": who[0],
                "recipient": who[1],
                "title": f"【催办汇总】{day_zh(day)}",
                "body": "",
                "state": NotificationState.held,
                "attempts": 0,
                "created_at": now,
            }
            for who, (day, _) in sorted(pending.items())
        ]
        created = session.execute(
            insert_ignoring_duplicates(session, table).returning(table.c.id, table.c.key), rows
        ).all()
        if created:
            _arm(session, list(created), {keys[w]: pending[w] for w in pending}, now)
        locked = {
            r.key: r
            for r in session.execute(
                sa.select(table.c.id, table.c.key, table.c.state)
                .where(table.c.key.in_(list(keys.values())))
                .order_by(table.c.id)
                .with_for_update()
            )
        }
        later: dict[tuple[str, str], tuple[date, int]] = {}
        for who, (day, hour) in pending.items():
            row = locked[keys[who]]
            if row.state == NotificationState.held:
                found[who] = row.id
            else:
                later[who] = (day + timedelta(days=1), hour)
        pending = later
    return found


def _arm(
    session: Session,
    created: list[Any],
    when: dict[str, tuple[date, int]],
    now: datetime,
) -> None:
    """New digests: their own id as subject, and a timer due at their hour."""
    table = Notification.__table__  # type: ignore[attr-defined]
    ids = [r.id for r in created]
    session.execute(sa.update(table).where(table.c.id.in_(ids)).values(subject_id=table.c.id))
    timers = []
    for row in created:
        day, hour = when[row.key]
        timers.append(
            {
                "rule": RULE,
                "kind": RULE,
                "level": 0,
                "subject_type": SUBJECT,
                "subject_id": row.id,
                "event_id": None,
                "deadline_on": day,
                "due_at": deadlines.at_local(day, hour),
                "provisional": False,
                "state": TimerState.pending,
                "created_at": now,
            }
        )
    session.execute(sa.insert(Timer.__table__), timers)  # type: ignore[attr-defined]
    if any(t["due_at"] <= now + deadlines.WAKE_HORIZON for t in timers):
        deadlines.wake_schedulers(session)


# --------------------------------------------------------------------------------------------
# Sending: when a digest's timer fires
# --------------------------------------------------------------------------------------------


@dataclass
class Sent:
    """What firing digest timers did."""

    handled: list[int] = field(default_factory=list)  # timer ids done
    owed: list[int] = field(default_factory=list)  # digests now pending delivery
    withdrawn: list[int] = field(default_factory=list)  # digests with nothing left to say
    outbox_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Line:
    """One item of a digest, as listed."""

    unit: str
    what: str  # 意见办理（编号 12）
    theme: str
    due: date
    level: str  # 提醒 | 催办 | 第2次催办
    status: str  # 已逾期 3 个工作日（5 天）
    overdue: bool
    # The item the line is about (subject type, subject id, rule): one item owed at two levels
    # is listed on two lines but counted once. None: the line is its own item.
    item: tuple[str, int, str] | None = None


def count_items(lines: list[Line]) -> tuple[int, int]:
    """How many items the lines are about, and how many of those are overdue."""
    items: dict[object, bool] = {}
    for n, line in enumerate(lines):
        key = line.item if line.item is not None else n
        items[key] = items.get(key, False) or line.overdue
    return len(items), sum(items.values())


def send_due(session: Session, timer_ids: list[int], now: datetime, config: NotifyConfig) -> Sent:
    """Compose and owe the digests whose timers fired: set-based, a fixed number of queries."""
    out = Sent()
    timers = lock_by_id(session, Timer, timer_ids, col(Timer.state) == TimerState.fired)
    if not timers:
        return out
    digest_ids = sorted(t.subject_id for t in timers)
    held = {d.id: d for d in lock_by_id(session, Notification, digest_ids)}
    items = session.exec(
        select(Notification)
        .where(
            col(Notification.digest_id).in_(digest_ids),
            col(Notification.state) == NotificationState.digested,
        )
        .order_by(
            col(Notification.subject_type),
            col(Notification.subject_id),
            col(Notification.rule),
            col(Notification.level),
            col(Notification.id),
        )
    ).all()
    lines, gone = _lines_of(session, list(items), now, config)
    if gone:
        session.execute(
            sa.update(Notification)
            .where(col(Notification.id).in_(gone))
            .values(state=NotificationState.withdrawn)
            .execution_options(synchronize_session=False)
        )
    for timer in timers:
        out.handled.append(timer.id)
        _fill(held.get(timer.subject_id), timer, lines, now, config, out)
    session.flush()
    out.outbox_ids = jobs.owe_deliveries(session, out.owed, now)
    session.execute(
        sa.update(Timer)
        .where(col(Timer.id).in_(out.handled))
        .values(state=TimerState.done, handled_at=now)
        .execution_options(synchronize_session=False)
    )
    log.info("digests_owed", digests=len(out.owed), withdrawn=len(out.withdrawn), items=len(items))
    return out


def _lines_of(
    session: Session, items: list[Notification], now: datetime, config: NotifyConfig
) -> tuple[dict[int, list[Line]], list[int]]:
    """Each digest's lines, its items re-checked now, and the items that no longer apply."""
    item_timers = _by_id(session, Timer, {i.timer_id for i in items})
    events = _by_id(session, Event, {i.event_id for i in items})
    opinions = _by_id(
        session, FeedbackItem, {i.subject_id for i in items if i.subject_type == "feedback_item"}
    )
    rects = _by_id(
        session, Rectification, {i.subject_id for i in items if i.subject_type == "rectification"}
    )
    units = _by_id(session, Unit, {i.unit_id for i in items})
    ctx = BatchContext.load(session, events.values(), config)  # campaigns, rules: once
    lines: dict[int, list[Line]] = defaultdict(list)
    gone: list[int] = []
    for item in items:
        timer = item_timers.get(item.timer_id or 0)
        event = events.get(item.event_id or 0)
        opinion = opinions.get(item.subject_id) if item.subject_type == "feedback_item" else None
        rect = rects.get(item.subject_id) if item.subject_type == "rectification" else None
        if timer is None or event is None:
            gone.append(item.id)  # type: ignore[arg-type]
            continue
        if stale(timer, event, opinion or rect, now):
            gone.append(item.id)  # type: ignore[arg-type]
            continue
        what = RULE_ZH.get(item.rule, item.rule)
        if opinion is not None:
            what += f"（编号 {opinion.id}）"
        unit = units.get(item.unit_id or 0)
        office = ctx.office_of(unit) if unit else OFFICE
        lines[item.digest_id].append(  # type: ignore[index]
            Line(
                unit=unit.name if unit else "",
                what=what,
                theme=event.theme,
                due=timer.deadline_on,
                level=prefix_of(timer, ctx.rules[event.campaign_id], office).strip("【】"),
                status=lateness_text(timer, ctx.calendar, local_date(now)),
                overdue=timer.kind == deadlines.ESCALATION,
                item=(item.subject_type, item.subject_id, item.rule),
            )
        )
    return lines, gone


def _fill(
    digest: Notification | None,
    timer: Timer,
    lines: dict[int, list[Line]],
    now: datetime,
    config: NotifyConfig,
    out: Sent,
) -> None:
    """A held digest gets its title and body and is owed, or is withdrawn with nothing to say."""
    if digest is None or digest.state != NotificationState.held:
        return  # already on its way (a redelivered message)
    listed = lines.get(digest.id, [])  # type: ignore[arg-type]
    if not listed:
        digest.state = NotificationState.withdrawn
        out.withdrawn.append(digest.id)  # type: ignore[arg-type]
        return
    digest.title, digest.body = compose(
        digest.channel, timer.deadline_on, listed, now, config.board_url
    )
    digest.state = NotificationState.pending
    out.owed.append(digest.id)  # type: ignore[arg-type]


def _by_id(session: Session, model: Any, ids: set[int | None]) -> dict[int, Any]:
    wanted = sorted(i for i in ids if i is not None)
    if not wanted:
        return {}
    return {r.id: r for r in session.exec(select(model).where(col(model.id).in_(wanted))).all()}


# --------------------------------------------------------------------------------------------
# Wording
# --------------------------------------------------------------------------------------------


def compose(
    channel: str, day: date, lines: list[Line], now: datetime, board_url: str
) -> tuple[str, str]:
    """The digest's Chinese title and body for its channel: markdown for 企业微信/钉钉 robots
    (within their limits), a plain-text table otherwise."""
    count, overdue = count_items(lines)  # items, not lines: one line per item and level
    title = f"【催办汇总】{day_zh(day)} 共{count}项到期或逾期事项"
    if channel in MARKDOWN_MAX_BYTES:
        return title, markdown(title, lines, overdue, board_url, MARKDOWN_MAX_BYTES[channel])
    return title, plain(lines, overdue, now, board_url)


def _intro(count: int, overdue: int, now: datetime) -> str:
    local = now.astimezone(LOCAL_TZ)
    return (
        f"截至 {local:%Y-%m-%d %H:%M}，政府开放日有 {count} 项事项到期或逾期"
        f"（其中逾期 {overdue} 项，即将到期 {count - overdue} 项），请尽快办理："
    )


def plain(lines: list[Line], overdue: int, now: datetime, board_url: str) -> str:
    """An e-mail (or JSON webhook) body: a plain-text table, aligned for Chinese text."""
    table = Table(box=box.ASCII, show_lines=False, pad_edge=False)
    for header in ("序号", "单位", "事项", "活动", "期限", "级别", "情况"):
        table.add_column(header, overflow="fold")
    shown = lines[:PLAIN_MAX_ITEMS]
    for n, line in enumerate(shown, 1):
        theme = line.theme if len(line.theme) <= 24 else line.theme[:24] + "…"
        table.add_row(
            str(n), line.unit, line.what, theme, day_zh(line.due), line.level, line.status
        )
    buffer = io.StringIO()
    Console(
        file=buffer, width=240, color_system=None, force_terminal=False, emoji=False,
        highlight=False, markup=False, legacy_windows=False,
    ).print(table)  # fmt: skip
    text = "\n".join(line.rstrip() for line in buffer.getvalue().splitlines())
    parts = ["您好：", "", _intro(count_items(lines)[0], overdue, now), "", text]
    if len(lines) > len(shown):
        parts += ["", f"其余 {len(lines) - len(shown)} 项未列出。"]
    parts += [
        "",
        f"全部事项请登录督办看板查看：{board_url}",
        "",
        "—— 政府开放日督办系统（每日催办汇总）",
    ]
    return "\n".join(parts)


def markdown(title: str, lines: list[Line], overdue: int, board_url: str, limit: int) -> str:
    """A robot's markdown: as many items as fit in `limit` UTF-8 bytes, then how many more and
    the link to the board."""
    count = count_items(lines)[0]
    head = [f"### {title}", f"> 逾期 {overdue} 项，即将到期 {count - overdue} 项", ""]
    body: list[str] = []

    def footer(rest: int) -> list[str]:
        more = [f"其余 **{rest}** 项未列出。"] if rest else []
        return ["", *more, f"[登录督办看板查看全部]({board_url})"]

    def size(extra: list[str]) -> int:
        return len("\n".join(head + extra).encode("utf-8"))

    for n, line in enumerate(lines, 1):
        theme = line.theme if len(line.theme) <= 30 else line.theme[:30] + "…"
        entry = (
            f"{n}. **{line.unit}** {line.what} · {line.level} · 期限 {day_zh(line.due)}"
            f" · {line.status}  \n   {theme}"
        )
        if size([*body, entry, *footer(len(lines) - n)]) > limit:
            break
        body.append(entry)
    text = "\n".join(head + body + footer(len(lines) - len(body)))
    if len(text.encode("utf-8")) > limit:  # only a board URL of absurd length gets here
        text = text.encode("utf-8")[:limit].decode("utf-8", "ignore")
    return text
