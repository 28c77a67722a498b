"""The waiting list keeps its order and the citizens' share (issue 27): a confirmed citizen who
drops out frees a place that is offered to the first waiting citizen for an answer window
(a timer row), then to the next; a clerk is shown a 不参加 that takes the citizens' share below
the rule before recording it, and it is recorded flagged."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import Session, col, select

from models import ChangeLog, Event, Invitee, Notification, Registration, Timer, TimerState
from tests.conftest import FixedClock, Walker, local
from tests.event.test_invitations import _invited
from tests.pages.test_pages import csrf_of, sign_in
from workflows.escalation import service as escalation
from workflows.escalation.batch import NotifyConfig
from workflows.event import invitations
from workflows.kernel.visibility import SYSTEM
from workflows.public import offers
from workflows.public import registration as flow
from workflows.public.notices import Channels

SMS = Channels(sms=True)


@pytest.fixture(autouse=True)
def sms_on(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker's channels: SMS on (the log gateway), as a configured service has it."""
    monkeypatch.setattr(invitations, "channels", lambda: SMS)


def _waiting_list(
    walker: Walker,
    event_id: int,
    clock: FixedClock,
    states: tuple[str, ...] = ("registered", "waitlisted", "waitlisted"),
) -> list[int]:
    """Registrations in `states`, the places those not waiting; the first confirmed (an
    invitee now). By default one place, confirmed, and two citizens waiting, in order."""
    now = clock.now()
    with Session(walker.world.engine, expire_on_commit=False) as s:
        event = s.get(Event, event_id)
        assert event is not None
        event.public_places = sum(state != "waitlisted" for state in states)
        s.flush()
        ids = []
        for n, state in enumerate(states):
            reg = Registration(
                event_id=event_id, campaign_id=event.campaign_id, name=f"报名{n}", state=state,
                phone_enc="sealed", consent_at=now, created_at=now, updated_at=now,
            )  # fmt: skip
            s.add(reg)
            s.flush()
            ids.append(reg.id)
        s.commit()
        flow.confirm(s, event, ids[0], expected_version=event.version, actor=SYSTEM, now=now)
        s.commit()
    return ids  # type: ignore[return-value]


def _drop_out(walker: Walker, event_id: int, reg_id: int, clock: FixedClock) -> None:
    """The confirmed registrant answers 不参加 through their invitation link."""
    with Session(walker.world.engine) as s:
        reg = s.get(Registration, reg_id)
        person = s.get(Invitee, reg.invitee_id)  # type: ignore[union-attr]
        event = s.get(Event, event_id)
        invitations.answer(s, person, event, "no", via="link", actor=SYSTEM, now=clock.now())  # type: ignore[arg-type]
        flow.drop_out(s, event, person.id, now=clock.now(), notify=SMS)  # type: ignore[arg-type, union-attr]
        s.commit()


def _state(walker: Walker, reg_id: int) -> Registration:
    with Session(walker.world.engine) as s:
        reg = s.get(Registration, reg_id)
        assert reg is not None
        return reg


def _offer_link(walker: Walker, reg_id: int) -> str:
    with Session(walker.world.engine) as s:
        return "/public/offers/" + offers.token_for(s.get(Registration, reg_id))  # type: ignore[arg-type]


def _fire_offer_timers(walker: Walker, clock: FixedClock) -> dict[int, str]:
    """What the scheduler does when an offer's window ends: claim the due timer, handle it."""
    with Session(walker.world.engine) as s:
        due = s.exec(
            select(Timer).where(
                Timer.rule == offers.RULE, Timer.state == TimerState.pending,
                col(Timer.due_at) <= clock.now(),
            )
        ).all()  # fmt: skip
        ids = [t.id for t in due]
        for t in due:
            t.state = TimerState.fired
        s.commit()
        out = escalation.handle_timers(s, ids, clock.now(), NotifyConfig())  # type: ignore[arg-type]
        s.commit()
        return out.states


