"""A confirmed registrant who answers 不参加 gives their place to the first on the waiting list
(issue 27), and the clerk sees when the citizens' share of those still coming falls short."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from models import ChangeLog, Event, Invitee, Registration
from tests.conftest import FixedClock, Walker
from tests.event.test_invitations import _invited
from tests.pages.test_pages import csrf_of, sign_in
from tests.public.test_waitlist_offers import _waiting_list
from workflows.event import invitations


def _registrations(walker: Walker, event_id: int, clock: FixedClock) -> list[int]:
    """Two places: one registration confirmed (an invitee now), one taking the second place,
    one waiting."""
    return _waiting_list(walker, event_id, clock, ("registered", "registered", "waitlisted"))


def test_a_confirmed_registrant_saying_no_promotes_the_first_waiting(
    walker: Walker, clock: FixedClock
) -> None:
    event, _ = _invited(walker)
    confirmed, _, waiting = _registrations(walker, event["id"], clock)
    with Session(walker.world.engine) as s:
        person = s.exec(select(Invitee).where(Invitee.name == "报名0")).one()
        reg = s.get(Registration, confirmed)
        assert person.answer == "yes" and person.code == reg.code  # type: ignore[union-attr]
        link = "/public/invitations/" + invitations.token_for(person, s.get(Event, event["id"]))  # type: ignore[arg-type]
    page = walker.client.get(link)
    done = walker.client.post(link, data={"csrf": csrf_of(page.text), "answer": "no"})
    assert done.status_code == 200 and "已收到您的答复：不参加" in done.text
    with Session(walker.world.engine) as s:
        assert s.get(Registration, confirmed).state == "cancelled"  # type: ignore[union-attr]
        assert s.get(Registration, waiting).state == "offered"  # type: ignore[union-attr]
        line = s.exec(select(ChangeLog).where(ChangeLog.action == "drop_out")).one()
        assert line.entity_id == confirmed


def test_the_list_warns_when_citizens_saying_no_take_the_share_below_the_rule(
    walker: Walker,
) -> None:
    event, people = _invited(walker)  # 15 invited, five of them citizens (the minimum)
    sign_in(walker.client)
    listing = walker.client.get(f"/events/{event['id']}/invitees").text
    assert 'id="share-warning"' not in listing
    citizen = next(p for p in people if p["category"] == "citizen")
    walker.client.post(
        f"/events/{event['id']}/invitees/{citizen['id']}/answer",
        data={"csrf": csrf_of(listing), "answer": "no", "confirm_share_below": "1"},
    )
    listing = walker.client.get(f"/events/{event['id']}/invitees").text
    warning = re.search(r'id="share-warning">([^<]+)<', listing)
    assert warning and "市民代表 4 人" in warning.group(1) and "至少 5 人" in warning.group(1)
