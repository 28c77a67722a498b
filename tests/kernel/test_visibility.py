"""The one visibility rule (workflows/kernel/visibility.py): its three functions, and a walk of
the code that fails when a route, page, web helper, workflow or the CLI compares a unit against
the caller's unit by hand instead of calling them."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.dialects import sqlite
from sqlmodel import Session, col, select

from models import Event, Role, Unit, UnitKind
from workflows.kernel.errors import DomainError, Forbidden, NotFound
from workflows.kernel.visibility import (
    NOTHING,
    SYSTEM,
    Actor,
    is_own_unit,
    other_unit,
    require_own_unit,
    require_visible,
    scope,
    visible,
)

SYSTEM_ADMIN = Actor(id=1, name="sysadmin", role=Role.system_admin, unit_id=None)
AUDITOR = Actor(id=6, name="auditor", role=Role.audit_admin, unit_id=None)
# An account left holding the retired all-duty role (none does after migration 0036).
LEGACY_ADMIN = Actor(id=8, name="admin", role=Role.admin, unit_id=None)
SUPERVISOR = Actor(id=2, name="supervisor", role=Role.supervisor, unit_id=None)
VIEWER = Actor(id=3, name="viewer", role=Role.viewer, unit_id=None)
STAFF = Actor(id=4, name="housing", role=Role.unit_staff, unit_id=7)
UNITLESS_STAFF = Actor(id=5, name="lost", role=Role.unit_staff, unit_id=None)
ALL_UNITS = (SYSTEM_ADMIN, AUDITOR, SUPERVISOR, VIEWER, SYSTEM)
NOW = datetime(2022, 9, 1, tzinfo=UTC)


def _sql(statement: object) -> str:
    compiled = statement.compile(  # type: ignore[attr-defined]
        dialect=sqlite.dialect(), compile_kwargs={"literal_binds": True}
    )
    return " ".join(str(compiled).split())


# ---- scope -------------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ALL_UNITS, ids=lambda a: a.name)
def test_scope_of_district_accounts_is_what_they_ask(actor: Actor) -> None:
    assert scope(actor, None) is None
    assert scope(actor, 7) == 7
    assert scope(actor, 8) == 8


def test_scope_of_staff_is_their_own_unit() -> None:
    assert scope(STAFF, None) == 7
    assert scope(STAFF, 7) == 7


def test_staff_asking_for_another_unit_get_a_unit_no_one_has() -> None:
    assert scope(STAFF, 8) == NOTHING
    assert NOTHING < 1  # unit ids start at 1: the sentinel matches no row


def test_staff_without_a_unit_see_nothing() -> None:
    assert scope(UNITLESS_STAFF, None) == NOTHING
    assert scope(UNITLESS_STAFF, 7) == NOTHING


# ---- visible -----------------------------------------------------------------------------------


@pytest.mark.parametrize("actor", ALL_UNITS, ids=lambda a: a.name)
def test_visible_leaves_district_accounts_statements_alone(actor: Actor) -> None:
    stmt = select(Event).where(Event.campaign_id == 1)
    assert visible(stmt, actor, Event.unit_id) is stmt


def test_visible_narrows_staff_to_their_unit_on_the_given_column() -> None:
    sql = _sql(visible(select(Event).where(Event.campaign_id == 1), STAFF, Event.unit_id))
    assert sql.endswith("WHERE event.campaign_id = 1 AND event.unit_id = 7")


def test_visible_takes_the_column_of_a_joined_table() -> None:
    stmt = select(Unit.name).join(Event, col(Event.unit_id) == col(Unit.id))
    assert _sql(visible(stmt, STAFF, col(Unit.id))).endswith("WHERE unit.id = 7")


def test_visible_gives_unitless_staff_nothing() -> None:
    sql = _sql(visible(select(Event), UNITLESS_STAFF, Event.unit_id))
    assert sql.endswith(f"WHERE event.unit_id = {NOTHING}")


def test_visible_on_the_database(engine: Engine) -> None:
    with Session(engine) as session:
        for name in ("区住建局", "石岭镇"):
            session.add(Unit(name=name, kind=UnitKind.department, created_at=NOW))
        session.commit()
        ids = list(session.exec(select(Unit.id).order_by(col(Unit.id))).all())
        staff = Actor(id=None, name="s", role=Role.unit_staff, unit_id=ids[1])
        assert session.exec(visible(select(Unit.id), staff, Unit.id)).all() == [ids[1]]
        everyone = visible(select(Unit.id).order_by(col(Unit.id)), SUPERVISOR, Unit.id)
        assert session.exec(everyone).all() == ids
        other = Actor(id=None, name="s", role=Role.unit_staff, unit_id=ids[0])
        asked = select(Unit.id).where(col(Unit.id) == scope(other, ids[1]))
        assert session.exec(asked).all() == []


# ---- require_visible ---------------------------------------------------------------------------

HIDDEN = NotFound("event_not_found", "活动 1 不存在", "event 1 not found")


@pytest.mark.parametrize("actor", ALL_UNITS, ids=lambda a: a.name)
def test_district_accounts_may_see_any_unit(actor: Actor) -> None:
    require_visible(actor, 8, HIDDEN)


def test_staff_may_see_their_own_unit() -> None:
    require_visible(STAFF, 7, HIDDEN)


def test_another_units_row_is_refused_with_the_sites_own_error() -> None:
    with pytest.raises(NotFound) as caught:
        require_visible(STAFF, 8, HIDDEN)
    assert caught.value is HIDDEN
    assert (caught.value.status, caught.value.code) == (404, "event_not_found")


@pytest.mark.parametrize("actor", (*ALL_UNITS, STAFF), ids=lambda a: a.name)
def test_a_missing_row_is_refused_like_a_hidden_one(actor: Actor) -> None:
    with pytest.raises(NotFound) as caught:
        require_visible(actor, None, HIDDEN)
    assert caught.value is HIDDEN


def test_acting_for_another_unit_is_403_other_unit() -> None:
    refusal = other_unit("不能为其他单位创建活动", "cannot create an event for another unit")
    assert isinstance(refusal, Forbidden)
    with pytest.raises(DomainError) as caught:
        require_visible(STAFF, 8, refusal)
    assert (caught.value.status, caught.value.code) == (403, "other_unit")
    assert caught.value.message_zh == "不能为其他单位创建活动"
    require_visible(STAFF, 7, refusal)
    require_visible(SUPERVISOR, 8, refusal)


def test_unitless_staff_see_no_unit() -> None:
    with pytest.raises(NotFound):
        require_visible(UNITLESS_STAFF, 7, HIDDEN)


# ---- structure: no unit filter written by hand -------------------------------------------------

ROOT = Path(__file__).resolve().parents[2]
WALKED = ("routes", "pages", "web", "workflows", "workers", "cli", "cli.py", "api.py")
RULE = Path("workflows/kernel/visibility.py")
# Names the caller goes by: `actor`, `user` (a page's signed-in person, or a User row),
# `user.actor`, `self.actor`, `request.state.actor`, ...
CALLER_NAMES = frozenset({"actor", "user", "caller", "current_user", "me"})


def _is_caller(node: ast.AST) -> bool:
    if isinstance(node, ast.Name):
        return node.id in CALLER_NAMES
    return isinstance(node, ast.Attribute) and node.attr in CALLER_NAMES


SCOPING_ATTRS = ("unit_id", "district_id")  # the caller's unit and district (issue 28)


def _callers_unit(node: ast.AST, tainted: set[str]) -> bool:
    """`actor.unit_id`, `user.actor.district_id`, or a local name assigned from one."""
    if isinstance(node, ast.Attribute) and node.attr in SCOPING_ATTRS:
        return _is_caller(node.value)
    return isinstance(node, ast.Name) and node.id in tainted


def _has_callers_unit(node: ast.AST, tainted: set[str]) -> bool:
    return any(_callers_unit(n, tainted) for n in ast.walk(node))


def _mentions_unit(node: ast.AST) -> bool:
    """A unit column or attribute (`Event.unit_id`, `row.unit_id`, `Unit.id`) or a unit-ish name."""
    for n in ast.walk(node):
        if isinstance(n, ast.Attribute) and (
            n.attr.endswith(SCOPING_ATTRS)
            or (n.attr == "id" and (_named(n.value, "Unit") or _named(n.value, "District")))
        ):
            return True
        if isinstance(n, ast.Name) and ("unit" in n.id.lower() or "district" in n.id.lower()):
            return True
    return False


def _named(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _tainted_names(scope_node: ast.AST) -> set[str]:
    """Local names assigned from an expression holding the caller's unit (`own = actor.unit_id`)."""
    tainted: set[str] = set()
    for _ in range(3):  # a chain of assignments, a few steps deep
        for n in ast.walk(scope_node):
            targets: list[ast.AST] = []
            if isinstance(n, ast.Assign):
                targets, value = n.targets, n.value
            elif isinstance(n, ast.AnnAssign | ast.NamedExpr) and n.value is not None:
                targets, value = [n.target], n.value
            else:
                continue
            if _has_callers_unit(value, tainted):
                tainted |= {t.id for t in targets if isinstance(t, ast.Name)}
    return tainted


