"""The invitation's answer page, the door's check-in page, the invitee list with answers, the
hold page prefilled from check-ins, the .ics downloads (issue 27)."""

from __future__ import annotations

import re

import icalendar
import pytest
from sqlmodel import Session, select

from models import ChangeLog, Event, Invitee
from tests.conftest import Walker
from tests.event.test_invitations import _invited
from tests.pages.test_pages import csrf_of, sign_in
from workflows.event import invitations
from workflows.public.notices import Channels


@pytest.fixture(autouse=True)
def both_channels(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(invitations, "channels", lambda: Channels(email=True, sms=True))


def _link(walker: Walker, invitee_id: int) -> str:
    with Session(walker.world.engine) as s:
        person = s.get(Invitee, invitee_id)
        event = s.get(Event, person.event_id)  # type: ignore[union-attr]
        return "/public/invitations/" + invitations.token_for(person, event)  # type: ignore[arg-type]


def test_the_answer_page_records_yes_and_refuses_a_forged_link(walker: Walker) -> None:
    event, people = _invited(walker)
    link = _link(walker, people[0]["id"])
    page = walker.client.get(link)
    assert page.status_code == 200 and "参观老旧小区改造现场" in page.text
    assert "尚未答复" in page.text and "<svg" in page.text and "入场签到码" in page.text
    # The footer names the event's district office (issue 28), district 1's in the test world.
    assert 'id="site-footer">资阳市雁江区人民政府办公室 · ' in page.text
    done = walker.client.post(
        link, data={"csrf": csrf_of(page.text), "answer": "yes"}, follow_redirects=False
    )
    assert done.status_code == 303
    again = walker.client.get(done.headers["location"])
    assert "已收到您的答复：参加" in again.text and '<dd id="answer">参加</dd>' in again.text
    bad = walker.client.post(link, data={"csrf": csrf_of(page.text), "answer": "maybe"})
    assert bad.status_code == 422 and "不参加" in bad.text
    forged = walker.client.get(link[:-3] + "xyz")
    assert forged.status_code == 403 and "邀请链接校验未通过" in forged.text
    with Session(walker.world.engine) as s:
        refused = s.exec(select(ChangeLog).where(ChangeLog.entity == "invitation_link")).all()
        assert [r.after["code"] for r in refused] == ["invitation_link_forged"]
    ics = walker.client.get(link + "/invitation.ics")
    assert ics.headers["content-type"].startswith("text/calendar")
    cal = icalendar.Calendar.from_ical(ics.content)
    assert str(cal.walk("VEVENT")[0].decoded("dtstart").tzinfo) == "Asia/Shanghai"


def test_the_door_checks_in_once_and_the_hold_page_is_prefilled(walker: Walker) -> None:
    event, people = _invited(walker)
    eid = event["id"]
    sign_in(walker.client)
    with Session(walker.world.engine) as s:
        codes = [s.get(Invitee, p["id"]).code for p in people[:3]]  # type: ignore[union-attr]
    page = walker.client.get(f"/events/{eid}/check-in")
    assert page.status_code == 200 and "签到出席：0 / 15" in page.text
    for code in codes:
        done = walker.client.post(
            f"/events/{eid}/check-in",
            data={"csrf": csrf_of(page.text), "code": code},
            follow_redirects=False,
        )
        assert done.status_code == 303, done.text
    twice = walker.client.post(
        f"/events/{eid}/check-in", data={"csrf": csrf_of(page.text), "code": codes[0]}
    )
    assert twice.status_code == 409 and "不重复计数" in twice.text
    assert "签到出席：3 / 15" in twice.text
    hold = walker.client.get(f"/events/{eid}/hold").text
    ticked = set(re.findall(r'name="attended" value="(\d+)" checked', hold))
    assert ticked == {str(p["id"]) for p in people[:3]} and "已签到" in hold
    listing = walker.client.get(f"/events/{eid}/invitees").text
    assert "答复：参加 0 人" in listing and "短信" in listing and "信函" in listing
    answer = walker.client.post(
        f"/events/{eid}/invitees/{people[5]['id']}/answer",
        data={"csrf": csrf_of(listing), "answer": "no"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    listing = walker.client.get(f"/events/{eid}/invitees").text
    assert "不参加 1 人" in listing and "电话答复" in listing
    letters = walker.client.get(f"/events/{eid}/invitations/letters")
    assert letters.status_code == 200 and letters.text.count('class="letter"') == 11
