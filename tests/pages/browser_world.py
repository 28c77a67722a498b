"""A lived-in world for the browser tests of the pages: the founding notice's demo campaign (its
39 events, imported from the schedule table), an account per role, and 区住建局's 9月16日 event
walked through the API to spot-checked, its opinion answered, so every stage's link and every
export has something to show. `world_server` serves it on a free port.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlmodel import Session, col, select

from models import Event, Role, User
from tests.browser_support import NOW, png, require_browser, seed, serve
from workflows.accounts.service import create_user, issue_token
from workflows.schedule.demo import DEMO_STAFF_UNIT, load_demo_campaign

PASSWORD = "Kaifang-2022!"
# username -> (role, unit); one of each role the pages serve.
ACCOUNTS = {
    "wang": (Role.unit_staff, DEMO_STAFF_UNIT),
    "li": (Role.supervisor, None),
    # 三员分立: the system, security and audit administrators
    "zhao": (Role.system_admin, None),
    "sun": (Role.security_admin, None),
    "zhou": (Role.audit_admin, None),
    "qian": (Role.viewer, None),
}


@dataclass
class World:
    """The served base URL, the walked event's id and an API token per account."""

    base: str = ""
    event_id: int = 0
    tokens: dict[str, str] = field(default_factory=dict)


def _fill(world: World) -> Any:
    def fill(session: Session) -> None:
        load_demo_campaign(session, NOW)
        for username, (role, unit) in ACCOUNTS.items():
            user = create_user(session, username=username, role=role, unit_name=unit,
                               password=PASSWORD, now=NOW, display_name=username)  # fmt: skip
            world.tokens[username] = issue_token(session, user, kind="api", now=NOW)
        housing = session.exec(select(User).where(User.username == "wang")).one()
        event = session.exec(
            select(Event)
            .where(Event.unit_id == housing.unit_id, col(Event.date_latest) == NOW.date())
            .order_by(col(Event.id))
        ).first()
        assert event is not None, "the demo has 区住建局's event on 2022-09-16"
        world.event_id = event.id  # type: ignore[assignment]

    return fill


class _Api:
    """The walked event's moves, through the served API."""

    def __init__(self, base: str, world: World) -> None:
        self.http = httpx.Client(base_url=base + "/api/v1", timeout=30)
        self.world = world
        self.path = f"/events/{world.event_id}"

    def _as(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.world.tokens[who]}"}

    def version(self) -> int:
        got = self.http.get(self.path, headers=self._as("li"))
        assert got.status_code == 200, got.text
        return int(got.json()["version"])

    def move(self, trigger: str, who: str = "wang", **data: Any) -> dict[str, Any]:
        body = {"trigger": trigger, "expected_version": self.version(), "data": data}
        got = self.http.post(self.path + "/transitions", json=body, headers=self._as(who))
        assert got.status_code == 200, got.text
        return got.json()  # type: ignore[no-any-return]

    def invite(self) -> list[dict[str, Any]]:
        people: list[dict[str, Any]] = [
            {"name": f"代表{i + 1}", "category": "npc_deputy" if i % 2 else "cppcc_member"}
            for i in range(10)
        ]
        people += [
            {"name": f"市民{i + 1}", "category": "citizen", "invitation": "public"}
            for i in range(5)
        ]
        got = self.http.post(self.path + "/invitees", json=people, headers=self._as("wang"),
                             params={"expected_version": self.version()})  # fmt: skip
        assert got.status_code == 201, got.text
        self.move("invite")
        return got.json()  # type: ignore[no-any-return]

    def summary(self) -> None:
        got = self.http.post(self.path + "/summary/attachments", headers=self._as("wang"),
                             files={"file": ("现场.png", png(), "image/png")},
                             params={"expected_version": self.version()})  # fmt: skip
        assert got.status_code in (200, 201), got.text
        self.move("submit_summary", text="活动按计划开展，收集意见 1 条，已答复。")


def walk(base: str, world: World) -> None:
    """Invite, hold, collect one opinion, submit the summary, spot-check it, visit it."""
    api = _Api(base, world)
    people = api.invite()
    api.move("hold", held_on=NOW.date().isoformat(), forms_held=["site_visit", "dialogue"],
             met_by=[{"name": "王局长", "post": "principal"}],
             attendance={str(p["id"]): True for p in people})  # fmt: skip
    api.move("collect_feedback", items=[{"content": "希望延长社区食堂营业时间"}])
    api.summary()
    api.move("spot_check", who="li", result="satisfactory", notes="图文资料齐全")
    visit = {
        "visited_on": NOW.date().isoformat(),
        "people": "区政府办 李督查",
        "findings": "现场有序",
    }
    got = api.http.post(api.path + "/visits", json=visit, headers=api._as("li"))
    assert got.status_code == 201, got.text


@contextmanager
def world_server(folder: Path) -> Iterator[World]:
    """The world seeded, served and walked; yields it with its base URL."""
    require_browser()
    world = World()
    url = f"sqlite:///{folder / 'openday.db'}"
    seed(url, _fill(world))
    with serve(folder, url) as base:
        world.base = base
        walk(base, world)
        yield world
