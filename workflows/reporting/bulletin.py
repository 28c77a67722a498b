"""The weekly 通报: every unit of a campaign ranked by holding its events on time and answering
its opinions on time, with what is overdue; made on schedule by the scheduler (`make_due`), kept
as it was made (a `bulletin` row), delivered to the supervisors' inboxes with a link to its page
and downloads (.docx with python-docx, .xlsx with openpyxl); a unit ranked last in
`bulletin_interview_after` bulletins in a row is marked for 约谈.

The numbers are the campaign report's (workflows/reporting/reports.py `collect`, counted at the
end of the day before it is made): a rate is 100% when nothing was due. Score = 50 × the on-time
holding rate + 50 × the on-time answer rate; for a unit whose answers were rated (回访), the
satisfaction rate joins them at equal weight (the three rates scaled to 100);
ranked by score, then fewer overdue items, then name. Units with a full score and nothing overdue
are never "last".
"""

from __future__ import annotations

import io
from collections.abc import Callable
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, func, select

from models import Bulletin, Campaign, Event, FeedbackItem, OpinionReply
from workflows.campaign.rules import CampaignRules
from workflows.inbox import service as inbox
from workflows.kernel.clock import LOCAL_TZ, local_date
from workflows.kernel.daywords import day_zh
from workflows.kernel.errors import Forbidden, NotFound
from workflows.kernel.visibility import Actor, in_districts, require_district
from workflows.reporting import reports
from workflows.workdays.deadlines import end_of_local_day

SatisfactionHook = Callable[[Session, int, datetime], dict[int, float]]


def satisfaction(session: Session, campaign_id: int, moment: datetime) -> dict[int, float]:
    """回访: per unit, the share (0–1) of its answers rated by `moment` that were 满意 or 基本满意
    (the rating each answer round holds now); units with no rating are left out (shown “—”,
    their score from the two rates alone). One grouped query."""
    rows = session.exec(
        select(col(OpinionReply.unit_id), col(OpinionReply.rating), func.count())
        .join(FeedbackItem, col(FeedbackItem.id) == OpinionReply.feedback_item_id)
        .join(Event, col(Event.id) == FeedbackItem.event_id)
        .where(
            Event.campaign_id == campaign_id,
            col(OpinionReply.rating).is_not(None),
            col(OpinionReply.rated_at) <= moment,
        )
        .group_by(col(OpinionReply.unit_id), col(OpinionReply.rating))
    ).all()
    rated: dict[int, list[int]] = {}
    for unit_id, rating, n in rows:
        counts = rated.setdefault(unit_id, [0, 0])
        counts[1] += n
        if rating in ("satisfied", "basically"):
            counts[0] += n
    return {unit_id: good / total for unit_id, (good, total) in rated.items() if total}


# The satisfaction each unit's score takes in (None: left out of every score).
SATISFACTION: SatisfactionHook | None = satisfaction

COLUMNS: tuple[tuple[str, str], ...] = (
    ("rank", "名次"),
    ("unit_name", "单位"),
    ("events_due", "应开展活动"),
    ("held_on_time", "按时开展"),
    ("hold_rate", "按时开展率"),
    ("opinions_due", "应答复意见"),
    ("answered_on_time", "按时答复"),
    ("answer_rate", "按时答复率"),
    ("satisfaction", "满意率"),
    ("overdue", "逾期事项"),
    ("score", "得分"),
    ("remark", "备注"),
)


def _rate(done: int, due: int) -> float:
    return 1.0 if due <= 0 else done / due


def _row(u: reports.UnitFacts, satisfaction: float | None) -> dict[str, Any]:
    c = u.counts
    answered_late, open_overdue = c.get("answered_late", 0), c.get("open_overdue", 0)
    opinions_due = c.get("answered_on_time", 0) + answered_late + open_overdue
    hold_rate = _rate(c.get("held_on_time", 0), c.get("due", 0))
    answer_rate = _rate(c.get("answered_on_time", 0), opinions_due)
    overdue = {
        "not_held": c.get("not_held_overdue", 0),
        "opinions": open_overdue,
        "summaries": c.get("summaries_missing", 0),
    }
    score = 50 * hold_rate + 50 * answer_rate
    if satisfaction is not None:
        score = (score + 100 * satisfaction) * 2 / 3
    return {
        "unit_id": u.unit_id,
        "unit_name": u.unit_name,
        "events_due": c.get("due", 0),
        "held_on_time": c.get("held_on_time", 0),
        "hold_rate": round(hold_rate, 4),
        "opinions_due": opinions_due,
        "answered_on_time": c.get("answered_on_time", 0),
        "answer_rate": round(answer_rate, 4),
        "satisfaction": None if satisfaction is None else round(satisfaction, 4),
        "overdue_detail": overdue,
        "overdue": sum(overdue.values()),
        "score": round(score, 1),
    }


