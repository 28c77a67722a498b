"""管理 › 单位名称与合并 without a browser (issue 30): nothing is written before the
confirmation; each refusal names its problem beside its field; clerks may not come in."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlmodel import Session, func, select

from models import ChangeLog, Unit, UnitName
from tests.conftest import HOUSING, SHILING, Walker
from tests.pages.test_pages import csrf_of
from tests.pages.test_pages_admin import _as

NEW_NAME = "区住房和城乡建设局"


def _written(walker: Walker) -> tuple[int, int, int]:
    """(old names kept, merged units, rename/merge audit lines)."""
    with Session(walker.world.engine) as session:
        names = session.exec(select(func.count()).select_from(UnitName)).one()
        merged = session.exec(
            select(func.count()).select_from(Unit).where(Unit.merged_into_id.is_not(None))  # type: ignore[union-attr]
        ).one()
        lines = session.exec(
            select(func.count())
            .select_from(ChangeLog)
            .where(
                ChangeLog.entity == "unit",
                ChangeLog.action.in_(("rename", "merge")),  # type: ignore[attr-defined]
            )
        ).one()
    return int(names), int(merged), int(lines)


def test_rename_is_checked_then_confirmed_and_audited(walker: Walker) -> None:
    """检查更名 shows the sentence and writes nothing; 确认更名 renames, keeps the old name until
    the day and lists the audit line; a second rename dated before it is refused."""
    client: TestClient = walker.client
    housing = walker.world.units[HOUSING]
    _as(client, walker.world, "supervisor")
    page = client.get(f"/admin/units/{housing}")
    assert page.status_code == 200 and "还没有更名或合并记录" in page.text
    form = {"csrf": csrf_of(page.text), "name": NEW_NAME, "on": "2023-01-01"}

    check = client.post(f"/admin/units/{housing}/rename", data={**form, "action": "check"})

    assert check.status_code == 200 and "请确认" in check.text
    assert f"“{HOUSING}”更名为“{NEW_NAME}”" in check.text
    assert _written(walker) == (0, 0, 0)
    done = client.post(
        f"/admin/units/{housing}/rename", data={**form, "action": "confirm"}, follow_redirects=False
    )
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"])
    assert (
        "已更名" in page.text
        and "沿用至今" in page.text
        and "至2023年1月1日（星期日）前" in page.text
    )
    assert f"将“{HOUSING}”更名为“{NEW_NAME}”" in page.text
    assert _written(walker) == (1, 0, 1)

    early = client.post(
        f"/admin/units/{housing}/rename",
        data={**form, "name": "区住建委", "on": "2022-12-31", "action": "check"},
    )
    assert early.status_code == 422 and "不晚于" in early.text and 'href="#on"' in early.text
    assert _written(walker) == (1, 0, 1)


def test_merge_is_checked_then_confirmed_and_refusals_are_named(walker: Walker) -> None:
    """A merge into itself and one without a unit are refused beside the field; the check
    warns of open opinions; once confirmed the unit shows where it went and both pages say so."""
    client: TestClient = walker.client
    w = walker.world
    housing, shiling = w.units[HOUSING], w.units[SHILING]
    _as(client, w, "supervisor")
    csrf = csrf_of(client.get(f"/admin/units/{shiling}").text)
    url = f"/admin/units/{shiling}/merge"

    itself = client.post(url, data={"csrf": csrf, "into_unit_id": str(shiling), "on": "2023-01-01",
                                    "action": "check"})  # fmt: skip
    none = client.post(url, data={"csrf": csrf, "into_unit_id": "", "on": "2023-01-01",
                                  "action": "check"})  # fmt: skip
    no_day = client.post(url, data={"csrf": csrf, "into_unit_id": str(housing), "on": "",
                                    "action": "check"})  # fmt: skip

    assert itself.status_code == 422 and "不能把“石岭镇”并入其自身" in itself.text
    assert 'href="#into_unit_id"' in itself.text
    assert none.status_code == 422 and "并入的单位：请选择" in none.text
    assert no_day.status_code == 422 and 'href="#merge-on"' in no_day.text
    assert _written(walker) == (0, 0, 0)

    form = {"csrf": csrf, "into_unit_id": str(housing), "on": "2023-01-01"}
    check = client.post(url, data={**form, "action": "check"})
    assert check.status_code == 200 and f"“{SHILING}”并入“{HOUSING}”" in check.text
    assert _written(walker) == (0, 0, 0)
    done = client.post(url, data={**form, "action": "confirm"}, follow_redirects=False)
    assert done.status_code == 303, done.text
    page = client.get(done.headers["location"]).text
    assert "已记录合并" in page and f"并入“{HOUSING}”" in page and "检查合并" not in page
    assert SHILING in client.get(f"/admin/units/{housing}").text  # 并入本单位的单位
    assert _written(walker) == (0, 1, 1)
    again = client.post(url, data={**form, "on": "2023-02-01", "action": "confirm"})
    assert again.status_code == 422 and "已于" in again.text
    assert _written(walker) == (0, 1, 1)


def test_open_opinions_are_a_warning_not_a_refusal(walker: Walker) -> None:
    """A unit with an opinion still owed an answer may merge: the check says who answers it."""
    event, _ = walker.held_event()
    walker.move(event["id"], "collect_feedback", data={"items": [{"content": "路灯不亮"}]})
    client: TestClient = walker.client
    w = walker.world
    _as(client, w, "supervisor")
    csrf = csrf_of(client.get(f"/admin/units/{w.units[HOUSING]}").text)
    check = client.post(
        f"/admin/units/{w.units[HOUSING]}/merge",
        data={"csrf": csrf, "into_unit_id": str(w.units[SHILING]), "on": "2023-01-01",
              "action": "check"},
    )  # fmt: skip
    assert check.status_code == 200 and "还有 1 条意见未办结" in check.text


def test_clerks_and_viewers_may_not_rename(walker: Walker) -> None:
    """The list and the forms answer 403 to a unit's clerk; nothing is written."""
    client: TestClient = walker.client
    w = walker.world
    _as(client, w, "housing")
    assert client.get("/admin/units").status_code == 403
    page = client.get(f"/admin/units/{w.units[HOUSING]}")
    assert page.status_code == 403
    csrf = csrf_of(client.get("/").text)
    r = client.post(
        f"/admin/units/{w.units[HOUSING]}/rename",
        data={"csrf": csrf, "name": NEW_NAME, "on": "2023-01-01", "action": "confirm"},
    )
    assert r.status_code == 403
    assert _written(walker) == (0, 0, 0)
