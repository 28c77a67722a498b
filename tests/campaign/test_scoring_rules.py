"""Scoring rules as campaign rules (issue 25): every deduction with the notice's sentence, not
holding the heaviest, and bad rules refused with a 422 naming the field in Chinese and English."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Walker, error_of
from workflows.campaign import scoring
from workflows.kernel.errors import InvalidData

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"


def _put(walker: Walker, body: object) -> dict:
    r = walker.client.put(
        f"/api/v1/campaigns/{walker.world.campaign_id}/scoring-rules",
        json=body,
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 422, r.text
    return error_of(r)


def test_a_negative_deduction_or_cap_is_a_422_naming_the_field(walker: Walker) -> None:
    err = _put(walker, {"deductions": {"event_not_held": -40}, "event_caps": {"answers": -1}})
    assert err["code"] == "scoring_rules_invalid"
    fields = {p["field"]: p for p in err["details"]["problems"]}
    assert set(fields) == {"deductions.event_not_held", "event_caps.answers"}
    assert "“活动未开展”的分值不能为负数" in err["message"]
    assert "points for 'event_not_held' must be a non-negative number" in err["message_en"]
    err = _put(walker, {"event_caps": {"everything": 5}})
    assert [p["field"] for p in err["details"]["problems"]] == ["event_caps.everything"]


def test_not_holding_must_stay_the_heaviest_deduction(walker: Walker) -> None:
    """40 by default, above the 35 a held event can cost at most (5 held late, 3 + 2 + 2 flags,
    5 summary missing, 6 for answers, 12 for rounds); 30 would let a non-holder rank above."""
    assert scoring.ScoringRules().held_ceiling() == 35
    err = _put(walker, {"deductions": {"event_not_held": 30}})
    [problem] = err["details"]["problems"]
    assert problem["field"] == "deductions.event_not_held"
    assert "须高于一个已开展活动最多可扣的分数（35）" in problem["message"]
    assert "must exceed the most a held event can cost (35)" in problem["message_en"]
    ok = walker.client.put(
        f"/api/v1/campaigns/{walker.world.campaign_id}/scoring-rules",
        json={"deductions": {"event_not_held": 30}, "event_caps": {"rounds": 6}},
        headers=walker.world.headers["supervisor"],
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["event_caps"] == {"answers": 6, "rounds": 6}


def test_scoring_through_the_campaign_patch_is_checked_too(walker: Walker) -> None:
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={"rules": {"scoring": {"deductions": {"event_not_held": 1}}}},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 422
    [field] = error_of(r)["details"]["fields"]
    assert field["field"] == "body.rules.scoring"


def test_stored_rules_are_read_as_they_are() -> None:
    """A campaign stored before the rule existed still reads (the check is on writing)."""
    lenient = scoring.validate({"deductions": {"event_not_held": 1}}, write=False)
    assert lenient.deductions["event_not_held"] == 1
    with pytest.raises(InvalidData):
        scoring.validate({"deductions": {"event_not_held": 1}})


def test_every_criterion_cites_the_notice() -> None:
    notice = (FIXTURES / "yanjiang-2022-open-day-notice.txt").read_text(encoding="utf-8")
    for key, criterion in scoring.CRITERIA.items():
        assert key in scoring.DEFAULT_DEDUCTIONS
        if criterion.source.where != "附件":
            assert criterion.source.text in notice, key
