"""One wording for errors (issue 24): every page form's refusal names each field by its Chinese
label and each allowed value by its Chinese name; so does the API's `message` (the field path and
the codes stay in `details`, `code` and `message_en`).

The forms are found from the app's routes (every page POST), so a new form is not forgotten: each
is sent empty and with nonsense in every field, and what it answers must be Chinese words only.
"""

from __future__ import annotations

import re
from typing import Any

from sqlmodel import Session

from models import User
from pages.render import PageRoute
from tests.conftest import Walker, World
from tests.pages.test_pages import csrf_of, sign_in
from web.wording import VALUE_NAMES
from workflows.accounts.service import hash_password

# What leaks: an input's id (result-14), an ASCII field name before the colon, an enum value.
LEAKS = [
    re.compile(r"\b[a-z_]+-\d+\b"),
    re.compile(r"(?<![A-Za-z])[a-z_]{3,}\s*："),
    re.compile(r"\b[a-z]+_[a-z_]+\b"),
    re.compile(r"\b(" + "|".join(sorted((v for v in VALUE_NAMES if "_" in v or len(v) > 5),
                                       key=len, reverse=True)) + r")\b"),
]  # fmt: skip
# Forms that take no input a person types: nothing to refuse in words.
NO_INPUT = {
    "/logout",
    "/board/notifications/{notification_id}/retry",
    "/events/{event_id}/invitees/{invitee_id}/delete",
    "/events/{event_id}/summary/photos/{attachment_id}/delete",
    "/events/{event_id}/registrations/{registration_id}/confirm",
    "/inbox/read-all",
    "/inbox/{message_id}/read",
    "/account/security/enrol",  # starts an enrolment: nothing to refuse
}
JUNK = {name: "x-1" for name in (
    "result", "notes", "reasons", "due_on", "answer", "content", "category", "invitation",
    "targeted_kind", "name", "phone", "district", "held_on", "visited_on", "people", "event_id",
    "approve", "new_due_on", "requested_due_on", "reason", "role", "unit_id", "username",
    "display_name", "email", "password", "new_password", "old_password", "consent", "text",
    "attendance", "forms", "no_opinions", "code",
)}  # fmt: skip


def leaks(text: str) -> list[str]:
    """What in `text` is a field id, an ASCII field name or an English value."""
    return [m.group(0) for pattern in LEAKS for m in pattern.finditer(text)]


def summary_text(html: str) -> str:
    """The error summary's, the inline errors' and the error page's text."""
    parts = re.findall(
        r'class="(?:error-summary|field-error|lead)"[^>]*>(.*?)</(?:div|p)>', html, re.S
    )
    return re.sub(r"<[^>]+>", " ", " ".join(parts))


def _passwords(world: World) -> None:
    with Session(world.engine) as session:
        for name in ("supervisor", "sysadmin", "secadmin"):
            user = session.get(User, world.user_ids[name])
            assert user is not None
            user.password_hash = hash_password("pw-" + name)
        session.commit()


def _events(walker: Walker) -> dict[str, Any]:
    """An event per stage the forms need, with their ids."""
    planned = walker.create_event()
    opened = walker.client.patch(  # public places, so the citizen's form takes input
        f"/api/v1/events/{planned['id']}", headers=walker.world.headers["housing"],
        json={"expected_version": planned["version"], "public_places": 5},
    )  # fmt: skip
    assert opened.status_code == 200, opened.text
    held, invitees = walker.held_event()
    done, _ = walker.held_event()
    item = {"content": "希望延长社区食堂营业时间"}
    assert walker.move(done["id"], "collect_feedback", data={"items": [item]}).status_code == 200
    assert walker.upload(done["id"]).status_code == 201
    assert walker.move(done["id"], "submit_summary", data={"text": "总结"}).status_code == 200
    items = walker.client.get(
        f"/api/v1/events/{done['id']}/feedback", headers=walker.world.headers["housing"]
    ).json()
    return {"planned": planned["id"], "held": held["id"], "done": done["id"],
            "invitee": invitees[0]["id"], "item": items["items"][0]["id"]}  # fmt: skip


def _path(route: str, ids: dict[str, Any], world: World) -> str:
    event = ids["done"]
    if route.endswith(("/invitees", "/invite", "/register", "/summary")):
        event = ids["planned"]
    if route.endswith(("/hold", "/feedback", "/feedback/collect")):
        event = ids["held"]
    values = {"event_id": event, "item_id": ids["item"], "invitee_id": ids["invitee"],
              "request_id": 1, "registration_id": 1, "attachment_id": 1, "notification_id": 1,
              "account_id": world.user_ids["viewer"], "action": "role",
              "campaign_id": world.campaign_id, "rectification_id": 1,
              "token": "x" * 20, "message_id": 1, "token_id": 1,
              "unit_id": next(iter(world.units.values())), "link_id": 1,
              "district_id": 1, "grant_id": 1}  # fmt: skip
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), route)


