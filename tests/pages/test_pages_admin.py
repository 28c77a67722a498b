"""Admin pages without a browser: accounts (list, create, role, disable, reset, revoke), one's
own password, the schedule import's past-escalation confirmation and the calendar upload."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from models import ApiToken, CalendarYear, Campaign, Event, FeedbackItem, User
from tests.conftest import HOUSING, Walker, World, local
from tests.pages.test_pages import csrf_of, sign_in
from tests.schedule.test_schedule_import import NOTICE
from tests.workdays.test_deadlines import _provisional_item
from workflows.accounts.service import hash_password, verify_login
from workflows.kernel.clock import FixedClock

NOW_LOCAL = local(2022, 9, 16)


def _password(world: World, username: str, password: str) -> None:
    with Session(world.engine) as session:
        user = session.exec(select(User).where(User.username == username)).one()
        user.password_hash = hash_password(password)
        session.commit()


def _as(client: TestClient, world: World, username: str) -> None:
    _password(world, username, f"pw-{username}-long")
    sign_in(client, username, f"pw-{username}-long")


def _post(client: TestClient, url: str, data: dict[str, str], page: str | None = None) -> object:
    csrf = csrf_of(client.get(page or url.rsplit("/", 1)[0]).text)
    return client.post(url, data={"csrf": csrf, **data}, follow_redirects=False)


def _live_tokens(world: World, user_id: int) -> int:
    with Session(world.engine) as session:
        return session.exec(
            select(func.count())
            .select_from(ApiToken)
            .where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
        ).one()


def _one_time(html: str) -> str:
    match = re.search(r'id="one-time-password" class="secret">([^<]+)<', html)
    assert match, html[:800]
    return match.group(1)


def test_admin_creates_an_account_and_its_one_time_password_signs_in(
    client: TestClient, world: World
) -> None:
    """Create shows a one-time password once (no-store); it signs in; the list filters."""
    _as(client, world, "secadmin")
    form = client.get("/admin/accounts/new")
    assert form.status_code == 200 and "新建账号" in form.text
    created = client.post(
        "/admin/accounts",
        data={
            "csrf": csrf_of(form.text),
            "username": "wang.li",
            "display_name": "王力",
            "role": "unit_staff",
            "unit_id": str(world.units[HOUSING]),
            "email": "",
        },
    )
    assert created.status_code == 200, created.text
    assert created.headers["cache-control"] == "no-store"
    password = _one_time(created.text)
    assert "只显示这一次" in created.text
    with Session(world.engine) as session:
        user = verify_login(session, "wang.li", password)
        assert (user.role, user.unit_id, user.must_change_password) == (
            "unit_staff",
            world.units[HOUSING],
            True,
        )
    # The list filters by role, unit and status; the password is nowhere to be seen again.
    listed = client.get(f"/admin/accounts?role=unit_staff&unit={world.units[HOUSING]}")
    assert "wang.li" in listed.text and "housing" in listed.text and "shiling" not in listed.text
    assert password not in listed.text
    assert "wang.li" not in client.get("/admin/accounts?status=disabled").text
    assert "supervisor" in client.get("/admin/accounts?role=supervisor").text


def test_create_refusals_show_the_workflow_wording(client: TestClient, world: World) -> None:
    """A taken name, staff without a unit, a bad username, the retired all-duty admin role:
    error summaries, nothing created."""
    _as(client, world, "secadmin")
    csrf = csrf_of(client.get("/admin/accounts/new").text)
    base = {"csrf": csrf, "display_name": "", "email": "", "unit_id": ""}
    taken = client.post("/admin/accounts", data={**base, "username": "housing", "role": "viewer"})
    assert (
        taken.status_code == 409 and '<a href="#username">用户名“housing”已存在</a>' in taken.text
    )
    staff = client.post("/admin/accounts", data={**base, "username": "zhao", "role": "unit_staff"})
    assert staff.status_code == 422 and "单位工作人员账号必须指定所属单位" in staff.text
    assert 'href="#unit_id"' in staff.text
    bad = client.post("/admin/accounts", data={**base, "username": "王", "role": "viewer"})
    assert bad.status_code == 422 and '<a href="#username">用户名：' in bad.text
    retired = client.post("/admin/accounts", data={**base, "username": "boss", "role": "admin"})
    assert (
        retired.status_code == 422
        and '<a href="#role">“管理员”（admin）角色已按三员分立拆分' in (retired.text)
    )
    assert 'value="admin"' not in client.get("/admin/accounts/new").text  # not offered
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(User)).one() == 7


def test_supervisor_manages_staff_but_not_admins(client: TestClient, world: World) -> None:
    """Supervisors may not create or change an administrator or supervisor: the workflow's
    403 text."""
    _as(client, world, "supervisor")
    csrf = csrf_of(client.get("/admin/accounts/new").text)
    made = client.post(
        "/admin/accounts",
        data={"csrf": csrf, "username": "boss", "role": "system_admin", "unit_id": "",
              "email": ""},
    )  # fmt: skip
    assert made.status_code == 403
    assert "督查人员只能管理单位工作人员和只读账号，不能管理 system_admin 账号" in made.text
    admin_id = world.user_ids["secadmin"]
    disabled = _post(
        client, f"/admin/accounts/{admin_id}/disable", {}, f"/admin/accounts/{admin_id}"
    )
    assert disabled.status_code == 403  # type: ignore[attr-defined]
    with Session(world.engine) as session:
        assert session.get(User, admin_id).is_active  # type: ignore[union-attr]
    # Staff: moved to another unit, disabled (tokens revoked), enabled, reset, revoked.
    staff_id = world.user_ids["shiling"]
    page = f"/admin/accounts/{staff_id}"
    moved = _post(
        client, f"{page}/role", {"role": "unit_staff", "unit_id": str(world.units[HOUSING])}, page
    )
    assert moved.status_code == 303  # type: ignore[attr-defined]
    assert "角色和单位已保存" in client.get(moved.headers["location"]).text  # type: ignore[attr-defined]
    assert _live_tokens(world, staff_id) == 1
    assert _post(client, f"{page}/disable", {}, page).status_code == 303  # type: ignore[attr-defined]
    assert _live_tokens(world, staff_id) == 0
    with Session(world.engine) as session:
        user = session.get(User, staff_id)
        assert user is not None and not user.is_active and user.unit_id == world.units[HOUSING]
    assert "已停用" in client.get("/admin/accounts?status=disabled").text
    assert _post(client, f"{page}/enable", {}, page).status_code == 303  # type: ignore[attr-defined]
    reset = _post(client, f"{page}/reset-password", {}, page)
    assert reset.status_code == 200 and reset.headers["cache-control"] == "no-store"  # type: ignore[attr-defined]
    with Session(world.engine) as session:
        assert verify_login(session, "shiling", _one_time(reset.text)).must_change_password  # type: ignore[attr-defined]
    staff_to_viewer = _post(client, f"{page}/role", {"role": "viewer", "unit_id": ""}, page)
    assert staff_to_viewer.status_code == 303  # type: ignore[attr-defined]
    promote = _post(client, f"{page}/role", {"role": "supervisor", "unit_id": ""}, page)
    assert promote.status_code == 403 and "不能管理 supervisor 账号" in promote.text  # type: ignore[attr-defined]


def test_admin_cannot_disable_themselves_and_staff_cannot_manage(
    client: TestClient, world: World
) -> None:
    """Own account: the workflow's 409; unit staff get the 403 page for account management,
    and so do the system and audit administrators (三员分立)."""
    _as(client, world, "secadmin")
    me = f"/admin/accounts/{world.user_ids['secadmin']}"
    own = _post(client, f"{me}/disable", {}, me)
    assert own.status_code == 409 and "不能停用自己的账号" in own.text  # type: ignore[attr-defined]
    revoked = _post(client, f"/admin/accounts/{world.user_ids['housing']}/revoke-tokens", {}, me)
    assert revoked.status_code == 303 and _live_tokens(world, world.user_ids["housing"]) == 0  # type: ignore[attr-defined]
    client.cookies.clear()
    sign_in(client)
    assert client.get("/admin/accounts").status_code == 403
    assert "仅安全管理员或区政府办督查人员可管理账号" in client.get("/admin/accounts/new").text
    for other in ("sysadmin", "auditor"):
        client.cookies.clear()
        _as(client, world, other)
        refused = client.get("/admin/accounts")
        assert refused.status_code == 403 and "三员分立：此操作只能由安全管理员执行" in refused.text


def test_own_password_page_keeps_this_session_and_revokes_the_others(
    client: TestClient, world: World
) -> None:
    """The header links 修改密码; a wrong old password is refused; success revokes the rest."""
    sign_in(client)
    home = client.get("/")
    assert 'href="/account/password"' in home.text
    page = client.get("/account/password")
    wrong = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "old_password": "nope",
            "new_password": "Lotus-Pond-2022",
            "new_password_again": "Lotus-Pond-2022",
        },
    )
    assert wrong.status_code == 403 and '<a href="#old_password">原密码不正确</a>' in wrong.text
    mismatch = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "old_password": "pw-housing",
            "new_password": "Lotus-Pond-2022",
            "new_password_again": "Lotus-Pond-2023",
        },
    )
    assert mismatch.status_code == 400 and "两次输入的新密码不一致" in mismatch.text
    weak = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "old_password": "pw-housing",
            "new_password": "short",
            "new_password_again": "short",
        },
    )
    assert weak.status_code == 422 and "密码至少需要 10 个字符" in weak.text
    assert _live_tokens(world, world.user_ids["housing"]) == 2  # API token + this session
    done = client.post(
        "/account/password",
        data={
            "csrf": csrf_of(page.text),
            "old_password": "pw-housing",
            "new_password": "Lotus-Pond-2022",
            "new_password_again": "Lotus-Pond-2022",
        },
        follow_redirects=False,
    )
    assert done.status_code == 303
    assert "其他 1 个登录和令牌已失效" in client.get(done.headers["location"]).text
    assert _live_tokens(world, world.user_ids["housing"]) == 1  # this session only
    with Session(world.engine) as session:
        verify_login(session, "housing", "Lotus-Pond-2022")


def _preview(client: TestClient, world: World) -> tuple[str, str]:
    page = client.get(f"/admin/campaigns/{world.campaign_id}/import")
    preview = client.post(
        f"/admin/campaigns/{world.campaign_id}/import",
        data={"csrf": csrf_of(page.text)},
        files={"table": (NOTICE.name, NOTICE.read_bytes(), "text/plain")},
    )
    assert preview.status_code == 200, preview.text
    key = re.search(r'name="key" value="([^"]+)"', preview.text)
    assert key
    return preview.text, key.group(1)


def _events(world: World) -> int:
    with Session(world.engine) as session:
        return session.exec(select(func.count()).select_from(Event)).one()


@pytest.mark.parametrize("confirm", [False, True])
def test_import_page_asks_before_sending_past_escalations(
    client: TestClient, world: World, confirm: bool
) -> None:
    """The preview says how many notifications go out at once; confirming needs the box."""
    _as(client, world, "supervisor")
    text, key = _preview(client, world)
    assert "29 个活动的开展期限已过" in text and "共 57 条通知" in text  # 15 to inboxes
    assert 'name="confirm_past"' in text
    data = {"csrf": csrf_of(text), "key": key, "filename": NOTICE.name, "action": "confirm"}
    data["accept"] = "yes"
    if confirm:
        data["confirm_past"] = "yes"
    response = client.post(
        f"/admin/campaigns/{world.campaign_id}/import", data=data, follow_redirects=False
    )
    if not confirm:
        assert response.status_code == 422
        assert '<a href="#confirm-past">导入后有 29 个活动的开展期限已过' in response.text
        assert "确认导入" in response.text  # the preview again, to tick the box
        assert _events(world) == 0
    else:
        assert response.status_code == 303, response.text
        assert _events(world) == 39


CALENDAR_2027 = (
    "source: 国务院办公厅关于2027年部分节假日安排的通知（测试用假设安排）\n"
    "years:\n  - year: 2027\n    holidays: ['2027-01-01..2027-01-03', '2027-01-04']\n"
    "    workdays: []\n"
)


def test_calendar_upload_previews_then_lists_the_moved_deadlines(
    walker: Walker, world: World, clock: FixedClock
) -> None:
    """An answer due 2027-01-11 (provisional): the preview lists 1月11日 → 1月13日 and writes
    nothing; confirming loads the year and moves the item; supervisors get 403."""
    _, item_id = _provisional_item(walker, clock)
    client = walker.client

    def due() -> tuple[object, bool]:
        with Session(world.engine) as session:
            item = session.get(FeedbackItem, item_id)
            assert item is not None
            return item.due_on, item.due_provisional

    assert due() == (date(2027, 1, 11), True)
    _as(client, world, "sysadmin")
    page = client.get("/admin/calendar")
    assert page.status_code == 200 and "尚未导入任何年份" in page.text
    empty = client.post("/admin/calendar", data={"csrf": csrf_of(page.text)})
    assert empty.status_code == 400 and '<a href="#file">请选择工作日安排文件' in empty.text
    broken = client.post(
        "/admin/calendar",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("2027.yaml", b"years: [{year: 2027, holidays: ['2028-01-01']}]\n", "a/b")},
    )
    assert broken.status_code == 422 and 'href="#file"' in broken.text
    preview = client.post(
        "/admin/calendar",
        data={"csrf": csrf_of(page.text)},
        files={"file": ("2027年安排.yaml", CALENDAR_2027.encode(), "application/yaml")},
    )
    assert preview.status_code == 200, preview.text
    assert "尚未写入任何数据" in preview.text
    rows = re.findall(r"<tr>.*?</tr>", preview.text.split('id="moved"')[1], re.S)
    moved = [r for r in rows if "意见答复" in r and "催办 1 级" in r]
    assert moved and "2027年1月11日" in moved[0] and "2027年1月13日" in moved[0], rows
    assert due() == (date(2027, 1, 11), True)  # the preview kept nothing
    with Session(world.engine) as session:
        assert session.exec(select(func.count()).select_from(CalendarYear)).one() == 0
    key = re.search(r'name="key" value="([^"]+)"', preview.text)
    name = re.search(r'name="filename" value="([^"]+)"', preview.text)
    assert key and name
    done = client.post(
        "/admin/calendar",
        data={
            "csrf": csrf_of(preview.text),
            "key": key.group(1),
            "filename": name.group(1),
            "action": "confirm",
        },
    )
    assert done.status_code == 200 and "已导入" in done.text and "已改期的提醒和催办" in done.text
    assert "2027年1月13日" in done.text
    assert due() == (date(2027, 1, 13), False)
    assert "2027 年" in client.get("/admin/calendar").text
    client.cookies.clear()
    _as(client, world, "supervisor")
    assert client.get("/admin/calendar").status_code == 403
    assert "导入工作日安排" not in client.get("/admin").text


def _sixty_events(world: World) -> None:
    """60 unheld events, three a day from 2022-08-22, alternately 石岭镇 and 区住建局."""
    from models import Campaign
    from workflows.event.service import create_event
    from workflows.kernel.visibility import SYSTEM

    with Session(world.engine) as session:
        campaign = session.get(Campaign, world.campaign_id)
        for n in range(60):
            day = date(2022, 8, 22) + timedelta(days=n % 20)
            unit = world.units[HOUSING] if n % 2 else world.units["石岭镇"]
            create_event(
                session, campaign=campaign, unit_id=unit, theme=f"逾期活动{n:02d}",  # type: ignore[arg-type]
                earliest=day, latest=day, actor=SYSTEM, now=FixedClock(NOW_LOCAL).now(),
            )  # fmt: skip
        session.commit()


def test_all_events_page_pages_by_keyset_cursor(client: TestClient, world: World) -> None:
    """全部活动 shows 50 cards, then the next 10 by `after=`; staff see only their 30."""
    _sixty_events(world)
    _as(client, world, "supervisor")
    first = client.get("/?all=1")
    cards = re.findall(r'<h2><a href="/events/(\d+)">', first.text)
    assert len(cards) == 50
    link = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert link and "all=1" in link.group(1)
    second = client.get(link.group(1).replace("&amp;", "&"))
    more = re.findall(r'<h2><a href="/events/(\d+)">', second.text)
    assert len(more) == 10 and not set(more) & set(cards)
    assert client.get("/?all=1&after=bogus").status_code == 422
    client.cookies.clear()
    sign_in(client)
    mine = client.get("/")
    assert len(re.findall(r'<h2><a href="/events/(\d+)">', mine.text)) == 30
    assert 'id="next-page"' not in mine.text


def test_overdue_list_pages_by_keyset_cursor(client: TestClient, world: World) -> None:
    """60 unheld events past their day: page one has 50 rows most late first, `after=` the
    next 10, none twice; a cursor not handed out is a 422 page; staff see their unit only."""
    _sixty_events(world)
    _as(client, world, "supervisor")
    first = client.get("/board/overdue")
    assert first.status_code == 200
    themes = re.findall(r'data-label="活动">(逾期活动\d+)<', first.text)
    assert len(themes) == 50
    next_link = re.search(r'id="next-page" href="([^"]+)"', first.text)
    assert next_link
    second = client.get(next_link.group(1).replace("&amp;", "&"))
    more = re.findall(r'data-label="活动">(逾期活动\d+)<', second.text)
    assert len(more) == 10 and not set(more) & set(themes)
    assert 'id="next-page"' not in second.text
    days = re.findall(r'data-label="应于">([^<]+)<', first.text)
    assert (
        days[0] == "2022年8月22日（星期一）" and days[-1] == "2022年9月7日（星期三）"
    )  # 3 a day: 50 rows reach day 17
    bad = client.get("/board/overdue?after=not-a-cursor")
    assert bad.status_code == 422
    client.cookies.clear()
    sign_in(client)
    mine = re.findall(r'data-label="单位">([^<]+)<', client.get("/board/overdue").text)
    assert mine and set(mine) == {HOUSING}


def test_import_preview_counts_the_digests_apart(client: TestClient, world: World) -> None:
    """In digest mode the preview says what goes out at once and what waits for 09:00."""
    with Session(world.engine) as session:
        campaign = session.get(Campaign, world.campaign_id)
        assert campaign is not None
        campaign.rules = {**campaign.rules, "escalation_delivery": "digest"}
        session.add(campaign)
        session.commit()
    _as(client, world, "supervisor")
    text, _ = _preview(client, world)
    said = re.search(
        r"导入后将立即发出 (\d+) 次催办，共 (\d+) 条通知[^；]*；"
        r"另有 (\d+) 条通知并入 (\d+) 份催办汇总，于 09:00 发出",
        text,
    )
    assert said, text[text.find("past-escalations") :][:600]
    assert int(said.group(3)) > 0 and int(said.group(4)) > 0


def test_the_rules_page_shows_the_leader_rule_with_its_sentence(
    client: TestClient, world: World
) -> None:
    """管理 says how a hold without either leader is treated, and the notice's sentence."""
    _as(client, world, "supervisor")
    html = client.get("/admin").text
    assert "没有主要负责人或分管负责人时照常登记，标记偏差并计入考核" in html
    assert "主要负责人或分管负责人主动与开放对象进行面对面沟通交流。" in html
    assert "个工作日内由本单位直接更正，之后提交更正申请，由区政府办审批" in html
