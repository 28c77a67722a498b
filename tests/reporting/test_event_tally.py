"""The event tally (models/tally.py EventTally, kept by migration 0047's triggers) stays equal
to a count of the events after every kind of write that changes an event's state, unit or
campaign (issue 32): the whole walk to 已抽查, a summary sent back and resubmitted, a
cancellation, a unit merge, the schedule import's Core insert, and plain SQL (an insert, an
update of the unit and the campaign, a delete). The board's funnel and counts, read from the
tally, equal what counting the events gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import Campaign, Event, EventState, EventTally, TransitionLog, Unit
from tests.accounts.test_unit_history import (
    test_a_merged_unit_counts_as_the_unit_it_joined as merge_flow,
)
from tests.conftest import Walker, World
from tests.event.test_cancellation import (
    test_a_supervisor_cancels_directly_and_it_is_recorded as cancel_flow,
)
from tests.event.test_event_moves import test_full_walk_planned_to_spot_checked as walk_flow
from tests.event.test_submission_history import (
    test_every_submission_is_kept_and_the_first_decides as late_flow,
)
from tests.event.test_workflow_rounds import (
    test_a_summary_sent_back_is_resubmitted_and_checked_again as rework_flow,
)
from tests.schedule.test_schedule_import import (
    test_notice_text_is_refused_for_its_two_warnings_then_imports_39_events as import_flow,
)
from workflows.event import machine as event_machine
from workflows.reporting import board

Key = tuple[int, int, str]
Counts = tuple[int, int, int]  # events, summaries first submitted on time, late
NOW = datetime(2022, 9, 1, tzinfo=UTC)


def first_lateness(session: Session) -> dict[int, int]:
    """Each event's first submit_summary line's lateness, from the lines themselves."""
    out: dict[int, int] = {}
    lines = session.exec(
        select(TransitionLog)
        .where(TransitionLog.trigger == "submit_summary")
        .order_by(col(TransitionLog.id))
    ).all()
    for line in lines:
        out.setdefault(line.event_id, int((line.data or {}).get("late_seconds") or 0))
    return out


def counted(session: Session) -> dict[Key, Counts]:
    """The events counted by (campaign, unit, state), with their summaries first submitted on
    time and late; each event's kept lateness is its first line's."""
    firsts = first_lateness(session)
    out: dict[Key, Counts] = {}
    for e in session.exec(select(Event)).all():
        assert e.summary_late_seconds == firsts.get(e.id or 0), (e.id, e.summary_late_seconds)
        late = e.summary_late_seconds
        n, on_time, lately = out.get((e.campaign_id, e.unit_id, e.state), (0, 0, 0))
        out[(e.campaign_id, e.unit_id, e.state)] = (
            n + 1,
            on_time + int(late is not None and late < 1),
            lately + int(late is not None and late >= 1),
        )
    return out


def kept(session: Session) -> dict[Key, Counts]:
    """The tally's rows (a row gone back to 0 says nothing)."""
    rows = session.exec(select(EventTally)).all()
    return {
        (t.campaign_id, t.unit_id, t.state): (t.events, t.summaries_on_time, t.summaries_late)
        for t in rows
        if t.events or t.summaries_on_time or t.summaries_late
    }


def assert_tally_is_the_count(engine: Engine, *states: str) -> dict[Key, Counts]:
    """The tally equals the count, its districts are the campaigns', and each state named was
    reached by some event (so the flow really wrote it)."""
    with Session(engine) as s:
        truth = counted(s)
        assert kept(s) == truth
        districts = s.exec(
            select(EventTally.district_id, Campaign.district_id).join(
                Campaign,
                Campaign.id == EventTally.campaign_id,  # type: ignore[arg-type]
            )
        ).all()
        assert districts and all(mine == theirs for mine, theirs in districts)
    reached = {state for (_, _, state) in truth}
    assert set(states) <= reached, (states, reached)
    return truth


def test_the_whole_walk(walker: Walker, engine: Engine) -> None:
    walk_flow(walker)
    assert_tally_is_the_count(engine, EventState.spot_checked)


