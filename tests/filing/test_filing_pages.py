"""报送与公示 through the pages (issue 30): the clerk publishes the announcement (a blank 报名方式
is named in the error summary) and the 公示; citizens read both on the public pages, names
masked and no phone number; clerks may not open the plans queue; another unit's clerk cannot
see the page; an event that published nothing has no public 公示 page."""

from __future__ import annotations

from sqlmodel import Session

from models import Invitee, User
from tests.conftest import Walker, World, local
from tests.pages.test_pages import csrf_of, sign_in
from workflows.accounts.service import hash_password

PHONE = "13812345678"


def test_announcement_and_publicity_pages(walker: Walker, world: World, clock) -> None:
    """Published through the unit's page, read on the public page, never with a phone."""
    r = walker.client.patch(
        f"/api/v1/campaigns/{world.campaign_id}",
        json={"rules": {"announcement_required": True, "representatives_publicity_required": True}},
        headers=world.headers["supervisor"],
    )
    assert r.status_code == 200, r.text
    clock.set(local(2022, 9, 1, 10, 0))
    event = walker.create_event(date="2022-09-20")
    eid = event["id"]
    walker.client.patch(
        f"/api/v1/events/{eid}",
        json={"expected_version": event["version"], "public_places": 4},
        headers=world.headers["housing"],
    )
    with Session(world.engine) as s:
        s.add(Invitee(event_id=eid, name="张三丰", category="citizen", phone=PHONE,
                      invitation="public", created_at=clock.now()))  # fmt: skip
        s.commit()
    assert walker.client.get(f"/public/events/{eid}/publicity").status_code == 404
    client = walker.client
    sign_in(client)
    page = client.get(f"/events/{eid}")
    assert 'id="filings-link"' in page.text and "公开邀请公告" in page.text
    form = client.get(f"/events/{eid}/filings")
    assert form.status_code == 200 and "2022年9月17日" in form.text and "张**" in form.text
    blank = client.post(
        f"/events/{eid}/filings/announcement",
        data={"csrf": csrf_of(form.text), "how_to_register": ""},
    )
    assert blank.status_code == 422 and 'href="#how-to-register"' in blank.text
    done = client.post(
        f"/events/{eid}/filings/announcement",
        data={"csrf": csrf_of(form.text), "how_to_register": "拨打 0832-1234567 报名"},
    )
    assert "公开邀请公告已发布" in done.text
    done = client.post(f"/events/{eid}/filings/representatives", data={"csrf": csrf_of(form.text)})
    assert "市民代表名单已公示" in done.text
    assert client.get("/board/plans").status_code == 403
    public = client.get(f"/public/events/{eid}/publicity")
    assert public.status_code == 200
    assert "拨打 0832-1234567 报名" in public.text and "张**" in public.text
    assert "张三丰" not in public.text and PHONE not in public.text
    assert "市民代表名单公示" in client.get(f"/public/events/{eid}").text
    client.cookies.clear()
    with Session(world.engine) as s:
        user = s.get(User, world.user_ids["shiling"])
        assert user is not None
        user.password_hash = hash_password("pw-shiling")
        s.commit()
    sign_in(client, "shiling", "pw-shiling")
    assert client.get(f"/events/{eid}/filings").status_code == 404