def hand_written_unit_checks(source: str, filename: str = "<snippet>") -> list[str]:
    """Where `source` decides by hand which unit's rows the caller may see."""
    tree = ast.parse(source, filename)
    found: list[tuple[ast.AST, str]] = []
    functions = [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)]
    for scope_node in [tree, *functions]:
        tainted = _tainted_names(scope_node) if scope_node is not tree else set()
        found += _comparisons(scope_node, tainted)
    found += _site_shapes(tree)
    return sorted({f"{filename}:{getattr(n, 'lineno', 0)}: {why}" for n, why in found})


def _comparisons(scope_node: ast.AST, tainted: set[str]) -> Iterator[tuple[ast.AST, str]]:
    """`X.unit_id == actor.unit_id` (either side, any operator) and `filter_by(unit_id=...)`."""
    for n in ast.walk(scope_node):
        if isinstance(n, ast.Compare):
            sides = [n.left, *n.comparators]
            mine = [s for s in sides if _has_callers_unit(s, tainted)]
            if mine and any(_mentions_unit(s) for s in sides if s not in mine):
                yield n, "compares a unit with the caller's: use visible/scope/require_visible"
        elif isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute):
            if n.func.attr in ("filter_by", "where") and any(
                (k.arg or "").endswith(SCOPING_ATTRS) and _has_callers_unit(k.value, tainted)
                for k in n.keywords
            ):
                yield n, "filters by the caller's unit: use visible()"


