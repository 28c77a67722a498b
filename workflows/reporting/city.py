"""全市对比 (issue 28): the districts side by side for the city's supervisors.

Each district's campaign of the year asked for (its latest when it ran several; its latest of
all without a year) in one row: events held on time, answers on time and late, opinions overdue
now, working days late, escalations by level, satisfaction and the assessment's scores, with
the districts ranked by their units' mean score and each row linking to the district's own
report (`/board/report?campaign=…`). The figures are the campaign report's own totals
(workflows/reporting/reports.py), read as the caller may see them: through the one visibility
rule, so a district's supervisor gets its own row only and a city supervisor every district.
The districts' campaigns are collected together (`reports.collect_many`): each of the report's
queries once for the whole city, not once per district.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import Campaign, District
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import Actor, in_districts, scope
from workflows.reporting import assessment, reports
from workflows.reporting.exports import Column, Sheet
from workflows.reporting.ratings import satisfaction_share

# The report's totals compared, in the page's and the workbook's order.
COUNTS: list[tuple[str, str]] = [
    ("events", "活动数"),
    ("due", "已到期"),
    ("held_on_time", "按期开展"),
    ("held_late", "逾期开展"),
    ("not_held_overdue", "逾期未开展"),
    ("opinions", "意见建议"),
    ("answered", "已答复"),
    ("answered_on_time", "按时答复"),
    ("answered_late", "逾期答复"),
    ("open_overdue", "逾期未答复"),
    ("workdays_late", "累计超期工作日"),
    ("escalations_level_1", "一级催办"),
    ("escalations_level_2", "二级催办"),
]


@dataclass
class DistrictRow:
    """One district's line: its campaign (None: it has none in the year) and figures."""

    district_id: int
    code: str
    name: str
    campaign_id: int | None = None
    campaign_title: str = ""
    units: int = 0
    counts: dict[str, int] | None = None
    held_share: str = "—"
    answer_share: str = "—"
    satisfaction: str = "—"
    mean_score: float | None = None
    lowest_score: float | None = None
    rank: int | None = None

    @property
    def link(self) -> str | None:
        """The district's own report (the drill-down)."""
        return None if self.campaign_id is None else f"/board/report?campaign={self.campaign_id}"


def _share(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)}%" if whole else "—"


def require_reader(actor: Actor) -> None:
    """The comparison is the supervisors' (a city supervisor's every district, a district
    supervisor's own): 403 `supervisor_required` for anyone else."""
    if not actor.is_supervisor:
        raise Forbidden(
            "supervisor_required",
            "仅督查人员可查看全市对比",
            "only supervisors may read the city comparison",
        )


def years(session: Session, actor: Actor) -> list[int]:
    """The years of the campaigns the caller sees, newest first."""
    stmt = in_districts(select(Campaign.starts_on), actor, Campaign.district_id)
    return sorted({d.year for d in session.exec(stmt).all()}, reverse=True)


def compare(session: Session, actor: Actor, now: datetime, year: int | None = None) -> dict:
    """Every district the caller sees, ranked by its units' mean score (districts without a
    campaign in the year last), with the city's totals."""
    require_reader(actor)
    districts = session.exec(
        in_districts(select(District), actor, District.id).order_by(col(District.id))
    ).all()
    stmt = in_districts(select(Campaign), actor, Campaign.district_id)
    latest: dict[int, Campaign] = {}
    for c in session.exec(stmt.order_by(col(Campaign.starts_on), col(Campaign.id))).all():
        if year is None or c.starts_on.year == year:
            latest[c.district_id] = c  # the last one wins: the district's latest
    # Every district's campaign in one pass: each of the report's queries is sent once for all
    # of them (not once per district), through the caller's unit scope.
    chosen = [latest[d.id] for d in districts if d.id in latest]
    facts = reports.collect_many(session, chosen, now, unit_id=scope(actor, None))
    rows = [_row(d, latest.get(d.id or 0), facts) for d in districts]
    _rank(rows)
    totals = {k: sum((r.counts or {}).get(k, 0) for r in rows) for k, _ in COUNTS}
    return {
        "year": year,
        "as_of": now,
        "rows": rows,
        "totals": totals,
        "held_share": _share(totals["held_on_time"], totals["due"]),
        "answer_share": _share(totals["answered_on_time"], totals["answered"]),
    }


def _row(
    district: District, campaign: Campaign | None, collected: dict[int, reports.Facts]
) -> DistrictRow:
    assert district.id is not None
    row = DistrictRow(district.id, district.code, district.name)
    if campaign is None or campaign.id is None:
        return row
    facts = collected[campaign.id]
    totals = reports.report(facts)["totals"]
    rules = facts.rules.scoring
    scores = [assessment.unit_score(u, rules) for u in facts.units.values()]
    row.campaign_id, row.campaign_title = campaign.id, campaign.title
    row.units = len(facts.units)
    row.counts = {k: int(totals.get(k, 0)) for k, _ in COUNTS}
    row.held_share = _share(totals["held_on_time"], totals["due"])
    row.answer_share = _share(totals["answered_on_time"], totals["answered"])
    row.satisfaction = satisfaction_share(totals)
    if scores:
        row.mean_score = round(sum(scores) / len(scores), 1)
        row.lowest_score = min(scores)
    return row


def _rank(rows: list[DistrictRow]) -> None:
    """Best mean score first; ties share a rank; districts without scores last, unranked."""
    rows.sort(key=lambda r: (r.mean_score is None, -(r.mean_score or 0), r.district_id))
    rank, previous = 0, None
    for i, r in enumerate(rows, start=1):
        if r.mean_score is None:
            continue
        if r.mean_score != previous:
            rank, previous = i, r.mean_score
        r.rank = rank


HEADERS = [
    Column("排名", 6),
    Column("区县", 12),
    Column("活动批次", 30),
    Column("单位数", 8),
    *(Column(label, 10) for _, label in COUNTS),
    Column("按期开展率", 10),
    Column("按时答复率", 10),
    Column("满意率", 8),
    Column("平均得分", 10),
    Column("最低得分", 10),
]


def sheet(data: dict[str, Any]) -> Sheet:
    """The comparison as one worksheet (a row per district, then the city's totals)."""
    lines: list[list[Any]] = [
        [r.rank or "—", r.name, r.campaign_title or "本年度无活动批次", r.units,
         *((r.counts or {}).get(k, "—") for k, _ in COUNTS), r.held_share, r.answer_share,
         r.satisfaction, "—" if r.mean_score is None else r.mean_score,
         "—" if r.lowest_score is None else r.lowest_score]
        for r in data["rows"]
    ]  # fmt: skip
    lines.append(
        ["", "全市合计", "", sum(r.units for r in data["rows"]),
         *(data["totals"][k] for k, _ in COUNTS), data["held_share"], data["answer_share"],
         "", "", ""]
    )  # fmt: skip
    return Sheet("全市对比", HEADERS, lines, "city-comparison")
