"""Next year's campaign from last year's: rules and roster copied, the old campaign read-only
(issue 30)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models import Campaign, Timer, TimerState, Unit
from tests.conftest import HOUSING, Walker, World, error_of, local
from workflows.kernel import audit
from workflows.kernel.clock import FixedClock

NEXT = {
    "doc_number": "资雁府办发〔2023〕41号",
    "title": "关于开展2023年“政府开放日”活动的通知",
    "issuing_office": "资阳市雁江区人民政府办公室",
    "starts_on": "2023-08-21",
    "ends_on": "2023-09-22",
}


def _copy(client: TestClient, world: World, body: dict[str, Any] | None = None) -> Any:
    return client.post(
        f"/api/v1/campaigns/{world.campaign_id}/rollover",
        json=body or NEXT,
        headers=world.headers["supervisor"],
    )


def _campaigns(world: World) -> int:
    with world.session() as session:
        return int(session.exec(select(func.count()).select_from(Campaign)).one())


def test_copy_carries_rules_and_roster_and_closes_last_year(walker: Walker) -> None:
    """The copy keeps last year's rules and its units with their contacts and forms; last
    year's campaign is closed and its pending timers cancelled."""
    client, world = walker.client, walker.world
    sup = world.headers["supervisor"]
    client.patch(
        f"/api/v1/units/{world.units[HOUSING]}", json={"contact_name": "李四"}, headers=sup
    )
    client.patch(
        f"/api/v1/campaigns/{world.campaign_id}", json={"rules": {"invitees_min": 12}}, headers=sup
    )
    walker.held_event()
    plan = client.get(f"/api/v1/campaigns/{world.campaign_id}/rollover", headers=sup).json()
    assert (plan["starts_on"], plan["ends_on"]) == ("2023-08-22", "2023-09-22")
    assert [u["unit_name"] for u in plan["units"]] == [HOUSING]

    response = _copy(client, world)

    assert response.status_code == 201, response.text
    new = response.json()
    assert new["rules"]["invitees_min"] == 12 and new["copied_from_id"] == world.campaign_id
    roster = client.get(f"/api/v1/campaigns/{new['id']}/units", headers=sup).json()
    assert [(u["unit_name"], u["contact_name"], u["forms"]) for u in roster] == [
        (HOUSING, "李四", ["dialogue"])
    ]
    old = client.get(f"/api/v1/campaigns/{world.campaign_id}", headers=sup).json()
    assert old["closed_at"] is not None
    with world.session() as session:
        pending = session.exec(select(Timer).where(Timer.state == TimerState.pending)).all()
        assert pending == []


def test_closed_campaign_refuses_writes_but_stays_readable(walker: Walker) -> None:
    """Moves, edits, imports on last year's campaign answer 409 campaign_closed; its records
    still read, export, and the audit chains verify."""
    client, world = walker.client, walker.world
    h = world.headers
    event, _ = walker.held_event()
    assert _copy(client, world).status_code == 201

    moved = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "意见"}]})
    patched = client.patch(
        f"/api/v1/campaigns/{world.campaign_id}", json={"title": "改"}, headers=h["supervisor"]
    )
    imported = client.post(
        f"/api/v1/campaigns/{world.campaign_id}/schedule-imports",
        files={"file": ("t.csv", "序号,单位名称,活动主题,开展时间\n".encode(), "text/csv")},
        headers=h["supervisor"],
    )
    planned = client.post(
        "/api/v1/events",
        json={
            "campaign_id": world.campaign_id,
            "unit_id": world.units[HOUSING],
            "theme": "补一个活动",
            "date": "2022-09-20",
        },
        headers=h["housing"],
    )
    for refused in (moved, patched, imported, planned):
        assert refused.status_code == 409, refused.text
        assert error_of(refused)["code"] == "campaign_closed"
    assert walker.get(event["id"])["state"] == "held"
    report = client.get(f"/api/v1/campaigns/{world.campaign_id}/report.xlsx", headers=h["viewer"])
    assert report.status_code == 200
    with world.session() as session:
        assert all(r.broken is None for r in audit.verify(session))


def test_copy_into_a_year_with_a_campaign_is_refused(walker: Walker) -> None:
    """A second copy into 2023, or a copy into the same year, is refused; nothing written."""
    client, world = walker.client, walker.world
    with world.session() as session:
        other = Campaign(
            doc_number="另一个", title="t", issuing_office="o", rules={},
            starts_on=local(2023, 5, 1).date(), ends_on=local(2023, 5, 30).date(),
            created_at=local(2022, 9, 1),
        )  # fmt: skip
        session.add(other)
        session.commit()
    before = _campaigns(world)

    taken = _copy(client, world)
    same_year = _copy(client, world, {**NEXT, "starts_on": "2022-10-01", "ends_on": "2022-10-30"})

    assert taken.status_code == 409 and error_of(taken)["code"] == "campaign_year_taken"
    assert "2023" in error_of(taken)["message"]
    assert same_year.status_code == 422
    assert error_of(same_year)["code"] == "rollover_year_not_later"
    assert _campaigns(world) == before
    old = client.get(f"/api/v1/campaigns/{world.campaign_id}", headers=world.headers["viewer"])
    assert old.json()["closed_at"] is None


def test_roster_is_editable_until_the_campaign_opens(walker: Walker, clock: FixedClock) -> None:
    """Before its first day a unit's contacts on the roster change (and on the unit); from its
    first day the roster answers 409 campaign_already_open."""
    client, world = walker.client, walker.world
    sup = world.headers["supervisor"]
    walker.create_event()
    new = _copy(client, world).json()
    url = f"/api/v1/campaigns/{new['id']}/units/{world.units[HOUSING]}"

    edited = client.patch(url, json={"contact_name": "赵六", "forms": ["dialogue"]}, headers=sup)
    clock.set(local(2023, 8, 21, 9))
    late = client.patch(url, json={"contact_name": "钱七"}, headers=sup)

    assert edited.status_code == 200, edited.text
    assert edited.json()["forms"] == ["dialogue"]
    with Session(world.engine) as session:
        unit = session.get(Unit, world.units[HOUSING])
        assert unit is not None and unit.contact_name == "赵六"
    assert late.status_code == 409 and error_of(late)["code"] == "campaign_already_open"
    unknown = client.patch(
        f"/api/v1/campaigns/{new['id']}/units/999999", json={"contact_name": "x"}, headers=sup
    )
    assert unknown.status_code == 409  # opened: nothing on the roster changes any more


def test_copy_waits_while_an_opinion_is_owed_an_answer(walker: Walker) -> None:
    """Closing would strand an unanswered opinion (read-only, timers cancelled): the copy is
    refused with how many are owed, and nothing is written or closed."""
    client, world = walker.client, walker.world
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    before = _campaigns(world)

    refused = _copy(client, world)

    assert refused.status_code == 409, refused.text
    assert error_of(refused)["code"] == "campaign_has_open_opinions"
    assert "1 条意见未答复" in error_of(refused)["message"]
    assert _campaigns(world) == before
    old = client.get(f"/api/v1/campaigns/{world.campaign_id}", headers=world.headers["viewer"])
    assert old.json()["closed_at"] is None
