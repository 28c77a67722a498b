"""管理 › 单位名称与合并 in a real browser (issue 30): a supervisor renames 区住建局 from 2023,
is refused a rename dated before its new name and a merge of 石岭镇 into itself, merges 石岭镇
into the renamed unit after confirming, and 逐年对比 shows one row under the new name.
Screenshots at 1280 and 360 px: docs/screenshots/unit-history-*.png, unit-merge-check-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlmodel import Session, col, func, select

from models import ChangeLog, Event, EventState, Role, Unit, UnitKind, UnitName
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

PASSWORD = "Ducha-2022!"
NEW_NAME = "区住房和城乡建设局"


def _fill(session: Session) -> None:
    """2022's campaign with two units holding an event each, and a supervisor."""
    campaign = notice_campaign(session)
    session.flush()
    for seq, (name, kind) in enumerate(
        (("区住建局", UnitKind.department), ("石岭镇", UnitKind.town)), start=1
    ):
        unit = Unit(name=name, kind=kind, created_at=NOW)
        session.add(unit)
        session.flush()
        session.add(
            Event(
                campaign_id=campaign.id,
                unit_id=unit.id,
                seq=seq,
                theme=f"{name}开放日",
                date_earliest=date(2022, 9, 1),
                date_latest=date(2022, 9, 1),
                forms=["dialogue"],
                state=EventState.held,
                held_on=date(2022, 9, 1),
                held_until=date(2022, 9, 1),
                forms_held=["dialogue"],
                created_at=NOW,
                updated_at=NOW,
            )  # fmt: skip
        )
    create_user(session, username="li", role=Role.supervisor, password=PASSWORD, now=NOW,
                display_name="李督查")  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, database URL) of a real server on a seeded SQLite file."""
    require_browser()
    folder = tmp_path_factory.mktemp("units")
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill)
    with serve(folder, url) as base:
        yield base, url


def _written(url: str) -> tuple[int, int, int]:
    """(old names kept, merged units, audit lines of renames and merges)."""
    engine = make_engine(url)
    try:
        with Session(engine) as session:
            count = select(func.count())
            merged = count.select_from(Unit).where(col(Unit.merged_on).is_not(None))
            lines = count.select_from(ChangeLog).where(ChangeLog.entity == "unit")
            return (
                int(session.exec(count.select_from(UnitName)).one()),
                int(session.exec(merged).one()),
                int(session.exec(lines).one()),
            )
    finally:
        engine.dispose()


def test_supervisor_renames_and_merges_units(site: tuple[str, str]) -> None:
    """Rename checked then confirmed; an early date and a merge into itself refused beside
    their fields; the merge confirmed; the yearly report follows the stable identity."""
    base, url = site
    with chromium() as browser:
        context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
        context.set_default_timeout(15_000)
        page = context.new_page()
        watch = Watch(page, base)
        sign_in(page, base, "li", PASSWORD)
        click(page.get_by_role("link", name="管理", exact=True))
        click(page.get_by_role("link", name="单位名称与合并"))
        click(page.get_by_role("link", name="区住建局的名称与合并"))
        page.get_by_label("新名称").fill(NEW_NAME)
        page.get_by_label("启用日期").fill("2023-01-01")
        click(page.get_by_role("button", name="检查更名"))
        assert f"“区住建局”更名为“{NEW_NAME}”" in page.locator("#check").inner_text()
        assert _written(url) == (0, 0, 0)
        click(page.get_by_role("button", name="确认更名"))
        names = page.locator("#names").inner_text()
        assert NEW_NAME in names and "至2023年1月1日（星期日）前" in names
        assert "将“区住建局”更名为" in page.locator("#changes").inner_text()
        assert _written(url) == (1, 0, 1)

        page.get_by_label("新名称").fill("区住建委")
        page.get_by_label("启用日期").fill("2022-12-01")
        click(page.get_by_role("button", name="检查更名"))
        assert "不晚于" in page.locator(".error-summary").inner_text()
        assert _written(url) == (1, 0, 1)

        click(page.get_by_role("link", name="‹ 单位名称与合并"))
        click(page.get_by_role("link", name="石岭镇的名称与合并"))
        page.get_by_label("并入的单位").select_option(label=NEW_NAME)
        page.get_by_label("合并日期").fill("2023-01-01")
        click(page.get_by_role("button", name="检查合并"))
        check = page.locator("#check").inner_text()
        assert f"“石岭镇”并入“{NEW_NAME}”" in check and "逐年对比" in check
        shoot(page, "unit-merge-check")
        click(page.get_by_role("button", name="确认合并"))
        assert "已记录合并" in page.content() and f"并入“{NEW_NAME}”" in page.content()
        assert _written(url) == (1, 1, 2)
        click(page.get_by_role("link", name="‹ 单位名称与合并"))
        click(page.get_by_role("link", name=f"{NEW_NAME}的名称与合并"))
        assert "石岭镇" in page.locator("#merged-in").inner_text()
        shoot(page, "unit-history")

        click(page.get_by_role("link", name="督查看板"))
        click(page.get_by_role("link", name="报表与考核"))
        click(page.get_by_role("link", name="逐年对比"))
        rows = page.locator("th.unit[scope=row]").all_inner_texts()  # one identity, as in 2022
        assert rows == ["区住建局、石岭镇", "全区"], rows
        watch.assert_clean()


def test_merging_into_itself_is_refused(site: tuple[str, str]) -> None:
    """The unit itself is not offered; a forged form is refused beside the field, nothing
    written."""
    base, url = site
    with chromium() as browser:
        page = browser.new_page(viewport={"width": 360, "height": 760}, locale="zh-CN")
        page.set_default_timeout(15_000)
        sign_in(page, base, "li", PASSWORD)
        page.goto(base + "/admin/units")
        click(page.get_by_role("link", name=f"{NEW_NAME}的名称与合并"))
        options = page.get_by_label("并入的单位").locator("option").all_inner_texts()
        assert NEW_NAME not in options
        before = _written(url)
        own = page.url.rsplit("/", 1)[-1]
        page.get_by_label("并入的单位").evaluate(
            "(el, v) => { el.options[0].value = v; el.value = v; }", own
        )
        page.get_by_label("合并日期").fill("2023-06-01")
        click(page.get_by_role("button", name="检查合并"))
        summary = page.locator(".error-summary").inner_text()
        assert "并入其自身" in summary
        assert _written(url) == before
