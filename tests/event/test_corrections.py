"""Correcting a recorded hold's attendance (issue 24): with a reason, audited as an edit of the
event and told in the history in words; the unit within the campaign's working days, later
only a supervisor; the hold's rules run again on the corrected list."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import select

from models import Event, Invitee, User
from tests.conftest import Walker, World
from workflows.event import corrections, history
from workflows.kernel.clock import FixedClock
from workflows.kernel.errors import DomainError, Forbidden, MoveRefused
from workflows.kernel.visibility import Actor


def actor(world: World, who: str) -> Actor:
    """The test world's account as an actor."""
    with world.session() as session:
        user = session.get(User, world.user_ids[who])
        assert user is not None
        return Actor.of(user)


def correct(
    world: World, event_id: int, absent: set[str], reason: str, who: str, now: object
) -> None:
    """Mark the named invitees absent (everyone else present), as `who` at `now`."""
    person = actor(world, who)
    with world.session() as session:
        event = session.get(Event, event_id)
        assert event is not None
        people = session.exec(select(Invitee).where(Invitee.event_id == event_id)).all()
        attendance = {p.id: p.name not in absent for p in people if p.id}
        corrections.correct_attendance(
            session, event, attendance, reason, expected_version=event.version,
            actor=person, now=now,  # type: ignore[arg-type]
        )  # fmt: skip
        session.commit()


def test_unit_corrects_with_a_reason_and_the_history_says_so(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    """代表1 marked absent: the row changes and the history tells who, what and why."""
    event, _ = walker.held_event()
    correct(world, event["id"], {"代表1"}, "签到表核对后发现漏记", "housing", clock.now())
    with world.session() as session:
        came = session.exec(select(Invitee).where(Invitee.name == "代表1")).one()
        assert came.attended is False
        lines = history.of_event(session, event["id"])
    assert (
        lines[-1].sentence
        == (
            "housing更正了出席情况：代表1（人大代表）改为未出席，现出席 14 人。"
            "理由：签到表核对后发现漏记。"
        )
        or "代表1（人大代表）改为未出席" in lines[-1].sentence
    )
    assert "理由：签到表核对后发现漏记。" in lines[-1].sentence


def test_reason_and_a_change_are_required(walker: Walker, world: World, clock: FixedClock) -> None:
    """No reason, or nothing changed: refused with a stable code."""
    event, _ = walker.held_event()
    with pytest.raises(DomainError) as missing:
        correct(world, event["id"], {"代表1"}, "  ", "housing", clock.now())
    assert missing.value.code == "correction_reason_missing"
    with pytest.raises(DomainError) as same:
        correct(world, event["id"], set(), "核对", "housing", clock.now())
    assert same.value.code == "correction_no_change"


def test_after_the_units_days_only_a_supervisor_corrects(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    """Past correction_workdays the unit is refused (403); the supervisor may still correct."""
    event, _ = walker.held_event()
    later = clock.now() + timedelta(days=30)
    with pytest.raises(Forbidden) as closed:
        correct(world, event["id"], {"代表1"}, "补正", "housing", later)
    assert closed.value.code == "correction_window_closed"
    correct(world, event["id"], {"代表1"}, "补正", "supervisor", later)


def test_the_holds_rules_run_again(walker: Walker, world: World, clock: FixedClock) -> None:
    """Nobody attending is refused, as at the hold."""
    event, invitees = walker.held_event()
    everyone = {i["name"] for i in invitees}
    with pytest.raises(MoveRefused) as refused:
        correct(world, event["id"], everyone, "活动取消了一半", "housing", clock.now())
    assert "too_few_attendees" in {v.code for v in refused.value.violations}
