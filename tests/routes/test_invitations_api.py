"""Invitations and the door as JSON (issue 27): answers through signed links, the clerk's
answer by phone (the citizens' share confirm step), check-in at the door, waiting-list offers,
and refused links audited once per client address and window."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from models import ChangeLog, Event, Invitee, Notification, Registration
from models.codes import new_code
from tests.conftest import FixedClock, Walker, error_of
from tests.event.test_invitations import _invited
from tests.public.test_waitlist_offers import _drop_out, _waiting_list
from workflows.event import invitations
from workflows.kernel.visibility import SYSTEM
from workflows.public import offers
from workflows.public import registration as flow
from workflows.public.notices import Channels


def _token(walker: Walker, invitee_id: int) -> str:
    with Session(walker.world.engine) as s:
        person = s.get(Invitee, invitee_id)
        return invitations.token_for(person, s.get(Event, person.event_id))  # type: ignore[arg-type, union-attr]


def _refusals(walker: Walker, entity: str) -> list[dict]:
    with Session(walker.world.engine) as s:
        rows = s.exec(
            select(ChangeLog.after).where(ChangeLog.entity == entity).order_by(col(ChangeLog.id))
        ).all()
    return list(rows)  # type: ignore[arg-type]


def test_an_invitation_is_read_and_answered_through_its_link(walker: Walker) -> None:
    event, people = _invited(walker)
    token = _token(walker, people[5]["id"])
    url = f"/api/v1/public/invitations/{token}"
    shown = walker.client.get(url).json()
    assert (shown["theme"], shown["unit_name"], shown["answer"]) == (
        "参观老旧小区改造现场", "区住建局", None,
    )  # fmt: skip
    assert shown["can_answer"] and shown["ics_url"].endswith("/invitation.ics")
    assert len(shown["code"]) == 11 and shown["code"][5] == "-"
    done = walker.client.post(url + "/answer", json={"answer": "yes"})
    assert done.status_code == 200 and done.json()["answer"] == "yes"
    assert done.json()["answer_via"] == "link"
    bad = walker.client.post(url + "/answer", json={"answer": "maybe"})
    assert bad.status_code == 422 and error_of(bad)["code"] == "answer_invalid"
    forged = walker.client.get(url[:-3] + ("AAA" if not url.endswith("AAA") else "BBB"))
    assert forged.status_code == 403 and error_of(forged)["code"] == "invitation_link_forged"


def test_the_clerk_confirms_a_phone_no_below_the_share(walker: Walker) -> None:
    event, people = _invited(walker)  # five citizens of 15: the share's minimum
    headers = walker.world.headers["housing"]
    citizen = people[0]
    url = f"/api/v1/events/{event['id']}/invitees/{citizen['id']}/answer"
    refused = walker.client.post(url, json={"answer": "no"}, headers=headers)
    assert refused.status_code == 409
    error = error_of(refused)
    assert error["code"] == "citizens_share_below"
    assert (error["details"]["citizens"], error["details"]["needed"]) == (4, 5)
    done = walker.client.post(
        url, json={"answer": "no", "confirm_share_below": True}, headers=headers
    )
    assert done.status_code == 200 and done.json()["answer"] == "no"
    line = _refusals(walker, "invitee")[-1]
    assert line["flags"] == ["citizens_share_below"]
    viewer = walker.client.post(url, json={"answer": "yes"}, headers=walker.world.headers["viewer"])
    assert viewer.status_code == 403


def test_check_in_by_the_api_counts_once_and_says_why_not(walker: Walker) -> None:
    event, people = _invited(walker)
    headers = walker.world.headers["housing"]
    url = f"/api/v1/events/{event['id']}/check-ins"
    code = people[2]["code"]
    first = walker.client.post(url, json={"code": code.lower()}, headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["name"], body["checked_in"], body["invited"]) == (people[2]["name"], 1, 15)
    again = walker.client.post(url, json={"code": code}, headers=headers)
    assert again.status_code == 409 and error_of(again)["code"] == "check_in_already"
    assert "不重复计数" in error_of(again)["message"]
    for text, status, code_name in ((new_code(), 404, "check_in_code_unknown"),
                                    ("12", 422, "check_in_code_invalid")):  # fmt: skip
        r = walker.client.post(url, json={"code": text}, headers=headers)
        assert (r.status_code, error_of(r)["code"]) == (status, code_name), r.text
    listed = walker.client.get(url, headers=headers).json()
    assert (listed["checked_in"], listed["invited"]) == (1, 15)
    assert [p["invitee_id"] for p in listed["recent"]] == [people[2]["id"]]
    other = walker.client.get(url, headers=walker.world.headers["shiling"])
    assert other.status_code == 404


def test_an_offer_is_read_and_accepted_by_the_api(walker: Walker, clock: FixedClock) -> None:
    event, _ = _invited(walker, date="2022-09-20")
    confirmed, first, _ = _waiting_list(walker, event["id"], clock)
    _drop_out(walker, event["id"], confirmed, clock)
    with Session(walker.world.engine) as s:
        token = offers.token_for(s.get(Registration, first))  # type: ignore[arg-type]
    url = f"/api/v1/public/offers/{token}"
    shown = walker.client.get(url).json()
    assert shown["state"] == "offered" and shown["can_answer"] and shown["offer_until"]
    done = walker.client.post(url + "/answer", json={"answer": "accept"})
    assert done.status_code == 200 and done.json()["state"] == "registered"
    again = walker.client.post(url + "/answer", json={"answer": "decline"})
    assert again.status_code == 409 and error_of(again)["code"] == "offer_closed"


def test_a_flood_of_forged_links_is_audited_once_per_address_and_window(
    walker: Walker, clock: FixedClock
) -> None:
    """Five forged links: one audit line; after the window the next line counts those five."""
    _, people = _invited(walker)
    token = _token(walker, people[0]["id"])
    forged = f"/api/v1/public/invitations/{token[:-4]}AAAA"
    for _ in range(5):
        assert walker.client.get(forged).status_code == 403
    lines = _refusals(walker, "invitation_link")
    assert len(lines) == 1 and lines[0]["refused_before"] == 0 and lines[0]["source"]
    clock.advance(timedelta(seconds=600))
    assert walker.client.get(forged).status_code == 403
    lines = _refusals(walker, "invitation_link")
    assert len(lines) == 2 and lines[1]["refused_before"] == 5
    assert lines[1]["code"] == "invitation_link_forged"
    # Offer links have their own count: the first forged offer link is audited.
    assert walker.client.get("/api/v1/public/offers/1.2.AAAA").status_code == 403
    assert len(_refusals(walker, "offer_link")) == 1


def test_the_sms_confirmation_carries_the_invitations_answer_link(
    walker: Walker, clock: FixedClock
) -> None:
    event, _ = _invited(walker, date="2022-09-20")
    ids = _waiting_list(walker, event["id"], clock, ("registered", "registered"))
    with Session(walker.world.engine) as s:
        reg = s.get(Registration, ids[1])
        reg.phone_enc = "sealed"  # type: ignore[union-attr]
        ev = s.get(Event, event["id"])
        flow.confirm(s, ev, ids[1], expected_version=ev.version, actor=SYSTEM,  # type: ignore[arg-type, union-attr]
                     now=clock.now(), notify=Channels(sms=True))  # fmt: skip
        s.commit()
        body = s.exec(select(Notification.body).where(Notification.kind == "confirmed")).one()
        person = s.get(Invitee, s.get(Registration, ids[1]).invitee_id)  # type: ignore[union-attr]
        link = invitations.token_for(person, ev)  # type: ignore[arg-type]
    assert "如不能参加，请点击链接答复" in body and f"/public/invitations/{link}" in body
