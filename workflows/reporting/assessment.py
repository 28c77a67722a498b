"""The transparency assessment (政务公开考核): a score per unit, every deduction traced.

Scores are recomputed from the campaign's facts (workflows/reporting/reports.py) and its scoring
rules (workflows/campaign/scoring.py) each time they are read, so changing the rules changes the
scores at once and nothing stored can drift from the records.
"""

from __future__ import annotations

from typing import Any

from workflows.campaign.scoring import CRITERIA, ScoringRules
from workflows.reporting.exports import Column, Sheet
from workflows.reporting.reports import Facts, UnitFacts

SPOT_CRITERIA = {
    "needs_improvement": "spot_check_needs_improvement",
    "unsatisfactory": "spot_check_unsatisfactory",
}


Occurrence = tuple[str, dict[str, Any], str]  # (criterion, record, why in Chinese)


def _occurrences(u: UnitFacts) -> list[Occurrence]:
    """(criterion, record, why in Chinese) for everything a unit may lose points for."""
    return _event_occurrences(u) + _answer_occurrences(u) + _summary_occurrences(u)


def _event_occurrences(u: UnitFacts) -> list[Occurrence]:
    """Events held late or not at all, and too few citizens among those who came."""
    out: list[Occurrence] = []
    for r in u.held_late:
        out.append(
            (
                "event_not_held_on_time",
                r,
                f"活动 {r['event_id']} 应于 {r['due_on']} 前开展，实际 {r['held_on']}",
            )
        )
    for r in u.not_held:
        out.append(
            (
                "event_not_held_on_time",
                r,
                f"活动 {r['event_id']} 应于 {r['due_on']} 前开展，至今未开展",
            )
        )
    for r in u.citizen_short:
        out.append(
            (
                "citizen_share_missed",
                r,
                f"活动 {r['event_id']} 出席 {r['attended']} 人，市民代表 {r['citizens']} 人，"
                f"应不少于 {r['needed']} 人",
            )
        )
    return out


def _answer_occurrences(u: UnitFacts) -> list[Occurrence]:
    """Opinions answered late, and overdue ones still unanswered."""
    out: list[Occurrence] = []
    for r in u.late_answers:
        out.append(
            (
                "late_answer",
                r,
                f"意见 {r['item_id']}（活动 {r['event_id']}）逾期 {r['workdays_late']} "
                "个工作日答复",
            )
        )
    for r in u.open_overdue:
        out.append(
            (
                "unanswered_overdue",
                r,
                f"意见 {r['item_id']}（活动 {r['event_id']}）应于 {r['due_on']} 前答复，至今未答复",
            )
        )
    return out


def _summary_occurrences(u: UnitFacts) -> list[Occurrence]:
    """Summaries submitted late or sent back, and spot checks that found fault."""
    out: list[Occurrence] = []
    for r in u.late_summaries:
        out.append(
            (
                "late_summary",
                r,
                f"活动 {r['event_id']} 总结逾期 {r['late_hours']} 小时报送（日志 {r['log_id']}）",
            )
        )
    for r in u.reworks:
        out.append(("rework", r, f"活动 {r['event_id']} 总结被退回整改（日志 {r['log_id']}）"))
    for r in u.spot_checks:
        criterion = SPOT_CRITERIA.get(r["result"])
        if criterion:
            out.append(
                (
                    criterion,
                    r,
                    f"活动 {r['event_id']} 第 {r['round']} 轮抽查：{CRITERIA[criterion][0]}",
                )
            )
    return out


def score_unit(u: UnitFacts, rules: ScoringRules) -> dict[str, Any]:
    """One unit's score: full marks less each deduction (capped per criterion), never below 0."""
    taken: dict[str, float] = {}
    deductions: list[dict[str, Any]] = []
    for criterion, record, why in _occurrences(u):
        points = float(rules.deductions.get(criterion, 0))
        cap = rules.caps.get(criterion)
        if cap is not None:
            points = max(0.0, min(points, cap - taken.get(criterion, 0.0)))
        if points <= 0:
            continue
        taken[criterion] = taken.get(criterion, 0.0) + points
        deductions.append(
            {
                "criterion": criterion,
                "criterion_zh": CRITERIA[criterion][0],
                "points": points,
                "event_id": record.get("event_id"),
                "item_id": record.get("item_id"),
                "record": record,
                "reason": why,
            }
        )
    lost = sum(d["points"] for d in deductions)
    return {
        "unit_id": u.unit_id,
        "unit_name": u.unit_name,
        "unit_kind": u.unit_kind,
        "base_points": rules.base_points,
        "deducted": round(lost, 2),
        "score": round(max(0.0, rules.base_points - lost), 2),
        "deductions": deductions,
    }


def assess(facts: Facts) -> dict[str, Any]:
    """Scores of every unit, ranked (ties share a rank, then by unit name)."""
    rules = facts.rules.scoring
    scores = [score_unit(u, rules) for u in facts.units.values()]
    scores.sort(key=lambda s: (-s["score"], s["unit_name"]))
    rank, previous = 0, None
    for i, s in enumerate(scores, start=1):
        if s["score"] != previous:
            rank, previous = i, s["score"]
        s["rank"] = rank
    return {
        "campaign_id": facts.campaign.id,
        "as_of": facts.now,
        "rules": rules.model_dump(),
        "criteria": {k: {"label": v[0], "per": v[1]} for k, v in CRITERIA.items()},
        "units": scores,
    }


def sheets(data: dict[str, Any]) -> list[Sheet]:
    """The ranking, and every deduction with the record it names."""
    ranking = Sheet(
        "考核得分",
        [
            Column("排名", 6),
            Column("责任单位", 20),
            Column("满分", 8),
            Column("扣分", 8),
            Column("得分", 8),
            Column("扣分项数", 10),
        ],
        [
            [
                s["rank"],
                s["unit_name"],
                s["base_points"],
                s["deducted"],
                s["score"],
                len(s["deductions"]),
            ]
            for s in data["units"]
        ],
        "assessment",
    )
    detail = Sheet(
        "扣分明细",
        [
            Column("责任单位", 20),
            Column("考核项", 20),
            Column("扣分", 8),
            Column("活动编号", 10),
            Column("意见编号", 10),
            Column("说明", 60),
        ],
        [
            [
                s["unit_name"],
                d["criterion_zh"],
                d["points"],
                d["event_id"],
                d["item_id"],
                d["reason"],
            ]
            for s in data["units"]
            for d in s["deductions"]
        ],
        "assessment",
    )
    return [ranking, detail]
