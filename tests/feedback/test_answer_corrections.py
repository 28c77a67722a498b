"""Corrections of an answer (issue 24): the unit within the campaign's correction_workdays of
typing it in, a supervisor later; with a reason, audited, told in the history, lateness
counted again from the corrected day."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from models import TransitionLog
from tests.conftest import Walker, error_of, local
from tests.feedback.test_answered_on import answer, item_of, one_opinion, sentences


def correct(walker: Walker, item_id: int, who: str = "housing", **body: Any) -> Any:
    return walker.client.post(
        f"/api/v1/feedback/{item_id}/answer-corrections",
        json={"expected_version": item_of(walker, item_id)["version"], **body},
        headers=walker.world.headers[who],
    )


def answered(walker: Walker, clock: Any) -> tuple[int, int]:
    """Answered on 10-17, typed on 10-17 (3 working days late)."""
    event_id, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 17, 9))
    assert answer(walker, item_id).status_code == 200
    return event_id, item_id


def test_the_unit_corrects_the_day_given_within_its_days(walker: Walker, clock) -> None:
    """Corrected on 10-19 to 10-11: on time now; the audit line keeps before, after and why."""
    event_id, item_id = answered(walker, clock)
    clock.set(local(2022, 10, 19, 16))
    r = correct(walker, item_id, answered_on="2022-10-11", reason="实际于10月11日电话答复")
    assert r.status_code == 200, r.text
    assert r.json()["answered_on"] == "2022-10-11" and r.json()["answered_late_workdays"] == 0
    with walker.world.session() as s:
        log = s.exec(
            select(TransitionLog).where(TransitionLog.trigger == "feedback.correct_answer")
        ).one()
    assert log.reason == "实际于10月11日电话答复" and log.feedback_item_id == item_id
    assert log.data["before"]["answered_on"] == "2022-10-17"
    assert log.data["after"]["answered_on"] == "2022-10-11"
    assert log.data["backdated"] is True and log.data["entered_by"] == "housing"
    said = sentences(walker, event_id)[-1]
    assert said == (
        f"housing更正了意见 {item_id}的答复：答复日期由2022年10月17日（星期一）改为"
        "2022年10月11日（星期二），现按时答复。理由：实际于10月11日电话答复。"
    )


def test_the_text_alone_may_be_corrected(walker: Walker, clock) -> None:
    event_id, item_id = answered(walker, clock)
    r = correct(walker, item_id, answer="已修复并回访", reason="补充回访情况")
    assert r.status_code == 200, r.text
    assert r.json()["answer"] == "已修复并回访" and r.json()["answered_late_workdays"] == 3
    assert "答复内容改为“已修复并回访”" in sentences(walker, event_id)[-1]


def test_after_its_days_the_unit_is_refused_and_a_supervisor_corrects(
    walker: Walker, clock
) -> None:
    """Typed on 10-17, five working days: the unit until 10-24; on 10-25 only a supervisor."""
    _, item_id = answered(walker, clock)
    clock.set(local(2022, 10, 25, 9))
    r = correct(walker, item_id, answered_on="2022-10-12", reason="日期录错")
    assert r.status_code == 403
    err = error_of(r)
    assert err["code"] == "answer_correction_window_closed"
    assert "2022年10月24日" in err["message"]
    assert item_of(walker, item_id)["answered_on"] == "2022-10-17"
    r = correct(walker, item_id, who="supervisor", answered_on="2022-10-12", reason="日期录错")
    assert r.status_code == 200, r.text
    assert r.json()["answered_late_workdays"] == 0


def test_bad_corrections_are_refused_and_write_nothing(walker: Walker, clock) -> None:
    _, item_id = answered(walker, clock)
    version = item_of(walker, item_id)["version"]
    cases = [
        ({"answered_on": "2022-09-01", "reason": "x"}, 422, "answered_on_before_received"),
        ({"answered_on": "2022-10-18", "reason": "x"}, 422, "answered_on_in_future"),
        ({"answered_on": "2022-10-17", "reason": "x"}, 422, "correction_no_change"),
        ({"answered_on": "2022-10-12", "reason": "   "}, 422, "correction_reason_missing"),
        ({"answered_on": "2022-10-12"}, 422, None),
        ({"answered_on": "2022-10-12", "reason": "x" * 2001}, 422, None),
        ({"answered_on": "2022-10-12", "reason": "x", "expected_version": 1}, 409, None),
    ]
    for body, status, code in cases:
        r = correct(walker, item_id, **body)
        assert r.status_code == status, (body, r.text)
        if code:
            assert error_of(r)["code"] == code
        assert "reason" not in error_of(r)["message"]
    after = item_of(walker, item_id)
    assert after["version"] == version and after["answered_on"] == "2022-10-17"


def test_an_unanswered_opinion_has_nothing_to_correct(walker: Walker, clock) -> None:
    _, item_id = one_opinion(walker)
    r = correct(walker, item_id, answered_on="2022-09-20", reason="x")
    assert r.status_code == 409 and error_of(r)["code"] == "answer_not_recorded_yet"


def test_the_viewer_and_another_unit_cannot_correct(walker: Walker, clock) -> None:
    _, item_id = answered(walker, clock)
    assert correct(walker, item_id, who="shiling", answer="x", reason="x").status_code == 404
    assert correct(walker, item_id, who="viewer", answer="x", reason="x").status_code == 403
