"""Scoring rules of the transparency assessment (政务公开考核), a campaign setting.

Kept apart from workflows/reporting/assessment.py so that CampaignRules
(workflows/campaign/rules.py) can hold them
without importing the report machinery.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from workflows.kernel.errors import InvalidData

# Criterion → (Chinese label, what one deduction is counted per).
CRITERIA: dict[str, tuple[str, str]] = {
    "event_not_held_on_time": ("活动未按期开展", "每个活动"),
    "citizen_share_missed": ("出席市民代表比例不足", "每个活动"),
    "late_answer": ("意见逾期答复", "每条意见"),
    "unanswered_overdue": ("意见逾期未答复", "每条意见"),
    "late_summary": ("总结逾期报送", "每个活动"),
    "rework": ("总结被退回整改", "每次退回"),
    "spot_check_needs_improvement": ("抽查需整改", "每个活动"),
    "spot_check_unsatisfactory": ("抽查不合格", "每个活动"),
}

DEFAULT_DEDUCTIONS: dict[str, float] = {
    "event_not_held_on_time": 5,
    "citizen_share_missed": 3,
    "late_answer": 2,
    "unanswered_overdue": 3,
    "late_summary": 2,
    "rework": 2,
    "spot_check_needs_improvement": 3,
    "spot_check_unsatisfactory": 10,
}


class ScoringRules(BaseModel):
    """Full marks, the points taken per occurrence of each criterion, and optional caps."""

    model_config = ConfigDict(extra="forbid")

    base_points: float = Field(default=100, ge=0, le=10000)
    deductions: dict[str, float] = Field(default_factory=lambda: dict(DEFAULT_DEDUCTIONS))
    # At most this many points taken for one criterion (absent: no cap).
    caps: dict[str, float] = Field(default_factory=dict)


def _problems(raw: Any) -> list[dict[str, str]]:
    """Every problem with raw scoring rules, in Chinese and English."""
    if not isinstance(raw, dict):
        return [{"field": "", "message": "考核规则应为对象", "message_en": "must be an object"}]
    out: list[dict[str, str]] = []
    for key in raw:
        if key not in ScoringRules.model_fields:
            out.append(
                {
                    "field": key,
                    "message": f"未知的设置“{key}”",
                    "message_en": f"unknown setting '{key}'",
                }
            )
    base = raw.get("base_points", 100)
    if not _number(base) or base < 0:
        out.append(
            {
                "field": "base_points",
                "message": "满分应为不小于 0 的数",
                "message_en": "base_points must be a number not below 0",
            }
        )
    for section in ("deductions", "caps"):
        values = raw.get(section, {})
        if not isinstance(values, dict):
            out.append(
                {
                    "field": section,
                    "message": f"{section} 应为对象",
                    "message_en": f"{section} must be an object",
                }
            )
            continue
        for criterion, points in values.items():
            where = f"{section}.{criterion}"
            if criterion not in CRITERIA:
                out.append(
                    {
                        "field": where,
                        "message": f"未知的考核项“{criterion}”，可用：" + "、".join(CRITERIA),
                        "message_en": f"unknown criterion "
                        f"'{criterion}'; known: {', '.join(CRITERIA)}",
                    }
                )
            elif not _number(points) or points < 0:
                out.append(
                    {
                        "field": where,
                        "message": f"“{CRITERIA[criterion][0]}”的分值不能为负数",
                        "message_en": f"points for '{criterion}' must be a non-negative number",
                    }
                )
    return out


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value == value


def validate(raw: Any) -> ScoringRules:
    """Scoring rules from JSON, or 422 `scoring_rules_invalid` listing every problem."""
    problems = _problems(raw)
    if not problems:
        try:
            full = {**raw, "deductions": {**DEFAULT_DEDUCTIONS, **raw.get("deductions", {})}}
            return ScoringRules.model_validate(full)
        except ValidationError as exc:
            problems = [
                {
                    "field": ".".join(map(str, e["loc"])),
                    "message": "取值无效",
                    "message_en": e["msg"],
                }
                for e in exc.errors()
            ]
    raise InvalidData(
        "scoring_rules_invalid",
        "考核规则有误：" + "；".join(p["message"] for p in problems),
        "invalid scoring rules: " + "; ".join(p["message_en"] for p in problems),
        details={"problems": problems},
    )


def check(value: Any) -> Any:
    """CampaignRules' validator: a ValueError (pydantic's way) for bad scoring rules."""
    if isinstance(value, ScoringRules):
        return value
    try:
        return validate(value)
    except InvalidData as exc:
        raise ValueError(exc.message_en) from exc
