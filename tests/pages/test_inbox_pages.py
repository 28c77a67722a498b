"""站内信 pages: the header's unread count, the list by unread / all / kind, marking read one or
all, and nobody reading another's message (issue 26)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session

from tests.conftest import HOUSING, World, error_of
from tests.pages.test_pages import csrf_of
from tests.pages.test_pages_admin import _as
from workflows.inbox import service as inbox


def _post_messages(world: World, now) -> tuple[int, int]:  # noqa: ANN001
    """Two messages to 区住建局's staff: an escalation and an extension decision."""
    unit_id = world.units[HOUSING]
    with Session(world.engine) as s:
        for kind, title in (
            ("escalation", "【催办】区住建局：意见建议逾期未办结"),
            ("ext_decision", "延期申请已批准"),
        ):
            assert inbox.post(
                s, kind, subject_type="event", subject_id=1, event_id=None, unit_id=unit_id,
                title=title, body="正文\n第二行", now=now,
            ) == 1  # fmt: skip
        # The same post again reaches nobody twice.
        assert inbox.post(
            s, "rework", subject_type="event", subject_id=1, event_id=None, unit_id=unit_id,
            title="退回", body="", now=now, round="1",
        ) == 1  # fmt: skip
        assert inbox.post(
            s, "rework", subject_type="event", subject_id=1, event_id=None, unit_id=unit_id,
            title="退回", body="", now=now, round="1",
        ) == 0  # fmt: skip
        s.commit()
    return unit_id, 3


def test_header_count_list_kinds_and_marking_read(client: TestClient, world: World, clock) -> None:
    _post_messages(world, clock.now())
    _as(client, world, "housing")
    home = client.get("/")
    assert 'id="inbox-link"' in home.text and 'aria-label="3 条未读"' in home.text
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "站内信（3 条未读）" in page.text and "延期审批结果" in page.text
    assert page.text.count('class="message unread"') == 3
    only = client.get("/inbox", params={"kind": "ext_decision"})
    assert only.text.count('class="message unread"') == 1 and "延期申请已批准" in only.text
    with Session(world.engine) as s:
        first = inbox.listing_ids(s, world.user_ids["housing"])[-1]
    done = client.post(f"/inbox/{first}/read", data={"csrf": csrf_of(page.text), "show": "unread"})
    assert done.status_code == 200 and "已标为已读" in done.text
    assert done.text.count('class="message unread"') == 2
    every = client.get("/inbox", params={"show": "all"})
    assert every.text.count('<li class="message') == 3
    done = client.post("/inbox/read-all", data={"csrf": csrf_of(page.text), "show": "unread"})
    assert "已将 2 条站内信标为已读" in done.text and "没有未读的站内信" in done.text
    assert 'class="count"' not in client.get("/").text


def test_nobody_reads_another_persons_message(client: TestClient, world: World, clock) -> None:
    _post_messages(world, clock.now())
    with Session(world.engine) as s:
        theirs = inbox.listing_ids(s, world.user_ids["housing"])[0]
    _as(client, world, "shiling")
    page = client.get("/inbox")
    assert "没有未读的站内信" in page.text
    refused = client.post(f"/inbox/{theirs}/read", data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 404 and "站内信" in refused.text
    r = client.post(f"/api/v1/inbox/{theirs}/read", headers=world.headers["shiling"])
    assert r.status_code == 404 and error_of(r)["code"] == "inbox_message_not_found"


def test_the_api_lists_with_a_cursor_and_marks_read(
    client: TestClient, world: World, clock
) -> None:
    _post_messages(world, clock.now())
    h = world.headers["housing"]
    first = client.get("/api/v1/inbox", params={"limit": 2}, headers=h).json()
    assert [m["kind_label"] for m in first["items"]][:1] == ["总结退回整改"]
    assert first["next_after"]
    rest = client.get(
        "/api/v1/inbox", params={"limit": 2, "after": first["next_after"]}, headers=h
    ).json()
    assert len(first["items"]) + len(rest["items"]) == 3
    r = client.post(f"/api/v1/inbox/{rest['items'][0]['id']}/read", headers=h)
    assert r.status_code == 200 and r.json()["read_at"]
    assert client.get("/api/v1/inbox/unread-count", headers=h).json() == {"unread": 2}
    r = client.post("/api/v1/inbox/read-all", params={"kind": "rework"}, headers=h)
    assert r.json() == {"marked": 1, "unread": 1}
    r = client.get("/api/v1/inbox", params={"kind": "bad kind!"}, headers=h)
    assert r.status_code == 422
    assert client.get("/api/v1/inbox", params={"show": "all"}, headers=h).json()["total"] == 3
