"""The move path's round trips (issue 32): the closed-campaign guard asks the database once per
transaction about what it found open, and still refuses a write made after the campaign is
closed in the same transaction; a move's answer names the mover without a query after the
commit."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from models import Campaign, Event
from tests.conftest import Walker
from workflows.event import history as history_words
from workflows.kernel.clock import FixedClock
from workflows.kernel.errors import Conflict


def _guard_queries(engine: Any) -> list[str]:
    seen: list[str] = []

    def log(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if "FROM campaign" in statement and "closed_at IS NOT NULL" in statement:
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", log)
    return seen


def test_two_flushes_of_one_event_ask_about_its_campaign_once(walker: Walker) -> None:
    event_id = walker.create_event()["id"]
    seen = _guard_queries(walker.world.engine)
    with walker.world.session() as session:
        event = session.get(Event, event_id)
        assert event is not None
        event.theme = "第一次修改"
        session.flush()
        event.theme = "第二次修改"
        session.flush()
        session.commit()
    assert len(seen) == 1
    with walker.world.session() as session:  # a new transaction asks afresh
        event = session.get(Event, event_id)
        assert event is not None
        event.theme = "第三次修改"
        session.commit()
    assert len(seen) == 2


def test_a_write_after_closing_the_campaign_in_the_same_transaction_is_refused(
    walker: Walker, clock: FixedClock
) -> None:
    event_id = walker.create_event()["id"]
    with walker.world.session() as session:
        event = session.get(Event, event_id)
        assert event is not None
        event.theme = "关闭前的修改"
        session.flush()  # the campaign found open here
        campaign = session.get(Campaign, event.campaign_id)
        assert campaign is not None
        campaign.closed_at = clock.now()
        session.flush()  # closing is the one write allowed
        event.theme = "关闭后的修改"
        with pytest.raises(Conflict) as refused:
            session.flush()
        assert refused.value.code == "campaign_closed"


@pytest.mark.parametrize("display_name", ["住建局王科长", ""])
def test_a_move_answer_names_the_mover_with_no_query_after_the_commit(
    walker: Walker, display_name: str
) -> None:
    """The move's own audit line in words names the mover by display name (read with the
    token), and nothing is asked of the database after the move's commit."""
    from models import User

    with walker.world.session() as session:
        user = session.get(User, walker.world.user_ids["housing"])
        assert user is not None
        user.display_name = display_name
        session.commit()
    event_id = walker.create_event()["id"]
    version = walker.get(event_id, who="supervisor")["version"]
    after_commit: list[str] = []
    committed = False

    def log(_c: Any, _cur: Any, statement: str, *_: Any) -> None:
        if committed:
            after_commit.append(statement)

    def on_commit(_conn: Any) -> None:
        nonlocal committed
        committed = True

    engine = walker.world.engine
    sa.event.listen(engine, "before_cursor_execute", log)
    sa.event.listen(engine, "commit", on_commit)
    try:
        answer = walker.move(
            event_id, "reschedule", version=version, reason="场地调整",
            data={"date": "2022-09-20"},
        )  # fmt: skip
    finally:
        sa.event.remove(engine, "before_cursor_execute", log)
        sa.event.remove(engine, "commit", on_commit)
    assert answer.status_code == 200, answer.text
    assert answer.json()["move"]["who"] == (display_name or history_words.who_zh("housing"))
    assert after_commit == []
