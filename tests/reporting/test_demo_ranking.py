"""The demo's assessment (issue 25): in the notice's 39 events nobody holds, except the one unit
this test takes through hold on the day, answers on time and a summary on time — it ranks first,
alone, and no unit that did not hold ranks above it."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import select

from models import Event, Unit
from tests.conftest import HOUSING, Walker, local
from workflows.schedule.demo import load_demo_campaign


def _demo_event_of(walker: Walker, unit: str, now: datetime) -> int:
    """Load the demo (the notice's campaign and its 39 events) into the test's campaign, which
    carries the same document number; `unit`'s event."""
    with walker.world.session() as s:
        load_demo_campaign(s, now)
        s.commit()
        event = s.exec(
            select(Event).join(Unit, Unit.id == Event.unit_id).where(Unit.name == unit)  # type: ignore[arg-type]
        ).one()
        assert event.id is not None
        return event.id


def _answer_all(walker: Walker, event_id: int) -> None:
    h = walker.world.headers["housing"]
    items = walker.client.get(f"/api/v1/events/{event_id}/feedback", headers=h).json()
    items = items["items"] if isinstance(items, dict) else items
    assert len(items) == 2
    for item in items:
        r = walker.client.post(
            f"/api/v1/feedback/{item['id']}/transitions",
            json={"trigger": "answer", "expected_version": item["version"],
                  "data": {"answer": "已办结，详见回复"}},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 200, r.text


def test_the_demo_ranks_the_unit_that_held_first_and_alone(walker: Walker, clock) -> None:
    eid = _demo_event_of(walker, HOUSING, clock.now())  # 14 区住建局 参观老旧小区改造现场 9月16日
    walker.add_invitees(eid, citizens=5, deputies=10)
    assert walker.move(eid, "invite").status_code == 200
    attendance = {str(i["id"]): True for i in walker.client.get(
        f"/api/v1/events/{eid}/invitees", headers=walker.world.headers["housing"]
    ).json()["items"]}  # fmt: skip
    r = walker.move(eid, "hold", data={"attendance": attendance})
    assert r.status_code == 200 and r.json()["event"]["held_on"] == "2022-09-16"
    r = walker.move(eid, "collect_feedback", data={"items": [{"content": "甲"}, {"content": "乙"}]})
    assert r.status_code == 200, r.text
    assert walker.upload(eid).status_code == 201
    clock.set(local(2022, 9, 17, 15))
    assert walker.move(eid, "submit_summary", data={"text": "总结"}).status_code == 200
    clock.set(local(2022, 9, 20, 10))
    _answer_all(walker, eid)

    clock.set(local(2022, 12, 1, 10))  # every event's day and deadline has passed
    r = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}/assessment",
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    units = r.json()["units"]
    assert len(units) == 39
    first, *rest = units
    assert (first["unit_name"], first["rank"], first["score"]) == (HOUSING, 1, 100)
    assert first["deductions"] == []
    assert all(u["rank"] > 1 for u in rest)  # first alone
    # Nobody else held: each lost at least what not holding costs, and ranks below.
    for u in rest:
        assert "event_not_held" in {d["criterion"] for d in u["deductions"]}, u["unit_name"]
        assert u["score"] <= 60
