"""Scoring rules of the transparency assessment (政务公开考核), a campaign setting.

Each criterion is a deduction with the notice's sentence it comes from. Not holding an event is
the heaviest: whatever a held event costs (each criterion once per event, answers and rounds
capped per event) stays below what not holding costs, so a unit that held never ranks below one
that did not hold the same event (checked when rules are written).

Kept apart from workflows/reporting/assessment.py so that CampaignRules (rules.py) can hold them
without importing the report machinery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflows.campaign import notice
from workflows.kernel.errors import InvalidData


@dataclass(frozen=True)
class Criterion:
    """A deduction: its Chinese label, what it is counted per, the notice's sentence, and the
    group whose total is capped per event (None: counted once per event at most)."""

    label: str
    per: str
    source: notice.Sentence
    group: str | None = None


CRITERIA: dict[str, Criterion] = {
    "event_not_held": Criterion("活动未开展", "每个活动", notice.COMPLETE),
    "event_not_held_on_time": Criterion("活动逾期开展", "每个活动", notice.SCHEDULE),
    "citizen_share_missed": Criterion("市民代表比例不足", "每个活动", notice.CITIZEN_SHARE),
    "invitee_count_off": Criterion("邀请人数偏离", "每个活动", notice.INVITEE_COUNT),
    "leader_absent": Criterion("无主要或分管负责人面对面沟通", "每个活动", notice.LEADER),
    "late_summary": Criterion("总结逾期报送", "每个活动", notice.SUMMARY),
    "summary_missing": Criterion("总结逾期未报送", "每个活动", notice.SUMMARY),
    "late_answer": Criterion("意见逾期答复", "每条意见", notice.ANSWERS, "answers"),
    "unanswered_overdue": Criterion("意见逾期未答复", "每条意见", notice.ANSWERS, "answers"),
    # 回访 (issue 26): an answer the person rated 不满意, unless a supervisor upheld the appeal.
    "dissatisfied": Criterion("回访不满意", "每次评价", notice.ANSWERS, "answers"),
    "rework": Criterion("总结被退回整改", "每次退回", notice.SPOT_CHECK, "rounds"),
    "spot_check_needs_improvement": Criterion(
        "抽查需整改", "每轮抽查", notice.SPOT_CHECK, "rounds"
    ),
    "spot_check_unsatisfactory": Criterion("抽查不合格", "每轮抽查", notice.SPOT_CHECK, "rounds"),
    # A visit whose findings are marked a problem, and a rectification not reported by its due
    # day: what the oversight of one event found, capped with its rounds.
    "visit_problem": Criterion("现场走访发现问题", "每次走访", notice.SPOT_CHECK, "rounds"),
    "rectification_overdue": Criterion("整改逾期", "每份整改通知", notice.ACCOUNTABILITY, "rounds"),
}

# Groups of criteria counted per item or round, with their total capped per event.
GROUPS: dict[str, str] = {"answers": "意见答复", "rounds": "总结退回、抽查、走访与整改"}

DEFAULT_DEDUCTIONS: dict[str, float] = {
    "event_not_held": 40,
    "event_not_held_on_time": 5,
    "citizen_share_missed": 3,
    "invitee_count_off": 2,
    "leader_absent": 2,
    "late_summary": 2,
    "summary_missing": 5,
    "late_answer": 2,
    "unanswered_overdue": 3,
    "dissatisfied": 1,
    "rework": 2,
    "spot_check_needs_improvement": 3,
    "spot_check_unsatisfactory": 10,
    "visit_problem": 2,
    "rectification_overdue": 3,
}
DEFAULT_EVENT_CAPS: dict[str, float] = {"answers": 6, "rounds": 12}
# Criteria a held event cannot meet both of: the summary came late, or not at all.
EXCLUSIVE = ("late_summary", "summary_missing")


class ScoringRules(BaseModel):
    """Full marks, the points taken per occurrence of each criterion, and caps: per event for
    the answers and the rounds, and optionally per unit for any criterion."""

    model_config = ConfigDict(extra="forbid")

    base_points: float = Field(default=100, ge=0, le=10000)
    deductions: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DEDUCTIONS))
    # At most this many points taken for one group of criteria on one event.
    event_caps: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_EVENT_CAPS))
    # At most this many points taken for one criterion from one unit (absent: no cap).
    caps: dict[str, float] = Field(default_factory=dict)

    def held_ceiling(self) -> float:
        """The most a held event can cost: each once-per-event criterion (the summary late or
        missing, not both) and each group up to its cap."""
        d = self.deductions
        once = [k for k, c in CRITERIA.items() if c.group is None and k != "event_not_held"]
        total = sum(d.get(k, 0) for k in once if k not in EXCLUSIVE)
        total += max(d.get(k, 0) for k in EXCLUSIVE)
        return total + sum(self.event_caps.get(g, 0) for g in GROUPS)


def _problem(field: str, zh: str, en: str) -> dict[str, str]:
    return {"field": field, "message": zh, "message_en": en}


def _section_problems(section: str, values: Any, known: dict[str, str]) -> list[dict[str, str]]:
    """Problems of `deductions`, `event_caps` or `caps`: known keys, non-negative numbers."""
    if not isinstance(values, dict):
        return [_problem(section, f"{section} 应为对象", f"{section} must be an object")]
    out = []
    for key, points in values.items():
        where = f"{section}.{key}"
        if key not in known:
            out.append(
                _problem(
                    where,
                    f"未知的考核项“{key}”，可用：" + "、".join(known),
                    f"unknown criterion '{key}'; known: {', '.join(known)}",
                )
            )
        elif not _number(points) or points < 0:
            out.append(
                _problem(
                    where,
                    f"“{known[key]}”的分值不能为负数",
                    f"points for '{key}' must be a non-negative number",
                )
            )
    return out


def _problems(raw: Any) -> list[dict[str, str]]:
    """Every problem with raw scoring rules, in Chinese and English."""
    if not isinstance(raw, dict):
        return [_problem("", "考核规则应为对象", "must be an object")]
    out = [
        _problem(key, f"未知的设置“{key}”", f"unknown setting '{key}'")
        for key in raw
        if key not in ScoringRules.model_fields
    ]
    base = raw.get("base_points", 100)
    if not _number(base) or base < 0:
        out.append(
            _problem(
                "base_points", "满分应为不小于 0 的数", "base_points must be a number not below 0"
            )
        )
    labels = {k: c.label for k, c in CRITERIA.items()}
    out += _section_problems("deductions", raw.get("deductions", {}), labels)
    out += _section_problems("event_caps", raw.get("event_caps", {}), GROUPS)
    out += _section_problems("caps", raw.get("caps", {}), labels)
    return out


def _heaviest(rules: ScoringRules) -> list[dict[str, str]]:
    """Not holding must cost more than the most a held event can cost."""
    ceiling, not_held = rules.held_ceiling(), rules.deductions.get("event_not_held", 0)
    if not_held > ceiling:
        return []
    return [
        _problem(
            "deductions.event_not_held",
            f"“活动未开展”的扣分（{not_held:g}）须高于一个已开展活动最多可扣的分数"
            f"（{ceiling:g}），否则未开展的单位可能排在开展了的单位之前",
            f"points for 'event_not_held' ({not_held:g}) must exceed the most a held event "
            f"can cost ({ceiling:g}), or a unit that did not hold could rank above one that did",
        )
    ]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def validate(raw: Any, *, write: bool = True) -> ScoringRules:
    """Scoring rules from JSON (defaults filling what is missing), or 422
    `scoring_rules_invalid` listing every problem. Rules being written must also keep not
    holding the heaviest deduction; stored rules are read as they are."""
    problems = _problems(raw)
    if not problems:
        try:
            full = {
                **raw,
                "deductions": {**DEFAULT_DEDUCTIONS, **raw.get("deductions", {})},
                "event_caps": {**DEFAULT_EVENT_CAPS, **raw.get("event_caps", {})},
            }
            rules = ScoringRules.model_validate(full)
            problems = _heaviest(rules) if write else []
            if not problems:
                return rules
        except ValidationError as exc:
            problems = [
                _problem(".".join(map(str, e["loc"])), "取值无效", e["msg"]) for e in exc.errors()
            ]
    raise InvalidData(
        "scoring_rules_invalid",
        "考核规则有误：" + "；".join(p["message"] for p in problems),
        "invalid scoring rules: " + "; ".join(p["message_en"] for p in problems),
        details={"problems": problems},
    )


def check(value: Any, *, write: bool = False) -> Any:
    """CampaignRules' validator: a ValueError (pydantic's way) for bad scoring rules."""
    if isinstance(value, ScoringRules):
        if not write:
            return value
        value = value.model_dump()
    try:
        return validate(value, write=write)
    except InvalidData as exc:
        raise ValueError(exc.message_en) from exc
