"""The authorization matrix's district axis (issue 28): every operation of the OpenAPI document
× the identities of two districts and of the city × the objects of both districts.

District A is the existing matrix's world (district 1: 区住建局 and 石岭镇, the notice's campaign),
seeded by tests/routes/test_authz_matrix.py `_seed`; district B (安岳县) is seeded the same way:
its clerk's unit 安岳县测试局, its campaign, an event walked to spot-checked with invitees, an
opinion with an extension request, a summary photo, a visit, a public event with a registration
and a cancellation request, a sample draw, a failed notification, an inbox message, a correction
request, a rectification, a bulletin, a target account with an identity link. The identities:
each district's clerk, supervisor, viewer and 三员 (system, security and audit administrators),
and the city's supervisor, viewer and audit administrator.

Each cell, judged against the matrix's EXPECTED column for the identity's role:

- a district identity on the other district's object: 404, or 403 where the role alone decides
  (the role's column says 403 on its own objects); never 2xx, 409 or 422;
- a district identity on its own district's objects: B's reads, as the matrix says (the matrix
  itself walks A's reads and every write on a fresh world per role);
- a city reader on either district's objects: reads as the matrix says for its role, writes
  refused (403, or 404);
- no answer to a district identity names the other district (its units, its campaign's number)
  or carries its rows' ids (`event_id`, `unit_id`, `campaign_id`, `item_id`, `user_id` keys
  anywhere, and the `id` of a list's rows); xlsx and docx answers are unzipped and read too;
  every list is also asked with the other district's ids as its filters and its unit's name as
  the search.

One seeded database per backend for the module (the cells do not change it: writes are only
made where they must be refused, or on an identity's own account and district).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from api import create_app
from models import Campaign, District, Event, FeedbackItem, Role, Unit, UnitKind, User
from models.db import make_engine
from settings import Settings
from tests.conftest import HOUSING, SHILING, Walker, World, _truncate, local, runtime_role
from tests.routes.test_authz_matrix import (
    EXPECTED,
    PASSWORD,
    USERS,
    Seeded,
    _body,
    _operations,
    _outcome,
    _password_hash,
    _path,
    _seed,
)
from workflows.accounts.service import create_user, issue_token
from workflows.campaign.rules import CampaignRules
from workflows.kernel.clock import FixedClock

COLUMNS = ("anonymous", "viewer", "own", "other", "supervisor", "system", "security", "audit")
# The roles each district has (the matrix's columns), and the city's readers.
# The audit administrator reads first: the others' reads below write audit lines naming the
# other district's ids and names they searched for (their own lines, rightly the reader's).
DISTRICT_ROLES = ("audit", "own", "supervisor", "viewer", "system", "security")
CITY_ROLES = {"audit": Role.audit_admin, "supervisor": Role.supervisor, "viewer": Role.viewer}
ROLE_OF = {
    "viewer": Role.viewer,
    "supervisor": Role.supervisor,
    "system": Role.system_admin,
    "security": Role.security_admin,
    "audit": Role.audit_admin,
}

B_HOUSING = "安岳县测试局"  # B's clerk's unit: a name no page or answer of A may show
B_TOWN = "安岳县石羊镇"
B_DOC = "安岳府办发〔2022〕7号"
# What names a district in an answer. A's registrant lives in 雁江区 and so does B's (the
# public form's residence is free text), so the district's own name is no marker.
NAMES = {"A": (HOUSING, SHILING, "资雁府办发"), "B": ("安岳",)}

# Path parameters naming a row of a district (a token id is one's own; public paths answer by
# their signed link or code, for everyone by design).
BOUND = {
    "event_id", "invitee_id", "item_id", "attachment_id", "request_id", "cancellation_id",
    "check_id", "rect_id", "visit_id", "registration_id", "sample_id", "notification_id",
    "message_id", "user_id", "link_id", "unit_id", "bulletin_id", "campaign_id", "district_id",
    "grant_id",
}  # fmt: skip
# Keys whose value is a district's row id wherever they appear in an answer.
KEYED = {
    "event_id": "event", "unit_id": "unit", "campaign_id": "campaign", "item_id": "item",
    "feedback_item_id": "item", "user_id": "user",
}  # fmt: skip
# A list's rows: the kind of their `id`.
LIST_KIND = {
    "/api/v1/events": "event", "/api/v1/campaigns": "campaign", "/api/v1/units": "unit",
    "/api/v1/users": "user", "/api/v1/notifications": "notification_id",
    "/api/v1/inbox": "message_id", "/api/v1/rectifications": "rect_id",
    "/api/v1/visits": "visit_id", "/api/v1/spot-checks": "check_id",
    "/api/v1/cancellation-requests": "cancellation_id",
    "/api/v1/correction-requests": "correction_request_id", "/api/v1/extensions": "request_id",
    "/api/v1/bulletins": "bulletin_id",
}  # fmt: skip
# Writes anyone signed in makes on their own account or inbox, or anyone on the public pages.
SELF_WRITES = ("/api/v1/auth/", "/api/v1/me", "/api/v1/inbox", "/api/v1/public/")
# Answers that may name any district: the public pages (every district's calendar), a sign-in
# (as the matrix's clerk of A) and a notice's text read back (the matrix's, of A).
UNSCANNED = ("/api/v1/public/", "/api/v1/auth/login", "/api/v1/campaigns/notice-imports")
# Dry runs read a file and write nothing: a city reader may look.
DRY_RUNS = {
    ("POST", "/api/v1/campaigns/notice-imports"),
    ("POST", "/api/v1/campaigns/{campaign_id}/schedule-imports"),
}
# Planning an event names its unit and campaign in the body: for a unit the caller does not
# see, 403 `other_unit` (as for a unit that does not exist) comes before the campaign's 404.
BODY_BOUND = ("POST", "/api/v1/events")
# Query parameters that name a district's row, and the search.
FILTERS = {"campaign_id": "campaign_id", "unit_id": "unit_id", "event_id": "event_id"}
SEARCH = ("q", "search")

# The board's tabs that read a campaign (?campaign=): asked with B's, they show A's own.
BOARD_TABS = ("spot-checks", "extensions", "visits", "rectifications", "flags", "failed")


@dataclass(frozen=True)
class Identity:
    """A caller: its district ("A", "B") or the city (None), and its role's matrix column."""

    district: str | None
    column: str
    username: str

    @property
    def label(self) -> str:
        return f"{(self.district or 'city').lower()}-{self.column}"


