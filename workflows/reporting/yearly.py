"""Year over year (issue 30): each unit and the district, this year's campaign against earlier
years' — events held on time, answers on time, working days late, escalations, assessment score
— and which units improved or fell back.

Each year's figures are the campaign report's and the assessment's own (`reports.collect`,
`assessment.score_unit`): one set of aggregate queries per year, whatever the number of units,
so nothing is counted twice or differently. A year is the calendar year a campaign starts in;
with several campaigns in one year the latest counts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from models import Campaign
from workflows.accounts import districts, unit_history
from workflows.campaign import service as campaigns
from workflows.kernel.visibility import Actor, UnitScope, in_districts, scope
from workflows.reporting import assessment, reports
from workflows.reporting.exports import Column, Sheet


@dataclass(frozen=True)
class Metric:
    """One compared figure: key, Chinese label, suffix, and whether more is better."""

    key: str
    label: str
    suffix: str
    higher_is_better: bool


METRICS = [
    Metric("held_on_time_rate", "按期开展率", "%", True),
    Metric("answered_on_time_rate", "按时答复率", "%", True),
    Metric("workdays_late", "累计超期工作日", "", False),
    Metric("escalations", "催办次数", "", False),
    Metric("score", "考核得分", "", True),
]
MAX_YEARS = 5
# A unit whose score moved by at least this many points improved or fell back; less is steady.
TREND_POINTS = 1.0
TREND_ZH = {
    "improved": "进步",
    "fell_back": "退步",
    "steady": "持平",
    "new": "新参加",
    "absent": "本年未参加",
}


def _rate(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def figures(counts: Mapping[str, int], score: float | None) -> dict[str, Any]:
    """A unit's (or the district's) compared figures from its report row and score."""
    answers_due = counts["answered"] + counts["open_overdue"]
    return {
        "held_on_time_rate": _rate(counts["held_on_time"], counts["due"]),
        "answered_on_time_rate": _rate(counts["answered_on_time"], answers_due),
        "workdays_late": counts["workdays_late"],
        "escalations": counts["escalations_level_1"] + counts["escalations_level_2"],
        "score": score,
        # what the rates are counted of, for the reader
        "due": counts["due"],
        "held_on_time": counts["held_on_time"],
        "answers_due": answers_due,
        "answered_on_time": counts["answered_on_time"],
    }


def campaigns_by_year(
    session: Session, actor: Actor, campaign_id: int | None, max_years: int = MAX_YEARS
) -> list[Campaign]:
    """One district's campaigns, one per year, oldest first, ending with `campaign_id`'s year
    (default: the newest campaign the actor sees), at most `max_years` years."""
    stmt = select(Campaign).order_by(col(Campaign.starts_on), col(Campaign.id))
    rows = session.exec(in_districts(stmt, actor, Campaign.district_id)).all()
    last = (
        campaigns.get(session, campaign_id, actor) if campaign_id else (rows[-1] if rows else None)
    )
    if last is None:
        return []
    rows = [c for c in rows if c.district_id == last.district_id]
    by_year: dict[int, Campaign] = {}
    for c in rows:
        if c.starts_on.year <= last.starts_on.year:
            by_year[c.starts_on.year] = c
    by_year[last.starts_on.year] = last
    return [by_year[y] for y in sorted(by_year)][-max_years:]


def _year(
    session: Session, campaign: Campaign, now: datetime, unit_id: UnitScope, merged: dict[int, int]
) -> Any:
    """One year's rows: (year, campaign, {unit_id: (name, figures)}, district figures). A unit
    since merged into another counts as that one (`merged`): their counts add up, their scores
    average, and the row names each under the name it had that year."""
    assert campaign.id is not None
    facts = reports.collect(session, campaign.id, now, unit_id=unit_id)
    rules = facts.rules.scoring
    parts: dict[int, list[tuple[str, Counter[str], float]]] = {}
    for u in facts.units.values():
        score = assessment.unit_score(u, rules)
        counts = Counter({k: v for k, v in u.row().items() if isinstance(v, int)})
        parts.setdefault(merged.get(u.unit_id, u.unit_id), []).append((u.unit_name, counts, score))
    units: dict[int, tuple[str, dict[str, Any]]] = {}
    for key, rows in parts.items():
        counts = sum((c for _, c, _ in rows), Counter())
        mean = round(sum(s for _, _, s in rows) / len(rows), 2)
        units[key] = ("、".join(n for n, _, _ in rows), figures(counts, mean))
    scores = [s for rows in parts.values() for _, _, s in rows]
    totals = reports.report(facts)["totals"]
    district = round(sum(scores) / len(scores), 2) if scores else None
    return campaign.starts_on.year, campaign, units, figures(totals, district), facts.office


def trend(previous: float | None, latest: float | None) -> str:
    """improved / fell_back / steady by the score, or new without an earlier year."""
    if previous is None or latest is None:
        return "new"
    if latest - previous >= TREND_POINTS:
        return "improved"
    if previous - latest >= TREND_POINTS:
        return "fell_back"
    return "steady"


def _trend_of(earlier: dict[str, Any] | None, latest: dict[str, Any] | None) -> str:
    """The unit's trend; `absent` when it took no part in the latest year."""
    if latest is None:
        return "absent"
    return trend(earlier["score"] if earlier else None, latest["score"])


