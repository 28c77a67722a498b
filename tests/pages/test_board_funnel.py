"""The board's 各阶段活动数 says it counts events that reached each stage, from 已计划 on."""

from __future__ import annotations

import re

from sqlmodel import Session

from models import User
from tests.conftest import Walker, World
from tests.pages.test_date_words import visible_text
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password


def test_the_funnel_counts_events_that_reached_each_stage_and_those_still_there(
    walker: Walker, world: World
) -> None:
    """One event planned, one held: 已计划 2 (目前 1), 已邀请 1 (目前 0), 已开展 1 (目前 1)."""
    walker.create_event()
    walker.held_event()
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    html = walker.client.get("/board").text
    funnel = html[html.index('<ul class="funnel"') : html.index("</ul>", html.index("funnel"))]
    rows = [
        re.sub(r"\s+", " ", visible_text(li)).strip()
        for li in re.findall(r"<li>(.*?)</li>", funnel)
    ]
    assert rows[:3] == ["已计划 2 目前 1", "已邀请 1 目前 0", "已开展 1 目前 1"]
    assert "已到达该阶段的活动数" in visible_text(html)
