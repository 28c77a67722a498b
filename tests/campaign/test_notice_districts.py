"""A notice imported into a district (issue 28), through the API on both backends: a district's
supervisor imports into its own district (naming another: 404 `district_not_found`); a city
supervisor names the district (422 `district_required` otherwise) and holds its grant (403
`district_grant_required` otherwise), the campaign then being that district's with its audit
lines naming the supervisor's own account; nothing is written on a refusal. A notice clashes
only with its own district's campaigns. A campaign shows its district (`CampaignOut`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from models import Campaign, ChangeLog, Role
from tests.campaign.test_notice_import import NOTICE_2023, URL
from tests.conftest import Walker, error_of
from tests.routes.test_authz_districts import _district_world
from workflows.accounts import grants
from workflows.accounts.service import create_user, issue_token
from workflows.kernel.visibility import SYSTEM


@dataclass
class City:
    """District A (the conftest world, district 1), district B (安岳县, its own 2022 campaign)
    and a city supervisor with no grant yet."""

    walker: Walker
    a: int
    b: int
    b_headers: dict[str, str]  # B's own supervisor
    city_id: int
    headers: dict[str, str]  # the city supervisor's

    def grant(self, district_id: int) -> None:
        now = self.walker.client.app.state.clock.now()  # type: ignore[attr-defined]
        with self.walker.world.session() as session:
            grants.grant(session, SYSTEM, district_id, self.city_id, "代建活动", now)
            session.commit()

    def post(self, headers: dict[str, str], *, dry_run: bool = False, **data: Any) -> Any:
        data = {"text": NOTICE_2023, **{k: str(v) for k, v in data.items()}}
        return self.walker.client.post(
            URL + ("?dry_run=true" if dry_run else ""), data=data, headers=headers
        )

    def written(self) -> tuple[int, int]:
        """Campaigns and change-log lines so far."""
        with Session(self.walker.world.engine) as session:
            return (
                session.exec(select(func.count()).select_from(Campaign)).one(),
                session.exec(select(func.count()).select_from(ChangeLog)).one(),
            )


@pytest.fixture
def city(walker: Walker, engine: Any) -> City:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    b, b_world = _district_world(engine, now)
    with Session(engine) as session:
        a = session.exec(
            select(Campaign.district_id).where(Campaign.id == walker.world.campaign_id)
        ).one()
        user = create_user(session, username="city", role=Role.supervisor, now=now,
                           district_id=None)  # fmt: skip
        token = issue_token(session, user, kind="api", now=now)
        session.commit()
        assert user.id is not None
        city_id = user.id
    return City(walker, a, b, b_world.headers["supervisor"], city_id,
                {"Authorization": f"Bearer {token}"})  # fmt: skip


def test_a_city_supervisor_imports_into_the_district_it_is_granted(city: City) -> None:
    before = city.written()
    # No grant at all: refused before anything is read.
    r = city.post(city.headers, district_id=city.b)
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required", r.text
    assert city.written() == before
    city.grant(city.b)
    before = city.written()
    r = city.post(city.headers)
    assert r.status_code == 422 and error_of(r)["code"] == "district_required", r.text
    assert "区县" in error_of(r)["message"] and error_of(r)["message_en"]
    r = city.post(city.headers, district_id=city.a)  # B's grant says nothing of A
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required", r.text
    r = city.post(city.headers, district_id=9999)
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found", r.text
    r = city.post(city.headers, district_id="安岳")
    assert r.status_code == 422 and error_of(r)["code"] == "validation_error", r.text
    assert city.written() == before

    r = city.post(city.headers, district_id=city.b)
    assert r.status_code == 201, r.text
    made = r.json()["campaign"]
    assert made["doc_number"] == "资雁府办发〔2023〕61号"
    with Session(city.walker.world.engine) as session:
        campaign = session.get(Campaign, made["id"])
        assert campaign is not None and campaign.district_id == city.b
        lines = session.exec(
            select(ChangeLog).where(
                ChangeLog.entity_id == made["id"], ChangeLog.entity == "campaign"
            )
        ).all()
        assert {line.action for line in lines} == {"create", "import_notice"}
        assert {(line.actor_id, line.actor_name) for line in lines} == {(city.city_id, "city")}
    # The same notice again in B clashes with B's new campaign, and only with B's.
    again = city.post(city.headers, district_id=city.b)
    assert again.status_code == 409 and error_of(again)["code"] == "campaign_exists", again.text
    preview = city.post(city.headers, district_id=city.b, dry_run=True)
    assert preview.status_code == 200, preview.text
    assert preview.json()["conflicts"] == ["campaign_exists", "campaign_year_taken"]
    assert preview.json()["district_id"] == city.b
    unnamed = city.post(city.headers, dry_run=True)  # a city-level preview names no district
    assert unnamed.status_code == 200 and unnamed.json()["conflicts"] == [], unnamed.text
    assert unnamed.json()["district_id"] is None


def test_a_districts_supervisor_imports_into_its_own_district_only(city: City) -> None:
    """B's supervisor names no district or its own; A's 2023 campaign does not clash in B."""
    headers = city.walker.world.headers["supervisor"]  # A's
    made = city.post(headers)
    assert made.status_code == 201, made.text
    before = city.written()
    r = city.post(city.b_headers, district_id=city.a)
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found", r.text
    r = city.post(city.b_headers, district_id=city.a, dry_run=True)
    assert r.status_code == 404 and error_of(r)["code"] == "district_not_found", r.text
    assert city.written() == before
    preview = city.post(city.b_headers, dry_run=True)
    assert preview.status_code == 200 and preview.json()["conflicts"] == [], preview.text
    assert preview.json()["district_id"] == city.b
    r = city.post(city.b_headers, district_id=city.b)
    assert r.status_code == 201, r.text
    with Session(city.walker.world.engine) as session:
        rows = session.exec(
            select(Campaign.district_id)
            .where(Campaign.doc_number == "资雁府办发〔2023〕61号")
            .order_by(col(Campaign.id))
        ).all()
        assert rows == [city.a, city.b]


def test_a_campaign_shows_its_district_without_a_query_per_row(city: City, engine: Engine) -> None:
    """`district_id` and `district_name` on each campaign: the city reads both districts', a
    district its own; a page of campaigns reads the districts' names once."""
    city.grant(city.b)
    made = city.post(city.headers, district_id=city.b)
    assert made.status_code == 201, made.text
    assert made.json()["campaign"]["district_id"] == city.b
    assert made.json()["campaign"]["district_name"] == "安岳县"
    client = city.walker.client

    def statements(limit: int) -> tuple[list[dict[str, Any]], int]:
        seen: list[str] = []

        def note(*args: Any) -> None:
            if args[2].startswith("SELECT"):  # the reads (not the token's last use, kept apart)
                seen.append(args[2])

        sa.event.listen(engine, "before_cursor_execute", note)
        listed = client.get(f"/api/v1/campaigns?limit={limit}", headers=city.headers)
        sa.event.remove(engine, "before_cursor_execute", note)
        assert listed.status_code == 200, listed.text
        return listed.json()["items"], len(seen)

    one_row, one_count = statements(1)
    rows, count = statements(3)
    assert len(one_row) == 1 and count == one_count  # three rows cost what one does
    shown = {(c["doc_number"], c["district_id"], c["district_name"]) for c in rows}
    assert shown == {
        ("资雁府办发〔2022〕58号", city.a, "雁江区"),
        ("安岳府办发〔2022〕7号", city.b, "安岳县"),
        ("资雁府办发〔2023〕61号", city.b, "安岳县"),
    }
    mine = client.get("/api/v1/campaigns", headers=city.b_headers).json()["items"]
    assert {(c["district_id"], c["district_name"]) for c in mine} == {(city.b, "安岳县")}
    one = client.get(f"/api/v1/campaigns/{made.json()['campaign']['id']}", headers=city.b_headers)
    assert one.json()["district_id"] == city.b and one.json()["district_name"] == "安岳县"
