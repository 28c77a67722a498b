"""Units that renamed or merged between years keep their history (issue 30): a rename keeps the
old name for earlier campaigns' reports; a merge counts the merged unit's years as the unit it
joined in the year-over-year report, while its own records stay its own."""

from __future__ import annotations

from typing import Any

from tests.conftest import HOUSING, SHILING, Walker, error_of
from tests.reporting.test_year_over_year import _build_two_years
from workflows.kernel.clock import FixedClock

NEW_NAME = "区住房和城乡建设局"


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
    merge (422); nothing written."""
    w = walker.world
    housing, shiling = w.units[HOUSING], w.units[SHILING]
    taken = _post(walker, f"{housing}/rename", {"name": SHILING, "on": "2023-01-01"})
    same = _post(walker, f"{housing}/rename", {"name": HOUSING, "on": "2023-01-01"})
    itself = _post(walker, f"{housing}/merge", {"into_unit_id": housing, "on": "2023-01-01"})
    assert taken.status_code == 409 and error_of(taken)["code"] == "unit_exists"
    assert same.status_code == 422 and error_of(same)["code"] == "unit_name_unchanged"
    assert itself.status_code == 422 and error_of(itself)["code"] == "unit_merge_invalid"
    assert (
        _post(walker, f"{shiling}/merge", {"into_unit_id": housing, "on": "2023-01-01"}).status_code
        == 200
    )
    again = _post(walker, f"{shiling}/merge", {"into_unit_id": housing, "on": "2023-02-01"})
    assert again.status_code == 422
    staff = walker.client.post(
        f"/api/v1/units/{housing}/rename", json={"name": "x", "on": "2023-01-01"},
        headers=w.headers["housing"],
    )  # fmt: skip
    assert staff.status_code == 403