@dataclass
class Marks:
    """What shows a district's rows: names, and row ids by kind."""

    names: tuple[str, ...]
    ids: dict[str, set[int]] = field(default_factory=dict)


@dataclass
class City:
    """The seeded database of two districts and the city's readers."""

    client: TestClient
    engine: Engine
    seeded: dict[str, Seeded]
    marks: dict[str, Marks]
    identities: list[Identity]
    token_ids: dict[str, int]
    headers: dict[str, dict[str, str]] = field(default_factory=dict)

    def fresh(self, who: Identity) -> dict[str, str]:
        """A new bearer token for the identity (a sign-out or password change ends the old)."""
        now = self.client.app.state.clock.now()  # type: ignore[attr-defined]
        with Session(self.engine) as session:
            user = session.exec(select(User).where(User.username == who.username)).one()
            token = issue_token(session, user, kind="api", now=now)
            session.commit()
        self.headers[who.label] = {"Authorization": f"Bearer {token}"}
        return self.headers[who.label]


def _district_world(engine: Engine, now: Any) -> tuple[int, World]:
    """District B shaped as the matrix's world: two units, a campaign, one account per role
    (usernames prefixed `b-`, the world's keys as the matrix's)."""
    with Session(engine, expire_on_commit=False) as session:
        district = District(
            code="anyue", name="安岳县", city_name="资阳市", office_name="安岳县人民政府办公室",
            created_at=now,
        )  # fmt: skip
        session.add(district)
        session.flush()
        assert district.id is not None
        campaign = Campaign(
            district_id=district.id, doc_number=B_DOC, title="安岳县政府开放日",
            issuing_office="安岳县人民政府办公室", starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(), created_at=now,
        )  # fmt: skip
        session.add(campaign)
        units = {}
        for key, name, kind in (
            (HOUSING, B_HOUSING, UnitKind.department),
            (SHILING, B_TOWN, UnitKind.town),
        ):
            unit = Unit(district_id=district.id, name=name, kind=kind, created_at=now)
            session.add(unit)
            session.flush()
            units[key] = unit.id
        world = World(engine=engine, campaign_id=campaign.id, units=units)  # type: ignore[arg-type]
        for column, key in USERS.items():
            role = ROLE_OF.get(column, Role.unit_staff)
            unit_id = {"own": units[HOUSING], "other": units[SHILING]}.get(column)
            user = create_user(
                session, username=f"b-{key}", role=role, unit_id=unit_id, now=now,
                district_id=district.id, display_name=f"安岳县{key}",
            )  # fmt: skip
            token = issue_token(session, user, kind="api", now=now)
            world.headers[key] = {"Authorization": f"Bearer {token}"}
            world.user_ids[key] = user.id  # type: ignore[assignment]
        session.commit()
        return district.id, world


