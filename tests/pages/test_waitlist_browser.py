"""The waiting list in chromium at 360 px (issue 27): one public place, three citizens register
(one place, two waiting); the clerk confirms the first, whose confirmation SMS carries the
invitation's answer link; the first answers 不参加 through it and the place is offered to the
next waiting, whose SMS carries the offer link; they accept on their phone and the clerk
confirms them. Then the clerk enters a citizen's 不参加 taken by phone that takes the citizens'
share below the rule: a check page first, recorded anyway and marked. Screenshots of the offer
page, the registrations with an open offer and the check page, at 1280 and 360 px."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, time
from typing import Any

import httpx
import pytest
from sqlmodel import Session, col, select

from models import Event, EventState, Invitee, Notification, Registration, Role, Unit, UnitKind
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
DIGITS = "零一二三四五六七八九十"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """An invited event on 2022-09-20 with 14 invitees (four citizens, the share's minimum
    once a fifth joins) and one public place; the clerk 王; the server's SMS to the log."""
    require_browser()
    folder = tmp_path_factory.mktemp("waitlist")
    url = f"sqlite:///{folder / 'openday.db'}"
    ids: dict[str, Any] = {}

    def fill(s: Session) -> None:
        campaign = notice_campaign(s)
        unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        s.add(unit)
        s.flush()
        event = Event(theme="参观老旧小区改造现场", date_earliest=date(2022, 9, 20),
                      date_latest=date(2022, 9, 20), start_time=time(9, 30),
                      location="幸福社区改造现场", campaign_id=campaign.id, unit_id=unit.id,
                      state=EventState.invited, public_places=1, created_at=NOW,
                      updated_at=NOW)  # fmt: skip
        s.add(event)
        s.flush()
        for n in range(14):
            category = "citizen" if n < 4 else "npc_deputy"
            s.add(Invitee(event_id=event.id, name=f"受邀{n}", category=category,  # type: ignore[arg-type]
                          created_at=NOW))  # fmt: skip
        create_user(s, username="wang", role=Role.unit_staff, unit_name="区住建局",
                    password=PASSWORD, now=NOW)  # fmt: skip
        ids["event"] = event.id

    seed(url, fill)
    with serve(folder, url, OPENDAY_SMS_CHANNEL="log") as base:
        yield {**ids, "base": base, "url": url}


def _register(base: str, event_id: int, name: str, phone: str) -> dict[str, Any]:
    challenge = httpx.get(f"{base}/api/v1/public/challenge").json()
    left, right = challenge["question"].split("等于")[0].split("加")
    body = {"name": name, "phone": phone, "district": "雁江区", "consent": True,
            "challenge_token": challenge["token"],
            "challenge_answer": str(DIGITS.index(left) + DIGITS.index(right))}  # fmt: skip
    r = httpx.post(f"{base}/api/v1/public/events/{event_id}/registrations", json=body)
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def _link_in(url: str, name: str, kind: str, pattern: str) -> str:
    """The link in the SMS of `kind` owed to the registrant `name`."""
    engine = make_engine(url)
    with Session(engine) as s:
        body = s.exec(
            select(Notification.body)
            .join(Registration, col(Registration.id) == Notification.subject_id)
            .where(Notification.subject_type == "registration", Notification.kind == kind,
                   Registration.name == name)
        ).one()  # fmt: skip
    engine.dispose()
    found = re.search(pattern, body)
    assert found, body
    return found.group(1)


def _confirm(page: Any, name: str) -> None:
    row = page.locator(".registrations li", has_text=name)
    click(row.get_by_role("button", name=re.compile("确认参加")))
    assert f"已确认 {name}" in page.content()


def test_a_drop_out_offers_the_place_and_the_next_accepts_at_360(site: dict[str, Any]) -> None:
    base, eid, url = site["base"], site["event"], site["url"]
    people = (("赵一", "13900000001"), ("钱二", "13900000002"), ("孙三", "13900000003"))
    states = [_register(base, eid, name, phone)["state"] for name, phone in people]
    assert states == ["registered", "waitlisted", "waitlisted"]
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760})
        watch = Watch(page, base)
        sign_in(page, base, "wang", PASSWORD)
        page.goto(f"{base}/events/{eid}/registrations")
        _confirm(page, "赵一")

        # 赵一 cannot come: the confirmation SMS's link answers 不参加.
        citizen = browser.new_page(viewport={"width": 360, "height": 760})
        citizen.goto(base + _link_in(url, "赵一", "confirmed", r"(/public/invitations/[\w.\-]+)"))
        click(citizen.get_by_role("button", name="不参加"))
        assert "已收到您的答复：不参加" in citizen.content()

        # The place is offered to 钱二 (孙三 still waits); the clerk sees the window.
        page.goto(f"{base}/events/{eid}/registrations")
        row = page.locator(".registrations li", has_text="钱二").inner_text()
        assert "已通知递补，待答复" in row and "须于 2022年9月17日（星期六）10:00 前答复" in row
        assert "候补第 1 位" in page.locator(".registrations li", has_text="孙三").inner_text()
        shoot(page, "registrations-offer")
        offer = _link_in(url, "钱二", "offered", r"(/public/offers/[\w.\-]+)")
        citizen.goto(base + offer)
        assert "2022年9月17日（星期六）10:00" in citizen.inner_text("#offer-window")
        shoot(citizen, "public-offer")
        click(citizen.get_by_role("button", name="接受递补名额"))
        assert "已收到您的答复：接受递补名额" in citizen.content()
        assert "等待主办单位确认" in citizen.content()
        citizen.close()
        page.goto(f"{base}/events/{eid}/registrations")
        _confirm(page, "钱二")

        # A citizen's 不参加 by phone that takes the share below the rule: checked, then marked.
        page.goto(f"{base}/events/{eid}/invitees")
        form = page.locator("form.phone-answer").first
        form.locator("select").select_option("no")
        click(form.get_by_role("button"))
        assert "低于市民代表比例要求（至少 5 人）" in page.inner_text("#share-check")
        shoot(page, "answer-check")
        click(page.get_by_role("button", name="仍然登记不参加"))
        assert "已登记电话答复：不参加（市民代表比例低于要求，已标记）" in page.content()
        watch.assert_clean()
