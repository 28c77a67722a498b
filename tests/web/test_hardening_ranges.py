"""Every input to its real range: 64-bit ids in paths and queries, nulls refused where a value is
required, dates a campaign can reach (issue 14). Never a 500."""

from __future__ import annotations

import re

import pytest

from tests.conftest import Walker, World, error_of

HUGE = str(2**64)


def _int_params(client) -> list[tuple[str, str, str, str]]:
    """(method, path template, location, name) of every integer path/query parameter."""
    found = []
    spec = client.get("/openapi.json").json()
    for path, item in spec["paths"].items():
        for method, op in item.items():
            for p in op.get("parameters", []):
                schema = p.get("schema", {})
                kinds = [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]
                if "integer" in kinds:
                    found.append((method, path, p["in"], p["name"]))
    return found


def test_huge_integers_in_every_path_and_query_are_422(walker: Walker, world: World) -> None:
    params = _int_params(walker.client)
    assert len(params) > 30
    for method, template, where, name in params:
        path = re.sub(r"\{[^}]+\}", "1", template)
        query = {}
        if where == "path":
            path = template.replace("{" + name + "}", HUGE)
            path = re.sub(r"\{[^}]+\}", "1", path)
        else:
            query[name] = HUGE
        kwargs = {"json": {}} if method in ("post", "put", "patch") else {}
        response = walker.client.request(
            method.upper(), path, params=query, headers=world.headers["supervisor"], **kwargs
        )
        assert response.status_code == 422, (method, template, name, response.text)
        fields = [f["field"] for f in error_of(response)["details"]["fields"]]
        assert f"{where}.{name}" in fields, (method, template, fields)


def test_huge_ids_for_a_viewer_too(walker: Walker, world: World) -> None:
    urls = (f"/api/v1/events/{HUGE}", f"/api/v1/units/{HUGE}", f"/api/v1/events?unit_id={HUGE}")
    for url in urls:
        response = walker.client.get(url, headers=world.headers["viewer"])
        assert response.status_code == 422, response.text
    response = walker.client.get(
        "/api/v1/events", params={"offset": HUGE}, headers=world.headers["viewer"]
    )
    assert response.status_code == 422
    assert error_of(response)["details"]["fields"][0]["field"] == "query.offset"


@pytest.mark.parametrize("field", ["rules", "starts_on", "ends_on", "title", "issuing_office"])
def test_campaign_patch_null_is_422(walker: Walker, world: World, field: str) -> None:
    response = walker.client.patch(
        f"/api/v1/campaigns/{world.campaign_id}",
        json={field: None},
        headers=world.headers["supervisor"],
    )
    assert response.status_code == 422, response.text
    error = error_of(response)
    assert error["details"]["fields"][0]["field"] == f"body.{field}"
    assert "null" in error["message"]


@pytest.mark.parametrize("field", ["forms", "theme"])
def test_event_patch_null_is_422(walker: Walker, world: World, field: str) -> None:
    event = walker.create_event()
    response = walker.client.patch(
        f"/api/v1/events/{event['id']}",
        json={"expected_version": event["version"], field: None},
        headers=world.headers["housing"],
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["fields"][0]["field"] == f"body.{field}"


@pytest.mark.parametrize("day", ["9999-12-31", "1900-01-01", "2101-01-01"])
def test_event_dates_out_of_reach_are_422(walker: Walker, world: World, day: str) -> None:
    body = {
        "campaign_id": world.campaign_id,
        "unit_id": world.units["区住建局"],
        "theme": "远期",
        "date": day,
        "override_reason": "测试",
    }
    response = walker.client.post("/api/v1/events", json=body, headers=world.headers["supervisor"])
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["fields"][0]["field"] == "body.date"
    response = walker.client.patch(
        f"/api/v1/campaigns/{world.campaign_id}",
        json={"ends_on": day},
        headers=world.headers["supervisor"],
    )
    assert response.status_code == 422


def test_reschedule_to_year_9999_is_not_a_500(walker: Walker, world: World) -> None:
    event = walker.create_event()
    response = walker.move(
        event["id"], "reschedule", who="supervisor", data={"date": "9999-12-31"}, reason="测试"
    )
    assert 400 <= response.status_code < 500, response.text


def test_workdays_from_year_9999_is_422(walker: Walker, world: World) -> None:
    response = walker.client.get(
        "/api/v1/calendar/workdays",
        params={"start": "9999-12-01", "n": 30},
        headers=world.headers["viewer"],
    )
    assert response.status_code == 422, response.text
    assert error_of(response)["details"]["fields"][0]["field"] == "query.start"
