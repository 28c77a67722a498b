"""Record what happened; assess the deviation (issue 25): the notice's 原则上 / 不低于 / 左右 rules
flag a move by default instead of refusing it, and the flag shows on the event, its audit line,
the board, the report and the events export."""

from __future__ import annotations

import io

import openpyxl
from sqlmodel import Session

from models import User
from tests.conftest import HOUSING, Walker, World, error_of
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password
from workflows.campaign import notice


def _hold_4_of_15(walker: Walker) -> tuple[dict, object]:
    """An event invited with 6 citizens among 17 (within the rules), then held with 4 citizens
    among the 15 who came: the move's response."""
    event, invitees = walker.invited_event(citizens=6, deputies=11)
    citizens = [i for i in invitees if i["category"] == "citizen"]
    attendance = {str(i["id"]): True for i in invitees}
    for person in citizens[:2]:
        attendance[str(person["id"])] = False
    return event, walker.move(event["id"], "hold", data={"attendance": attendance})


def _supervisor_signs_in(walker: Walker, world: World) -> None:
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")


def test_a_hold_with_4_citizens_among_15_is_recorded_and_flagged(
    walker: Walker, world: World
) -> None:
    event, r = _hold_4_of_15(walker)
    assert r.status_code == 200, r.text
    held = r.json()["event"]
    assert held["state"] == "held" and held["held_on"] == "2022-09-16"
    [flag] = held["flags"]
    assert flag["rule"] == "citizen_share" and flag["at"] == "hold"
    assert flag["code"] == "attendee_citizen_share_too_low"
    assert flag["badge"] == "市民代表比例不足（4/15）"
    assert flag["details"] == {"citizens": 4, "attendees": 15, "needed": 5}
    assert flag["source"] == notice.CITIZEN_SHARE.text and "不低于三分之一" in flag["source"]
    assert flag["source_where"] == "四、开放对象"
    assert walker.get(event["id"])["flags"] == [flag]
    hold_line = [h for h in walker.history(event["id"]) if h["trigger"] == "hold"][-1]
    assert hold_line["data"]["flags"] == [flag]

    _supervisor_signs_in(walker, world)
    board = walker.client.get("/board/flags")
    assert board.status_code == 200
    section = board.text.split('<h2 id="flags">', 1)[1]
    assert "市民代表比例不足（4/15）" in section and f"/events/{event['id']}" in section
    page = walker.client.get(f"/events/{event['id']}")
    assert "市民代表比例不足（4/15）" in page.text and "不低于三分之一" in page.text

    h = world.headers["supervisor"]
    report = walker.client.get(f"/api/v1/campaigns/{world.campaign_id}/report", headers=h)
    row = {u["unit_name"]: u for u in report.json()["units"]}[HOUSING]
    assert row["flag_citizen_share"] == 1 and row["flag_invitee_count"] == 0
    x = walker.client.get(
        "/api/v1/exports/events.xlsx", params={"campaign_id": world.campaign_id}, headers=h
    )
    table = [list(r) for r in openpyxl.load_workbook(io.BytesIO(x.content)).active.values]
    column = table[0].index("偏差标记")
    assert [r[column] for r in table[1:]] == ["市民代表比例不足（4/15）"]


def test_in_refuse_mode_the_same_hold_is_refused_as_before(walker: Walker) -> None:
    walker.set_rule_modes("refuse")
    event, r = _hold_4_of_15(walker)
    assert r.status_code == 409
    err = error_of(r)
    assert err["code"] == "attendee_citizen_share_too_low"
    assert "citizens 4 of 15 attendees, need at least 5" in err["message_en"]
    after = walker.get(event["id"])
    assert after["state"] == "invited" and after["flags"] == []


def test_a_hold_with_nobody_attending_is_refused_in_flag_mode_too(walker: Walker) -> None:
    event, invitees = walker.invited_event()
    attendance = {str(i["id"]): False for i in invitees}
    r = walker.move(event["id"], "hold", data={"attendance": attendance})
    assert r.status_code == 409 and error_of(r)["code"] == "too_few_attendees"


def test_invite_with_8_invitees_is_flagged_not_refused(walker: Walker) -> None:
    """8 people (3 citizens: a third) is outside 10–20: invited, flagged; two more on the list
    later bring it within the range and the invite flag goes, the edit's audit line says so."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=3, deputies=5)
    r = walker.move(event["id"], "invite")
    assert r.status_code == 200, r.text
    [flag] = r.json()["event"]["flags"]
    assert (flag["rule"], flag["at"], flag["code"]) == (
        "invitee_count",
        "invite",
        "invitee_count_out_of_range",
    )
    assert flag["badge"] == "邀请人数偏少（8人，应为10–20人）"
    assert flag["details"] == {"invitees": 8, "min": 10, "max": 20}
    assert flag["source"] == notice.INVITEE_COUNT.text and "15人左右" in flag["source"]
    invite_line = walker.history(event["id"])[-1]
    assert invite_line["trigger"] == "invite" and invite_line["data"]["flags"] == [flag]

    walker.add_invitees(event["id"], citizens=1, deputies=1)
    assert walker.get(event["id"])["flags"] == []
    edit_line = walker.history(event["id"])[-1]
    assert edit_line["trigger"] == "edit.invitees" and edit_line["data"]["flags"] == []


def test_a_later_list_change_that_breaks_the_share_is_kept_and_flagged(walker: Walker) -> None:
    event, _ = walker.invited_event(citizens=5, deputies=10)
    assert walker.get(event["id"])["flags"] == []
    walker.add_invitees(event["id"], citizens=0, deputies=3)
    [flag] = walker.get(event["id"])["flags"]
    assert flag["badge"] == "受邀市民代表比例不足（5/18）" and flag["at"] == "invite"


def test_an_unknown_mode_is_a_422_naming_the_field(walker: Walker) -> None:
    r = walker.client.patch(
        f"/api/v1/campaigns/{walker.world.campaign_id}",
        json={"rules": {"citizen_share_mode": "shrug"}},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 422
    err = error_of(r)
    [field] = err["details"]["fields"]
    assert field["field"] == "body.rules.citizen_share_mode"
    assert "refuse" in field["problem"] and "拒绝" in field["problem_zh"]
    assert "市民代表比例不足时的处理：应为以下之一：拒绝、记录并标记" in err["message"]
    assert "citizen_share_mode" in err["message_en"]
    rules = walker.client.get(
        f"/api/v1/campaigns/{walker.world.campaign_id}", headers=walker.world.headers["viewer"]
    ).json()["rules"]
    assert rules["citizen_share_mode"] == "flag" and rules["invitee_count_mode"] == "flag"