def rank(session: Session, campaign_id: int, as_of: date) -> list[dict[str, Any]]:
    """Every unit with events in the campaign, best first, counted at the end of `as_of`."""
    moment = end_of_local_day(as_of) - timedelta(microseconds=1)
    facts = reports.collect(session, campaign_id, moment, records=False)
    rated = SATISFACTION(session, campaign_id, moment) if SATISFACTION else {}
    rows = [_row(u, rated.get(u.unit_id) if SATISFACTION else None) for u in facts.units.values()]
    rows.sort(key=lambda r: (-r["score"], r["overdue"], r["unit_name"]))
    place = 0
    for i, r in enumerate(rows):
        same = i > 0 and (r["score"], r["overdue"]) == (
            rows[i - 1]["score"],
            rows[i - 1]["overdue"],
        )
        place = place if same else i + 1
        r["rank"] = place
    worst = rows[-1]["rank"] if len(rows) > 1 else None
    for r in rows:
        r["last"] = worst is not None and r["rank"] == worst and (r["score"] < 100 or r["overdue"])
    return rows


def _streaks(session: Session, campaign_id: int, week_start: date, rows: list[dict[str, Any]],
             after: int) -> None:  # fmt: skip
    """How many bulletins in a row (this one included) each last unit was last; 约谈 from
    `after` on."""
    earlier = session.exec(
        select(Bulletin)
        .where(Bulletin.campaign_id == campaign_id, col(Bulletin.week_start) < week_start)
        .order_by(col(Bulletin.week_start).desc())
        .limit(after)
    ).all()
    for r in rows:
        streak = 0
        if r["last"]:
            streak = 1
            for b in earlier:
                if not any(o["unit_id"] == r["unit_id"] and o.get("last") for o in b.rows):
                    break
                streak += 1
        r["streak"] = streak
        r["interview"] = streak >= after
        r["remark"] = _remark(r, after)


def _remark(r: dict[str, Any], after: int) -> str:
    if r["interview"]:
        return f"连续{r['streak']}次排名末位，列入约谈"
    if r["last"]:
        return "排名末位" + (f"（连续{r['streak']}次）" if r["streak"] > 1 else "")
    return ""


def week_of(day: date, weekday: int) -> date:
    """The first day of the week a bulletin made on `day` covers: 7 days before the latest
    `weekday` on or before it."""
    made = day - timedelta(days=(day.weekday() - weekday) % 7)
    return made - timedelta(days=7)


def make(session: Session, campaign: Campaign, week_start: date, now: datetime) -> Bulletin | None:
    """The campaign's bulletin for the week from `week_start` (counted to the day before it was
    made), inserted once (None when it exists already), and its inbox message to every
    supervisor in the same transaction."""
    assert campaign.id is not None
    rules = CampaignRules.of(campaign.rules)
    as_of = min(week_start + timedelta(days=6), local_date(now) - timedelta(days=1))
    rows = rank(session, campaign.id, as_of)
    _streaks(session, campaign.id, week_start, rows, rules.bulletin_interview_after)
    table = Bulletin.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    made = session.execute(
        insert(table)
        .values(campaign_id=campaign.id, week_start=week_start, as_of=as_of, made_at=now, rows=rows)
        .on_conflict_do_nothing()
        .returning(table.c.id)
    ).first()
    if made is None:
        return None
    bulletin = session.get(Bulletin, made[0])
    assert bulletin is not None
    _deliver(session, campaign, bulletin, now)
    return bulletin


def _deliver(session: Session, campaign: Campaign, b: Bulletin, now: datetime) -> None:
    lines = [f"{r['rank']}. {r['unit_name']}：{r['score']} 分，逾期 {r['overdue']} 项"
             + (f"（{r['remark']}）" if r["remark"] else "") for r in b.rows[:10]]  # fmt: skip
    interview = [r["unit_name"] for r in b.rows if r.get("interview")]
    body = "\n".join(
        [f"{campaign.title}（{campaign.doc_number}）", f"统计截至 {day_zh(b.as_of)}。", ""]
        + lines
        + (["", f"列入约谈：{'、'.join(interview)}"] if interview else [])
        + ["", f"下载：/bulletins/{b.id}.docx  /bulletins/{b.id}.xlsx"]
    )
    inbox.post(
        session, "bulletin", subject_type="bulletin", subject_id=b.id,  # type: ignore[arg-type]
        event_id=None, unit_id=None, district_id=campaign.district_id, now=now,
        title=f"【每周通报】{day_zh(b.week_start)}起一周：{len(b.rows)}个单位排名"
        + (f"，{len(interview)}个单位列入约谈" if interview else ""),
        body=body,
    )  # fmt: skip


