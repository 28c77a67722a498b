"""The supervisor's report reads at a glance: figures and a chart first, then a grouped,
sortable table whose sort is a plain GET link (issue 24)."""

from __future__ import annotations

import re

from sqlmodel import Session

from models import User
from tests.conftest import HOUSING, SHILING, Walker, World, local
from tests.pages.test_pages import sign_in
from workflows.accounts.service import hash_password
from workflows.reporting import glance
from workflows.reporting.reports import COLUMNS


def test_every_report_column_sits_in_exactly_one_group() -> None:
    """The grouped headers cover the report's columns once each, in the report's order."""
    grouped = [k for _, keys in glance.GROUPS for k in keys]
    assert grouped == [k for k, _ in COLUMNS]


def _units(html: str) -> list[str]:
    body = html[html.index("<tbody>", html.index('class="report"')) :]
    body = body[: body.index("</tbody>")]
    found = re.findall(r'<th scope="row" class="unit">([^<]+)</th>', body)
    return [u for u in found if u != "全区合计"]


def _scores(html: str) -> list[float]:
    body = html[html.index("<tbody>", html.index('class="report"')) :]
    return [float(x) for x in re.findall(r'class="unit">[^<]+</th><td><strong>([\d.]+)<', body)]


def test_report_shows_figures_and_chart_before_a_sortable_grouped_table(
    walker: Walker, world: World, clock
) -> None:
    """Figures, then the chart, then the table; 得分 sorts both ways by a link, no script."""
    walker.create_event()  # 区住建局: not held by its day, loses points
    walker.create_event(who="shiling", unit=SHILING, theme="镇村开放日")
    walker.held_event()
    clock.set(local(2022, 9, 26, 10))
    with Session(world.engine) as session:
        user = session.get(User, world.user_ids["supervisor"])
        assert user is not None
        user.password_hash = hash_password("pw-super")
        session.commit()
    sign_in(walker.client, "supervisor", "pw-super")
    base = f"/board/report?campaign={world.campaign_id}"
    html = walker.client.get(base).text
    assert "<script" not in html[html.index("<main") :]
    at = [html.index(s) for s in ('class="numbers"', 'class="chart"', 'class="report"')]
    assert at == sorted(at), "figures, then chart, then the table"
    assert "按期开展" in html and 'scope="colgroup" colspan="8" class="group">开展<' in html
    link = re.search(r'href="(/board/report\?[^"]*sort=score[^"]*)"', html)
    assert link
    best_first = walker.client.get(link.group(1).replace("&amp;", "&")).text
    assert 'aria-sort="descending"' in best_first
    best = _units(best_first)
    again = re.search(r'href="(/board/report\?[^"]*sort=score&amp;dir=asc[^"]*)"', best_first)
    assert again
    ascending_html = walker.client.get(again.group(1).replace("&amp;", "&")).text
    ascending = _units(ascending_html)
    assert ascending[-1] != HOUSING and ascending[0] == HOUSING
    scores = _scores(best_first)
    assert scores == sorted(scores, reverse=True) and len(scores) == len(best)
    assert best.index(SHILING) < best.index(HOUSING)  # 区住建局 lost points for the late event
    odd = walker.client.get(base + "&sort=__class__&dir=sideways")
    assert odd.status_code == 200 and _units(odd.text) == _units(html)  # unknown: unit order
