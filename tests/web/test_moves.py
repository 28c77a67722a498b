"""One move path for both doors: every move made through the API or a page is counted in
`openday_moves_total` and logged as `event_moved` after its commit; every refused move is counted
as refused and logged as `move_refused` (web/moves.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import structlog
from prometheus_client import REGISTRY
from sqlmodel import Session, select
from structlog.testing import capture_logs

import web.moves as web_moves
from models import FeedbackItem
from tests.conftest import Walker, World
from tests.pages.test_pages import csrf_of, sign_in, version_of


@contextmanager
def move_logs() -> Iterator[list[dict[str, Any]]]:
    """capture_logs() for web/moves' logger. With cache_logger_on_first_use (configure_logging
    sets it) the module's logger keeps the processor list it was first used with; once logging
    is configured again (another app in the same run), capture_logs edits the new list and that
    logger's lines escape the capture (seen in the full suite). A fresh proxy, first used inside
    the capture, binds to the list being captured."""
    saved = web_moves.log
    with capture_logs() as logs:
        web_moves.log = structlog.get_logger("openday.api")
        try:
            yield logs
        finally:
            web_moves.log = saved


def moves_counted(trigger: str, outcome: str) -> float:
    """The process's openday_moves_total for one trigger and outcome."""
    value = REGISTRY.get_sample_value(
        "openday_moves_total", {"trigger": trigger, "outcome": outcome}
    )
    return value or 0.0


def test_a_move_made_on_a_page_is_counted_and_logged(walker: Walker) -> None:
    """发出邀请 on the page: one ok invite counted, one `event_moved` line from the page door."""
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=5, deputies=10)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/invite")
    before = moves_counted("invite", "ok")
    with move_logs() as logs:
        response = walker.client.post(
            f"/events/{event['id']}/invite",
            data={"csrf": csrf_of(page.text), "version": version_of(page.text)},
            follow_redirects=False,
        )
    assert response.status_code == 303, response.text
    assert moves_counted("invite", "ok") == before + 1
    moved = [e for e in logs if e["event"] == "event_moved"]
    assert [(e["event_id"], e["trigger"], e["to_state"], e["door"]) for e in moved] == [
        (event["id"], "invite", "invited", "page")
    ]


def test_a_move_refused_on_a_page_is_counted_and_logged_as_refused(walker: Walker) -> None:
    """Inviting too few on the page (the rules in refuse mode): nothing written, one refused
    invite counted and logged."""
    walker.set_rule_modes("refuse")
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=2, deputies=8)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/invite")
    before = moves_counted("invite", "refused")
    with move_logs() as logs:
        response = walker.client.post(
            f"/events/{event['id']}/invite",
            data={"csrf": csrf_of(page.text), "version": version_of(page.text)},
        )
    assert response.status_code == 409
    assert walker.get(event["id"])["state"] == "planned"
    assert moves_counted("invite", "refused") == before + 1
    refused = [e for e in logs if e["event"] == "move_refused"]
    assert [(e["trigger"], e["state"], e["status"], e["door"]) for e in refused] == [
        ("invite", "planned", 409, "page")
    ]
    assert not [e for e in logs if e["event"] == "event_moved"]


def test_a_move_refused_through_the_api_is_counted_and_logged_as_refused(walker: Walker) -> None:
    """The API's refusal takes the same path as the page's (inviting nobody is refused in
    every mode)."""
    event = walker.create_event()
    before = moves_counted("invite", "refused")
    with move_logs() as logs:
        assert walker.move(event["id"], "invite").status_code == 409
    assert moves_counted("invite", "refused") == before + 1
    refused = [e for e in logs if e["event"] == "move_refused"]
    assert [(e["trigger"], e["door"]) for e in refused] == [("invite", "api")]


def _opinion(walker: Walker, world: World) -> FeedbackItem:
    """An opinion collected at a held event."""
    event, _ = walker.held_event()
    r = walker.move(event["id"], "collect_feedback", data={"items": [{"content": "希望多开展"}]})
    assert r.status_code == 200, r.text
    with Session(world.engine) as session:
        return session.exec(select(FeedbackItem)).one()


def test_an_opinion_move_through_the_api_is_counted_and_logged(
    walker: Walker, world: World
) -> None:
    """交办 through the API: counted as `assign` (its refusal's label too) and logged."""
    item = _opinion(walker, world)
    before = moves_counted("assign", "ok")
    with move_logs() as logs:
        r = walker.client.post(
            f"/api/v1/feedback/{item.id}/transitions",
            json={
                "trigger": "assign",
                "expected_version": item.version,
                "data": {"assignee": "王科长"},
            },
            headers=world.headers["housing"],
        )
    assert r.status_code == 200, r.text
    assert moves_counted("assign", "ok") == before + 1
    moved = [e for e in logs if e["event"] == "event_moved"]
    assert [(e["feedback_item_id"], e["trigger"], e["door"]) for e in moved] == [
        (item.id, "feedback.assign", "api")
    ]


def test_an_opinion_move_on_a_page_is_counted_and_logged(walker: Walker, world: World) -> None:
    """交办 on the opinions page takes the same path."""
    item = _opinion(walker, world)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{item.event_id}/feedback")
    before = moves_counted("assign", "ok")
    with move_logs() as logs:
        response = walker.client.post(
            f"/events/{item.event_id}/feedback/{item.id}",
            data={
                "csrf": csrf_of(page.text),
                "trigger": "assign",
                "assignee": "王科长",
                "item_version": str(item.version),
            },
            follow_redirects=False,
        )
    assert response.status_code == 303, response.text
    assert moves_counted("assign", "ok") == before + 1
    moved = [e for e in logs if e["event"] == "event_moved"]
    assert [(e["trigger"], e["door"]) for e in moved] == [("feedback.assign", "page")]
