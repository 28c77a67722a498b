"""Lists, filters, pagination, input errors, attachments and health endpoints."""

from __future__ import annotations

from pydantic import SecretStr

from tests.conftest import SHILING, Walker, error_of, tiny_jpeg


def test_healthz_and_readyz(walker: Walker) -> None:
    """healthz says the process is up; readyz checks the database answers."""
    assert walker.client.get("/healthz").json() == {"status": "ok"}
    r = walker.client.get("/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"
    assert r.headers["x-request-id"]
    # The tenant check, reported: on PostgreSQL the app is served as a runtime role, which
    # passes it (tests/ops/test_tenants.py shows it failing); SQLite has nothing to check.
    engine = walker.client.app.state.engine  # type: ignore[attr-defined]
    postgres = engine.dialect.name == "postgresql"
    tenants = r.json()["tenants"]
    assert tenants["state"] == ("ok" if postgres else "not_applicable"), tenants


def test_readyz_is_503_when_the_database_is_gone(tmp_path) -> None:
    """A database that cannot be opened makes readyz answer 503 with a clear code."""
    from fastapi.testclient import TestClient

    from api import create_app
    from models.db import make_engine
    from settings import Settings

    engine = make_engine(f"sqlite:///{tmp_path}/missing/dir/db.sqlite")
    with TestClient(create_app(settings=Settings(var_dir=tmp_path), engine=engine)) as client:
        r = client.get("/readyz")
    assert r.status_code == 503 and error_of(r)["code"] == "database_unavailable"


def test_request_id_is_echoed(walker: Walker) -> None:
    """A caller's X-Request-ID comes back on the response."""
    r = walker.client.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert r.headers["x-request-id"] == "abc-123"


def test_openapi_docs_are_served(walker: Walker) -> None:
    """/docs and the OpenAPI document list the transitions endpoint."""
    assert walker.client.get("/docs").status_code == 200
    spec = walker.client.get("/openapi.json").json()
    assert "/api/v1/events/{event_id}/transitions" in spec["paths"]


def test_events_filter_by_state_unit_and_dates_with_pagination(walker: Walker) -> None:
    """Filters combine; pages carry total, limit and offset."""
    for day in range(1, 8):
        walker.create_event(
            theme=f"主题{day}",
            date=f"2022-09-{day:02d}",
            who="supervisor",
            override_reason="补录",
        )
    walker.create_event(
        who="supervisor", unit=SHILING, theme="窗口", earliest="2022-09-11", latest="2022-09-20"
    )
    h = walker.world.headers["supervisor"]
    page = walker.client.get("/api/v1/events?limit=3&offset=0", headers=h).json()
    assert (page["total"], len(page["items"]), page["limit"]) == (8, 3, 3)
    dates = [e["date_earliest"] for e in page["items"]]
    assert dates == sorted(dates)
    last = walker.client.get("/api/v1/events?limit=3&offset=6", headers=h).json()
    assert len(last["items"]) == 2
    ranged = walker.client.get(
        "/api/v1/events?date_from=2022-09-05&date_to=2022-09-12", headers=h
    ).json()
    assert ranged["total"] == 4  # 5th, 6th, 7th and the 11–20 window
    first = page["items"][0]
    walker.move(first["id"], "cancel", who="supervisor", reason="调整")
    cancelled = walker.client.get("/api/v1/events?state=cancelled", headers=h).json()
    assert [e["id"] for e in cancelled["items"]] == [first["id"]]
    by_unit = walker.client.get(
        f"/api/v1/events?unit_id={walker.world.units[SHILING]}", headers=h
    ).json()
    assert by_unit["total"] == 1 and by_unit["items"][0]["date_latest"] == "2022-09-20"


def test_invalid_input_names_the_field(walker: Walker) -> None:
    """Missing and malformed fields answer 422 naming each one, in Chinese and English."""
    r = walker.client.post(
        "/api/v1/events",
        json={"campaign_id": walker.world.campaign_id, "unit_id": 1, "date": "16/09/2022"},
        headers=walker.world.headers["supervisor"],
    )
    assert r.status_code == 422
    err = error_of(r)
    fields = {f["field"] for f in err["details"]["fields"]}
    assert fields == {"body.theme", "body.date"}
    assert "活动主题：必填" in err["message"] and "body.date" in err["message_en"]
    r = walker.client.get("/api/v1/events?limit=0", headers=walker.world.headers["supervisor"])
    assert r.status_code == 422 and error_of(r)["details"]["fields"][0]["field"] == "query.limit"


def test_event_needs_a_date_or_a_window(walker: Walker) -> None:
    """An event without any date, or with a reversed window, is refused with its own code."""
    h = walker.world.headers["supervisor"]
    base = {"campaign_id": walker.world.campaign_id, "unit_id": 1, "theme": "x"}
    r = walker.client.post("/api/v1/events", json=base, headers=h)
    assert error_of(r)["code"] == "date_required"
    r = walker.client.post(
        "/api/v1/events", json={**base, "earliest": "2022-09-20", "latest": "2022-09-11"}, headers=h
    )
    assert error_of(r)["code"] == "date_window_reversed"


def test_citizen_invitees_need_an_invitation_mode(walker: Walker) -> None:
    """市民代表 must say 定向 or 公开; deputies must not; a bad item rejects the whole batch."""
    event = walker.create_event()
    h = walker.world.headers["housing"]
    url = f"/api/v1/events/{event['id']}/invitees"
    v = walker.version_of(event["id"])
    r = walker.client.post(
        url,
        json=[{"name": "甲", "category": "npc_deputy"}, {"name": "乙", "category": "citizen"}],
        params=v,
        headers=h,
    )
    assert r.status_code == 422
    assert error_of(r)["code"] == "invitation_mode_required"
    assert error_of(r)["details"]["index"] == 1
    assert walker.client.get(url, headers=h).json()["total"] == 0
    r = walker.client.post(
        url,
        json={"name": "丙", "category": "cppcc_member", "invitation": "public"},
        params=v,
        headers=h,
    )
    assert error_of(r)["code"] == "invitation_mode_not_allowed"
    r = walker.client.post(
        url,
        json={
            "name": "丁",
            "category": "citizen",
            "invitation": "targeted",
            "targeted_kind": "conduct_supervisor",
        },
        params=v,
        headers=h,
    )
    assert r.status_code == 201 and r.json()[0]["targeted_kind"] == "conduct_supervisor"


def test_invitee_list_freezes_once_held(walker: Walker) -> None:
    """After the event is held nobody can be added to its list."""
    event, _ = walker.held_event()
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/invitees",
        json={"name": "迟到者", "category": "npc_deputy"},
        params=walker.version_of(event["id"]),
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 409 and error_of(r)["code"] == "invitees_frozen"


def test_attachment_roundtrip_and_limits(walker: Walker, settings) -> None:
    """An uploaded photo downloads byte for byte; empty and oversize files are refused."""
    event, _ = walker.held_event()
    h = walker.world.headers["housing"]
    r = walker.upload(event["id"], "现场.jpg")
    assert r.status_code == 201
    meta = r.json()
    got = walker.client.get(
        f"/api/v1/events/{event['id']}/summary/attachments/{meta['id']}", headers=h
    )
    assert got.content == tiny_jpeg()
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/summary/attachments",
        files={"file": ("empty.txt", b"", "text/plain")},
        params=walker.version_of(event["id"]),
        headers=h,
    )
    assert r.status_code == 422 and error_of(r)["code"] == "attachment_empty"
    walker.client.app.state.settings.upload_max_bytes = 10  # type: ignore[attr-defined]
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/summary/attachments",
        files={"file": ("big.bin", b"x" * 11, "application/octet-stream")},
        params=walker.version_of(event["id"]),
        headers=h,
    )
    assert r.status_code == 413 and error_of(r)["code"] == "attachment_too_large"


