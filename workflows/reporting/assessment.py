"""The transparency assessment (政务公开考核): a score per unit, every deduction traced to its
record and to the sentence of the notice it comes from.

Scores are recomputed from the campaign's facts (workflows/reporting/reports.py) and its scoring
rules (workflows/campaign/scoring.py) each time they are read, so changing the rules changes the
scores at once and nothing stored can drift from the records. Not holding an event costs more
than anything a held event can cost (answers and rounds are capped per event), so a unit that
held ranks above one that did not hold the same event.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from workflows.campaign.scoring import CRITERIA, GROUPS, ScoringRules
from workflows.kernel.daywords import day_zh
from workflows.kernel.visibility import SOLE_OFFICE
from workflows.reporting.exports import Column, Sheet
from workflows.reporting.reports import Facts, UnitFacts

SPOT_CRITERIA = {
    "needs_improvement": "spot_check_needs_improvement",
    "unsatisfactory": "spot_check_unsatisfactory",
}
FLAG_CRITERIA = {
    "citizen_share": "citizen_share_missed",
    "invitee_count": "invitee_count_off",
    "leader": "leader_absent",
}  # a form held outside the notice's list (issue 30) is flagged and shown, not deducted
RESULT_ZH = {"needs_improvement": "需整改", "unsatisfactory": "不合格"}

Record = dict[str, Any]


def _not_held(r: Record) -> str:
    cancelled = ""
    if r.get("cancelled"):
        why = r.get("cancel_reason")
        cancelled = f"已取消（理由：{why}；取消等同未开展），" if why else "已取消，"
    return f"活动 {r['event_id']} 应于{day_zh(r['due_on'])}前开展，{cancelled}未开展"


def _flagged(r: Record) -> str:
    return f"活动 {r['event_id']}：" + "；".join(
        f"{f.get('badge', '')}（{'开展时' if f.get('at') == 'hold' else '发出邀请时'}）"
        for f in r["flags"]
    )


# (the facts' list, its criterion — fixed or read from the record, why in Chinese)
OCCURRENCES: list[tuple[str, Callable[[Record], str], Callable[[Record], str]]] = [
    ("not_held", lambda r: "event_not_held", _not_held),
    (
        "held_late",
        lambda r: "event_not_held_on_time",
        lambda r: (
            f"活动 {r['event_id']} 应于{day_zh(r['due_on'])}前开展，实际{day_zh(r['held_on'])}"
        ),
    ),
    ("flagged", lambda r: FLAG_CRITERIA.get(r["rule"], ""), _flagged),
    (
        "late_summaries",
        lambda r: "late_summary",
        lambda r: f"活动 {r['event_id']} 总结逾期 {r['late_hours']} 小时报送（日志 {r['log_id']}）",
    ),
    (
        "summary_missing",
        lambda r: "summary_missing",
        lambda r: f"活动 {r['event_id']} 总结应于{day_zh(r['due_on'])}前报送，至今未报送",
    ),
    (
        "late_answers",
        lambda r: "late_answer",
        lambda r: (
            f"意见 {r['item_id']}（活动 {r['event_id']}）"
            + (f"{day_zh(r['answered_on'])}答复，" if r.get("answered_on") else "")
            + f"逾期 {r['workdays_late']} 个工作日"
            + (f"（{r['backdated']}）" if r.get("backdated") else "")
        ),
    ),
    (
        "open_overdue",
        lambda r: "unanswered_overdue",
        lambda r: (
            f"意见 {r['item_id']}（活动 {r['event_id']}）"
            f"应于{day_zh(r['due_on'])}前答复，至今未答复"
        ),
    ),
    (
        "dissatisfied",
        lambda r: "dissatisfied",
        lambda r: (
            f"意见 {r['item_id']}（活动 {r['event_id']}）第 {r['round']} 次答复回访不满意"
            + (f"：“{r['comment']}”" if r.get("comment") else "")
        ),
    ),
    (
        "reworks",
        lambda r: "rework",
        lambda r: f"活动 {r['event_id']} 总结被退回整改（日志 {r['log_id']}）",
    ),
    (
        "spot_checks",
        lambda r: SPOT_CRITERIA[r["result"]],
        lambda r: f"活动 {r['event_id']} 第 {r['round']} 轮抽查：{RESULT_ZH[r['result']]}",
    ),
    (
        "visit_problems",
        lambda r: "visit_problem",
        lambda r: (
            f"活动 {r['event_id']} {day_zh(r['visited_on'])}现场走访发现问题"
            + (f"（第 {r['round']} 轮抽查）" if r.get("round") else "")
            + f"：{r['findings']}"
        ),
    ),
    (
        "rectifications_overdue",
        lambda r: "rectification_overdue",
        lambda r: (
            f"活动 {r['event_id']} 第 {r['round']} 轮抽查的整改通知（编号 "
            f"{r['rectification_id']}）应于{day_zh(r['due_on'])}前报送整改情况，"
            + ("逾期报送" if r["reported"] else "至今未报送")
        ),
    ),
]


def _taken(
    u: UnitFacts, rules: ScoringRules
) -> Iterator[tuple[str, Record, Callable[[Record], str], float]]:
    """(criterion, record, its sentence's writer, points taken once the caps apply) for
    everything a unit may lose points for; the sentence is written only for what is shown."""
    ledger = _Ledger(rules)
    for attribute, criterion_of, why in OCCURRENCES:
        for record in getattr(u, attribute):
            criterion = criterion_of(record)
            if criterion in CRITERIA:
                yield criterion, record, why, ledger.take(criterion, record.get("event_id"))


class _Ledger:
    """Points taken so far, per criterion (the unit's caps) and per event and group (the
    per-event caps)."""

    def __init__(self, rules: ScoringRules) -> None:
        self.rules = rules
        self.by_criterion: dict[str, float] = {}
        self.by_event: dict[tuple[str, Any], float] = {}

    def take(self, criterion: str, event_id: Any) -> float:
        """The points this occurrence costs once the caps are applied (0: nothing left)."""
        points = float(self.rules.deductions.get(criterion, 0))
        group = CRITERIA[criterion].group
        if group is not None and group in self.rules.event_caps:
            left = self.rules.event_caps[group] - self.by_event.get((group, event_id), 0.0)
            points = min(points, left)
        cap = self.rules.caps.get(criterion)
        if cap is not None:
            points = min(points, cap - self.by_criterion.get(criterion, 0.0))
        points = max(0.0, points)
        if points > 0:
            self.by_criterion[criterion] = self.by_criterion.get(criterion, 0.0) + points
            if group is not None:
                key = (group, event_id)
                self.by_event[key] = self.by_event.get(key, 0.0) + points
        return points


def _deduction(criterion: str, points: float, record: Record, why: str) -> dict[str, Any]:
    c = CRITERIA[criterion]
    return {
        "criterion": criterion,
        "criterion_zh": c.label,
        "points": points,
        "event_id": record.get("event_id"),
        "item_id": record.get("item_id"),
        "record": record,
        "reason": why,
        "source": c.source.text,
        "source_where": c.source.where,
    }


def waivers(u: UnitFacts, office: str = SOLE_OFFICE) -> list[dict[str, Any]]:
    """Cancellations a supervisor exempted (不计扣分): shown where the not-held deduction would
    be, with the reason instead of the points; `office` the district office that approved."""
    c = CRITERIA["event_not_held"]
    return [
        {
            "criterion": "event_not_held",
            "criterion_zh": c.label,
            "points": 0,
            "event_id": r["event_id"],
            "item_id": None,
            "record": r,
            "reason": (
                f"活动 {r['event_id']} 已取消（理由：{r['reason']}），"
                f"经{office}批准不计扣分：{r['exempt_reason'] or ''}"
            ),
            "source": c.source.text,
            "source_where": c.source.where,
        }
        for r in u.cancellations
        if r["exempt"]
    ]


def score_unit(u: UnitFacts, rules: ScoringRules, office: str = SOLE_OFFICE) -> dict[str, Any]:
    """One unit's score: full marks less each deduction (capped per event and per unit), never
    below 0; exempt cancellations listed in `waived`, costing nothing (`office`: the district
    office that exempted them, in words)."""
    deductions = [
        _deduction(criterion, points, record, why(record))
        for criterion, record, why, points in _taken(u, rules)
        if points > 0
    ]
    lost = sum(d["points"] for d in deductions)
    return {
        "unit_id": u.unit_id,
        "unit_name": u.unit_name,
        "unit_kind": u.unit_kind,
        "base_points": rules.base_points,
        "deducted": round(lost, 2),
        "score": round(max(0.0, rules.base_points - lost), 2),
        "deductions": deductions,
        "waived": waivers(u, office),
    }


def unit_score(u: UnitFacts, rules: ScoringRules) -> float:
    """`score_unit`'s score alone: the same occurrences through the same caps, without the
    deductions' sentences (全市对比 ranks 400 units' scores and shows none of them)."""
    lost = sum(points for *_, points in _taken(u, rules))
    return round(max(0.0, rules.base_points - lost), 2)


def criteria(rules: ScoringRules) -> dict[str, dict[str, Any]]:
    """Every criterion with its points, what it is counted per, its per-event cap and the
    notice's sentence."""
    return {
        key: {
            "label": c.label,
            "per": c.per,
            "points": rules.deductions.get(key, 0),
            "group": c.group,
            "event_cap": rules.event_caps.get(c.group) if c.group else None,
            "source": c.source.text,
            "source_where": c.source.where,
        }
        for key, c in CRITERIA.items()
    }


