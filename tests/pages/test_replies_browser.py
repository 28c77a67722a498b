"""Answers back to the citizen in a real browser (issue 26): the clerk answers an opinion raised
by an invitee no message reaches (SMS off, no e-mail), so a reply letter is queued; the clerk marks
it posted; the citizen opens the tracking page by receipt code, sees the answer and when it was
sent, rates 不满意 with the phone on record; the clerk's page shows the opinion reopened with its
new due day (reopen_workdays = 10 working days after the rating)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest
from sqlmodel import Session

from models import EventState, FeedbackItem, Invitee, Role, Unit, UnitKind
from models.codes import grouped
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
from workflows.campaign.rules import CampaignRules
from workflows.event.service import create_event
from workflows.kernel.visibility import SYSTEM
from workflows.workdays import deadlines

THEME = "参观老旧小区改造现场"
TODAY = datetime.fromisoformat("2022-10-10T10:00:00+08:00")
PHONE = "13800000001"
SEEDED: dict[str, Any] = {}


def _fill(session: Session) -> None:
    """区住建局's event held 2022-09-16, one opinion (due 2022-10-12) raised by a citizen with a
    phone, and the unit's clerk."""
    campaign = notice_campaign(session)
    unit = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
    session.add(unit)
    session.flush()
    assert unit.id is not None
    event = create_event(
        session, campaign=campaign, unit_id=unit.id, theme=THEME, earliest=date(2022, 9, 16),
        latest=date(2022, 9, 16), actor=SYSTEM, now=NOW, location="雁江区某小区",
    )  # fmt: skip
    event.state, event.held_on = EventState.feedback_collected, date(2022, 9, 16)
    person = Invitee(event_id=event.id, name="李市民", category="citizen", invitation="public",
                     phone=PHONE, attended=True, created_at=NOW)  # type: ignore[arg-type]  # fmt: skip
    session.add(person)
    session.flush()
    item = FeedbackItem(
        event_id=event.id, unit_id=unit.id, content="小区路灯不亮，希望尽快修复",  # type: ignore[arg-type]
        raised_by_invitee_id=person.id, collected_on=date(2022, 9, 16), created_at=NOW,
        updated_at=NOW,
    )  # fmt: skip
    session.add(item)
    session.flush()
    deadlines.arm_feedback_item(
        session, item, CampaignRules(), deadlines.load_calendar(session), NOW
    )
    create_user(session, username="wang", role=Role.unit_staff, unit_name="区住建局",
                password="Kaifang-2022!", now=NOW, display_name="王经办")  # fmt: skip
    SEEDED.update(event_id=event.id, code=grouped(item.receipt_code), campaign_id=campaign.id)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("replies")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(
        folder, url, OPENDAY_CLOCK_START=TODAY.isoformat(), OPENDAY_SMS_CHANNEL="off"
    ) as base:
        yield base


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _answer_and_post(page: Any, server: str) -> None:
    """The clerk answers; a reply letter is owed; the clerk marks it posted."""
    sign_in(page, server, "wang", "Kaifang-2022!")
    page.goto(f"{server}/events/{SEEDED['event_id']}/feedback")
    first = page.locator("ol.opinions > li").first
    first.locator("summary", has_text="答复").first.click()
    first.get_by_label("答复内容").fill("已更换路灯并纳入每月巡查")
    click(first.get_by_role("button", name="提交答复"))
    first = page.locator("ol.opinions > li").first
    text = first.inner_text()
    assert "已答复，待送达" in text and "信函" in text, text
    assert first.get_by_role("link", name="下载答复信（A4，Word）").count() == 1
    click(first.get_by_role("button", name="答复信已寄出"))
    text = page.locator("ol.opinions > li").first.inner_text()
    assert "答复已送达：2022年10月10日（星期一）10:" in text and "信函" in text, text


def test_staff_answers_the_citizen_rates_dissatisfied_and_it_reopens(
    server: str, browser: Any
) -> None:
    staff = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    staff.set_default_timeout(10_000)
    page = staff.new_page()
    watch = Watch(page, server)
    _answer_and_post(page, server)
    citizen = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    citizen.set_default_timeout(10_000)
    public = citizen.new_page()
    public_watch = Watch(public, server)
    public.goto(f"{server}/public/track?code={SEEDED['code']}")
    assert public.locator("#answer").inner_text() == "已更换路灯并纳入每月巡查"
    assert "2022年10月10日（星期一）" in public.locator("#told").inner_text()
    public.get_by_label("不满意").check()
    public.get_by_label("您的意见（选填）").fill("路灯仍然不亮")
    public.get_by_label("提出意见时登记的手机号码").fill("13900000000")  # not the one on record
    shoot(public, "track-answer")
    click(public.get_by_role("button", name="提交评价"))
    assert "回执码或手机号不正确" in public.content()
    assert public.get_by_label("不满意").is_checked()  # what was chosen and typed is kept
    assert public.get_by_label("您的意见（选填）").input_value() == "路灯仍然不亮"
    public.get_by_label("提出意见时登记的手机号码").fill(PHONE)
    click(public.get_by_role("button", name="提交评价"))
    said = public.locator("#reopened").inner_text()
    assert (
        "不满意" in said and "已转回承办单位重新办理，将于 2022年10月24日（星期一） 前答复" in said
    )
    shoot(public, "track-rated")
    public.goto(f"{server}/public/campaigns/{SEEDED['campaign_id']}/heard")
    heard = public.locator("main").inner_text()
    assert "小区路灯不亮" in heard and "提出人评价：不满意" in heard and "李市民" not in heard
    assert "已更换路灯" not in heard  # the person did not consent to publish the answer
    shoot(public, "public-heard")
    page.reload()
    item = page.locator("ol.opinions > li").first
    text = item.inner_text()
    assert "办理中" in text and "2022年10月24日（星期一）前答复" in text, text
    assert "不满意" in text and "路灯仍然不亮" in text and "新的答复期限" in text
    assert item.locator("summary", has_text="答复").count() >= 1  # it can be answered again
    shoot(page, "feedback-reopened")
    watch.assert_clean()
    public_watch.assert_clean()
    staff.close()
    citizen.close()