def _kinds(walker: Walker, reg_id: int) -> list[str]:
    with Session(walker.world.engine) as s:
        rows = s.exec(
            select(Notification).where(
                Notification.subject_type == "registration", Notification.subject_id == reg_id
            ).order_by(col(Notification.id))
        ).all()  # fmt: skip
        return [r.kind for r in rows]


def test_a_dropped_out_place_is_offered_to_the_first_waiting_who_accepts(
    walker: Walker, clock: FixedClock
) -> None:
    """Offer (window, timer, message with the link), then accept through the link."""
    event, _ = _invited(walker, date="2022-09-20")
    confirmed, first, second = _waiting_list(walker, event["id"], clock)
    _drop_out(walker, event["id"], confirmed, clock)
    offered = _state(walker, first)
    assert _state(walker, confirmed).state == "cancelled"
    assert offered.state == "offered" and _state(walker, second).state == "waitlisted"
    assert offered.offer_until == clock.now() + timedelta(hours=24)  # the campaign's rule
    with Session(walker.world.engine) as s:
        timer = s.exec(select(Timer).where(Timer.rule == offers.RULE)).one()
        assert (timer.subject_id, timer.state, timer.due_at) == (
            first, TimerState.pending, offered.offer_until,
        )  # fmt: skip
        note = s.exec(select(Notification).where(Notification.kind == "offered")).one()
        assert note.subject_id == first and note.channel == "sms"
        assert "/public/offers/" in note.body and "2022年9月17日" in note.body
    link = _offer_link(walker, first)
    assert link.split("/")[-1] in note.body
    page = walker.client.get(link)
    assert page.status_code == 200 and "接受递补名额" in page.text
    done = walker.client.post(link, data={"csrf": csrf_of(page.text), "answer": "accept"})
    assert done.status_code == 200 and "已收到您的答复：接受递补名额" in done.text
    assert _state(walker, first).state == "registered"
    assert _kinds(walker, first) == ["offered"]  # the app here has no SMS channel on
    with Session(walker.world.engine) as s:
        assert s.exec(select(Timer).where(Timer.rule == offers.RULE)).one().state == "cancelled"
        actions = s.exec(
            select(ChangeLog.action).where(ChangeLog.entity_id == first,
                                           ChangeLog.entity == "public_registration")
        ).all()  # fmt: skip
        assert actions == ["offer", "offer_accept"]
    # Answered: the link answers nothing again; the clerk confirms as usual.
    again = walker.client.post(link, data={"csrf": csrf_of(page.text), "answer": "decline"})
    assert again.status_code == 409 and "已答复或已失效" in again.text
    assert _state(walker, first).state == "registered"


def test_no_answer_in_time_offers_the_place_to_the_next(walker: Walker, clock: FixedClock) -> None:
    """Expiry → next: the timer lapses the first offer, the second waiting is offered."""
    event, _ = _invited(walker, date="2022-09-20")
    confirmed, first, second = _waiting_list(walker, event["id"], clock)
    _drop_out(walker, event["id"], confirmed, clock)
    link = _offer_link(walker, first)
    clock.advance(timedelta(hours=23, minutes=59))
    assert _fire_offer_timers(walker, clock) == {}  # not yet due
    clock.advance(timedelta(minutes=1))
    late = walker.client.get(link)  # the window has passed, before any scheduler ran
    assert late.status_code == 410 and "答复时限已过" in late.text
    states = _fire_offer_timers(walker, clock)
    assert list(states.values()) == ["done"]
    assert _state(walker, first).state == "lapsed"
    nxt = _state(walker, second)
    assert nxt.state == "offered" and nxt.offer_until == clock.now() + timedelta(hours=24)
    assert _kinds(walker, first) == ["offered", "lapsed"]
    assert _kinds(walker, second) == ["offered"]
    # A redelivered batch changes nothing; the second declines and nobody is left waiting.
    with Session(walker.world.engine) as s:
        done = s.exec(select(Timer).where(Timer.subject_id == first)).one()
        assert escalation.handle_timers(s, [done.id], clock.now(), NotifyConfig()).states == {  # type: ignore[list-item]
            done.id: "absent"
        }
    assert _state(walker, second).state == "offered"
    link = _offer_link(walker, second)
    page = walker.client.get(link)
    walker.client.post(link, data={"csrf": csrf_of(page.text), "answer": "decline"})
    assert _state(walker, second).state == "cancelled"
    with Session(walker.world.engine) as s:
        lines = s.exec(
            select(ChangeLog.action, ChangeLog.actor_name).where(
                ChangeLog.entity == "public_registration"
            ).order_by(col(ChangeLog.id))
        ).all()  # fmt: skip
    assert [a for a, _ in lines] == ["drop_out", "offer", "offer_lapse", "offer", "offer_decline"]