def _site_shapes(tree: ast.AST) -> Iterator[tuple[ast.AST, str]]:
    """The shapes the rule's sites had: may_see_unit, filters behind sees_all_units, NOTHING."""
    for n in ast.walk(tree):
        if isinstance(n, ast.Attribute) and n.attr in ("may_see_unit", "sees_district"):
            yield n, "asks the actor about a unit or district directly: use the rule's functions"
        elif isinstance(n, ast.If) and _mentions_sees_all(n.test):
            for inner in (m for stmt in n.body for m in ast.walk(stmt)):
                if isinstance(inner, ast.Compare) and _mentions_unit(inner):
                    yield inner, "a unit filter behind sees_all_units: use visible()/scope()"
        elif isinstance(n, ast.IfExp) and _mentions_sees_all(n.test):
            if _has_callers_unit(n, set()):
                yield n, "the caller's unit behind sees_all_units: use scope()"
        elif isinstance(n, ast.Assign) and any(_named(t, "NOTHING") for t in n.targets):
            yield n, "a second no-unit sentinel: import NOTHING from the visibility module"


def _mentions_sees_all(node: ast.AST) -> bool:
    return any(isinstance(n, ast.Attribute) and n.attr == "sees_all_units" for n in ast.walk(node))


def _walked() -> Iterator[Path]:
    for name in WALKED:
        path = ROOT / name
        if path.is_file():
            yield path
        elif path.is_dir():
            yield from sorted(p for p in path.rglob("*.py") if "node_modules" not in p.parts)


