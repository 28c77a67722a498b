"""Opinions added after collect_feedback (issue 25: 活动过程中收集，由本单位统一整理): each with
its own day received and its own 15-working-day clock, until the summary is submitted."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from models import FeedbackItem, Timer
from tests.conftest import Walker, error_of, local
from workflows.event import history


def collected(walker: Walker) -> int:
    """An event held on 2022-09-16 (Friday), one opinion collected at it (due 2022-10-12)."""
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    assert r.status_code == 200, r.text
    return event["id"]  # type: ignore[no-any-return]


def add(walker: Walker, event_id: int, who: str = "housing", **body: Any) -> Any:
    return walker.client.post(
        f"/api/v1/events/{event_id}/feedback",
        json={"content": "希望公开施工进度", **body},
        params=walker.version_of(event_id),
        headers=walker.world.headers[who],
    )


def timers_of(walker: Walker, item_id: int) -> list[Timer]:
    with walker.world.session() as s:
        return list(
            s.exec(
                select(Timer).where(
                    Timer.subject_type == "feedback_item",
                    Timer.subject_id == item_id,
                    Timer.rule == "feedback_answer",
                )
            ).all()
        )


def test_an_opinion_received_later_gets_its_own_clock(walker: Walker, clock) -> None:
    """Received on 09-20, typed on 09-21: due 15 working days after 09-20 (10-14, the National
    Day holiday and its make-up Saturday and Sunday counted), timers like the first opinion's."""
    event_id = collected(walker)
    clock.set(local(2022, 9, 21, 11))
    r = add(walker, event_id, received_on="2022-09-20")
    assert r.status_code == 201, r.text
    late = r.json()
    assert late["added_late"] is True and late["collected_on"] == "2022-09-20"
    assert late["due_on"] == "2022-10-14" and late["state"] == "received"
    with walker.world.session() as s:
        first = s.exec(
            select(FeedbackItem).where(FeedbackItem.event_id == event_id, ~FeedbackItem.added_late)
        ).one()
    mine, theirs = timers_of(walker, late["id"]), timers_of(walker, first.id or 0)
    assert sorted((t.kind, t.level) for t in mine) == sorted((t.kind, t.level) for t in theirs)
    assert {t.state for t in mine} == {"pending"} and {t.deadline_on for t in mine} == {
        __import__("datetime").date(2022, 10, 14)
    }
    assert walker.get(event_id)["state"] == "feedback_collected"
    with walker.world.session() as s:
        said = [line.sentence for line in history.of_event(s, event_id)]
    assert (
        f"housing在意见收集完毕后补充登记了一条意见建议（意见 {late['id']}），"
        "收到日期为2022年9月20日（星期二），应于2022年10月14日（星期五）前答复。"
    ) in said


def test_the_day_received_defaults_to_today(walker: Walker, clock) -> None:
    event_id = collected(walker)
    clock.set(local(2022, 9, 19, 9))
    r = add(walker, event_id)
    assert r.status_code == 201, r.text
    assert r.json()["collected_on"] == "2022-09-19"


def _nothing_added(walker: Walker, event_id: int, version: int) -> None:
    assert walker.get(event_id)["version"] == version
    with walker.world.session() as s:
        items = s.exec(select(FeedbackItem).where(FeedbackItem.event_id == event_id)).all()
        assert [i.added_late for i in items] == [False]


def test_a_day_before_the_event_was_held_is_refused(walker: Walker, clock) -> None:
    event_id = collected(walker)
    version = walker.get(event_id)["version"]
    r = add(walker, event_id, received_on="2022-09-15")
    assert r.status_code == 422
    err = error_of(r)
    assert err["code"] == "received_on_before_held"
    assert "收到意见的日期" in err["message"] and "2022年9月16日" in err["message"]
    assert "received_on" in err["message_en"]
    _nothing_added(walker, event_id, version)


def test_a_day_in_the_future_is_refused(walker: Walker, clock) -> None:
    event_id = collected(walker)
    version = walker.get(event_id)["version"]
    r = add(walker, event_id, received_on="2022-09-17")
    assert r.status_code == 422
    assert error_of(r)["code"] == "received_on_in_future"
    _nothing_added(walker, event_id, version)


def test_no_opinion_is_added_once_the_summary_is_submitted(walker: Walker, clock) -> None:
    """After submit_summary: 409 feedback_after_summary, nothing written."""
    event_id = collected(walker)
    walker.upload(event_id)
    r = walker.move(event_id, "submit_summary", data={"text": "总结"})
    assert r.status_code == 200, r.text
    version = walker.get(event_id)["version"]
    clock.set(local(2022, 9, 20))
    r = add(walker, event_id, received_on="2022-09-19")
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "feedback_after_summary" and "总结已报送" in err["message"]
    _nothing_added(walker, event_id, version)


def test_an_opinion_is_not_added_before_the_event_is_held(walker: Walker) -> None:
    event = walker.create_event()
    r = add(walker, event["id"])
    assert r.status_code == 409 and error_of(r)["code"] == "feedback_not_open"


def test_a_late_opinion_counts_in_the_report_like_the_others(walker: Walker, clock) -> None:
    """Received on 09-20 and never answered: past 10-14 it is overdue in the report's counts."""
    from workflows.reporting import reports

    event_id = collected(walker)
    clock.set(local(2022, 9, 21, 11))
    assert add(walker, event_id, received_on="2022-09-20").status_code == 201
    clock.set(local(2022, 10, 13, 9))  # the first is overdue, the late one not yet
    with walker.world.session() as s:
        row = _housing(reports, s, walker, clock)
    assert row["opinions"] == 2 and row["open_overdue"] == 1
    clock.set(local(2022, 10, 17, 9))
    with walker.world.session() as s:
        row = _housing(reports, s, walker, clock)
    assert row["open_overdue"] == 2


def _housing(reports: Any, s: Any, walker: Walker, clock: Any) -> dict[str, Any]:
    facts = reports.collect(s, walker.world.campaign_id, clock.now())
    rows = reports.report(facts)["units"]
    return next(r for r in rows if r["unit_id"] == walker.world.units["区住建局"])  # type: ignore[no-any-return]
