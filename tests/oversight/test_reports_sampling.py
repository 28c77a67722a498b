"""Reproducible spot-check sampling: draws recorded, re-drawn by the API and the CLI."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from sqlalchemy.engine import Engine
from sqlmodel import Session
from typer.testing import CliRunner

from models import Event, SampleDraw, Unit, UnitKind
from tests.conftest import Walker, error_of
from workflows.oversight import sampling


def _units_with_events(engine: Engine, campaign_id: int, n: int, clock) -> list[int]:
    """n more units (towns and departments alternately), each with one planned event."""
    ids = []
    with Session(engine) as s:
        for i in range(n):
            kind = UnitKind.town if i % 2 else UnitKind.department
            unit = Unit(name=f"抽样单位{i:02d}", kind=kind, created_at=clock.now())
            s.add(unit)
            s.flush()
            s.add(
                Event(
                    campaign_id=campaign_id,
                    unit_id=unit.id,
                    theme=f"活动{i}",
                    date_earliest=date(2022, 9, 16),
                    date_latest=date(2022, 9, 16),
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )  # fmt: skip
            )
            ids.append(unit.id)
        s.commit()
    return ids


def test_a_20_percent_draw_is_recorded_and_verified(walker: Walker, engine: Engine, clock) -> None:
    cid, h = walker.world.campaign_id, walker.world.headers
    units = _units_with_events(engine, cid, 20, clock)
    url = f"/api/v1/campaigns/{cid}/samples"
    r = walker.client.post(
        url,
        json={"share": "20%", "exclude": [{"unit_id": units[0], "reason": "已列入上级督查"}]},
        headers=h["supervisor"],
    )
    assert r.status_code == 201, r.text
    first = r.json()
    assert len(first["population"]) == 20 and first["method"] == "sha256-rank-v1"
    assert len(first["selected"]) == 4  # ceil(0.2 × 19)
    assert units[0] not in first["selected"]
    assert first["excluded"] == [{"unit_id": units[0], "reason": "已列入上级督查"}]
    v = walker.client.get(f"/api/v1/samples/{first['id']}/verify", headers=h["viewer"])
    assert v.status_code == 200 and v.json()["matches"] is True
    assert v.json()["redrawn"] == first["selected"]

    # Drawing again is a new record, never a rewrite of the first one.
    again = walker.client.post(url, json={"share": "0.2"}, headers=h["supervisor"]).json()
    assert again["id"] != first["id"]
    listed = walker.client.get(url, headers=h["supervisor"]).json()
    assert [d["id"] for d in listed] == [again["id"], first["id"]]
    with Session(engine) as s, pytest.raises(Exception, match="append-only"):
        s.get(SampleDraw, first["id"]).seed = "forged"  # type: ignore[union-attr]
        s.commit()


def test_the_same_seed_gives_the_same_sample_and_strata_take_from_each_kind(
    walker: Walker, engine: Engine, clock
) -> None:
    cid, h = walker.world.campaign_id, walker.world.headers
    _units_with_events(engine, cid, 10, clock)
    body = {"count": 4, "strata": "unit_kind", "seed": "2022-09-23 双色球 03 11 17"}
    url = f"/api/v1/campaigns/{cid}/samples"
    a = walker.client.post(url, json=body, headers=h["supervisor"]).json()
    b = walker.client.post(url, json=body, headers=h["supervisor"]).json()
    assert a["selected"] == b["selected"] and len(a["selected"]) == 4
    kinds = {p["unit_id"]: p["kind"] for p in a["population"]}
    assert {kinds[u] for u in a["selected"]} == {"town", "department"}
    # The method is plain enough to redo by hand: smallest SHA-256 keys per stratum.
    assert (
        sampling.draw_units(a["population"], [], a["seed"], "count", Fraction(4), "unit_kind")
        == a["selected"]
    )


def test_cli_verify_reproduces_a_draw(
    walker: Walker, engine: Engine, clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    import cli
    from cli import shared

    cid, h = walker.world.campaign_id, walker.world.headers
    _units_with_events(engine, cid, 6, clock)
    r = walker.client.post(
        f"/api/v1/campaigns/{cid}/samples", json={"count": 2}, headers=h["supervisor"]
    )
    draw_id = r.json()["id"]
    monkeypatch.setattr(shared, "open_engine", lambda: engine)
    result = CliRunner().invoke(cli.app, ["sample", "verify", str(draw_id)])
    assert result.exit_code == 0, result.output
    assert "reproduced" in result.output
    result = CliRunner().invoke(cli.app, ["sample", "verify", "999"])
    assert result.exit_code == 2 and "sample draw 999 not found" in result.output


def test_bad_draws_are_refused_with_codes(walker: Walker, engine: Engine, clock) -> None:
    cid, h = walker.world.campaign_id, walker.world.headers
    url = f"/api/v1/campaigns/{cid}/samples"
    r = walker.client.post(url, json={"share": "20%"}, headers=h["supervisor"])
    assert r.status_code == 422 and error_of(r)["code"] == "sample_population_empty"
    assert "没有可抽取的单位" in error_of(r)["message"]
    units = _units_with_events(engine, cid, 3, clock)
    cases = [
        ({}, "sample_size_required"),
        ({"count": 2, "share": "0.5"}, "sample_size_required"),
        ({"share": "150%"}, "sample_size_invalid"),
        ({"share": "abc"}, "sample_size_invalid"),
        ({"count": 9}, "sample_too_large"),
        ({"count": 1, "exclude": [{"unit_id": 99999, "reason": "x"}]}, "sample_exclusion_unknown"),
    ]
    for body, code in cases:
        r = walker.client.post(url, json=body, headers=h["supervisor"])
        assert r.status_code == 422 and error_of(r)["code"] == code, (body, r.text)
    everyone = [{"unit_id": u, "reason": "停业整顿"} for u in units]
    r = walker.client.post(url, json={"count": 1, "exclude": everyone}, headers=h["supervisor"])
    assert error_of(r)["code"] == "sample_population_empty"
    assert walker.client.post(url, json={"count": 1}, headers=h["housing"]).status_code == 403
    r = walker.client.post(
        "/api/v1/campaigns/999/samples", json={"count": 1}, headers=h["supervisor"]
    )
    assert r.status_code == 404
    r = walker.client.get("/api/v1/samples/999/verify", headers=h["supervisor"])
    assert r.status_code == 404 and error_of(r)["code"] == "sample_not_found"
