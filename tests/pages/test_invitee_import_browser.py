"""批量添加受邀人员 in chromium at 360 px (issue 24): a clerk pastes 15 lines, sees each row and
the invite rule's count in the preview, confirms, and finds 15 people on the list. Screenshots of
the preview at 1280 and 360 px; and the search on 全部活动 and the overdue list, clicked."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session

from models import Event, Role, Unit, UnitKind
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
    [f"代表{n}，人大代表" for n in range(5)]
    + [f"委员{n}，政协委员" for n in range(2)]
    + [f"市民{n}\t市民代表\t公开邀请\t幸福社区\t1380000000{n}" for n in range(8)]
)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_browser()
    folder = tmp_path_factory.mktemp("bulk")
    url = f"sqlite:///{folder / 'openday.db'}"

    def fill(s: Session) -> None:
        campaign = notice_campaign(s)
        housing = Unit(name="区住建局", kind=UnitKind.department, created_at=NOW)
        town = Unit(name="石岭镇", kind=UnitKind.town, created_at=NOW)
        s.add_all([housing, town])
        s.flush()
        for unit, theme, day in ((housing, "参观老旧小区改造现场", 20),
                                 (housing, "走进不动产登记中心", 1),
                                 (town, "石岭镇便民服务中心开放", 2)):  # fmt: skip
            s.add(Event(theme=theme, date_earliest=date(2022, 9, day),
                        date_latest=date(2022, 9, day), campaign_id=campaign.id,
                        unit_id=unit.id, created_at=NOW, updated_at=NOW))  # fmt: skip
        for username, role, unit_name in (("wang", Role.unit_staff, "区住建局"),
                                          ("li", Role.supervisor, None)):  # fmt: skip
            create_user(s, username=username, role=role, unit_name=unit_name,
                        password=PASSWORD, now=NOW)  # fmt: skip

    seed(url, fill)
    with serve(folder, url) as base:
        yield base


def test_paste_fifteen_preview_with_quota_confirm(site: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760})
        watch = Watch(page, site)
        sign_in(page, site, "wang", PASSWORD)
        click(page.get_by_role("link", name="参观老旧小区改造现场", exact=True))
        click(page.get_by_role("link", name="邀请人员").first)
        click(page.get_by_role("link", name="批量添加（粘贴名单或上传表格）"))
        page.get_by_label("粘贴名单（每行一人）").fill(FIFTEEN)
        click(page.get_by_role("button", name="预览"))
        body = page.content()
        assert "共 15 人（应为 10–20 人）" in body and "市民代表 8 人" in body
        # One line per person under a summary line: the check fits a phone's few screens.
        assert page.locator("#bulk-preview li").count() == 15
        assert "15 人：人大代表 5 人、政协委员 2 人、市民代表 8 人" in body
        assert page.evaluate("document.documentElement.scrollHeight") < 2200
        assert page.get_by_label("粘贴名单（每行一人）").is_hidden()  # 修改名单 folded away
        shoot(page, "invitees-bulk-preview")
        click(page.get_by_role("button", name="确认添加 15 人"))
        assert "已添加 15 人" in page.content()
        assert page.locator("ul.people li").count() == 15
        watch.assert_clean()


def test_search_on_all_events_and_the_overdue_list(site: str) -> None:
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        sign_in(page, site, "li", PASSWORD)
        page.goto(site + "/?all=1")
        page.get_by_label("搜索活动主题或单位").fill("石岭")
        click(page.get_by_role("button", name="筛选"))
        assert "q=" in page.url
        cards = page.locator("ol.cards h2").all_inner_texts()
        assert cards == ["石岭镇便民服务中心开放"]
        shoot(page, "all-events-search")
        page.goto(site + "/board/overdue")
        page.get_by_label("搜索活动主题或单位").fill("不动产")
        page.get_by_label("催办级别").select_option("0")
        click(page.get_by_role("button", name="筛选"))
        rows = page.locator('td[data-label="活动"]').all_inner_texts()
        assert rows == ["走进不动产登记中心"]
        shoot(page, "overdue-search")


def test_an_uploaded_csv_previews_in_the_browser(site: str, tmp_path: Path) -> None:
    sheet = tmp_path / "名单.csv"
    sheet.write_bytes("姓名,人员类别,邀请方式\n张三,市民代表,公开邀请\n李四,人大代表,\n".encode())
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760})
        sign_in(page, site, "wang", PASSWORD)
        click(page.get_by_role("link", name="走进不动产登记中心", exact=True))
        click(page.get_by_role("link", name="邀请人员").first)
        click(page.get_by_role("link", name="批量添加（粘贴名单或上传表格）"))
        page.locator("#file").set_input_files(sheet)
        click(page.get_by_role("button", name="预览"))
        assert page.locator("#bulk-preview li").count() == 2
        assert "确认添加 2 人" in page.content()
        page.reload()
        assert "批量添加受邀人员" in page.content()  # the address is the GET page's, not a 405
