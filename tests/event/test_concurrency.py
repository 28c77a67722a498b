"""Races: two clients moving one event at once; exactly one wins and the log shows one move."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from models import Event, TransitionLog
from tests.conftest import Walker, error_of
from workflows.event import machine as event_machine
from workflows.kernel.errors import MoveRefused
from workflows.kernel.visibility import SYSTEM


def _moves(engine: Engine, event_id: int) -> list[TransitionLog]:
    with Session(engine) as s:
        return list(
            s.exec(
                select(TransitionLog).where(
                    TransitionLog.event_id == event_id, TransitionLog.trigger != "create"
                )
            ).all()
        )


@pytest.mark.postgresql
def test_row_lock_makes_the_second_mover_see_the_first_move(
    walker: Walker, engine: Engine, clock
) -> None:
    """PostgreSQL: B blocks on A's row lock, then finds the version moved and is refused."""
    event = walker.create_event()
    eid = event["id"]
    a = Session(engine, expire_on_commit=False)
    row_a = a.exec(select(Event).where(Event.id == eid).with_for_update()).one()
    event_machine.fire(
        a, row_a, "cancel", expected_version=1, actor=SYSTEM, now=clock.now(), reason="A"
    )

    outcome: dict[str, object] = {}
    b_started = threading.Event()

    def b_moves() -> None:
        with Session(engine) as b:
            b_started.set()
            row_b = b.exec(select(Event).where(Event.id == eid).with_for_update()).one()
            outcome["b_saw_version"] = row_b.version
            try:
                event_machine.fire(
                    b,
                    row_b,
                    "reschedule",
                    expected_version=1,
                    actor=SYSTEM,
                    now=clock.now(),
                    reason="B",
                    data={"date": "2022-09-20"},
                )
                b.commit()
                outcome["b"] = "moved"
            except MoveRefused as exc:
                outcome["b"] = exc.code

    thread = threading.Thread(target=b_moves)
    thread.start()
    b_started.wait(5)
    thread.join(0.5)
    assert thread.is_alive(), "B must be waiting on A's row lock"
    a.commit()
    a.close()
    thread.join(10)
    assert outcome == {"b_saw_version": 2, "b": "stale_version"}
    moves = _moves(engine, eid)
    assert [(m.trigger, m.reason) for m in moves] == [("cancel", "A")]


@pytest.mark.postgresql
def test_optimistic_version_check_without_a_lock(walker: Walker, engine: Engine, clock) -> None:
    """Even a writer that skipped the lock cannot overwrite: its UPDATE matches no row."""
    from sqlalchemy.orm.exc import StaleDataError

    event = walker.create_event()
    eid = event["id"]
    with Session(engine) as a, Session(engine) as b:
        row_a = a.get(Event, eid)
        row_b = b.get(Event, eid)
        assert row_a is not None and row_b is not None
        event_machine.fire(
            a, row_a, "cancel", expected_version=1, actor=SYSTEM, now=clock.now(), reason="A"
        )
        a.commit()
        with pytest.raises(StaleDataError):
            event_machine.fire(
                b,
                row_b,
                "reschedule",
                expected_version=1,
                actor=SYSTEM,
                now=clock.now(),
                reason="B",
                data={"date": "2022-09-20"},
            )
        b.rollback()
    assert [m.reason for m in _moves(engine, eid)] == ["A"]


def test_concurrent_api_moves_exactly_one_wins(walker: Walker, engine: Engine) -> None:
    """Eight clients POST the same move at the same version at once: one 200, seven 409."""
    event = walker.create_event()
    eid = event["id"]
    barrier = threading.Barrier(8)

    def attempt(i: int) -> tuple[int, str | None]:
        barrier.wait(5)
        r = walker.client.post(
            f"/api/v1/events/{eid}/transitions",
            json={"trigger": "cancel", "expected_version": 1, "reason": f"客户端{i}"},
            headers=walker.world.headers["supervisor"],
        )
        return r.status_code, (error_of(r)["code"] if r.status_code != 200 else None)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(8)))
    assert sorted(status for status, _ in results) == [200] + [409] * 7
    assert {code for status, code in results if status == 409} == {"stale_version"}
    moves = _moves(engine, eid)
    assert len(moves) == 1 and moves[0].version == 2
    assert walker.get(eid)["version"] == 2


@pytest.mark.postgresql
def test_two_answers_to_one_opinion_race_and_one_loses(walker, engine) -> None:
    """Two clerks answer the same opinion from the same version at once (PostgreSQL row lock):
    exactly one answer is recorded, the other hears 409 stale_version."""
    import threading

    from sqlmodel import Session, select

    from models import FeedbackItem

    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    assert r.status_code == 200, r.text
    with Session(engine) as s:
        item = s.exec(select(FeedbackItem)).one()
    url = f"/api/v1/feedback/{item.id}/transitions"
    start = threading.Barrier(2)
    results: list[tuple[int, str]] = []

    def answer(text: str) -> None:
        start.wait()
        r = walker.client.post(
            url,
            json={"trigger": "answer", "expected_version": item.version, "data": {"answer": text}},
            headers=walker.world.headers["housing"],
        )
        code = r.json().get("error", {}).get("code", "") if r.status_code != 200 else ""
        results.append((r.status_code, code))

    threads = [threading.Thread(target=answer, args=(t,)) for t in ("甲的答复", "乙的答复")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(results) == [(200, ""), (409, "stale_version")]
    with Session(engine) as s:
        final = s.exec(select(FeedbackItem)).one()
    assert final.state == "answered" and final.version == item.version + 1