def _changes(earlier: dict[str, Any] | None, latest: dict[str, Any] | None) -> dict[str, Any]:
    """Each metric's change from the earlier year to the latest (None where either is missing),
    and whether it is for the better."""
    out: dict[str, Any] = {}
    for m in METRICS:
        a = earlier.get(m.key) if earlier else None
        b = latest.get(m.key) if latest else None
        delta = None if a is None or b is None else round(b - a, 2)
        better = None if not delta else (delta > 0) == m.higher_is_better
        out[m.key] = {"delta": delta, "better": better}
    return out


def _unit_rows(years: list[Any]) -> list[dict[str, Any]]:
    """A row per unit seen in any year: its figures per year, its change from the year before
    the latest it took part in, and its trend."""
    ids: dict[int, None] = {}
    for _, _, units, _, _ in years:
        ids.update(dict.fromkeys(units))
    out = []
    for unit_id in ids:
        per_year = [
            {"year": y, "unit_name": units[unit_id][0], **units[unit_id][1]}
            for y, _, units, _, _ in years
            if unit_id in units
        ]
        latest = per_year[-1] if per_year[-1]["year"] == years[-1][0] else None
        earlier = per_year[-2] if latest and len(per_year) > 1 else None
        out.append(
            {
                "unit_id": unit_id,
                "unit_name": per_year[-1]["unit_name"],
                "years": per_year,
                "change": _changes(earlier, latest),
                "trend": _trend_of(earlier, latest),
            }
        )
    return out


def compare(
    session: Session,
    actor: Actor,
    now: datetime,
    campaign_id: int | None = None,
    max_years: int = MAX_YEARS,
) -> dict[str, Any]:
    """The year-over-year comparison as `actor` may see it (staff: their own unit's rows)."""
    unit_id = scope(actor, None)
    merged = unit_history.survivors(session)
    years = [
        _year(session, c, now, unit_id, merged)
        for c in campaigns_by_year(session, actor, campaign_id, max_years)
    ]
    units = _unit_rows(years)
    units.sort(key=lambda u: -(u["change"]["score"]["delta"] or 0))
    district = [{"year": y, **d} for y, _, _, d, _ in years]
    # The district as its office names it (全区, 全县, 全市), from the latest year's campaign.
    whole = districts.whole_of(years[-1][4]) if years else "全区"
    return {
        "whole": whole,
        "as_of": now,
        "years": [
            {
                "year": y,
                "campaign_id": c.id,
                "doc_number": c.doc_number,
                "title": c.title,
                "closed": c.closed_at is not None,
            }
            for y, c, _, _, _ in years
        ],  # fmt: skip
        "metrics": [m.__dict__ for m in METRICS],
        "trend_points": TREND_POINTS,
        "district": district,
        "district_change": _changes(*district[-2:]) if len(district) > 1 else _changes(None, None),
        "units": units,
        "improved": [u["unit_name"] for u in units if u["trend"] == "improved"],
        "fell_back": [u["unit_name"] for u in units if u["trend"] == "fell_back"],
    }


def _cells(fig: dict[str, Any] | None) -> list[Any]:
    return [fig.get(m.key) if fig else None for m in METRICS]


def sheet(data: dict[str, Any]) -> Sheet:
    """The comparison as one sheet: a row per unit, then the district; under each year its
    five figures, then the score's change and the trend."""
    years = [y["year"] for y in data["years"]]
    columns = [Column("责任单位", 20)]
    for _ in years:
        columns += [Column(m.label + (f"（{m.suffix}）" if m.suffix else ""), 12) for m in METRICS]
    columns += [Column("得分变化", 10), Column("趋势", 8)]
    rows = []
    for u in data["units"]:
        by_year = {f["year"]: f for f in u["years"]}
        cells = [c for y in years for c in _cells(by_year.get(y))]
        rows.append(
            [
                u["unit_name"],
                *cells,
                u["change"]["score"]["delta"],
                TREND_ZH[u["trend"]],
            ]
        )
    district = {d["year"]: d for d in data["district"]}
    cells = [c for y in years for c in _cells(district.get(y))]
    rows.append([data["whole"], *cells, data["district_change"]["score"]["delta"], ""])
    groups: list[tuple[str | None, int]] = [(None, 1)]
    groups += [(f"{y}年", len(METRICS)) for y in years]
    groups += [(None, 1), (None, 1)]
    return Sheet("逐年对比", columns, rows, "yearly", groups=groups)