def make_due(session: Session, now: datetime) -> list[Bulletin]:
    """The bulletins due at `now`: each campaign's, on its rules' weekday from its hour on,
    for the week before (nothing when made already). Called by the scheduler."""
    local = now.astimezone(LOCAL_TZ)
    out = []
    for campaign in session.exec(select(Campaign).order_by(col(Campaign.id))).all():
        rules = CampaignRules.of(campaign.rules)
        if local.weekday() != rules.bulletin_weekday or local.hour < rules.bulletin_hour:
            continue
        start = week_of(local.date(), rules.bulletin_weekday)
        if (
            start > campaign.ends_on + timedelta(days=120)
            or start + timedelta(days=7) <= campaign.starts_on
        ):
            continue  # long after the campaign, or before it began: nothing to rank
        made = make(session, campaign, start, now)
        if made is not None:
            out.append(made)
    return out


def require_overview(actor: Actor) -> None:
    """Bulletins rank every unit: those who see every unit read them (403 for a unit's staff)."""
    if not actor.sees_all_units:
        raise Forbidden(
            "bulletin_forbidden",
            f"通报仅供{actor.office_zh}、管理员和查阅账号查看",
            "bulletins are for the district office, administrators and viewers",
        )


def get(session: Session, actor: Actor, bulletin_id: int) -> Bulletin:
    """One bulletin of a campaign of the actor's district, or 404."""
    found = session.get(Bulletin, bulletin_id)
    campaign = None if found is None else session.get(Campaign, found.campaign_id)
    require_district(
        actor,
        None if campaign is None else campaign.district_id,
        NotFound(
            "bulletin_not_found", f"通报 {bulletin_id} 不存在", f"bulletin {bulletin_id} not found"
        ),
    )
    assert found is not None
    return found


def listing(session: Session, actor: Actor, campaign_id: int | None = None) -> list[Bulletin]:
    """Bulletins of the actor's district(s), newest first."""
    stmt = select(Bulletin).order_by(col(Bulletin.week_start).desc(), col(Bulletin.id).desc())
    mine = in_districts(select(Campaign.id), actor, Campaign.district_id)
    stmt = stmt.where(col(Bulletin.campaign_id).in_(mine))
    if campaign_id is not None:
        stmt = stmt.where(Bulletin.campaign_id == campaign_id)
    return list(session.exec(stmt.limit(200)).all())


# --------------------------------------------------------------------------------------------
# Documents
# --------------------------------------------------------------------------------------------


def cell(row: dict[str, Any], key: str) -> Any:
    """A column's value as shown: rates in percent, no satisfaction as “—”."""
    value = row.get(key)
    if key in ("hold_rate", "answer_rate", "satisfaction"):
        return "—" if value is None else f"{value * 100:.1f}%"
    return "" if value is None else value


def title_of(b: Bulletin, campaign: Campaign) -> str:
    """The bulletin's heading."""
    return f"政府开放日工作通报（{day_zh(b.week_start)}起一周）"


def docx(b: Bulletin, campaign: Campaign) -> bytes:
    """The bulletin as .docx: heading, the counting rule, the ranking table, 约谈."""
    from docx import Document  # imported when a bulletin is downloaded

    doc = Document()
    doc.add_heading(title_of(b, campaign), level=1)
    doc.add_paragraph(
        f"{campaign.issuing_office} · {campaign.doc_number} · 统计截至 {day_zh(b.as_of)}"
    )
    doc.add_paragraph(
        "得分 = 按时开展率 × 50 + 按时答复率 × 50；同分时逾期事项少者在前。"
        "逾期事项含逾期未开展的活动、逾期未答复的意见和逾期未报送的总结。"
    )
    table = doc.add_table(rows=1, cols=len(COLUMNS))
    table.style = "Table Grid"
    for i, (_, label) in enumerate(COLUMNS):
        table.rows[0].cells[i].text = label
    for r in b.rows:
        cells = table.add_row().cells
        for i, (key, _) in enumerate(COLUMNS):
            cells[i].text = str(cell(r, key))
    interview = [r["unit_name"] for r in b.rows if r.get("interview")]
    doc.add_heading("约谈", level=2)
    doc.add_paragraph("、".join(interview) + " 列入约谈。" if interview else "本周无单位列入约谈。")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def xlsx(b: Bulletin, campaign: Campaign) -> bytes:
    """The bulletin as .xlsx: one sheet, a header row and a row per unit, best first."""
    from openpyxl import Workbook  # imported when a bulletin is downloaded

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "通报"
    sheet.append([label for _, label in COLUMNS])
    for r in b.rows:
        sheet.append([cell(r, key) for key, _ in COLUMNS])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