def _a_world(engine: Engine, now: Any) -> World:
    """District A: conftest's world (the notice's campaign, 区住建局 and 石岭镇, district 1)."""
    with Session(engine, expire_on_commit=False) as session:
        campaign = Campaign(
            doc_number="资雁府办发〔2022〕58号", title="关于开展“政府开放日”活动的通知",
            issuing_office="资阳市雁江区人民政府办公室", starts_on=date(2022, 8, 22),
            ends_on=date(2022, 9, 22), rules=CampaignRules().model_dump(), created_at=now,
        )  # fmt: skip
        session.add(campaign)
        units = {}
        for name, kind in ((HOUSING, UnitKind.department), (SHILING, UnitKind.town)):
            unit = Unit(name=name, kind=kind, created_at=now)
            session.add(unit)
            session.flush()
            units[name] = unit.id
        world = World(engine=engine, campaign_id=campaign.id, units=units)  # type: ignore[arg-type]
        for column, key in USERS.items():
            role = ROLE_OF.get(column, Role.unit_staff)
            unit_name = {"own": HOUSING, "other": SHILING}.get(column)
            user = create_user(session, username=key, role=role, unit_name=unit_name, now=now)
            token = issue_token(session, user, kind="api", now=now)
            world.headers[key] = {"Authorization": f"Bearer {token}"}
            world.user_ids[key] = user.id  # type: ignore[assignment]
        session.commit()
    return world