def assess(facts: Facts) -> dict[str, Any]:
    """Scores of every unit, ranked (ties share a rank, then by unit name)."""
    rules = facts.rules.scoring
    scores = [score_unit(u, rules, facts.office) for u in facts.units.values()]
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
        "criteria": criteria(rules),
        "groups": {
            g: {"label": label, "event_cap": rules.event_caps.get(g)} for g, label in GROUPS.items()
        },  # fmt: skip
        "units": scores,
    }


def sheets(data: dict[str, Any]) -> list[Sheet]:
    """The ranking, and every deduction with the record it names and the notice's sentence."""
    ranking = Sheet(
        "考核得分",
        [Column("排名", 6), Column("责任单位", 20), Column("满分", 8), Column("扣分", 8),
         Column("得分", 8), Column("扣分项数", 10)],
        [[s["rank"], s["unit_name"], s["base_points"], s["deducted"], s["score"],
          len(s["deductions"])] for s in data["units"]],
        "assessment",
    )  # fmt: skip
    detail = Sheet(
        "扣分明细",
        [Column("责任单位", 20), Column("考核项", 20), Column("扣分", 8), Column("活动编号", 10),
         Column("意见编号", 10), Column("说明", 60), Column("依据（通知原文）", 60)],
        [[s["unit_name"], d["criterion_zh"], d["points"], d["event_id"], d["item_id"],
          d["reason"], f"{d['source_where']}：{d['source']}"]
         for s in data["units"] for d in [*s["deductions"], *s.get("waived", [])]],
        "assessment",
    )  # fmt: skip
    return [ranking, detail]
