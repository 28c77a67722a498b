"""Small things a person reads on the staff pages (issue 24): unit drop-downs in the schedule's
序号 order, the unit robot column explained, and no ✓ on an empty invitee list."""

from __future__ import annotations

import re

from sqlmodel import Session

from models import Event, Unit
from tests.conftest import HOUSING, SHILING, Walker
from tests.pages.test_event_pages import supervisor_password
from tests.pages.test_pages import sign_in


def test_unit_drop_downs_follow_the_schedule_order(walker: Walker) -> None:
    """Units are listed by the lowest 序号 of their events, then units without one in the order
    they were added; not by code point (区… before 石… before 东…)."""
    walker.create_event()  # 区住建局, no 序号
    shiling = walker.create_event(who="shiling", unit=SHILING, theme="石岭镇开放日")
    with Session(walker.world.engine) as session:
        session.get(Event, shiling["id"]).seq = 3  # type: ignore[union-attr]
        session.add(Unit(name="东峰镇", kind="town", created_at=session.get(Unit, 1).created_at))  # type: ignore[union-attr]
        session.commit()
    supervisor_password(walker.world)
    sign_in(walker.client, "supervisor", "pw-super")
    for path in ("/board", "/board/overdue", "/admin/accounts"):
        html = walker.client.get(path).text
        select = html.split('id="f-unit"')[1].split("</select>")[0]
        names = re.findall(r"<option value=\"\d+\"[^>]*>([^<]+)</option>", select)
        assert names == [SHILING, HOUSING, "东峰镇"], (path, names)
    admin = walker.client.get("/admin").text
    assert admin.index(SHILING) < admin.index(HOUSING) < admin.index("东峰镇")


def test_the_robot_column_says_what_it_is_and_where_to_set_it(walker: Walker) -> None:
    """`机器人 未配置` is explained: what the group robot gets, and the command that sets it."""
    supervisor_password(walker.world)
    sign_in(walker.client, "supervisor", "pw-super")
    admin = walker.client.get("/admin").text
    assert "群机器人" in admin and "未配置（只发给联系人和负责人）" in admin
    hint = admin.split('id="robot-hint"')[1].split("</p>")[0]
    assert "企业微信" in hint and "openday unit set" in hint and "--webhook-url" in hint


def test_an_empty_invitee_list_shows_no_tick(walker: Walker) -> None:
    """`市民代表 0 人，至少需要 0 人` no longer carries a green ✓ when nobody is on the list."""
    eid = walker.create_event()["id"]
    sign_in(walker.client)
    meter = walker.client.get(f"/events/{eid}/invitees").text
    meter = meter.split('id="invitee-list"')[1].split("</div>")[0]
    assert "✓" not in meter and "至少需要 0 人" not in meter
    assert "名单还是空的" in meter
    task_list = walker.client.get(f"/events/{eid}").text
    assert "还没有添加人员（应为 10–20 人）" in task_list and "至少需要 0 人" not in task_list
