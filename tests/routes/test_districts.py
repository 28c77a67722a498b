"""One deployment for a city (issue 28): a district's accounts see and act on their district
only; a city supervisor reads every district and changes nothing; the same unit name lives in
two districts. The application rule alone (PostgreSQL's row-level security is
tests/ops/test_tenants.py's)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pytest
from sqlmodel import Session, select

from models import Attachment, Campaign, District, Notification, Role, Unit, UnitKind, User
from tests.conftest import HOUSING, Walker, error_of
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.files.store import FileStore

ANYUE = "安岳县"


@dataclass
class Other:
    """District B: its own 区住建局, campaign, event and supervisor; and a city supervisor."""

    district_id: int
    unit_id: int
    campaign_id: int
    event_id: int


def _account(session: Session, walker: Walker, name: str, role: str, **kw: object) -> None:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    user = create_user(session, username=name, role=role, now=now, **kw)  # type: ignore[arg-type]
    token = issue_token(session, user, kind="api", now=now)
    walker.world.headers[name] = {"Authorization": f"Bearer {token}"}


@pytest.fixture
def other(walker: Walker) -> Other:
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with walker.world.session() as session:
        district = District(code="anyue", name=ANYUE, city_name="资阳市", created_at=now)
        session.add(district)
        session.flush()
        assert district.id is not None
        # The same name as district A's unit, and the same document number as A's campaign.
        unit = Unit(district_id=district.id, name=HOUSING, kind=UnitKind.department, created_at=now)
        campaign = Campaign(
            district_id=district.id,
            doc_number="资雁府办发〔2022〕58号",
            title="安岳县政府开放日",
            issuing_office="安岳县人民政府办公室",
            starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22),
            rules=CampaignRules().model_dump(),
            created_at=now,
        )
        session.add_all([unit, campaign])
        session.flush()
        _account(session, walker, "sup_b", Role.supervisor, district_id=district.id)
        _account(session, walker, "staff_b", Role.unit_staff, unit_id=unit.id)
        _account(session, walker, "city", Role.supervisor, district_id=None)
        session.commit()
        ids = (district.id, unit.id, campaign.id)
    walker.world.units["b"] = ids[1]
    r = walker.client.post(
        "/api/v1/events",
        json={
            "campaign_id": ids[2],
            "unit_id": ids[1],
            "theme": "安岳县住建局开放日",
            "date": "2022-09-16",
        },
        headers=walker.world.headers["staff_b"],
    )
    assert r.status_code == 201, r.text
    return Other(*ids, event_id=r.json()["id"])


def _get(walker: Walker, who: str, url: str) -> object:
    return walker.client.get(f"/api/v1{url}", headers=walker.world.headers[who])


def _ids(walker: Walker, who: str, url: str) -> set[int]:
    r = _get(walker, who, url)
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    return {i["id"] for i in r.json()["items"]}  # type: ignore[attr-defined]


def test_a_district_supervisor_sees_nothing_of_another_district(
    walker: Walker, other: Other
) -> None:
    mine = walker.create_event()["id"]
    assert _ids(walker, "supervisor", "/events") == {mine}
    assert _ids(walker, "sup_b", "/events") == {other.event_id}
    assert _ids(walker, "supervisor", "/campaigns") == {walker.world.campaign_id}
    assert _ids(walker, "sup_b", "/campaigns") == {other.campaign_id}
    assert other.unit_id not in _ids(walker, "supervisor", "/units")
    assert _ids(walker, "sup_b", "/units") == {other.unit_id}
    for url, code in (
        (f"/events/{other.event_id}", "event_not_found"),
        (f"/events/{other.event_id}/history", "event_not_found"),
        (f"/campaigns/{other.campaign_id}", "campaign_not_found"),
        (f"/campaigns/{other.campaign_id}/report", "campaign_not_found"),
        (f"/campaigns/{other.campaign_id}/assessment", "campaign_not_found"),
        (f"/campaigns/{other.campaign_id}/samples", "campaign_not_found"),
        (f"/exports/events.csv?campaign_id={other.campaign_id}", "campaign_not_found"),
        (f"/units/{other.unit_id}", "unit_not_found"),
    ):
        r = _get(walker, "supervisor", url)
        assert r.status_code == 404, url  # type: ignore[attr-defined]
        assert error_of(r)["code"] == code, url  # type: ignore[arg-type]
    # Lists across campaigns and exports without a campaign: none of B's rows.
    r = _get(walker, "supervisor", "/exports/events.csv")
    assert "安岳县住建局开放日" not in r.text  # type: ignore[attr-defined]
    assert "安岳县住建局开放日" in _get(walker, "sup_b", "/exports/events.csv").text  # type: ignore[attr-defined]
    audit = _get(walker, "supervisor", "/audit").json()["items"]  # type: ignore[attr-defined]
    assert all(i.get("unit_id") != other.unit_id for i in audit)


def test_a_district_supervisor_cannot_act_in_another_district(walker: Walker, other: Other) -> None:
    r = walker.client.post(
        f"/api/v1/events/{other.event_id}/transitions",
        json={"trigger": "cancel", "expected_version": 1, "reason": "不办了"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 404 and error_of(r)["code"] == "event_not_found"
    r = walker.client.patch(
        f"/api/v1/units/{other.unit_id}",
        json={"contact_name": "张三"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 404
    r = walker.client.patch(
        f"/api/v1/campaigns/{other.campaign_id}",
        json={"title": "改名"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 404
    r = walker.client.post(
        "/api/v1/events",
        json={
            "campaign_id": other.campaign_id,
            "unit_id": walker.world.units[HOUSING],
            "theme": "越界",
            "date": "2022-09-16",
        },
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 404 and error_of(r)["code"] == "campaign_not_found"
    assert walker.get(other.event_id, who="sup_b")["state"] == "planned"


def test_a_city_supervisor_reads_every_district_and_changes_nothing(
    walker: Walker, other: Other
) -> None:
    mine = walker.create_event()["id"]
    assert _ids(walker, "city", "/events") == {mine, other.event_id}
    assert _ids(walker, "city", "/campaigns") == {walker.world.campaign_id, other.campaign_id}
    assert _get(walker, "city", f"/campaigns/{other.campaign_id}/report").status_code == 200  # type: ignore[attr-defined]
    r = walker.client.post(
        f"/api/v1/events/{other.event_id}/transitions",
        json={"trigger": "cancel", "expected_version": 1, "reason": "不办了"},
        headers=walker.world.headers["city"],
    )
    assert r.status_code == 403 and error_of(r)["code"] == "district_grant_required"


def test_the_same_unit_name_in_two_districts(walker: Walker, other: Other) -> None:
    """Names are unique per district: B has its own 区住建局; a second one in A is refused; a
    unit created by a district's supervisor is of that district, whatever it asks for."""
    assert walker.get(other.event_id, who="sup_b")["unit_name"] == HOUSING
    r = walker.client.post(
        "/api/v1/units",
        json={"name": HOUSING, "kind": "department"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 409 and error_of(r)["code"] == "unit_exists"
    r = walker.client.post(
        "/api/v1/units",
        json={"name": "石岭镇", "kind": "town"},
        headers=walker.world.headers["sup_b"],
    )
    assert r.status_code == 201, r.text
    new = r.json()["id"]
    assert new in _ids(walker, "sup_b", "/units")
    assert new not in _ids(walker, "supervisor", "/units")


def test_an_event_never_mixes_two_districts(walker: Walker, other: Other) -> None:
    """Even the console, which sees every district, cannot plan an event of district A's unit
    in district B's campaign: 422 `unit_not_in_campaign_district`, nothing written."""
    from workflows.campaign import service as campaigns
    from workflows.event import service as event_service
    from workflows.kernel.errors import InvalidData
    from workflows.kernel.visibility import SYSTEM

    with walker.world.session() as session:
        campaign = campaigns.get(session, other.campaign_id, SYSTEM)
        with pytest.raises(InvalidData) as caught:
            event_service.plan(
                session,
                campaign=campaign,
                unit_id=walker.world.units[HOUSING],
                theme="越界",
                earliest=date(2022, 9, 16),
                latest=date(2022, 9, 16),
                actor=SYSTEM,
                now=walker.client.app.state.clock.now(),  # type: ignore[attr-defined]
            )
    assert caught.value.code == "unit_not_in_campaign_district"


def test_the_city_comparison_shows_the_city_every_district_and_a_district_its_own(
    walker: Walker, other: Other
) -> None:
    """全市对比 through the one rule: a row per district for the city supervisor, each linking to
    the district's report; a district's supervisor gets its own row; staff and administrators
    are refused."""
    walker.create_event()
    r = _get(walker, "city", "/reports/districts?year=2022")
    assert r.status_code == 200, r.text  # type: ignore[attr-defined]
    rows = {row["name"]: row for row in r.json()["rows"]}  # type: ignore[attr-defined]
    assert ANYUE in rows and len(rows) == 2, rows
    assert rows[ANYUE]["counts"]["events"] == 1
    assert rows[ANYUE]["link"] == f"/board/report?campaign={other.campaign_id}"
    mine = next(v for k, v in rows.items() if k != ANYUE)
    assert mine["link"] == f"/board/report?campaign={walker.world.campaign_id}"
    total = r.json()["totals"]["events"]  # type: ignore[attr-defined]
    assert total == mine["counts"]["events"] + 1
    for who, seen in (("sup_b", {ANYUE}), ("supervisor", {mine["name"]})):
        r = _get(walker, who, "/reports/districts")
        assert {row["name"] for row in r.json()["rows"]} == seen, who  # type: ignore[attr-defined]
    r = _get(walker, "staff_b", "/reports/districts")
    assert r.status_code == 403 and error_of(r)["code"] == "supervisor_required"  # type: ignore[attr-defined, arg-type]
    x = _get(walker, "city", "/reports/districts.xlsx?year=2022")
    assert x.status_code == 200 and x.content[:2] == b"PK"  # type: ignore[attr-defined]
    assert _get(walker, "city", "/reports/districts?year=1999").status_code == 422  # type: ignore[attr-defined]


def test_each_district_has_its_public_calendar_and_the_old_address_shows_them_all(
    walker: Walker, other: Other
) -> None:
    """/public/d/{code} lists that district's open events only; /public (a single-district
    deployment's address) still lists every one, with links to each district's page."""
    from tests.public.test_public import open_event

    open_event(walker, theme="雁江区住建局开放日")
    event = walker.client.get(
        f"/api/v1/events/{other.event_id}", headers=walker.world.headers["staff_b"]
    ).json()
    r = walker.client.patch(
        f"/api/v1/events/{other.event_id}",
        json={"expected_version": event["version"], "public_places": 5},
        headers=walker.world.headers["staff_b"],
    )
    assert r.status_code == 200, r.text
    every = walker.client.get("/public").text
    assert "雁江区住建局开放日" in every and "安岳县住建局开放日" in every
    assert 'href="/public/d/anyue"' in every and 'href="/public/d/yanjiang"' in every
    theirs = walker.client.get("/public/d/anyue")
    assert theirs.status_code == 200
    assert "安岳县住建局开放日" in theirs.text and "雁江区住建局开放日" not in theirs.text
    assert f"· {ANYUE}</h1>" in theirs.text
    mine = walker.client.get("/public/d/yanjiang").text
    assert "雁江区住建局开放日" in mine and "安岳县住建局开放日" not in mine
    assert walker.client.get("/public/d/nowhere").status_code == 404
    themes = {e["theme"] for e in walker.client.get("/api/v1/public/events?district=anyue").json()}
    assert themes == {"安岳县住建局开放日"}
    assert len(walker.client.get("/api/v1/public/events").json()) == 2
    missing = walker.client.get("/api/v1/public/events?district=nowhere")
    assert missing.status_code == 404 and error_of(missing)["code"] == "district_not_found"
    # Each district's own feed and heard page (issue 28): its events only, its office named.
    import icalendar

    for code, mine, theirs in (("anyue", "安岳县", "雁江区"), ("yanjiang", "雁江区", "安岳县")):
        feed = walker.client.get(f"/public/d/{code}/calendar.ics")
        assert feed.status_code == 200 and feed.headers["content-type"].startswith("text/calendar")
        summaries = [
            str(e["SUMMARY"]) for e in icalendar.Calendar.from_ical(feed.content).walk("VEVENT")
        ]
        assert summaries and all(f"{mine}住建局开放日" in x for x in summaries), summaries
        heard = walker.client.get(f"/public/d/{code}/heard")
        assert heard.status_code == 200 and f"· {mine}</h1>" in heard.text
        assert theirs not in heard.text.split("<main", 1)[1]
    for path in ("/public/d/nowhere/calendar.ics", "/public/d/nowhere/heard"):
        gone = walker.client.get(path)
        assert gone.status_code == 404 and "该区县不存在" in gone.text


def test_the_city_comparison_collects_the_districts_together_as_each_alone(
    walker: Walker, other: Other
) -> None:
    """全市对比 sends each report query once for every district's campaign
    (`reports.collect_many`): each district's facts, report and scores are exactly what its
    campaign's own report collects alone, and no unit lands in another district's."""
    from workflows.reporting import assessment, reports

    walker.create_event()
    walker.create_event(theme="第二场", date="2022-09-20")
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with walker.world.session() as session:
        chosen = [
            session.get(Campaign, walker.world.campaign_id),
            session.get(Campaign, other.campaign_id),
        ]
        together = reports.collect_many(session, chosen, now)  # type: ignore[arg-type]
        for c in chosen:
            assert c is not None and c.id is not None
            alone = reports.collect(session, c.id, now)
            mine = together[c.id]
            assert mine.campaign.id == c.id and list(mine.units) == list(alone.units)
            assert reports.report(mine) == reports.report(alone)
            assert assessment.assess(mine) == assessment.assess(alone)
        assert list(together[other.campaign_id].units) == [other.unit_id]
        assert together[walker.world.campaign_id].units
        assert sum(len(f.units) for f in together.values()) == len(
            set().union(*(f.units for f in together.values()))
        )


# ---- leaks the district matrix found (tests/routes/test_authz_districts.py) -------------------


def test_a_city_supervisor_changes_nothing_in_any_district(walker: Walker, other: Other) -> None:
    """Without a grant, supervisors' acts (a campaign's change, its scoring, a sample draw, a
    visit) are 403 `district_grant_required` for the city's supervisor (a district's grant
    would allow them), account and unit management 403 `read_only`; nothing written."""
    h, cid = walker.world.headers, other.campaign_id
    scoring = _get(walker, "sup_b", f"/campaigns/{cid}/scoring-rules").json()  # type: ignore[attr-defined]
    for method, url, body in (
        ("PATCH", f"/campaigns/{cid}", {"title": "改名"}),
        ("PUT", f"/campaigns/{cid}/scoring-rules", scoring),
        ("POST", f"/campaigns/{cid}/samples", {"count": 1}),
        ("POST", f"/events/{other.event_id}/visits", {"visited_on": "2022-09-16", "people": "市",
                                                      "findings": "良好"}),
        ("POST", "/users", {"username": "by-city", "role": "viewer", "display_name": "新"}),
        ("POST", f"/units/{other.unit_id}/rename", {"name": "改名局", "on": "2023-01-01"}),
        ("POST", "/units", {"name": "市建单位"}),
    ):  # fmt: skip
        r = walker.client.request(method, f"/api/v1{url}", json=body, headers=h["city"])
        assert r.status_code == 403, (url, r.text)
        # A supervisor's act is one a district's grant allows (docs/tenancy.md): it says so.
        granted = url.startswith("/campaigns") or url.endswith("/visits")
        wanted = "district_grant_required" if granted else "read_only"
        assert error_of(r)["code"] == wanted, url
    assert _get(walker, "sup_b", f"/campaigns/{cid}").json()["title"] == "安岳县政府开放日"  # type: ignore[attr-defined]
    assert _get(walker, "sup_b", f"/units/{other.unit_id}").json()["name"] == HOUSING  # type: ignore[attr-defined]
    assert _get(walker, "city", f"/campaigns/{cid}/report").status_code == 200  # type: ignore[attr-defined]


def test_a_district_reads_no_account_of_another(walker: Walker, other: Other) -> None:
    """GET /users/{id} of another district's account is 404, as on the account's page; a
    district's supervisor creates accounts in its own district."""
    with walker.world.session() as session:
        b_staff = session.exec(select(User).where(User.username == "staff_b")).one()
    r = _get(walker, "supervisor", f"/users/{b_staff.id}")
    assert r.status_code == 404 and error_of(r)["code"] == "user_not_found"  # type: ignore[attr-defined, arg-type]
    assert _get(walker, "sup_b", f"/users/{b_staff.id}").status_code == 200  # type: ignore[attr-defined]
    r = walker.client.post(
        "/api/v1/users",
        json={"username": "b-viewer", "role": "viewer", "display_name": "安岳县只读"},
        headers=walker.world.headers["sup_b"],
    )
    assert r.status_code == 201, r.text
    with walker.world.session() as session:
        made = session.exec(select(User).where(User.username == "b-viewer")).one()
    assert made.district_id == other.district_id


def test_a_district_supervisor_acts_on_no_row_of_another(walker: Walker, other: Other) -> None:
    """A failed notification, an opinion's appeal and a spot-check round of another district:
    404 as unknown (before, a retry went through and the others told the row's state)."""
    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    with walker.world.session() as session:
        note = Notification(
            key="b-failed", subject_type="event", subject_id=other.event_id,
            event_id=other.event_id, unit_id=other.unit_id, rule="event_hold",
            kind="escalation", level=1, channel="email", recipient="a@b.example", title="t",
            body="b", state="failed", created_at=now,
        )  # fmt: skip
        session.add(note)
        session.commit()
        note_id = note.id
    h = walker.world.headers
    r = walker.client.post(f"/api/v1/notifications/{note_id}/retry", headers=h["supervisor"])
    assert r.status_code == 404 and error_of(r)["code"] == "notification_not_found"
    with walker.world.session() as session:
        assert session.get(Notification, note_id).state == "failed"  # type: ignore[union-attr]
    r = walker.client.post(f"/api/v1/notifications/{note_id}/retry", headers=h["sup_b"])
    assert r.status_code == 200, r.text


def test_an_item_of_one_district_reaches_no_supervisor_of_another(
    walker: Walker, other: Other
) -> None:
    """A cancellation request of B's event goes to B's supervisors' inboxes, never to A's
    (the district matrix found every supervisor of the city had it)."""
    r = walker.client.post(
        f"/api/v1/events/{other.event_id}/cancellation-requests",
        json={"reason": "场地改造无法使用"},
        headers=walker.world.headers["staff_b"],
    )
    assert r.status_code == 201, r.text

    def about_b(who: str) -> list[object]:
        items = _get(walker, who, "/inbox").json()["items"]  # type: ignore[attr-defined]
        return [m for m in items if m.get("event_id") == other.event_id]

    assert about_b("sup_b")
    assert about_b("supervisor") == []


def test_a_photo_of_another_district_is_no_duplicate_named(walker: Walker, other: Other) -> None:
    """The same photo in two districts' summaries: each district's evidence names only its own
    events' copies (before, A's check named B's event and file ids)."""
    from workflows.oversight import evidence

    now = walker.client.app.state.clock.now()  # type: ignore[attr-defined]
    mine, twin = walker.create_event()["id"], walker.create_event(date="2022-09-17")["id"]
    with walker.world.session() as session:
        for event_id in (mine, twin, other.event_id):
            session.add(
                Attachment(
                    event_id=event_id, kind="photo", filename="p.jpg", content_type="image/jpeg",
                    size=1, sha256="ab" * 32, storage_key="none", created_at=now,
                )
            )  # fmt: skip
        session.commit()
        found = evidence.check_events(session, [mine, other.event_id], FileStore(Path("/none")))
    assert {s["event_id"] for s in found[mine].photos[0].same_as} == {twin}
    assert found[other.event_id].photos[0].same_as == []
    assert "duplicate" not in found[other.event_id].photos[0].flags