def test_patch_event_checks_the_version(walker: Walker) -> None:
    """Editing an event's theme needs the current version; a stale one is 409."""
    event = walker.create_event()
    h = walker.world.headers["housing"]
    r = walker.client.patch(
        f"/api/v1/events/{event['id']}",
        json={
            "expected_version": 1,
            "location": "雁江区住建局三楼会议室",
            "forms": ["site_visit", "dialogue"],
        },
        headers=h,
    )
    assert r.status_code == 200 and r.json()["version"] == 2
    r = walker.client.patch(
        f"/api/v1/events/{event['id']}", json={"expected_version": 1, "theme": "旧"}, headers=h
    )
    assert r.status_code == 409 and error_of(r)["code"] == "stale_version"


def test_feedback_only_while_held(walker: Walker) -> None:
    """Opinions are recorded on a held event, not on a planned one."""
    event = walker.create_event()
    r = walker.client.post(
        f"/api/v1/events/{event['id']}/feedback",
        params=walker.version_of(event["id"]),
        json={"content": "x"},
        headers=walker.world.headers["housing"],
    )
    assert r.status_code == 409 and error_of(r)["code"] == "feedback_not_open"


def test_an_unreachable_database_answers_503_not_500(tmp_path) -> None:
    """With PostgreSQL down, requests get 503 database_unavailable and a Retry-After."""
    from fastapi.testclient import TestClient

    from api import create_app
    from models.db import make_engine
    from settings import Settings

    engine = make_engine("postgresql+psycopg://postgres@127.0.0.1:1/nowhere")
    app = create_app(settings=Settings(var_dir=tmp_path), engine=engine)
    with TestClient(app) as client:
        r = client.get("/api/v1/events", headers={"Authorization": "Bearer od_x"})
        ready = client.get("/readyz")
    assert r.status_code == 503 and error_of(r)["code"] == "database_unavailable"
    assert r.headers["retry-after"] == "5"
    assert ready.status_code == 503


