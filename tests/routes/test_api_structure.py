"""The API's shape: documented moves, refusal order, error bodies, an import without effects."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import Walker, error_of
from tests.event.test_event_moves import _submitted

EVENT_TRIGGERS = {
    "invite",
    "hold",
    "collect_feedback",
    "submit_summary",
    "spot_check",
    "reschedule",
    "cancel",
    "return_for_rework",
}


def _request_schema(spec: dict, path: str) -> dict:
    return spec["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def test_openapi_documents_each_event_move_as_a_tagged_union(walker: Walker) -> None:
    """POST …/transitions is a oneOf over one model per trigger, discriminated by `trigger`,
    and each member documents its data with an example."""
    spec = walker.client.get("/openapi.json").json()
    schema = _request_schema(spec, "/api/v1/events/{event_id}/transitions")
    assert schema["discriminator"]["propertyName"] == "trigger"
    assert set(schema["discriminator"]["mapping"]) == EVENT_TRIGGERS
    components = spec["components"]["schemas"]
    spot = components["SpotCheckMove"]
    assert spot["examples"][0]["trigger"] == "spot_check"
    result = components["SpotCheckData"]["properties"]["result"]
    enum = components[result["$ref"].rsplit("/", 1)[-1]]["enum"]
    assert enum == ["satisfactory", "needs_improvement", "unsatisfactory"]
    assert "attendance" in components["HoldData"]["properties"]
    assert {"date", "earliest", "latest"} <= set(components["RescheduleData"]["properties"])


def test_openapi_documents_feedback_moves_as_a_tagged_union(walker: Walker) -> None:
    """POST /feedback/{id}/transitions: assign, answer, close — never the system's overdue."""
    spec = walker.client.get("/openapi.json").json()
    schema = _request_schema(spec, "/api/v1/feedback/{item_id}/transitions")
    assert set(schema["discriminator"]["mapping"]) == {"assign", "answer", "close"}
    assert "assignee" in spec["components"]["schemas"]["AssignData"]["properties"]


def test_component_names_do_not_depend_on_the_code_layout(walker: Walker) -> None:
    """Two models of one name made FastAPI name both after their module path
    (`workflows__event__flow__NoData`), so moving a module renamed a public schema: every
    component is named by its class alone."""
    names = walker.client.get("/openapi.json").json()["components"]["schemas"]
    assert [n for n in names if "__" in n and not n.startswith("Body_")] == []
    assert {"EventNoData", "OpinionNoData"} <= set(names)


def test_role_refusal_comes_before_payload_validation(walker: Walker) -> None:
    """A staffer's spot check with nonsense data hears 403 (role), not 422 (data)."""
    event = _submitted(walker)
    r = walker.move(event["id"], "spot_check", data={"result": "great", "x": 1})
    assert r.status_code == 403
    assert error_of(r)["code"] == "spot_check_requires_supervisor"
    r = walker.move(event["id"], "cancel", who="viewer", data={"bogus": True})
    assert r.status_code == 403 and error_of(r)["code"] == "read_only"


def test_invalid_values_are_named_in_chinese_with_the_allowed_ones(walker: Walker) -> None:
    """A wrong spot-check result names the field and lists the allowed values, in Chinese."""
    event = _submitted(walker)
    r = walker.move(event["id"], "spot_check", who="supervisor", data={"result": "great"})
    err = error_of(r)
    assert r.status_code == 422 and err["code"] == "validation_error"
    assert "抽查结果：应为以下之一：合格、需整改、不合格" in err["message"]  # words, not codes
    assert "body.data.result" in err["message_en"]
    assert err["details"]["fields"][0]["problem_zh"].startswith("应为以下之一")


def test_unknown_trigger_lists_the_known_ones_in_both_languages(walker: Walker) -> None:
    """An unknown trigger answers 422 unknown_trigger naming every move people may send."""
    event = walker.create_event()
    err = error_of(walker.move(event["id"], "publish"))
    assert err["code"] == "unknown_trigger"
    assert set(err["details"]["known"]) == EVENT_TRIGGERS
    assert "未知操作“publish”" in err["message"] and "publish" in err["message_en"]


def test_framework_errors_use_the_service_error_shape(walker: Walker) -> None:
    """Unknown paths and wrong methods answer the shared error body, not {"detail"}."""
    r = walker.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and error_of(r)["code"] == "not_found"
    r = walker.client.delete("/api/v1/events", headers=walker.world.headers["housing"])
    assert r.status_code == 405 and error_of(r)["code"] == "method_not_allowed"


def test_a_long_or_odd_request_id_is_replaced(walker: Walker) -> None:
    """Only short, plain request ids are echoed; others get a fresh one."""
    r = walker.client.get("/healthz", headers={"X-Request-ID": "x" * 500})
    assert r.headers["x-request-id"] != "x" * 500 and len(r.headers["x-request-id"]) == 32


def test_importing_api_builds_nothing() -> None:
    """`import api` creates no app, engine or broker; `api.app` does, once."""
    code = (
        "import api, sys; assert api._app is None, 'built at import';"
        "assert 'uvicorn' not in sys.modules; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_a_served_app_hides_its_start_up_objects_from_the_collector() -> None:
    """`api.app` (what each uvicorn worker imports) freezes what starting made (issue 32): a
    full collection no longer walks the modules and the app, so no request waits on it."""
    code = (
        "import gc, api; assert gc.get_freeze_count() == 0;"
        "api.create_app = lambda: object(); api.app;"
        "print(gc.get_freeze_count())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert int(out.stdout.strip()) > 50_000  # the imported modules' objects, at least
