"""The day an answer was given (answered_on, issue 25): lateness counts from it, a back-dated
entry says who typed it in and when, and a day before the opinion or after today is refused."""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from models import FeedbackItem, Timer, TransitionLog
from tests.conftest import Walker, error_of, local
from workflows.event import history


def one_opinion(walker: Walker) -> tuple[int, int]:
    """An event held on 2022-09-16 with one opinion collected (due 2022-10-12): (event, item)."""
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        item = s.exec(select(FeedbackItem).where(FeedbackItem.event_id == event["id"])).one()
    return event["id"], item.id  # type: ignore[return-value]


def item_of(walker: Walker, item_id: int, who: str = "housing") -> dict[str, Any]:
    r = walker.client.get(f"/api/v1/feedback/{item_id}", headers=walker.world.headers[who])
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def answer(walker: Walker, item_id: int, who: str = "housing", **data: Any) -> Any:
    return walker.client.post(
        f"/api/v1/feedback/{item_id}/transitions",
        json={
            "trigger": "answer",
            "expected_version": item_of(walker, item_id)["version"],
            "data": {"answer": "已修复", **data},
        },
        headers=walker.world.headers[who],
    )


def sentences(walker: Walker, event_id: int) -> list[str]:
    with walker.world.session() as s:
        return [line.sentence for line in history.of_event(s, event_id)]


def test_an_answer_given_on_time_and_typed_later_counts_on_time(walker: Walker, clock) -> None:
    """Given on 10-10 (due 10-12), typed on 10-20: on time; the audit line and the history say
    it is a back-dated entry, who typed it in and when."""
    event_id, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 20, 15, 30))
    r = answer(walker, item_id, answered_on="2022-10-10")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["answered_on"] == "2022-10-10"
    assert body["answered_late_workdays"] == 0
    assert body["backdated"] is True and body["answered_by"] == "housing"
    with walker.world.session() as s:
        log = s.exec(select(TransitionLog).where(TransitionLog.trigger == "feedback.answer")).one()
        assert log.data["answered_on"] == "2022-10-10"
        assert log.data["backdated"] is True and log.data["entered_by"] == "housing"
        assert log.data["entered_at"].startswith("2022-10-20T07:30")
        assert "late_workdays" not in log.data
        timers = s.exec(select(Timer).where(Timer.subject_type == "feedback_item")).all()
        assert {t.state for t in timers} == {"cancelled"}
    said = [x for x in sentences(walker, event_id) if "补录" in x]
    assert said == [
        f"housing于2022年10月20日（星期四）15:30补录了意见 {item_id}的答复，"
        "答复日期为2022年10月10日（星期一）（按时答复）。"
    ]


def test_lateness_counts_from_the_day_given_not_the_day_typed(walker: Walker, clock) -> None:
    """Given on 10-17 (3 working days after 10-12), typed on 10-20 (6): 3 working days late."""
    _, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 20, 9))
    r = answer(walker, item_id, answered_on="2022-10-17")
    assert r.status_code == 200, r.text
    assert r.json()["answered_late_workdays"] == 3


def test_the_day_given_defaults_to_today(walker: Walker, clock) -> None:
    """No day given: today, not back-dated, lateness as before (10-13: one working day late)."""
    event_id, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 13, 9))
    r = answer(walker, item_id)
    assert r.status_code == 200, r.text
    assert r.json()["answered_on"] == "2022-10-13" and r.json()["backdated"] is False
    assert r.json()["answered_late_workdays"] == 1
    assert not [x for x in sentences(walker, event_id) if "补录" in x]
    assert f"housing答复了意见 {item_id}（逾期 1 个工作日）。" in sentences(walker, event_id)


def _unchanged(walker: Walker, item_id: int, version: int) -> None:
    after = item_of(walker, item_id)
    assert after["state"] == "received" and after["version"] == version
    assert after["answer"] is None and after["answered_on"] is None
    assert {t["state"] for t in after["timers"]} == {"pending"}
    with walker.world.session() as s:
        assert not s.exec(
            select(TransitionLog).where(col(TransitionLog.trigger) == "feedback.answer")
        ).all()


def test_a_day_before_the_opinion_was_received_is_refused(walker: Walker, clock) -> None:
    """09-15 for an opinion received on 09-16: 422 naming 答复日期, nothing written."""
    _, item_id = one_opinion(walker)
    clock.set(local(2022, 9, 20))
    version = item_of(walker, item_id)["version"]
    r = answer(walker, item_id, answered_on="2022-09-15")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "answered_on_before_received"
    assert "答复日期" in err["message"] and "2022年9月16日" in err["message"]
    assert "answered_on" in err["message_en"]
    _unchanged(walker, item_id, version)


def test_a_day_in_the_future_is_refused(walker: Walker, clock) -> None:
    """Tomorrow: 422 answered_on_in_future, nothing written."""
    _, item_id = one_opinion(walker)
    clock.set(local(2022, 9, 20, 23, 50))
    version = item_of(walker, item_id)["version"]
    r = answer(walker, item_id, answered_on="2022-09-21")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "answered_on_in_future"
    assert "答复日期" in err["message"] and "不能晚于今天" in err["message"]
    _unchanged(walker, item_id, version)


def test_a_day_that_is_no_date_is_refused_in_words(walker: Walker, clock) -> None:
    """ "2022-13-01": 422 naming the field by its Chinese label, nothing written."""
    _, item_id = one_opinion(walker)
    version = item_of(walker, item_id)["version"]
    r = answer(walker, item_id, answered_on="2022-13-01")
    assert r.status_code == 422
    assert "答复日期" in error_of(r)["message"]
    assert "answered_on" not in error_of(r)["message"]
    _unchanged(walker, item_id, version)


def test_the_exports_say_the_day_given_and_who_back_dated_it(walker: Walker, clock) -> None:
    """The opinions sheet has the day given and a 补录 note naming who typed it and when."""
    from workflows.reporting import exports

    _, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 20, 15, 30))
    assert answer(walker, item_id, answered_on="2022-10-10").status_code == 200
    with Session(walker.world.engine) as s:
        sheet = exports.opinions_sheet(s, exports.Filters(), clock.now())
        names = [c.header for c in sheet.columns]
        row = dict(zip(names, next(iter(sheet.rows)), strict=True))
    assert str(row["答复日期"]) == "2022-10-10"
    assert row["是否按时"] == "按时答复"
    assert row["补录说明"] == "补录：housing于2022年10月20日（星期四）15:30录入"


def test_the_public_receipt_shows_the_day_given(walker: Walker, clock) -> None:
    """/public/receipts shows answered_on, not the UTC date of when it was typed in (07:30 in
    Shanghai is still the day before in UTC)."""
    _, item_id = one_opinion(walker)
    clock.set(local(2022, 10, 20, 7, 30))
    assert answer(walker, item_id, answered_on="2022-10-10").status_code == 200
    code = item_of(walker, item_id)["receipt_code"]
    seen = walker.client.get(f"/api/v1/public/receipts/{code}").json()
    assert seen["answered_on"] == "2022-10-10"
