"""管理 › 复制为下一年度 without a browser: the form, a refused copy, the copy and the roster
(issue 30)."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models import Campaign, CampaignUnit
from tests.conftest import HOUSING, Walker
from tests.pages.test_pages import csrf_of
from tests.pages.test_pages_admin import _as


def _form(**extra: str) -> dict[str, str]:
    return {
        "doc_number": "资雁府办发〔2023〕41号",
        "title": "2023年政府开放日",
        "issuing_office": "资阳市雁江区人民政府办公室",
        "starts_on": "2023-08-21",
        "ends_on": "2023-09-22",
        **extra,
    }


def test_copy_page_creates_next_year_and_the_roster_edits(walker: Walker) -> None:
    """The form shows last year's units; a window ending before it starts is refused on the
    page (nothing written); the copy lands on the roster, whose edit saves."""
    client: TestClient = walker.client
    world = walker.world
    walker.held_event()
    _as(client, world, "supervisor")
    page = client.get(f"/admin/campaigns/{world.campaign_id}/rollover")
    assert page.status_code == 200 and HOUSING in page.text and "转为只读" in page.text
    csrf = csrf_of(page.text)
    unit = str(world.units[HOUSING])

    bad = client.post(
        f"/admin/campaigns/{world.campaign_id}/rollover",
        data={"csrf": csrf, **_form(ends_on="2023-08-01"), "unit": unit},
    )
    assert bad.status_code == 422 and "早于开始日期" in bad.text
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(Campaign)).one() == 1

    done = client.post(
        f"/admin/campaigns/{world.campaign_id}/rollover",
        data={"csrf": csrf, **_form(), "unit": unit},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    roster = client.get(done.headers["location"])
    assert roster.status_code == 200 and "开始前可修改" in roster.text
    new_id = int(done.headers["location"].split("/")[3].split("?")[0])
    saved = client.post(
        f"/admin/campaigns/{new_id}/units/{unit}",
        data={"csrf": csrf_of(roster.text), "contact_name": "赵六", "forms": ["site_visit"]},
        follow_redirects=False,
    )
    assert saved.status_code == 303, saved.text
    with Session(world.engine) as session:
        row = session.exec(select(CampaignUnit).where(CampaignUnit.campaign_id == new_id)).one()
        assert (row.contact_name, row.forms) == ("赵六", ["site_visit"])
    admin = client.get("/admin").text
    assert "已结束（只读）" in admin
    again = client.get(f"/admin/campaigns/{world.campaign_id}/units")
    assert "记录只读" in again.text