def page_posts(app: Any) -> list[str]:
    """Every page route that takes a POST (included routers looked into)."""
    found = set()
    for route in app.routes:
        inner = getattr(getattr(route, "original_router", None), "routes", [route])
        for r in inner:
            if isinstance(r, PageRoute) and "POST" in r.methods:
                found.add(r.path)
    return sorted(found)


def _who(route: str) -> tuple[str, str]:
    # 三员分立: accounts are the security administrator's, the calendar and imports the system
    # administrator's, the rest of 管理 the district office's
    if route.startswith(("/admin/accounts", "/admin/identities")):
        return "secadmin", "pw-secadmin"
    if route.startswith("/admin/calendar") or route.endswith("/import"):
        return "sysadmin", "pw-sysadmin"
    if route.startswith("/admin"):
        return "supervisor", "pw-supervisor"
    if route.startswith("/board"):
        return "supervisor", "pw-supervisor"
    return "housing", "pw-housing"


def test_every_page_forms_refusal_is_in_chinese_words(walker: Walker, world: World) -> None:
    """Each page POST, sent empty and with nonsense, refuses without ids, names or codes."""
    _passwords(world)
    ids = _events(walker)
    routes = page_posts(walker.client.app)
    assert len(routes) > 20, routes
    silent, leaked = [], {}
    for route in routes:
        if route in NO_INPUT:
            continue
        who, password = _who(route)
        walker.client.cookies.clear()
        if route != "/login":
            sign_in(walker.client, who, password)
        home = walker.client.get("/public/registration" if route.startswith("/public") else "/login"
                                 if route == "/login" else "/account/password")  # fmt: skip
        csrf = csrf_of(home.text)
        path = _path(route, ids, world)
        shown = ""
        for form in ({}, JUNK):
            event = re.search(r"/events/(\d+)", path)
            version = walker.get(int(event.group(1)) if event else ids["done"], who="supervisor")[
                "version"
            ]
            data = {**form, "csrf": csrf, "version": str(version)}
            answer = walker.client.post(path, data=data, follow_redirects=False)
            shown += summary_text(answer.text) if answer.status_code >= 400 else ""
        if not shown.strip():
            silent.append(route)
        elif leaks(shown):
            leaked[route] = (leaks(shown), " ".join(shown.split())[:400])
    assert leaked == {}
    assert silent == [], f"forms that refused nothing (add to NO_INPUT or fix the test): {silent}"


def test_the_apis_messages_use_the_same_words(walker: Walker, world: World) -> None:
    """Representative 422s: `message` in Chinese words; the path and codes stay in the details."""
    event, invitees = walker.held_event()
    bad_result = walker.move(event["id"], "spot_check", who="supervisor", data={"result": "meh"})
    no_reasons = walker.move(event["id"], "return_for_rework", who="supervisor",
                             data={"reasons": []})  # fmt: skip
    bad_person = walker.client.post(
        f"/api/v1/events/{event['id']}/invitees", headers=world.headers["housing"],
        params=walker.version_of(event["id"]), json=[{"name": "", "category": "mayor"}],
    )  # fmt: skip
    unknown = walker.move(event["id"], "publish")
    for answer in (bad_result, no_reasons, bad_person, unknown):
        assert answer.status_code == 422, answer.text
        error = answer.json()["error"]
        assert leaks(error["message"]) == [], error["message"]
        assert error["message_en"] and error["code"]
    message = bad_result.json()["error"]["message"]
    assert "抽查结果：应为以下之一：合格、需整改、不合格" in message, message
    fields = bad_result.json()["error"]["details"]["fields"]
    assert fields[0]["field"] == "body.data.result"  # the path, for programs
    assert "退回原因：至少 1 项" in no_reasons.json()["error"]["message"]
    assert "第 1 项的人员类别" in bad_person.json()["error"]["message"]
    assert "收集意见" in unknown.json()["error"]["message"]


def test_a_validators_own_sentence_is_given_in_chinese(walker: Walker) -> None:
    """A rule the model checks itself (a reschedule's dates) is worded in Chinese in `message`."""
    event = walker.create_event()
    r = walker.move(event["id"], "reschedule", reason="天气原因",
                    data={"earliest": "2022-09-20", "latest": "2022-09-18"})  # fmt: skip
    error = r.json()["error"]
    assert r.status_code == 422, r.text
    assert "最晚日期不能早于最早日期" in error["message"], error["message"]
    assert "latest must not be before earliest" in error["message_en"]
    assert leaks(error["message"]) == []
