"""The assessment counts an answer's lateness from the day it was given (answered_on), and an
opinion added after collection like the others (issue 25)."""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select

from models import FeedbackItem
from tests.conftest import HOUSING, Walker, local
from tests.feedback.test_answered_on import answer


def _assessment(walker: Walker) -> dict[str, Any]:
    cid = walker.world.campaign_id
    r = walker.client.get(
        f"/api/v1/campaigns/{cid}/assessment", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    return next(u for u in r.json()["units"] if u["unit_name"] == HOUSING)  # type: ignore[no-any-return]


def test_answers_are_scored_by_the_day_given_and_late_opinions_count(walker: Walker, clock) -> None:
    """Three opinions collected on 09-16 (due 10-12) and one added late (received 09-20, due
    10-14). On 10-20: the first answered as given on 10-10 (typed now: no deduction), the
    second as given on 10-17 (3 working days late: late_answer), the third as given today, the
    late one not at all (unanswered_overdue, like any other)."""
    event, _ = walker.held_event()
    items = [{"content": c} for c in ("甲", "乙", "丙")]
    assert walker.move(event["id"], "collect_feedback", data={"items": items}).status_code == 200
    clock.set(local(2022, 9, 21, 9))
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/feedback",
        json={"content": "丁", "received_on": "2022-09-20"},
        params=walker.version_of(event["id"]),
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 201, r.text
    late_item = r.json()["id"]
    with walker.world.session() as s:
        first, second, third = s.exec(
            select(FeedbackItem.id)
            .where(~col(FeedbackItem.added_late))
            .order_by(col(FeedbackItem.id))
        ).all()
    clock.set(local(2022, 10, 20, 16))
    assert answer(walker, first, answered_on="2022-10-10").status_code == 200  # type: ignore[arg-type]
    assert answer(walker, second, answered_on="2022-10-17").status_code == 200  # type: ignore[arg-type]
    assert answer(walker, third).status_code == 200  # type: ignore[arg-type]
    housing = _assessment(walker)
    answers = {
        (d["criterion"], d["item_id"]): d
        for d in housing["deductions"]
        if d["criterion"] in ("late_answer", "unanswered_overdue")
    }
    assert set(answers) == {
        ("late_answer", second),
        ("late_answer", third),
        ("unanswered_overdue", late_item),
    }
    assert (
        "2022年10月17日（星期一）答复，逾期 3 个工作日" in answers["late_answer", second]["reason"]
    )
    assert (
        "补录：housing于2022年10月20日（星期四）16:00录入"
        in answers["late_answer", second]["reason"]
    )
    assert "补录" not in answers["late_answer", third]["reason"]
    # The event's answers stay under their cap (6 points by default): 2 + 2 + 3 -> 6.
    assert sum(d["points"] for d in answers.values()) == 6
