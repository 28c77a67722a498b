"""A confirmed registrant who answers 不参加 gives their place to the first on the waiting list
(issue 27), and the clerk sees when the citizens' share of those still coming falls short."""

from __future__ import annotations

import re

from sqlmodel import Session, select

from models import ChangeLog, Event, Invitee, Registration
from tests.conftest import FixedClock, Walker
from tests.event.test_invitations import _invited
from tests.pages.test_pages import csrf_of, sign_in
from workflows.event import invitations
from workflows.kernel.visibility import SYSTEM
from workflows.public import registration as flow


def _registrations(walker: Walker, event_id: int, clock: FixedClock) -> list[int]:
    """Two places: one registration confirmed (an invitee now), one taking the second place,
    one waiting."""
    now = clock.now()
    with Session(walker.world.engine, expire_on_commit=False) as s:
        event = s.get(Event, event_id)
        assert event is not None
        event.public_places = 2
        s.flush()
        ids = []
        for n, state in enumerate(("registered", "registered", "waitlisted")):
            reg = Registration(
                event_id=event_id, campaign_id=event.campaign_id, name=f"报名{n}", state=state,
                consent_at=now, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(reg)
            s.flush()
            ids.append(reg.id)
        s.commit()
        flow.confirm(s, event, ids[0], expected_version=event.version, actor=SYSTEM, now=now)
        s.commit()
    return ids  # type: ignore[return-value]


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
        assert s.get(Registration, waiting).state == "registered"  # type: ignore[union-attr]
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
        data={"csrf": csrf_of(listing), "answer": "no"},
    )
    listing = walker.client.get(f"/events/{event['id']}/invitees").text
    warning = re.search(r'id="share-warning">([^<]+)<', listing)
    assert warning and "市民代表 4 人" in warning.group(1) and "至少 5 人" in warning.group(1)
