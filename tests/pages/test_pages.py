"""Pages without a browser: sign-in redirects, CSRF refusals, error summaries, offline docs."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Walker, World


def csrf_of(html: str) -> str:
    """The CSRF token a rendered form carries."""
    match = re.search(r'name="csrf" value="([^"]+)"', html)
    assert match, html[:500]
    return match.group(1)


def version_of(html: str) -> str:
    """The event version a rendered form carries."""
    match = re.search(r'name="version" value="(\d+)"', html)
    assert match, html[:500]
    return match.group(1)


def sign_in(client: TestClient, username: str = "housing", password: str = "pw-housing") -> None:
    """Sign in through the login form."""
    page = client.get("/login")
    response = client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": username, "password": password},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Max-Age=" in cookie


def test_unauthenticated_page_redirects_to_login(walker: Walker) -> None:
    """A page asked for without a session answers 303 to /login, remembering where to return."""
    response = walker.client.get("/events/1?x=1", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/events/1%3Fx%3D1"


def test_wrong_password_shows_error_summary_with_api_wording(walker: Walker) -> None:
    """A wrong password re-renders the form with an error summary linked to the field."""
    page = walker.client.get("/login")
    response = walker.client.post(
        "/login",
        data={"csrf": csrf_of(page.text), "username": "housing", "password": "nope"},
    )
    assert response.status_code == 401
    assert 'class="error-summary"' in response.text
    assert '<a href="#username">用户名或密码错误</a>' in response.text


def test_post_without_csrf_token_is_refused(walker: Walker) -> None:
    """A signed-in POST without the form's token changes nothing and answers 403."""
    event = walker.create_event()
    sign_in(walker.client)
    response = walker.client.post(
        f"/events/{event['id']}/invitees",
        data={"name": "张三", "category": "npc_deputy", "version": "1", "csrf": "forged"},
    )
    assert response.status_code == 403
    assert "表单已过期或来源无法确认" in response.text
    assert (
        walker.client.get(
            f"/api/v1/events/{event['id']}/invitees", headers=walker.world.headers["housing"]
        ).json()["total"]
        == 0
    )


def test_login_post_without_cookie_token_is_refused(client: TestClient, world: World) -> None:
    """The sign-in form is protected by a double-submit cookie too."""
    response = client.post("/login", data={"csrf": "x", "username": "housing", "password": "p"})
    assert response.status_code == 403


def test_refused_invite_shows_the_api_message_linked_to_the_list(walker: Walker) -> None:
    """In `refuse` mode, inviting too few citizens shows the guard's own zh message in the
    error summary."""
    walker.set_rule_modes("refuse")
    event = walker.create_event()
    walker.add_invitees(event["id"], citizens=2, deputies=8)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{event['id']}/invite")
    assert "共 10 人（应为 10–20 人）" in page.text
    assert "市民代表 2 人，至少需要 4 人" in page.text
    response = walker.client.post(
        f"/events/{event['id']}/invite",
        data={"csrf": csrf_of(page.text), "version": version_of(page.text)},
    )
    assert response.status_code == 409
    refused = walker.move(event["id"], "invite").json()["error"]
    for violation in refused["violations"]:
        assert f'<a href="#invitee-list">{violation["message"]}</a>' in response.text


def test_staff_home_and_event_task_list(walker: Walker) -> None:
    """Staff see their event with its stage and due words; the event page lists five stages."""
    event = walker.create_event(location="某小区")
    sign_in(walker.client)
    home = walker.client.get("/")
    assert "参观老旧小区改造现场" in home.text and "【待邀请】" in home.text
    assert "2022年9月16日（星期五）" in home.text and "继续办理" in home.text
    page = walker.client.get(f"/events/{event['id']}")
    for title in ("邀请人员", "开展活动", "收集意见建议", "报送总结", "区政府办抽查"):
        assert title in page.text


def test_supervisor_lands_on_board(walker: Walker, world: World) -> None:
    """A supervisor opening / is sent to the board, which renders."""
    from sqlmodel import Session

    from models import User
    from workflows.accounts.service import hash_password

    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    walker.create_event()
    sign_in(walker.client, "supervisor", "pw-super")
    response = walker.client.get("/", follow_redirects=False)
    assert response.headers["location"] == "/board"
    assert "督查看板" in walker.client.get("/board").text