def test_a_summary_sent_back_and_resubmitted(walker: Walker, engine: Engine) -> None:
    rework_flow(walker, engine)
    assert_tally_is_the_count(engine)


def test_a_cancellation(walker: Walker, engine: Engine) -> None:
    cancel_flow(walker)
    assert_tally_is_the_count(engine, EventState.cancelled)


def test_a_unit_merge(walker: Walker, engine: Engine, clock: Any) -> None:
    merge_flow(walker, clock)
    assert_tally_is_the_count(engine)


def test_the_schedule_import(client: Any, world: World, engine: Engine) -> None:
    import_flow(client, world)
    truth = assert_tally_is_the_count(engine, EventState.planned)
    assert sum(n for n, _, _ in truth.values()) >= 39


def test_plain_sql_inserts_updates_and_deletes(walker: Walker, engine: Engine) -> None:
    """Writes no workflow makes, straight in SQL: the triggers follow each statement."""
    walk_flow(walker)
    with Session(engine) as s:
        event = s.exec(select(Event)).first()
        assert event is not None
        other_unit = s.exec(select(Unit.id).where(Unit.id != event.unit_id)).first()
        values = {"c": event.campaign_id, "u": event.unit_id, "now": NOW}
        s.execute(
            text(
                "INSERT INTO event (campaign_id, unit_id, theme, date_earliest, date_latest, "
                "tentative, forms, public_places, state, version, flags, escalation_level, "
                "created_at, updated_at) VALUES (:c, :u, '补充', '2022-09-20', '2022-09-20', "
                "false, '[]', 0, 'held', 1, '[]', 0, :now, :now)"
            ),
            values,
        )
        s.commit()
        assert_tally_is_the_count(engine, EventState.held)
        s.execute(
            text("UPDATE event SET unit_id = :o, state = 'planned' WHERE theme = '补充'"),
            {"o": other_unit},
        )
        s.execute(text("UPDATE event SET theme = '补充活动' WHERE theme = '补充'"))  # no count
        s.commit()
        assert_tally_is_the_count(engine, EventState.planned)
        s.execute(text("DELETE FROM event WHERE theme = '补充活动'"))
        s.commit()
        assert_tally_is_the_count(engine)


def test_the_board_reads_what_counting_the_events_gives(walker: Walker, engine: Engine) -> None:
    """The funnel, the spot-check total and the units with an event, for every unit, a
    district's units and one unit: as counted from the events."""
    rework_flow(walker, engine)
    walker.create_event()
    walker.invited_event()
    with Session(engine) as s:
        truth = counted(s)
        campaign_id = s.exec(select(Campaign.id)).first()
        unit_ids = frozenset(s.exec(select(Unit.id)).all())
        busiest = max(unit_ids, key=lambda u: sum(c[0] for k, c in truth.items() if k[1] == u))
        for units in (None, unit_ids, busiest):

            def seen(key: Key, units: Any = units) -> bool:
                return units is None or key[1] in (
                    units if isinstance(units, frozenset) else {units}
                )

            mine = {k: n for k, n in truth.items() if seen(k) and k[0] == campaign_id}
            stages = {stage.label: stage.here for stage in board.funnel(s, campaign_id, units)}
            for state in board.FUNNEL:
                label = event_machine.STATE_LABELS_ZH[state]
                assert stages[label] == sum(c[0] for k, c in mine.items() if k[2] == state)
            waiting = sum(c[0] for k, c in truth.items() if seen(k) and k[2] == "summary_submitted")
            assert board.waiting_for_check(s, units) == waiting
            numbers = board.numbers(s, NOW, campaign_id, units)
            assert numbers["units"] == len({k[1] for k in mine})
            assert sum(stages.values()) > 0


def test_a_late_first_submission_stays_late_after_a_timely_resubmission(
    walker: Walker, engine: Engine, clock: Any
) -> None:
    """The first submission decides: late, sent back, resubmitted in time: still late, once."""
    late_flow(walker, clock)
    truth = assert_tally_is_the_count(engine)
    assert sum(late for _, _, late in truth.values()) == 1
    assert sum(on_time for _, on_time, _ in truth.values()) == 0