def test_metrics_expose_requests_moves_timers_and_notifications(walker: Walker, clock) -> None:
    """/metrics (Prometheus) counts requests by route template and moves by trigger, and reads
    timers due and notifications from the database at scrape time."""
    from datetime import timedelta

    event = walker.create_event()
    walker.move(event["id"], "invite")  # refused: no invitees
    walker.move(event["id"], "cancel", who="supervisor", reason="测试")
    clock.advance(timedelta(days=2))  # the hold deadline (end of 09-16) has passed
    settings = walker.client.app.state.settings  # type: ignore[attr-defined]
    assert walker.client.get("/metrics").status_code == 404  # no token set: no metrics
    settings.metrics_token = SecretStr("scrape-me")
    assert walker.client.get("/metrics").status_code == 401
    scrape = {"Authorization": "Bearer scrape-me"}
    text = walker.client.get("/metrics", headers=scrape).text
    assert "python_info" not in text
    assert 'openday_moves_total{outcome="ok",trigger="cancel"}' in text
    assert 'openday_moves_total{outcome="refused",trigger="invite"}' in text
    assert (
        'openday_http_requests_total{method="POST",route="/api/v1/events/{event_id}/transitions"'
        in text
    )
    assert "openday_database_up 1.0" in text
    assert "openday_timers_fired_unhandled 0.0" in text
    # The cancelled event's timers are cancelled, so nothing is due.
    assert 'openday_timers_due{rule="event_hold"}' not in text
    other = walker.create_event(who="supervisor", theme="另一场", override_reason="补录")
    assert other["id"]
    text = walker.client.get("/metrics", headers=scrape).text
    assert 'openday_timers_due{rule="event_hold"} 1.0' in text  # level 1 only; level 2 is 09-23
