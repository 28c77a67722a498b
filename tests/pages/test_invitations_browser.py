"""Invitations and the door in chromium at 360 px (issue 27): a clerk invites 15 people, two
answer through their links (one 参加, one 不参加), three codes are checked in at the door, and the
hold is recorded with the attendance prefilled from the check-ins; the invitation's .ics opens
with `icalendar` in Asia/Shanghai. Screenshots: the answer page, the invitee list with answers
and the check-in page, at 1280 and 360 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time

import icalendar
import pytest
from sqlmodel import Session, col, select

from models import Event, Invitee, Notification, Role, Unit, UnitKind
from models.db import make_engine
from tests.browser_support import (
    NOW,
    Watch,
    chromium,
    click,
    notice_campaign,
    require_browser,
    seed,
    serve,
    shoot,
    sign_in,
)
from workflows.accounts.service import create_user

PASSWORD = "Kaifang-2022!"
FIFTEEN = "\n".join(
    [f"代表{n}，人大代表，，区人大，1390000000{n}" for n in range(5)]
    + [f"委员{n}，政协委员" for n in range(2)]
    + [f"市民{n}\t市民代表\t公开邀请\t幸福社区\t1380000000{n}" for n in range(8)]
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    require_browser()
    folder = tmp_path_factory.mktemp("invitations")
    url = f"sqlite:///{folder / 'openday.db'}"

    def fill(s: Session) -> None:
        campaign = notice_campaign(s)
        housing = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        s.add(housing)
        s.flush()
        s.add(Event(theme="参观老旧小区改造现场", date_earliest=date(2022, 9, 16),
                    date_latest=date(2022, 9, 16), start_time=time(9, 30), end_time=time(11),
                    location="幸福社区改造现场", campaign_id=campaign.id, unit_id=housing.id,
                    created_at=NOW, updated_at=NOW))  # fmt: skip
        create_user(s, username="wang", role=Role.unit_staff, unit_name="区住建局",
                    password=PASSWORD, now=NOW)  # fmt: skip

    seed(url, fill)
    with serve(folder, url, OPENDAY_SMS_CHANNEL="log") as base:
        yield base, url


def _links_and_codes(url: str) -> tuple[dict[str, str], dict[str, str]]:
    """Each invitee's answer path (from their SMS) and door code, by name."""
    engine = make_engine(url)
    with Session(engine) as s:
        rows = s.exec(
            select(Invitee.name, Invitee.code, Notification.body)
            .join(Notification, col(Notification.subject_id) == Invitee.id)
            .where(Notification.rule == "invitation")
        ).all()
    engine.dispose()
    paths = {}
    for name, _, body in rows:
        found = re.search(r"(/public/invitations/[\w.\-]+)", body)
        assert found, body
        paths[name] = found.group(1)
    return paths, {name: code for name, code, _ in rows}


def test_invite_answer_check_in_and_hold_at_360(site: tuple[str, str]) -> None:
    base, url = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760})
        watch = Watch(page, base)
        sign_in(page, base, "wang", PASSWORD)
        click(page.get_by_role("link", name="参观老旧小区改造现场", exact=True))
        click(page.get_by_role("link", name="邀请人员").first)
        click(page.get_by_role("link", name="批量添加（粘贴名单或上传表格）"))
        page.get_by_label("粘贴名单（每行一人）").fill(FIFTEEN)
        click(page.get_by_role("button", name="预览"))
        click(page.get_by_role("button", name="确认添加 15 人"))
        click(page.get_by_role("link", name="下一步：核对名单并发出邀请"))
        click(page.get_by_role("button", name="确认名单，发出邀请"))
        assert "邀请已发出" in page.content()
        paths, codes = _links_and_codes(url)
        assert len(paths) == 13  # everyone with a phone; the two 委员 get printed letters

        # Two people answer through their links: one yes, one no.
        citizen = browser.new_page(viewport={"width": 360, "height": 760})
        citizen.goto(base + paths["市民0"])
        assert "参观老旧小区改造现场" in citizen.content() and "尚未答复" in citizen.content()
        click(citizen.get_by_role("button", name="参加", exact=True))
        assert "已收到您的答复：参加" in citizen.content()
        shoot(citizen, "invitation-answer")
        ics = citizen.request.get(base + paths["市民0"] + "/invitation.ics")
        cal = icalendar.Calendar.from_ical(ics.body())
        start = cal.walk("VEVENT")[0].decoded("dtstart")
        assert str(start.tzinfo) == "Asia/Shanghai" and start.hour == 9 and start.minute == 30
        assert [str(tz["TZID"]) for tz in cal.walk("VTIMEZONE")] == ["Asia/Shanghai"]
        citizen.goto(base + paths["代表0"])
        click(citizen.get_by_role("button", name="不参加"))
        assert "已收到您的答复：不参加" in citizen.content()
        citizen.close()

        page.goto(base + "/")
        click(page.get_by_role("link", name="参观老旧小区改造现场", exact=True))
        click(page.get_by_role("link", name="邀请答复情况 ›"))
        body = page.content()
        assert "答复：参加 1 人 · 不参加 1 人 · 未答复 13 人" in body
        shoot(page, "invitees-answers")

        # Three codes at the door, one of them scanned twice.
        click(page.get_by_role("link", name="现场签到").first)
        for name in ("市民0", "市民1", "代表1"):
            page.get_by_label("签到码").fill(codes[name])
            click(page.get_by_role("button", name="签到"))
            assert f"{name} 签到成功" in page.content()
        page.get_by_label("签到码").fill(codes["市民0"])
        click(page.get_by_role("button", name="签到"))
        assert "市民0 已于" in page.content() and "不重复计数" in page.content()
        assert "签到出席：3 / 15" in page.content()
        shoot(page, "check-in")

        # The hold: the three checked in are ticked already; the clerk confirms.
        click(page.get_by_role("link", name="登记开展情况"))
        ticked = page.locator('input[name="attended"]:checked')
        assert ticked.count() == 3
        page.get_by_label("实际开展日期").fill("2022-09-16")
        page.get_by_label("政民恳谈交流", exact=True).check()
        page.locator("#met_name_0").fill("周局长")
        page.locator("#met_post_0").select_option("deputy")
        click(page.get_by_role("button", name="下一步：核对"))
        click(page.get_by_role("button", name="确认活动已开展"))
        assert "出席 3 人" in page.content()
        watch.assert_clean()