def _marks(engine: Engine, district_id: int, names: tuple[str, ...], ids: dict) -> Marks:
    """The district's rows by kind: from the database, and the seeded ids of the rest."""
    with Session(engine) as session:
        units = set(session.exec(select(Unit.id).where(Unit.district_id == district_id)).all())
        events = set(session.exec(select(Event.id).where(Event.unit_id.in_(units))).all())  # type: ignore[union-attr]
        items = set(
            session.exec(select(FeedbackItem.id).where(FeedbackItem.event_id.in_(events))).all()  # type: ignore[attr-defined]
        )
        campaigns = session.exec(select(Campaign.id).where(Campaign.district_id == district_id))
        users = session.exec(select(User.id).where(User.district_id == district_id)).all()
        marks = Marks(names=names)
        marks.ids.update(
            unit=units, event=events, item=items, campaign=set(campaigns.all()), user=set(users)
        )
    for kind in set(LIST_KIND.values()) - set(marks.ids):
        marks.ids[kind] = {ids[kind]}
    return marks


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def city(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[City]:
    """Two districts seeded alike through the API, and the city's readers."""
    tmp = tmp_path_factory.mktemp("districts")
    with ExitStack() as stack:
        if request.param == "sqlite":
            import shutil

            shutil.copy(request.getfixturevalue("sqlite_template"), tmp / "openday.db")
            engine = served = make_engine(f"sqlite:///{tmp / 'openday.db'}")
            stack.callback(engine.dispose)
        else:
            # Seeded as the tables' owner; served as the service connects in production, a
            # runtime role held by row-level security: the matrix checks both walls at once,
            # and that the second refuses nothing the first allows (issue 28).
            engine = request.getfixturevalue("postgres_engine")
            _truncate(engine)
            stack.callback(_truncate, engine)
            url = stack.enter_context(runtime_role(engine, request.getfixturevalue("postgres_url")))
            served = make_engine(url)
            stack.callback(served.dispose)
        clock = FixedClock(local(2022, 9, 16))
        settings = Settings(
            var_dir=tmp / "var", database_url="sqlite://", ratelimit_url="memory://",
            metrics_token="metrics-secret-for-the-matrix", totp_required_roles="",
        )  # fmt: skip
        app = create_app(settings=settings, engine=served, clock=clock)
        with TestClient(app) as client:
            yield _build(client, engine, clock.now())


def _build(client: TestClient, engine: Engine, now: Any) -> City:
    worlds = {"A": _a_world(engine, now)}
    b_district, worlds["B"] = _district_world(engine, now)
    seeded = {}
    for name, world in worlds.items():
        ids = _seed(Walker(client, world), engine, target=f"{name.lower()}-target")
        seeded[name] = Seeded(client, world, ids)
    identities = [
        Identity(d, column, ("" if d == "A" else "b-") + USERS[column])
        for d in ("A", "B")
        for column in DISTRICT_ROLES
    ]
    with Session(engine) as session:
        for column, role in CITY_ROLES.items():
            user = create_user(
                session, username=f"city-{column}", role=role, now=now, district_id=None
            )
            user.password_hash = _password_hash()
            identities.append(Identity(None, column, f"city-{column}"))
        session.commit()
    marks = {
        "A": _marks(engine, 1, NAMES["A"], seeded["A"].ids),
        "B": _marks(engine, b_district, NAMES["B"], seeded["B"].ids),
    }
    found = City(client, engine, seeded, marks, identities, token_ids={})
    for who in identities:
        made = client.post("/api/v1/me/tokens", json={"name": "待删"}, headers=found.fresh(who))
        assert made.status_code == 201, made.text
        found.token_ids[who.label] = made.json()["id"]
    return found


def _text(response: Any) -> str:
    """What an answer shows: JSON as written (not escaped), a workbook's or document's XML."""
    content = response.content
    if content[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            return "".join(
                archive.read(n).decode("utf-8", "replace")
                for n in archive.namelist()
                if n.endswith(".xml")
            )
    try:
        return json.dumps(response.json(), ensure_ascii=False)
    except ValueError:
        return response.text  # type: ignore[no-any-return]


def _ids_in(body: Any, kind_of_rows: str | None) -> Iterator[tuple[str, Any]]:
    """Every (kind, id) the answer carries."""
    if isinstance(body, dict):
        for key, kind in KEYED.items():
            if isinstance(body.get(key), int):
                yield kind, body[key]
        for value in body.values():
            yield from _ids_in(value, kind_of_rows)
    elif isinstance(body, list):
        for row in body:
            if kind_of_rows and isinstance(row, dict) and isinstance(row.get("id"), int):
                yield kind_of_rows, row["id"]
            yield from _ids_in(row, kind_of_rows)


def _leaks(response: Any, path: str, foreign: Marks) -> list[str]:
    """What of the other district the answer shows."""
    if response.status_code >= 300 or path.startswith(UNSCANNED):
        return []
    text = _text(response)
    found = [f"names {name}" for name in foreign.names if name in text]
    if "json" in response.headers.get("content-type", ""):
        for kind, value in _ids_in(response.json(), LIST_KIND.get(path)):
            if value in foreign.ids.get(kind, ()):
                found.append(f"{kind} {value}")
    return found


def _bound(method: str, path: str) -> bool:
    if path.startswith("/api/v1/public/"):
        return False
    return bool(set(re.findall(r"{(\w+)}", path)) & BOUND) or (method, path) == BODY_BOUND


def _want(who: Identity, method: str, path: str, mine: bool) -> set[str]:
    """The outcomes allowed for the identity on an operation (on its own district's objects
    when `mine`; an unbound operation is always `mine`)."""
    column = EXPECTED[(method, path)][COLUMNS.index(who.column)]
    if who.district is None:  # the city's readers: read as their role, write nothing
        if method == "GET" or path.startswith(SELF_WRITES):
            return {column}
        return {"3", "4", column} if (method, path) in DRY_RUNS else {"3", "4"}
    if mine:
        return {column}
    return {"3", "4"} if column == "3" or (method, path) == BODY_BOUND else {"4"}


def _filters(document: dict, path: str) -> list[str]:
    """A list's query parameters that name a row or search."""
    operation = document["paths"][path].get("get", {})
    names = [p["name"] for p in operation.get("parameters", []) if p.get("in") == "query"]
    return [n for n in names if n in FILTERS or n in SEARCH]


def test_no_identity_reads_or_writes_another_districts_rows(city: City) -> None:
    client = city.client
    operations = _operations(client)
    document = client.get("/openapi.json").json()
    wrong: list[str] = []
    requests = cells = 0
    for who in city.identities:
        headers = city.headers[who.label]
        home = who.district or "A"
        for method, path in operations:
            if _bound(method, path):
                targets = ["A", "B"]
            else:
                targets = [home]
            for target in targets:
                mine = target == home and who.district is not None
                if mine and _bound(method, path) and (method != "GET" or home == "A"):
                    continue  # the matrix walks A's own rows, and a district's own writes
                s = city.seeded[target]
                ids = dict(s.ids, tokens={who.column: city.token_ids[who.label]})
                here = Seeded(client, s.world, ids)
                request = _body(method, path, here, who.label)
                url = _path(path, here, who.column)
                response = client.request(method, url, headers=headers, **request)
                requests += 1
                cells += 1
                got, want = _outcome(response.status_code), _want(who, method, path, mine)
                if response.status_code == 429 and path.startswith("/api/v1/public/"):
                    continue  # the citizens' doors are throttled by address: all of us here
                if got not in want:
                    wrong.append(
                        f"{who.label} on {target}'s {method} {path}: want {'/'.join(sorted(want))},"
                        f" got {response.status_code} {response.text[:160]}"
                    )
                if who.district is not None:
                    other = "B" if who.district == "A" else "A"
                    for leak in _leaks(response, path, city.marks[other]):
                        wrong.append(f"{who.label} {method} {url}: shows {other}'s {leak}")
                if method != "GET" and path.startswith(("/api/v1/auth/", "/api/v1/me")):
                    headers = city.fresh(who)
            if method == "GET" and not _bound(method, path) and who.district is not None:
                other = "B" if who.district == "A" else "A"
                foreign = city.seeded[other].ids
                for name in _filters(document, path):
                    value = B_HOUSING if who.district == "A" else HOUSING
                    params = {name: value if name in SEARCH else foreign[FILTERS[name]]}
                    response = client.get(path, params=params, headers=headers)
                    requests += 1
                    column = EXPECTED[(method, path)][COLUMNS.index(who.column)]
                    if response.status_code not in (404, 422) and (
                        _outcome(response.status_code) != column
                    ):
                        wrong.append(f"{who.label} GET {path} {params}: {response.status_code}")
                    for leak in _leaks(response, path, city.marks[other]):
                        wrong.append(f"{who.label} GET {path} {params}: shows {other}'s {leak}")
    print(f"district matrix: {requests} requests, {cells} cells, {len(city.identities)} identities")
    assert not wrong, f"{len(wrong)} wrong of {cells} cells:\n" + "\n".join(wrong)
    _lists_show_what_they_should(city)


def _lists_show_what_they_should(city: City) -> None:
    """The positive side (so the checks above can fail): a district's supervisor lists its own
    events and units, a city reader both districts'."""
    for who in city.identities:
        if who.column not in ("supervisor", "viewer"):
            continue
        headers = city.fresh(who)
        events = city.client.get("/api/v1/events", headers=headers).json()["items"]
        shown = {e["id"] for e in events}
        for d in ("A", "B"):
            theirs = shown & city.marks[d].ids["event"]
            assert bool(theirs) == (who.district in (d, None)), (who.label, d, shown)


def _page_paths(app: Any) -> list[str]:
    """The pages' GET paths (the routers are included lazily: each keeps its own routes)."""
    found = []
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        for r in inner.routes if inner is not None else [route]:
            path = getattr(r, "path", "")
            if "GET" in (getattr(r, "methods", None) or ()) and not path.startswith(
                ("/api", "/public")
            ):
                found.append(path)
    assert len(found) > 40, found  # the walk sees the pages
    return sorted(set(found))


def test_a_district_supervisors_pages_show_nothing_of_another_district(city: City) -> None:
    """Signed in as A's supervisor: every page reachable from the home page (three levels)
    names nothing of B, and every page naming one of B's rows answers 404 (or 403)."""
    from tests.pages.test_pages import sign_in

    client = TestClient(city.client.app)
    sign_in(client, "supervisor", PASSWORD)
    foreign = city.marks["B"]
    seen: set[str] = set()
    level, wrong = ["/"], []
    for _ in range(3):
        following = []
        for url in level:
            if url in seen or len(seen) >= 400:
                continue
            seen.add(url)
            response = client.get(url)
            if response.status_code >= 500:
                wrong.append(f"{url}: {response.status_code}")
                continue
            text = _text(response)
            wrong += [f"{url}: names {n}" for n in foreign.names if n in text]
            for kind, pattern in (("event", r"/events/(\d+)"), ("campaign", r"campaign=(\d+)")):
                wrong += [
                    f"{url}: links B's {kind} {m}"
                    for m in re.findall(pattern, text)
                    if int(m) in foreign.ids[kind]
                ]
            if "text/html" in response.headers.get("content-type", ""):
                for href in re.findall(r'href="(/[^"#]*)', text):
                    href = href.replace("&amp;", "&")
                    if not href.startswith(("/static", "/logout", "/public", "/d/")):
                        following.append(href)
        level = following
    b = city.seeded["B"].ids
    pages = 0
    for path in _page_paths(city.client.app):
        names = set(re.findall(r"{(\w+)}", path))
        if not names or names & {"name", "code", "token"}:
            continue  # an export's file name, the public's codes and links: no district's row
        values = dict(b, account_id=b["user_id"], rectification_id=b["rect_id"], fmt="docx")
        values["file_id"] = b["attachment_id"]
        if not names <= set(values):
            wrong.append(f"{path}: no B row for {names - set(values)}")
            continue
        response = client.get(path.format(**values))  # a redirect: where it lands
        pages += 1
        if response.status_code not in (403, 404):
            wrong.append(f"{path} with B's rows: {response.status_code}")
    for url in (
        f"/board/report?campaign={b['campaign_id']}",
        f"/board/report.xlsx?campaign={b['campaign_id']}",
        f"/board?campaign={b['campaign_id']}",
        *(f"/board/{tab}?campaign={b['campaign_id']}" for tab in BOARD_TABS),
    ):
        response = client.get(url, follow_redirects=False)
        pages += 1
        if response.status_code < 300:
            wrong += [f"{url}: names {n}" for n in foreign.names if n in _text(response)]
    print(f"district pages: {len(seen)} crawled, {pages} asked with B's rows")
    assert len(seen) > 20, seen
    assert not wrong, "\n".join(wrong)