def test_the_window_never_runs_past_the_events_start(walker: Walker, clock: FixedClock) -> None:
    """On the day itself (14:30 start, offered at 10:00) the window ends at the start."""
    event, _ = _invited(walker)
    confirmed, first, _ = _waiting_list(walker, event["id"], clock)
    _drop_out(walker, event["id"], confirmed, clock)
    assert _state(walker, first).offer_until == local(2022, 9, 16, 14, 30)


def test_forged_and_other_links_are_refused_and_audited_once(
    walker: Walker, clock: FixedClock
) -> None:
    event, _ = _invited(walker, date="2022-09-20")
    confirmed, first, _ = _waiting_list(walker, event["id"], clock)
    _drop_out(walker, event["id"], confirmed, clock)
    link = _offer_link(walker, first)
    body, sig = link.rsplit(".", 1)
    cases: list[tuple[str, int]] = [
        (body + "." + sig[::-1], 403),
        ("/public/offers/12.34", 404),
        ("/public/offers/" + "9" * 500, 404),
    ]
    for url, status in cases:
        assert walker.client.get(url).status_code == status, url
    with Session(walker.world.engine) as s:
        codes: list[Any] = s.exec(
            select(ChangeLog.after).where(ChangeLog.entity == "offer_link")
        ).all()
    # One line per client address and window (web/links.py): the rest are counted.
    assert [c["code"] for c in codes] == ["offer_link_forged"]


def test_the_clerk_confirms_a_no_that_takes_citizens_below_the_share(
    walker: Walker,
) -> None:
    """A check page first; 仍然登记 records it with the flag in the audit line."""
    event, people = _invited(walker)  # 15 invited, five of them citizens (the minimum)
    sign_in(walker.client)
    listing = walker.client.get(f"/events/{event['id']}/invitees").text
    citizen = next(p for p in people if p["category"] == "citizen")
    url = f"/events/{event['id']}/invitees/{citizen['id']}/answer"
    check = walker.client.post(url, data={"csrf": csrf_of(listing), "answer": "no"})
    assert check.status_code == 200 and 'id="share-check"' in check.text
    assert "市民代表 4 人" in check.text and "至少 5 人" in check.text
    with Session(walker.world.engine) as s:
        assert s.get(Invitee, citizen["id"]).answer is None  # type: ignore[union-attr]
    done = walker.client.post(
        url, data={"csrf": csrf_of(check.text), "answer": "no", "confirm_share_below": "1"}
    )
    assert done.status_code == 200 and "已标记" in done.text
    with Session(walker.world.engine) as s:
        assert s.get(Invitee, citizen["id"]).answer == "no"  # type: ignore[union-attr]
        line = s.exec(
            select(ChangeLog).where(ChangeLog.entity == "invitee", ChangeLog.action == "answer")
        ).one()
        assert line.after["flags"] == ["citizens_share_below"]  # type: ignore[index]
        assert line.after["share"] == {"coming": 14, "citizens": 4, "needed": 5}  # type: ignore[index]
    # A deputy's 不参加 keeps the share: recorded at once, no check page, no flag.
    deputy = next(p for p in people if p["category"] != "citizen")
    listing = walker.client.get(f"/events/{event['id']}/invitees").text
    r = walker.client.post(
        f"/events/{event['id']}/invitees/{deputy['id']}/answer",
        data={"csrf": csrf_of(listing), "answer": "no"},
    )
    assert r.status_code == 200 and 'id="share-check"' not in r.text
