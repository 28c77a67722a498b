"""Pages (issue 25): the board's visit form names the spot-check round a visit informed and marks
a problem; the report page counts it; a round's rectification is issued, refused in Chinese
words when it cannot be, and shown to the other unit as nothing."""

from __future__ import annotations

from sqlmodel import Session, select

from models import SiteVisit, User
from tests.conftest import Walker, World
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password


def _checked(walker: Walker, result: str) -> tuple[int, int]:
    event, _ = walker.held_event()
    eid = event["id"]
    assert walker.move(eid, "collect_feedback", data={"no_opinions": True}).status_code == 200
    assert walker.upload(eid).status_code == 201
    assert walker.move(eid, "submit_summary", data={"text": "总结"}).status_code == 200
    r = walker.move(eid, "spot_check", who="supervisor", data={"result": result, "notes": "缺照片"})
    assert r.status_code == 200, r.text
    checks = walker.client.get(
        f"/api/v1/spot-checks?event_id={eid}", headers=walker.world.headers["supervisor"]
    ).json()["items"]
    return eid, next(c["id"] for c in checks if c["event_id"] == eid)


def _supervisor(walker: Walker, world: World) -> None:
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    walker.client.cookies.clear()
    sign_in(walker.client, "supervisor", "pw-super")


def test_a_visit_names_its_round_and_a_problem(walker: Walker, world: World) -> None:
    eid, check_id = _checked(walker, "needs_improvement")
    other, other_check = _checked(walker, "satisfactory")
    _supervisor(walker, world)
    board = walker.client.get("/board/visits")
    assert "关联的抽查轮次" in board.text and "第 1 轮（需整改）" in board.text
    form = {"csrf": csrf_of(board.text), "event_id": str(eid), "visited_on": "2022-09-16",
            "people": "区政府办 张三", "findings": "现场无公开栏", "problem": "yes"}  # fmt: skip
    wrong = walker.client.post("/board/visits", data={**form, "spot_check_id": str(other_check)})
    assert 'href="#visit-round"' in wrong.text and "不是该活动的抽查记录" in wrong.text
    done = walker.client.post("/board/visits", data={**form, "spot_check_id": str(check_id)})
    assert "已登记现场走访" in done.text and "发现问题" in done.text
    with Session(world.engine) as s:
        visit = s.exec(select(SiteVisit)).one()
    assert (visit.spot_check_id, visit.problem) == (check_id, True)
    report = walker.client.get(f"/board/report?campaign={world.campaign_id}")
    assert "走访与整改" in report.text and "走访发现问题" in report.text
    assert "现场走访发现问题" in report.text  # the deduction, with its source
    assert other


def test_issue_on_the_page_and_refusals_in_words(walker: Walker, world: World) -> None:
    eid, check_id = _checked(walker, "unsatisfactory")
    _supervisor(walker, world)
    page = walker.client.get(f"/events/{eid}/spot-check")
    assert "下发整改通知（第 1 轮）" in page.text
    empty = walker.client.post(
        f"/events/{eid}/rectifications",
        data={"csrf": csrf_of(page.text), "check_id": str(check_id), "notice": "   "},
    )
    # An empty notice takes the round's notes: issued, not refused.
    assert "已下发整改通知" in empty.text and "缺照片" in empty.text and "【待整改】" in empty.text
    again = walker.client.post(
        f"/events/{eid}/rectifications",
        data={"csrf": csrf_of(page.text), "check_id": str(check_id), "notice": "再来一次"},
    )
    assert "已下发整改通知" in again.text and again.status_code == 409
    rid = walker.client.get("/api/v1/rectifications", headers=world.headers["supervisor"]).json()[
        "items"
    ][0]["id"]
    early = walker.client.post(
        f"/events/{eid}/rectifications/{rid}/decision",
        data={"csrf": csrf_of(page.text), "decision": "close"},
    )
    assert early.status_code == 409 and "只有已报送整改情况的才能销号或退回" in early.text
    walker.client.cookies.clear()
    sign_in(walker.client)
    mine = walker.client.get("/")
    assert "区政府办整改通知" in mine.text and "【待整改】" in mine.text
    spot = walker.client.get(f"/events/{eid}/spot-check")
    blank = walker.client.post(
        f"/events/{eid}/rectifications/{rid}/report",
        data={"csrf": csrf_of(spot.text), "report": ""},
    )
    assert 'href="#report-' in blank.text and "请填写整改情况" in blank.text


def _as(walker: Walker, world: World, username: str) -> None:
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids[username])
        assert user is not None
        user.password_hash = hash_password(f"pw-{username}")
        session.commit()
    walker.client.cookies.clear()
    sign_in(walker.client, username, f"pw-{username}")


def test_report_files_download_for_the_unit_and_supervisors_only(
    walker: Walker, world: World
) -> None:
    """Issue 25: a file of the report is a download link on the spot-check page (RFC 5987 name)
    for the unit and the district office; another unit is told 404."""
    eid, check_id = _checked(walker, "unsatisfactory")
    _supervisor(walker, world)
    page = walker.client.get(f"/events/{eid}/spot-check")
    issued = walker.client.post(
        f"/events/{eid}/rectifications",
        data={"csrf": csrf_of(page.text), "check_id": str(check_id), "notice": "补照片"},
    )
    assert "已下发整改通知" in issued.text
    rid = walker.client.get("/api/v1/rectifications", headers=world.headers["supervisor"]).json()[
        "items"
    ][0]["id"]
    walker.client.cookies.clear()
    sign_in(walker.client)
    spot = walker.client.get(f"/events/{eid}/spot-check")
    body = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
    done = walker.client.post(
        f"/events/{eid}/rectifications/{rid}/report",
        data={"csrf": csrf_of(spot.text), "report": "已补充"},
        files={"files": ("整改说明.pdf", body, "application/pdf")},
    )
    assert "已报送整改情况" in done.text, done.text
    fid = int(done.text.split(f"/rectifications/{rid}/files/")[1].split('"')[0])
    href = f"/events/{eid}/rectifications/{rid}/files/{fid}"
    assert f'<a href="{href}" download hx-boost="false">整改说明.pdf</a>' in done.text
    mine = walker.client.get(href)
    assert mine.status_code == 200 and mine.content == body
    disposition = mine.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"rectification-{rid}-{fid}.pdf" in disposition
    assert "filename*=UTF-8''%E6%95%B4%E6%94%B9%E8%AF%B4%E6%98%8E.pdf" in disposition
    assert (
        walker.client.get(f"/events/{eid}/rectifications/{rid}/files/{fid + 1}").status_code == 404
    )
    _supervisor(walker, world)
    assert walker.client.get(href).content == body
    _as(walker, world, "shiling")
    assert walker.client.get(href).status_code == 404
