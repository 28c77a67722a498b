"""Staff pages of the public side (issue 13): an event's registrations (masked, waiting-list
order, confirm, decline with a reason) and printable receipt slips with a QR code."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import segno
from sqlmodel import select

from models import FeedbackItem
from models.codes import grouped
from settings import Settings
from tests.conftest import SHILING, Walker
from tests.pages.test_pages import csrf_of, sign_in
from tests.public.test_public import open_event, register

BASE = "https://kfr.yanjiang.example.gov.cn"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Rate limits per app (memory) and the service's public address for printed links."""
    return Settings(
        var_dir=tmp_path / "var",
        database_url="sqlite://",
        ratelimit_url="memory://",
        public_url=BASE + "/",
    )


def _version(html: str) -> str:
    return re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]


def test_registrations_page_masks_orders_confirms_and_declines(walker: Walker) -> None:
    client = walker.client
    event = open_event(walker, places=2)
    eid = event["id"]
    for n in range(3):
        r = register(client, eid, phone=f"1390000000{n}", name=f"市民{n}")
        assert r.status_code == 201, r.text
    sign_in(client)
    task_list = client.get(f"/events/{eid}")
    assert "公开报名（3 人报名，2 人待确认）" in task_list.text
    page = client.get(f"/events/{eid}/registrations")
    assert page.status_code == 200
    assert "139****0000" in page.text and "13900000000" not in page.text
    assert "候补第 1 位" in page.text
    rows = re.findall(r'id="registration-(\d+)"', page.text)
    assert len(rows) == 3
    # Confirm the first: an invitee (市民代表, 公开邀请) through the invitee rules.
    done = client.post(
        f"/events/{eid}/registrations/{rows[0]}/confirm",
        data={"csrf": csrf_of(page.text), "version": _version(page.text)},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    people = client.get(
        f"/api/v1/events/{eid}/invitees", headers=walker.world.headers["housing"]
    ).json()
    items = people["items"] if isinstance(people, dict) else people
    assert [(i["name"], i["category"], i["invitation"]) for i in items] == [
        ("市民0", "citizen", "public")
    ]
    # A stale version is refused with the API's wording, nothing written.
    page = client.get(f"/events/{eid}/registrations")
    stale = client.post(
        f"/events/{eid}/registrations/{rows[1]}/confirm",
        data={"csrf": csrf_of(page.text), "version": "1"},
    )
    assert stale.status_code == 409 and "error-summary" in stale.text
    # Decline needs a reason; with one, the waiting list's first takes the place.
    empty = client.post(
        f"/events/{eid}/registrations/{rows[1]}/decline",
        data={"csrf": csrf_of(page.text), "reason": " "},
    )
    assert empty.status_code == 422 and 'href="#reason-' in empty.text
    declined = client.post(
        f"/events/{eid}/registrations/{rows[1]}/decline",
        data={"csrf": csrf_of(page.text), "reason": "名额已满足本次活动需要"},
    )
    assert declined.status_code == 200 and "原因：名额已满足本次活动需要" in declined.text
    assert "候补第" not in declined.text  # 市民2 moved up from the waiting list
    assert declined.text.count("确认参加<span") == 1
    # The declined person cannot register for the event again until the unit lifts that.
    assert register(client, eid, phone="13900000001").status_code == 409
    lift = f'action="/events/{eid}/registrations/{rows[1]}/lift-decline"'
    assert lift in declined.text and "允许再次报名" in declined.text
    lifted = client.post(
        f"/events/{eid}/registrations/{rows[1]}/lift-decline",
        data={"csrf": csrf_of(declined.text)},
        follow_redirects=True,
    )
    assert lifted.status_code == 200 and "市民1 可以再次报名本活动" in lifted.text
    assert "未获确认（已允许再次报名）" in lifted.text and lift not in lifted.text
    assert register(client, eid, phone="13900000001").status_code == 201


def test_registrations_and_slips_of_another_unit_are_404(walker: Walker) -> None:
    other = walker.create_event(who="supervisor", unit=SHILING, theme="石岭镇的活动")
    sign_in(walker.client)  # 区住建局
    assert walker.client.get(f"/events/{other['id']}/registrations").status_code == 404
    assert walker.client.get(f"/events/{other['id']}/receipts").status_code == 404


def _opinions(walker: Walker) -> tuple[int, list[FeedbackItem]]:
    event, _ = walker.held_event()
    r = walker.move(
        event["id"],
        "collect_feedback",
        data={"items": [{"content": "建议公开老旧小区改造资金明细"}, {"content": "增设停车位"}]},
    )
    assert r.status_code == 200, r.text
    with walker.world.session() as s:
        items = list(s.exec(select(FeedbackItem).order_by(FeedbackItem.id)).all())
    return event["id"], items


def test_receipt_slips_carry_the_code_and_a_qr_of_the_tracking_link(walker: Walker) -> None:
    eid, items = _opinions(walker)
    sign_in(walker.client)
    assert "打印意见回执（2 张" in walker.client.get(f"/events/{eid}").text
    page = walker.client.get(f"/events/{eid}/receipts")
    assert page.status_code == 200
    assert page.text.count('class="slip"') == 2
    for item in items:
        code = grouped(item.receipt_code)
        url = f"{BASE}/public/track?code={code}"
        assert code in page.text and f'data-url="{url}"' in page.text
        # The QR drawn on the page is the one of exactly this URL (segno is deterministic).
        expected = segno.make(url, error="m", micro=False)
        assert expected.svg_inline(scale=3, border=4, omitsize=True, svgclass="qr",
                                   title="扫码查询办理进度") in page.text  # fmt: skip
        assert segno.make(url + "X", error="m").svg_inline(scale=3) not in page.text
    assert "张三" not in page.text and "@media print" not in page.text  # CSS is a file
    css = walker.client.get("/static/slips.css").text
    assert "@page { size: A4" in css and "@media print" in css
    one = walker.client.get(f"/events/{eid}/receipts/{items[1].id}")
    assert one.text.count('class="slip"') == 1 and grouped(items[1].receipt_code) in one.text
    assert walker.client.get(f"/events/{eid}/receipts/999999").status_code == 404


def test_slips_link_to_the_default_public_url(walker: Walker, settings: Settings) -> None:
    settings.public_url = "http://127.0.0.1:8000"
    eid, items = _opinions(walker)
    sign_in(walker.client)
    page = walker.client.get(f"/events/{eid}/receipts/{items[0].id}")
    code = grouped(items[0].receipt_code)
    assert f'data-url="http://127.0.0.1:8000/public/track?code={code}"' in page.text