def test_no_unit_filter_is_written_by_hand() -> None:
    found: list[str] = []
    walked = 0
    for path in _walked():
        relative = path.relative_to(ROOT)
        if relative == RULE:
            continue
        walked += 1
        found += hand_written_unit_checks(path.read_text(encoding="utf-8"), str(relative))
    assert walked > 50, "the walk found too few modules: has the layout moved?"
    assert not found, "\n".join(found)


CAUGHT = {
    "a district compared by hand": """
def campaigns(actor, stmt):
    return stmt.where(Campaign.district_id == actor.district_id)
""",
    "a district asked by hand": """
def campaign(actor, row):
    if not actor.sees_district(row.district_id):
        raise NotFound("x", "x", "x")
""",
    "the filter in a route": """
@router.get("/events")
def list_events(actor: ActorDep, session: SessionDep):
    return session.exec(select(Event).where(Event.unit_id == actor.unit_id)).all()
""",
    "a page's signed-in person": """
def rows(user, stmt):
    if not user.actor.sees_all_units:
        stmt = stmt.where(Event.unit_id == user.actor.unit_id)
    return stmt
""",
    "through a local name": """
def rows(actor, stmt):
    own = actor.unit_id
    return stmt.where(col(Event.unit_id) == own)
""",
    "reversed, with !=": """
def check(actor, row):
    if actor.unit_id != row.unit_id:
        raise NotFound("x", "x", "x")
""",
    "a copy of the scope function": """
def scoped_unit(actor, unit_id):
    if actor.sees_all_units:
        return unit_id
    if unit_id is not None and unit_id != actor.unit_id:
        return NOTHING
    return actor.unit_id
""",
    "the sentinel again": "NOTHING = -1\n",
    "scope inline": "unit_id = None if actor.sees_all_units else (actor.unit_id or -1)\n",
    "filter_by": "def f(actor, q):\n    return q.filter_by(unit_id=actor.unit_id)\n",
    "gated filter with another name": """
def rows(current, stmt, mine):
    if not current.sees_all_units:
        stmt = stmt.where(Notification.unit_id == mine)
    return stmt
""",
    "may_see_unit at a site": """
def load(actor, row):
    if row is None or not actor.may_see_unit(row.unit_id):
        raise NotFound("x", "x", "x")
""",
}

LEFT_ALONE = {
    "the rule's functions": """
def rows(actor, stmt, unit_id):
    stmt = visible(stmt, actor, Event.unit_id)
    require_visible(actor, unit_id, NotFound("x", "x", "x"))
    return stmt.where(Event.unit_id == scope(actor, unit_id))
""",
    "a filter the caller asked for": """
def rows(stmt, unit_id):
    if unit_id is not None:
        stmt = stmt.where(Event.unit_id == unit_id)
    return stmt
""",
    "a join": "has_event = select(Event.id).where(Event.unit_id == Unit.id)\n",
    "a role gate": """
def summary(actor):
    if not actor.sees_all_units:
        raise Forbidden("supervisor_required", "x", "x")
""",
    "reading the caller's unit": "unit = session.get(Unit, user.unit_id) if user.unit_id else None",
}


@pytest.mark.parametrize("snippet", CAUGHT.values(), ids=CAUGHT.keys())
def test_the_walk_catches_a_hand_written_unit_check(snippet: str) -> None:
    assert hand_written_unit_checks(snippet), snippet


@pytest.mark.parametrize("snippet", LEFT_ALONE.values(), ids=LEFT_ALONE.keys())
def test_the_walk_leaves_legitimate_code_alone(snippet: str) -> None:
    assert hand_written_unit_checks(snippet) == []


# ---- the unit's own acts -----------------------------------------------------------------------


def test_only_the_units_own_staff_act_as_the_unit() -> None:
    assert is_own_unit(STAFF, 7)
    assert not is_own_unit(STAFF, 8)
    assert not is_own_unit(STAFF, None)
    assert not is_own_unit(UNITLESS_STAFF, None)
    for actor in ALL_UNITS:  # district accounts see every unit but do not act as one
        assert not is_own_unit(actor, 7)
    refusal = other_unit("只能由本单位办理", "only the unit itself")
    require_own_unit(STAFF, 7, refusal)
    with pytest.raises(Forbidden):
        require_own_unit(SUPERVISOR, 7, refusal)


