"""Keyset pages: `after=` cursors walk every list (the events list here) without gaps or
repeats, a bad cursor is a clear 422, and offset paging still works beside it."""

from __future__ import annotations

import base64
import json

import pytest

from tests.conftest import SHILING, Walker, error_of
from workflows.kernel import paging


def _seed(walker: Walker) -> list[int]:
    ids = []
    for day in (23, 21, 22, 21, 25, 24, 21):  # ties on the date: the id decides the order
        ids.append(
            walker.create_event(
                theme=f"主题{day}", date=f"2022-09-{day:02d}", who="supervisor",
                override_reason="补录",
            )["id"]
        )  # fmt: skip
    ids.append(
        walker.create_event(
            who="supervisor", unit=SHILING, theme="窗口", earliest="2022-09-22",
            latest="2022-09-29", override_reason="补录",
        )["id"]
    )  # fmt: skip
    return ids


def test_cursor_walk_visits_every_event_once_in_order(walker: Walker) -> None:
    """Walking by next_after gives the same rows, in the same order, as one big page."""
    _seed(walker)
    h = walker.world.headers["supervisor"]
    whole = walker.client.get("/api/v1/events?limit=100", headers=h).json()
    assert whole["total"] == 8 and whole["next_after"] is None
    expected = [(e["date_earliest"], e["id"]) for e in whole["items"]]
    assert expected == sorted(expected)
    seen, after, pages = [], None, 0
    while True:
        url = "/api/v1/events?limit=3" + (f"&after={after}" if after else "")
        page = walker.client.get(url, headers=h).json()
        pages += 1
        seen += [(e["date_earliest"], e["id"]) for e in page["items"]]
        assert page["total"] == (8 if after is None else None)  # counted on the first page only
        after = page["next_after"]
        if after is None:
            break
    assert seen == expected and pages == 3


def test_offset_pages_still_work_and_hand_out_a_cursor(walker: Walker) -> None:
    """An old client's offset page answers as before, plus the cursor of the page after it."""
    _seed(walker)
    h = walker.world.headers["supervisor"]
    whole = walker.client.get("/api/v1/events?limit=100", headers=h).json()["items"]
    second = walker.client.get("/api/v1/events?limit=3&offset=3", headers=h).json()
    assert [e["id"] for e in second["items"]] == [e["id"] for e in whole[3:6]]
    assert second["total"] == 8 and second["offset"] == 3
    third = walker.client.get(
        f"/api/v1/events?limit=3&after={second['next_after']}", headers=h
    ).json()
    assert [e["id"] for e in third["items"]] == [e["id"] for e in whole[6:]]


def test_cursor_respects_filters_and_scoping(walker: Walker) -> None:
    """A staffer's walk covers only their unit; a filter applies on every page."""
    _seed(walker)
    h = walker.world.headers["housing"]
    first = walker.client.get("/api/v1/events?limit=2", headers=h).json()
    rest = walker.client.get(f"/api/v1/events?limit=50&after={first['next_after']}", headers=h)
    units = {e["unit_id"] for e in first["items"] + rest.json()["items"]}
    assert len(first["items"]) + len(rest.json()["items"]) == 7 and len(units) == 1


