"""The board's export links and the report page, signed in with a session cookie."""

from __future__ import annotations

import io

import openpyxl
from sqlmodel import Session

from models import User
from tests.conftest import HOUSING, Walker, World, local
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password


def _supervisor(walker: Walker, world: World) -> None:
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")


def test_board_links_download_the_overdue_list_and_the_report_page_renders(
    walker: Walker, world: World, clock
) -> None:
    event = walker.create_event()
    clock.set(local(2022, 9, 18, 10))
    _supervisor(walker, world)
    board = walker.client.get("/board").text
    assert "/board/exports/overdue.xlsx" in board and "/board/report?campaign=" in board
    r = walker.client.get("/board/exports/overdue.xlsx?unit=&kind=")
    assert r.status_code == 200
    rows = list(openpyxl.load_workbook(io.BytesIO(r.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "责任单位"
    assert [(row[0], row[1], row[2]) for row in rows[1:]] == [(HOUSING, "活动开展", event["id"])]

    page = walker.client.get(f"/board/report?campaign={world.campaign_id}")
    assert page.status_code == 200
    assert "分单位情况" in page.text and "全区合计" in page.text and HOUSING in page.text
    assert "活动未开展 −40" in page.text  # the deduction, named on the page
    assert "确保活动顺利完成" in page.text  # with the notice's sentence it comes from
    x = walker.client.get(f"/board/assessment.xlsx?campaign={world.campaign_id}")
    assert openpyxl.load_workbook(io.BytesIO(x.content)).sheetnames == ["考核得分", "扣分明细"]


def test_staff_cannot_open_the_report_page(walker: Walker) -> None:
    sign_in(walker.client)
    assert walker.client.get("/board/report").status_code == 403