def test_an_account_left_with_the_retired_admin_role_has_no_power() -> None:
    """三员分立 (issue 29): the all-duty `admin` role is the console's alone; an account still
    holding it sees no unit and supervises nothing, unlike the console (SYSTEM)."""
    assert not LEGACY_ADMIN.sees_all_units and not LEGACY_ADMIN.is_supervisor
    assert scope(LEGACY_ADMIN, None) == NOTHING
    assert SYSTEM.is_console and SYSTEM.sees_all_units and SYSTEM.is_supervisor
    assert not SYSTEM_ADMIN.is_supervisor and not AUDITOR.can_write


# ---- districts (issue 28) ----------------------------------------------------------------------

DISTRICT_SUPERVISOR = Actor(
    id=6, name="d1", role=Role.supervisor, unit_id=None, district_id=1,
    district_units=frozenset({7, 9}),
)  # fmt: skip
UNLOADED = Actor(id=7, name="d2", role=Role.supervisor, unit_id=None, district_id=2)
CITY_SUPERVISOR = Actor(id=8, name="city", role=Role.supervisor, unit_id=None, city=True)


def test_a_district_account_sees_its_districts_units_only() -> None:
    assert scope(DISTRICT_SUPERVISOR, None) == frozenset({7, 9})
    assert scope(DISTRICT_SUPERVISOR, 9) == 9
    assert scope(DISTRICT_SUPERVISOR, 8) == NOTHING
    require_visible(DISTRICT_SUPERVISOR, 7, HIDDEN)
    with pytest.raises(NotFound):
        require_visible(DISTRICT_SUPERVISOR, 8, HIDDEN)
    sql = _sql(visible(select(Event), DISTRICT_SUPERVISOR, Event.unit_id))
    assert sql.endswith("WHERE (event.unit_id IN (7, 9))")


def test_a_district_account_without_its_units_loaded_sees_nothing() -> None:
    """Failing closed: a district's actor built without its units sees no unit at all."""
    assert scope(UNLOADED, None) == frozenset()
    assert scope(UNLOADED, 7) == NOTHING
    assert _sql(visible(select(Event), UNLOADED, Event.unit_id)).endswith("WHERE 0 = 1")


def test_districts_own_rows_are_read_through_the_rule() -> None:
    from models import Campaign
    from workflows.kernel.visibility import district_of_new, in_districts, require_district

    assert DISTRICT_SUPERVISOR.sees_district(1) and not DISTRICT_SUPERVISOR.sees_district(2)
    assert CITY_SUPERVISOR.sees_district(1) and CITY_SUPERVISOR.sees_district(2)
    assert not CITY_SUPERVISOR.sees_district(None)
    with pytest.raises(NotFound):
        require_district(DISTRICT_SUPERVISOR, 2, HIDDEN)
    stmt = select(Campaign)
    assert in_districts(stmt, CITY_SUPERVISOR, Campaign.district_id) is stmt
    narrowed = _sql(in_districts(stmt, DISTRICT_SUPERVISOR, Campaign.district_id))
    assert narrowed.endswith("WHERE campaign.district_id = 1")
    assert district_of_new(DISTRICT_SUPERVISOR, None) == 1
    with pytest.raises(NotFound):
        district_of_new(DISTRICT_SUPERVISOR, 2)
    with pytest.raises(DomainError) as caught:
        district_of_new(CITY_SUPERVISOR, None)  # a missing district never widens anything
    assert caught.value.code == "district_required"
    assert district_of_new(CITY_SUPERVISOR, 2) == 2


def test_city_supervisors_read_and_change_nothing() -> None:
    assert scope(CITY_SUPERVISOR, None) is None
    assert not CITY_SUPERVISOR.can_write
    with pytest.raises(Forbidden):
        CITY_SUPERVISOR.require_write()
    assert DISTRICT_SUPERVISOR.can_write
