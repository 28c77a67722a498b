"""The opinion tally (workflows/feedback/tally.py) stays equal to a recount of the opinions
after every kind of write that changes an opinion's counts (issue 32): collection and late
opinions, answers typed and back-dated, answers told by SMS, corrections, 不满意 reopening and
an upheld appeal, transfers, a unit merge, a cancellation, and direct ORM writes (an opinion
changed with its old values unloaded, moved to another unit, a new one added). Each flow is the
feature's own test, run here and then checked."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from models import Event, FeedbackItem, OpinionTally
from tests.accounts.test_unit_history import (
    test_a_merged_unit_counts_as_the_unit_it_joined as merge_flow,
)
from tests.conftest import SHILING, Walker
from tests.event.test_cancellation import (
    test_a_supervisor_cancels_directly_and_it_is_recorded as cancel_flow,
)
from tests.feedback import test_replies as _replies
from tests.feedback.test_answer_corrections import (
    test_after_its_days_the_unit_is_refused_and_a_supervisor_corrects as correction_flow,
)
from tests.feedback.test_replies import (
    test_an_answer_is_texted_once_and_the_clock_is_met_when_sent as sms_flow,
)
from tests.feedback.test_replies import (
    test_an_upheld_appeal_gives_the_answer_back_and_a_rejected_one_keeps_it_reopened as appeal_flow,
)
from tests.feedback.test_transfers import (
    test_sign_transfer_send_back_and_a_supervisor_decides as transfer_flow,
)
from tests.reporting.test_answer_dates_scoring import (
    test_answers_are_scored_by_the_day_given_and_late_opinions_count as answers_flow,
)
from workflows.feedback import tally

# The flows' fixtures (the SMS flow's clocked workers and stub channels), as test_replies has them.
broker, channels, rt = _replies.broker, _replies.channels, _replies.rt
scheduler, workers, sms_on = _replies.scheduler, _replies.workers, _replies.sms_on
Key = tuple[int, int, int]


def recounted(session: Session) -> dict[Key, dict[str, int]]:
    """Every opinion's share added up in Python, by (campaign, event's unit, holding unit)."""
    out: dict[Key, Counter[str]] = {}
    rows = session.exec(
        select(FeedbackItem, Event.campaign_id, Event.unit_id).join(
            Event, col(Event.id) == FeedbackItem.event_id
        )
    ).all()
    for item, campaign_id, event_unit in rows:
        share = tally.share(
            item.told_at, item.answered_at, item.answered_on, item.answered_late_workdays
        )
        out.setdefault((campaign_id, event_unit, item.unit_id), Counter()).update(share)
    return {k: {n: c[n] for n in tally.COUNTS} for k, c in out.items()}


def kept(session: Session) -> dict[Key, dict[str, int]]:
    """The tally's rows (rows whose every count went back to 0 say nothing)."""
    return {
        (t.campaign_id, t.event_unit_id, t.unit_id): {n: getattr(t, n) for n in tally.COUNTS}
        for t in session.exec(select(OpinionTally)).all()
        if any(getattr(t, n) for n in tally.COUNTS)
    }


def assert_tally_is_the_recount(engine: Engine, *expected: str) -> dict[str, int]:
    """The kept tally equals the recount (and `rebuild`'s SQL recount); each count named in
    `expected` is above 0 somewhere, so the flow really exercised it. The summed counts."""
    with Session(engine) as s:
        truth = recounted(s)
        assert kept(s) == truth
        tally.rebuild(s)
        assert kept(s) == truth
        s.rollback()
    totals = Counter[str]()
    for counts in truth.values():
        totals.update(counts)
    for name in expected:
        assert totals[name] > 0, (name, dict(totals))
    return dict(totals)


def test_collected_late_and_backdated_answers(walker: Walker, engine: Engine, clock: Any) -> None:
    answers_flow(walker, clock)
    assert_tally_is_the_recount(
        engine, "opinions", "answered", "answered_late", "workdays_late", "answered_backdated"
    )


def test_corrections(walker: Walker, engine: Engine, clock: Any) -> None:
    correction_flow(walker, clock)
    assert_tally_is_the_recount(engine, "answered")


def test_an_answer_told_by_sms_later(
    walker: Walker, engine: Engine, clock: Any, scheduler: Any, workers: Any, channels: Any, rt: Any
) -> None:
    sms_flow(walker, engine, clock, scheduler, workers, channels, rt)
    assert_tally_is_the_recount(engine, "answered", "answered_late")


def test_dissatisfied_reopens_and_an_upheld_appeal_restores(
    walker: Walker, engine: Engine, clock: Any, scheduler: Any, workers: Any
) -> None:
    appeal_flow(walker, engine, clock, scheduler, workers)
    assert_tally_is_the_recount(engine, "answered")


def test_transfers(walker: Walker, engine: Engine, clock: Any) -> None:
    transfer_flow(walker, engine, clock)
    totals = assert_tally_is_the_recount(engine, "opinions")
    with Session(engine) as s:  # the transferred opinion is counted under its new unit
        holders = {(k[1], k[2]) for k in recounted(s)}
    assert any(event_unit != unit for event_unit, unit in holders), (holders, totals)


def test_a_unit_merge(walker: Walker, engine: Engine, clock: Any) -> None:
    merge_flow(walker, clock)
    assert_tally_is_the_recount(engine)


def test_a_cancellation(walker: Walker, engine: Engine) -> None:
    cancel_flow(walker)
    assert_tally_is_the_recount(engine)


def test_direct_orm_writes(walker: Walker, engine: Engine, clock: Any) -> None:
    """An opinion changed without its old values loaded (expired after a commit), then moved
    to another unit, then a new opinion added: the tally follows each flush."""
    answers_flow(walker, clock)
    with Session(engine) as s:
        item = s.exec(select(FeedbackItem).order_by(col(FeedbackItem.id))).first()
        assert item is not None
        s.commit()  # expires every attribute: the writes below do not know the old values
        item.told_at = datetime(2022, 10, 30, 2, tzinfo=UTC)
        item.answered_late_workdays = 7
        item.answered_on = date(2022, 10, 1)
        s.commit()
        assert_tally_is_the_recount(engine, "answered_late", "answered_backdated")
        other = s.exec(select(Event.unit_id).where(Event.unit_id != item.unit_id)).first()
        if other is None:
            other = walker.world.units[SHILING]
        item.unit_id = other
        at = datetime(2022, 10, 31, 2, tzinfo=UTC)
        s.add(
            FeedbackItem(
                event_id=item.event_id, unit_id=item.unit_id, content="直接写入", created_at=at,
                updated_at=at, answered_at=at, answered_on=date(2022, 10, 28),
            )
        )  # fmt: skip
        s.commit()
    totals = assert_tally_is_the_recount(engine, "answered")
    with Session(engine) as s:
        assert any(k[1] != k[2] for k in kept(s)), totals  # held by another unit than its event's
