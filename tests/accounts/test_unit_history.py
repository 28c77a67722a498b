"""Units that renamed or merged between years keep their history (issue 30): a rename keeps the
old name for earlier campaigns' reports; a merge counts the merged unit's years as the unit it
joined in the year-over-year report, while its own records stay its own."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from models import Role
from tests.conftest import HOUSING, SHILING, Walker, error_of
from tests.reporting.test_year_over_year import _build_two_years
from workflows.accounts import unit_history
from workflows.kernel.clock import FixedClock
from workflows.kernel.errors import Forbidden
from workflows.kernel.visibility import Actor

NEW_NAME = "区住房和城乡建设局"
NOW = datetime(2023, 1, 5, 2, 0, tzinfo=UTC)


def _post(walker: Walker, path: str, body: dict[str, Any]) -> Any:
    return walker.client.post(
        f"/api/v1/units/{path}", json=body, headers=walker.world.headers["supervisor"]
    )


def _report_names(walker: Walker, campaign_id: int) -> list[str]:
    r = walker.client.get(
        f"/api/v1/campaigns/{campaign_id}/report", headers=walker.world.headers["supervisor"]
    )
    assert r.status_code == 200, r.text
    return sorted(u["unit_name"] for u in r.json()["units"])


def test_a_renamed_unit_keeps_its_old_name_in_earlier_reports(
    walker: Walker, clock: FixedClock
) -> None:
    """Renamed from 2023: 2022's report says 区住建局, 2023's the new name; year over year
    it is one unit, named as it was each year."""
    new_id = _build_two_years(walker, clock)
    housing = walker.world.units[HOUSING]

    r = _post(walker, f"{housing}/rename", {"name": NEW_NAME, "on": "2023-01-01"})

    assert r.status_code == 200, r.text
    assert r.json()["earlier_names"] == [{"name": HOUSING, "valid_until": "2023-01-01"}]
    assert _report_names(walker, walker.world.campaign_id) == sorted([HOUSING, SHILING])
    assert _report_names(walker, new_id) == sorted([NEW_NAME, SHILING])
    data = walker.client.get(
        "/api/v1/reports/year-over-year", headers=walker.world.headers["supervisor"]
    ).json()
    row = next(u for u in data["units"] if u["unit_id"] == housing)
    assert [(y["year"], y["unit_name"]) for y in row["years"]] == [
        (2022, HOUSING),
        (2023, NEW_NAME),
    ]
    assert row["unit_name"] == NEW_NAME and row["trend"] == "fell_back"


def test_a_merged_unit_counts_as_the_unit_it_joined(walker: Walker, clock: FixedClock) -> None:
    """石岭镇 merged into 区住建局 in 2023: one row, 2022's counts of both added up (1 of 2
    held on time, scores averaged), while 2022's own report still lists 石岭镇."""
    _build_two_years(walker, clock)
    w = walker.world

    r = _post(
        walker, f"{w.units[SHILING]}/merge", {"into_unit_id": w.units[HOUSING], "on": "2023-01-01"}
    )

    assert r.status_code == 200, r.text
    data = walker.client.get(
        "/api/v1/reports/year-over-year", headers=w.headers["supervisor"]
    ).json()
    assert [u["unit_id"] for u in data["units"]] == [w.units[HOUSING]]
    y2022 = data["units"][0]["years"][0]
    assert (
        y2022["unit_name"] == f"{SHILING}、{HOUSING}"
        or y2022["unit_name"] == f"{HOUSING}、{SHILING}"
    )
    assert (y2022["held_on_time"], y2022["due"], y2022["score"]) == (1, 2, 77.5)
    assert _report_names(walker, w.campaign_id) == sorted([HOUSING, SHILING])


def test_bad_renames_and_merges_are_refused(walker: Walker) -> None:
    """Another unit's name (409), the same name (422), a merge into itself (422), a second
    merge (422), a day not after the current name's (422); each with its own code."""
    w = walker.world
    housing, shiling = w.units[HOUSING], w.units[SHILING]
    taken = _post(walker, f"{housing}/rename", {"name": SHILING, "on": "2023-01-01"})
    same = _post(walker, f"{housing}/rename", {"name": HOUSING, "on": "2023-01-01"})
    itself = _post(walker, f"{housing}/merge", {"into_unit_id": housing, "on": "2023-01-01"})
    assert taken.status_code == 409 and error_of(taken)["code"] == "unit_exists"
    assert same.status_code == 422 and error_of(same)["code"] == "unit_name_unchanged"
    assert itself.status_code == 422 and error_of(itself)["code"] == "unit_merge_into_itself"
    assert (
        _post(walker, f"{shiling}/merge", {"into_unit_id": housing, "on": "2023-01-01"}).status_code
        == 200
    )
    again = _post(walker, f"{shiling}/merge", {"into_unit_id": housing, "on": "2023-02-01"})
    assert again.status_code == 422 and error_of(again)["code"] == "unit_already_merged"
    onto = _post(walker, f"{housing}/merge", {"into_unit_id": shiling, "on": "2023-02-01"})
    assert onto.status_code == 422 and error_of(onto)["code"] == "unit_merge_target_merged"
    assert _post(walker, f"{housing}/rename", {"name": NEW_NAME, "on": "2023-03-01"}).is_success
    for day in ("2023-03-01", "2023-02-28"):
        early = _post(walker, f"{housing}/rename", {"name": "区住建委", "on": day})
        assert early.status_code == 422
        assert error_of(early)["code"] == "unit_date_before_current_name"
        assert error_of(early)["details"]["field"] == "on"
    staff = walker.client.post(
        f"/api/v1/units/{housing}/rename", json={"name": "x", "on": "2023-01-01"},
        headers=w.headers["housing"],
    )  # fmt: skip
    assert staff.status_code == 403


def test_the_system_administrator_may_rename_and_is_audited(walker: Walker) -> None:
    """三员分立: units are the system administrator's duty; the security administrator's not."""
    w = walker.world
    with w.session() as session:
        system = Actor(id=None, name="sys", role=Role.system_admin, unit_id=None)
        security = Actor(id=None, name="sec", role=Role.security_admin, unit_id=None)
        unit = unit_history.rename(session, system, w.units[HOUSING], NEW_NAME, date(2023, 1, 1),
                                   NOW)  # fmt: skip
        assert unit.name == NEW_NAME
        with pytest.raises(Forbidden):
            unit_history.merge(session, security, w.units[SHILING], w.units[HOUSING],
                               date(2023, 1, 1), NOW)  # fmt: skip
        actions = [c.action for c in unit_history.changes(session, w.units[HOUSING])]
        assert actions == ["rename"]
