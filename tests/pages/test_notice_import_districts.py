"""从通知新建活动 for a district (issue 28), without a browser, on both backends: a city
supervisor of a city of several districts picks the district among those it is granted; a
forged district it holds no grant of, or none, is refused on the preview (nothing written); in a
city of one district, and for a district's own supervisor, the page asks nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session, col, func, select

from models import Campaign, ChangeLog, Role
from tests.campaign.test_notice_import import NOTICE_2023
from tests.conftest import Walker
from tests.pages.test_notice_import_pages import PAGE, _confirm
from tests.pages.test_pages import csrf_of
from tests.pages.test_pages_admin import _as
from tests.routes.test_authz_districts import _district_world
from workflows.accounts import grants
from workflows.accounts.service import create_user
from workflows.kernel.visibility import SYSTEM

PICKER = 'id="in-district_id"'


def _city(walker: Walker, *grant_to: int) -> None:
    """A city supervisor `city`, granted in `grant_to`, signed in."""
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with Session(walker.world.engine) as session:
        user = create_user(session, username="city", role=Role.supervisor, now=now,
                           district_id=None)  # fmt: skip
        session.flush()
        for district_id in grant_to:
            grants.grant(session, SYSTEM, district_id, user.id, "代建活动", now)  # type: ignore[arg-type]
        session.commit()
    _as(walker.client, walker.world, "city")


def _written(walker: Walker) -> tuple[int, int]:
    with Session(walker.world.engine) as session:
        return (
            session.exec(select(func.count()).select_from(Campaign)).one(),
            session.exec(select(func.count()).select_from(ChangeLog)).one(),
        )


def _options(html: str) -> list[str]:
    picker = html.split(PICKER, 1)[1].split("</select>", 1)[0]
    return re.findall(r'<option value="\d+"[^>]*>([^<]+)</option>', picker)


def _preview(walker: Walker, **data: Any) -> Any:
    form = walker.client.get(PAGE)
    return walker.client.post(PAGE, data={"csrf": csrf_of(form.text), "text": NOTICE_2023, **data})


def test_a_city_supervisor_picks_a_granted_district(walker: Walker, engine: Any) -> None:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    b, _ = _district_world(engine, now)
    _city(walker, b)
    form = walker.client.get(PAGE)
    assert form.status_code == 200 and PICKER in form.text
    assert _options(form.text) == ["安岳县"]  # granted in B only: A is not offered

    preview = _preview(walker, district_id=str(b))
    assert preview.status_code == 200, preview.text
    assert "尚未写入任何数据" in preview.text and PICKER in preview.text
    assert re.search(rf'<option value="{b}" selected>安岳县</option>', preview.text)
    before = _written(walker)
    for district, status, words in (
        ("", 422, "请指定所属区县"),
        ("1", 403, "须由该区县的安全管理员授权"),  # A, forged: no grant of A
        ("9999", 404, "区县 9999 不存在"),
        ("安岳", 404, "区县 0 不存在"),
    ):
        refused = _confirm(walker, preview.text, district_id=district)
        assert refused.status_code == status, (district, refused.text)  # type: ignore[attr-defined]
        summary = refused.text.split('id="error-summary"', 1)[1].split("</ul>", 1)[0]  # type: ignore[attr-defined]
        assert '<a href="#district_id">' in summary and words in summary, summary
        assert "尚未写入任何数据" in refused.text  # type: ignore[attr-defined]  # the preview again
    assert _written(walker) == before

    done = _confirm(walker, preview.text, district_id=str(b))
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    with Session(walker.world.engine) as session:
        made = session.exec(select(Campaign).order_by(col(Campaign.id).desc())).first()
        assert made is not None and made.district_id == b
        assert made.doc_number == "资雁府办发〔2023〕61号"
        line = session.exec(select(ChangeLog).where(ChangeLog.action == "import_notice")).one()
        assert line.actor_name == "city" and line.entity_id == made.id


def test_a_city_supervisor_without_a_grant_is_told_so(walker: Walker, engine: Any) -> None:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    _district_world(engine, now)
    _city(walker)
    form = walker.client.get(PAGE)
    assert form.status_code == 200 and 'id="no-grant"' in form.text and PICKER not in form.text


def test_one_district_asks_nothing(walker: Walker) -> None:
    """A city of one district: its city supervisor is not asked and creates there (granted);
    a district's own supervisor is never asked."""
    _as(walker.client, walker.world, "supervisor")
    assert PICKER not in walker.client.get(PAGE).text
    with Session(walker.world.engine) as session:
        a = session.exec(
            select(Campaign.district_id).where(Campaign.id == walker.world.campaign_id)
        ).one()
    walker.client.cookies.clear()
    _city(walker, a)
    preview = _preview(walker)
    assert preview.status_code == 200 and PICKER not in preview.text, preview.text
    done = _confirm(walker, preview.text)
    assert done.status_code == 303, done.text  # type: ignore[attr-defined]
    with Session(walker.world.engine) as session:
        made = session.exec(select(Campaign).order_by(col(Campaign.id).desc())).first()
        assert made is not None and made.district_id == a and made.id != walker.world.campaign_id