def test_docs_are_served_offline(client: TestClient, world: World) -> None:
    """/docs and /redoc reference only this server's assets."""
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "cdn" not in html.lower() and "https://" not in html.replace(
            "https://fastapi.tiangolo.com", ""
        )


def test_supervisor_sends_a_summary_back_for_rework(walker: Walker, world: World) -> None:
    """The board's rework form fires return_for_rework; an empty reason is refused in zh."""
    from sqlmodel import Session

    from models import User
    from workflows.accounts.service import hash_password

    event, _ = walker.held_event()
    assert (
        walker.move(event["id"], "collect_feedback", data={"no_opinions": True}).status_code == 200
    )
    walker.client.put(
        f"/api/v1/events/{event['id']}/summary",
        json={"text": "总结"},
        params=walker.version_of(event["id"]),
        headers=world.headers["housing"],
    )
    walker.upload(event["id"])
    assert walker.move(event["id"], "submit_summary").status_code == 200, walker.get(event["id"])
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    board = walker.client.get("/board")
    version = str(walker.get(event["id"])["version"])
    token = csrf_of(board.text)
    empty = walker.client.post(
        f"/board/rework/{event['id']}", data={"csrf": token, "version": version, "reasons": ""}
    )
    assert empty.status_code == 422 and 'class="error-summary"' in empty.text
    sent = walker.client.post(
        f"/board/rework/{event['id']}",
        data={"csrf": token, "version": version, "reasons": "缺少现场照片"},
    )
    assert sent.status_code == 200 and "已退回整改" in sent.text
    assert walker.get(event["id"])["state"] == "feedback_collected"


def test_spot_check_tab_counts_and_pages_the_queue(walker: Walker, world: World) -> None:
    """The board's 抽查 tab says how many wait (the first tab carries no cards); the tab walks
    all of them by cursor, oldest first; a form sent from it comes back to it."""
    from datetime import UTC, date, datetime, timedelta

    from sqlmodel import Session

    from models import Event, User
    from workflows.accounts.service import hash_password

    ids = [walker.create_event(theme=f"抽查队列活动{n:02d}")["id"] for n in range(27)]
    with Session(world.engine) as session:
        for n, event_id in enumerate(ids):
            event = session.get(Event, event_id)
            assert event is not None
            event.state = "summary_submitted"  # a listing test: the walk is covered elsewhere
            event.held_on = date(2022, 9, 16)
            event.updated_at = datetime(2022, 10, 1, tzinfo=UTC) + timedelta(hours=n)
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")

    # The board's first tab says how many wait behind the 抽查 tab, and shows none of them.
    board = walker.client.get("/board").text
    assert re.findall(r"抽查队列活动(\d\d)</a></h3>", board) == []
    tab = re.search(r'<a href="(/board/spot-checks[^"]*)" id="spot-checks-link">([^<]+)</a>', board)
    assert tab is not None and tab.group(2) == "抽查（27）", board

    first = walker.client.get(tab.group(1).replace("&amp;", "&")).text
    assert "待抽查 27 个" in first and 'id="spot-checks-link" aria-current="page"' in first

    seen: list[str] = []
    url = "/board/spot-checks"
    for _ in range(5):
        page = walker.client.get(url)
        assert page.status_code == 200
        seen += re.findall(r"抽查队列活动(\d\d)</a></h3>", page.text)
        found = re.search(r'id="next-page" href="([^"]+)"', page.text)
        if not found:
            break
        url = found.group(1).replace("&amp;", "&")
    assert seen == [f"{n:02d}" for n in range(27)]

    bad = walker.client.get("/board/spot-checks?after=not-a-cursor")
    assert bad.status_code == 422 and "<html" in bad.text.lower()

    page = walker.client.get("/board/spot-checks")
    sent = walker.client.post(
        f"/board/rework/{ids[0]}",
        data={
            "csrf": csrf_of(page.text),
            "version": version_of(page.text),
            "reasons": "缺少现场照片",
            "back": "queue",
        },
        follow_redirects=False,
    )
    assert sent.status_code == 303
    assert sent.headers["location"].startswith("/board/spot-checks?done=")