@pytest.mark.parametrize(
    "cursor, problem",
    [
        ("not-base64!!", "does not decode"),
        (base64.urlsafe_b64encode(b"[1,2").decode(), "does not decode"),
        (paging.encode("someotherlist", ["2022-09-01", 3]), "from another list"),
    ],
)
def test_bad_cursor_is_a_422_naming_after(walker: Walker, cursor: str, problem: str) -> None:
    """A cursor the list did not hand out is refused with a stable code, never a 500."""
    _seed(walker)
    r = walker.client.get(
        f"/api/v1/events?after={cursor}", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 422, r.text
    body = error_of(r)
    assert body["code"] == "invalid_cursor" and body["details"]["problem"] == problem
    assert "after" in body["message"] and "after" in body["message_en"]


def test_cursor_with_wrong_value_types_or_offset_is_refused(walker: Walker) -> None:
    """A cursor of the right list with doctored values, or after together with offset: 422."""
    _seed(walker)
    h = walker.world.headers["supervisor"]
    good = walker.client.get("/api/v1/events?limit=2", headers=h).json()["next_after"]
    tag, values = json.loads(base64.urlsafe_b64decode(good + "=" * (-len(good) % 4)))
    raw = json.dumps([tag, [{"d": "yesterday"}, values[1]]]).encode()
    doctored = base64.urlsafe_b64encode(raw).decode()
    r = walker.client.get(f"/api/v1/events?after={doctored}", headers=h)
    assert r.status_code == 422 and error_of(r)["details"]["problem"] == "bad value"
    raw = json.dumps([tag, [values[0], "seven"]]).encode()
    wrong_type = base64.urlsafe_b64encode(raw).decode()
    r = walker.client.get(f"/api/v1/events?after={wrong_type}", headers=h)
    assert r.status_code == 422 and error_of(r)["details"]["problem"] == "wrong value type"
    r = walker.client.get(f"/api/v1/events?after={good}&offset=2", headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "cursor_with_offset"
    r = walker.client.get("/api/v1/events?after=" + "A" * 600, headers=h)
    assert r.status_code == 422


def test_descending_lists_walk_by_cursor(walker: Walker) -> None:
    """Newest-first lists (campaigns, id DESC) walk by cursor too."""
    h = walker.world.headers["supervisor"]
    for n in range(4):
        r = walker.client.post(
            "/api/v1/campaigns",
            json={"doc_number": f"测试〔2022〕{n}号", "title": f"通知{n}",
                  "issuing_office": "区政府办", "starts_on": "2022-08-22",
                  "ends_on": "2022-12-31"},
            headers=h,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    whole = [
        c["id"] for c in walker.client.get("/api/v1/campaigns?limit=100", headers=h).json()["items"]
    ]
    assert whole == sorted(whole, reverse=True) and len(whole) >= 5
    first = walker.client.get("/api/v1/campaigns?limit=2", headers=h).json()
    walked = [c["id"] for c in first["items"]]
    after = first["next_after"]
    while after:
        page = walker.client.get(f"/api/v1/campaigns?limit=2&after={after}", headers=h).json()
        walked += [c["id"] for c in page["items"]]
        after = page["next_after"]
    assert walked == whole


def test_mixed_directions_use_an_or_chain() -> None:
    """Keys going different ways get the equivalent OR chain (checked on SQL text)."""
    import sqlalchemy as sa

    t = sa.table("t", sa.column("a", sa.Integer), sa.column("b", sa.Integer))
    keys = paging.keys_of(sa.select(t).order_by(t.c.a.desc(), t.c.b))
    text = str(paging.after_condition(keys, (5, 7)).compile(compile_kwargs={"literal_binds": True}))
    assert text == "t.a < 5 OR t.a = 5 AND t.b > 7"


# ---- the overdue list: three sources merged, walked by cursor ------------------------------


def _overdue_world(walker: Walker, engine) -> None:
    """Unheld events, owed summaries and open answers whose deadlines tie across kinds."""
    from datetime import date, timedelta

    from sqlmodel import Session

    from models import Event, FeedbackItem
    from workflows.workdays.deadlines import end_of_local_day

    ids = [
        walker.create_event(
            who="supervisor", unit=unit, theme=f"逾期{n}", date=f"2022-09-{day:02d}",
            override_reason="补录",
        )["id"]
        for n, (unit, day) in enumerate(
            [("区住建局", 5), (SHILING, 5), ("区住建局", 6), (SHILING, 7), ("区住建局", 7)]
        )
    ]  # fmt: skip
    with Session(engine) as session:
        # Two of them held, summaries owed on 09-05 and 09-06 (ties with the unheld events).
        for eid, due in ((ids[2], date(2022, 9, 5)), (ids[3], date(2022, 9, 6))):
            event = session.get(Event, eid)
            assert event is not None
            event.state = "held"
            event.held_on = due - timedelta(days=3)
            event.summary_due_on = due
            event.summary_due_at = end_of_local_day(due)
        for n in range(7):
            event = session.get(Event, ids[n % 5])
            assert event is not None
            due = date(2022, 9, 5 + n % 3)
            session.add(
                FeedbackItem(
                    event_id=event.id, unit_id=event.unit_id, content=f"意见{n}",
                    state=("received", "assigned", "overdue")[n % 3], due_on=due,
                    due_at=end_of_local_day(due), collected_on=due - timedelta(days=20),
                    created_at=end_of_local_day(due), updated_at=end_of_local_day(due),
                )
            )  # fmt: skip
        session.commit()


def _walk(walker: Walker, who: str, limit: int, query: str = "") -> list[tuple]:
    seen, after = [], None
    while True:
        url = f"/api/v1/overdue?limit={limit}{query}" + (f"&after={after}" if after else "")
        r = walker.client.get(url, headers=walker.world.headers[who])
        assert r.status_code == 200, r.text
        page = r.json()
        seen += [
            (i["due_on"], i["kind"], i["feedback_item_id"] or i["event_id"]) for i in page["items"]
        ]
        after = page["next_after"]
        if after is None:
            return seen


@pytest.mark.parametrize("who", ["supervisor", "housing"])
def test_overdue_cursor_walk_matches_one_page(walker: Walker, engine, who: str) -> None:
    """Page by page (1 and 2 rows) the cursor walk yields exactly the one-page list, in
    (deadline, kind, id) order, ties across kinds included; staff stay in their unit."""
    _overdue_world(walker, engine)
    whole = walker.client.get("/api/v1/overdue?limit=500", headers=walker.world.headers[who]).json()
    expected = [
        (i["due_on"], i["kind"], i["feedback_item_id"] or i["event_id"]) for i in whole["items"]
    ]
    assert len(expected) == whole["total"] and len(expected) >= (12 if who == "supervisor" else 6)
    assert expected == sorted(expected)
    assert {k for _, k, _ in expected} == {"event_hold", "summary", "feedback_answer"}
    assert _walk(walker, who, 1) == expected
    assert _walk(walker, who, 2) == expected
    assert _walk(walker, who, 2, "&kind=feedback_answer") == [
        e for e in expected if e[1] == "feedback_answer"
    ]


def test_overdue_bad_cursor_and_offset_compat(walker: Walker, engine) -> None:
    """A cursor of another list is 422 on the overdue list; offset pages still answer."""
    _overdue_world(walker, engine)
    h = walker.world.headers["supervisor"]
    events_cursor = walker.client.get("/api/v1/events?limit=1", headers=h).json()["next_after"]
    r = walker.client.get(f"/api/v1/overdue?after={events_cursor}", headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_cursor"
    whole = walker.client.get("/api/v1/overdue?limit=500", headers=h).json()["items"]
    second = walker.client.get("/api/v1/overdue?limit=3&offset=3", headers=h).json()
    assert second["items"] == whole[3:6] and second["total"] == len(whole)
    rest = walker.client.get(f"/api/v1/overdue?limit=500&after={second['next_after']}", headers=h)
    assert rest.json()["items"] == whole[6:] and rest.json()["total"] is None


def test_audit_trail_walks_by_cursor(walker: Walker) -> None:
    """The merged audit trail (moves and change-log lines, newest first) walks by cursor with
    every line once, in the one-page order; a cursor of another list is 422."""
    _seed(walker)
    h = walker.world.headers["supervisor"]
    walker.client.post(
        "/api/v1/units", json={"name": "新单位", "kind": "department"}, headers=h
    )  # a change-log line among the moves
    whole = walker.client.get("/api/v1/audit?limit=500", headers=h).json()
    expected = [(i["source"], i["at"], i["action"], i["entity_id"]) for i in whole["items"]]
    assert whole["next_after"] is None and {s for s, *_ in expected} == {"event", "change"}
    seen, after = [], None
    while True:
        url = "/api/v1/audit?limit=3" + (f"&after={after}" if after else "")
        page = walker.client.get(url, headers=h).json()
        seen += [(i["source"], i["at"], i["action"], i["entity_id"]) for i in page["items"]]
        after = page["next_after"]
        if after is None:
            break
    assert seen == expected
    events_cursor = walker.client.get("/api/v1/events?limit=1", headers=h).json()["next_after"]
    r = walker.client.get(f"/api/v1/audit?after={events_cursor}", headers=h)
    assert r.status_code == 422 and error_of(r)["code"] == "invalid_cursor"
