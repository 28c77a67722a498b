"""Who is asking, and which units' rows they may see: the one visibility rule.

The city holds districts, a district holds units (docs/tenancy.md). Unit staff see their own
unit only; a district's admins, supervisors and viewers see every unit of their district and
nothing of another; city-level accounts (`district_id` None) see every district, and city
supervisors and viewers only read. Every route, page and workflow asks this module: `visible`
narrows a select, `scope` narrows a list filter, `require_visible` refuses one row,
`sees_district` / `require_district` a district's own rows (campaigns, units, accounts).
Nothing else compares a unit or a district against the caller's.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, Protocol, TypeVar

from sqlalchemy import and_, false, or_

from models import DEFAULT_DISTRICT, Role, User
from workflows.kernel.errors import DomainError, Forbidden, InvalidData, NotFound
from workflows.kernel.id_set import IdIn

NOTHING = -1
"""A unit id no unit has: the scope of staff asking for another unit (their list is empty)."""

UnitScope = int | frozenset[int] | None
"""What a list is narrowed to: one unit, the units of one district, or None (every unit)."""

SOLE_OFFICE = "区政府办"
"""The district office in running text as it read before districts: what a city of one district
still reads, and what a refusal says when the caller's office was not read with it."""

CITY_READERS = (Role.supervisor, Role.viewer, Role.audit_admin)
"""City-level roles that read every district and change nothing in one; a district's security
administrator may grant a city supervisor acting in it (`Actor.acting`, `acting_in`)."""


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the domain needs it (no ORM row)."""

    id: int | None
    name: str
    role: str
    unit_id: int | None
    # Signed in with a one-time password: only changing it (or signing out) is allowed.
    must_change_password: bool = False
    # The account's display name as read with the token ("" when it has none); None when not
    # read (an actor built elsewhere): then whoever needs it asks the account row.
    display_name: str | None = None

    @property
    def is_console(self) -> bool:
        """The console and the service's own jobs (SYSTEM): no account, every duty. The legacy
        `admin` role is theirs alone; an account left holding it has no power (issue 29)."""
        return self.id is None and self.role == Role.admin

    # The district the account acts in; None: the city level (or a system job, or an actor
    # built without an account). Set from `account.district_id` by `of` and the token lookup.
    district_id: int | None = None
    # The ids of the units of `district_id`, loaded with the actor: what a district's
    # supervisor sees. None with a district set sees no unit (fails closed).
    district_units: frozenset[int] | None = None
    # Loaded from a city-level account (district_id None): reads every district.
    city: bool = False
    # A city supervisor's active grants (workflows/accounts/grants.py): the districts whose
    # security administrator let it act there as the district's own supervisor would.
    acting: frozenset[int] = frozenset()
    # The office of the caller's district as running text names it (districts.office_words:
    # 安岳县政府办; 区县政府办 at the city level; 区政府办 in a city of one district), read with
    # the token; "" when not read (an actor built elsewhere).
    office: str = ""

    @property
    def office_zh(self) -> str:
        """The caller's district office for a refusal's words (区政府办 when not read)."""
        return self.office or SOLE_OFFICE

    def office_of_district(self, district_id: int | None) -> str:
        """The caller's office words when they are those of the district too (a city of one
        district, or its own district), else "" (whoever asks reads the district's)."""
        if self.office == SOLE_OFFICE or (self.office and district_id == self.district_id):
            return self.office
        return ""

    def office_of_unit(self, unit_id: int) -> str:
        """`office_of_district` for the district of a unit the caller's district holds (its own
        unit, or one of its district's), else ""."""
        if self.office == SOLE_OFFICE:
            return self.office
        if self.office and self.district_id is not None and self.may_see_unit(unit_id):
            return self.office
        return ""

    @property
    def sees_all_units(self) -> bool:
        """Supervisors, viewers and the administrators see every unit; staff only their own."""
        return self.is_console or self.role in (
            Role.supervisor, Role.viewer, Role.system_admin, Role.security_admin, Role.audit_admin,
        )  # fmt: skip

    @property
    def can_write(self) -> bool:
        """Who changes the campaign's records (events, opinions, summaries…): supervisors, unit
        staff and the console. Viewers are read-only, and so are the three administrators
        (三员分立: they administer the system, not the campaign; the audit administrator changes
        nothing at all). City supervisors only read."""
        if self.city and self.role in CITY_READERS:
            return False  # city supervisors read every district and act in none (yet)
        return self.role in (Role.supervisor, Role.unit_staff) or self.is_console

    @property
    def in_district(self) -> bool:
        """A district-level account: confined to its district's units and rows."""
        return self.district_id is not None and self.role != Role.unit_staff

    def sees_district(self, district_id: int | None) -> bool:
        """Whether this caller may read the district's own rows (campaigns, units, accounts):
        its own district, or every one at the city level (`district_id` None: no row, no)."""
        if district_id is None:
            return False
        return self.district_id is None or self.district_id == district_id

    @property
    def is_supervisor(self) -> bool:
        """District-office supervisors (and the console) may spot-check and manage campaigns;
        the administrators administer (三员分立) and do not supervise."""
        return self.role == Role.supervisor or self.is_console

    def may_see_unit(self, unit_id: int) -> bool:
        """Whether this caller may read anything of the unit."""
        if not self.sees_all_units:
            return self.unit_id == unit_id
        if self.in_district:
            return unit_id in (self.district_units or ())
        return True

    def require_write(self) -> None:
        """Refuse any change by a read-only account."""
        if self.city and self.role == Role.supervisor:
            raise grant_required()
        if not self.can_write:
            raise Forbidden(
                "read_only",
                "只读账号和管理员账号不能修改活动数据",
                "this account is read-only for the campaign's records",
            )

    def require_acting(self) -> None:
        """Refuse any change by the city's readers: city supervisors, viewers and the audit
        administrator read every district and act in none (docs/tenancy.md), not even where
        their role would act in a district (accounts, units, decisions)."""
        if self.city and self.role in CITY_READERS:
            raise Forbidden(
                "read_only",
                "市级督查和只读账号只能查看各区县数据，不能修改",
                "city-level supervisors and viewers read every district and change nothing",
            )

    def require_acting_supervisor(self) -> None:
        """A supervisor's act (a decision, a draw, a visit, a campaign's change): refused to
        callers who are not supervisors (403 `supervisor_required`) and to a city supervisor
        not acting in a district (403 `district_grant_required`): it acts only as the actor
        `tenancy.act_in` / `act_in_district` made of it in a district that granted it."""
        self.require_supervisor()
        if self.city and self.role == Role.supervisor:
            raise grant_required()
        self.require_acting()

    def require_supervisor(self) -> None:
        """Refuse callers who are not district-office supervisors (or the console)."""
        if not self.is_supervisor:
            raise Forbidden(
                "supervisor_required",
                f"仅{self.office_zh}督查人员可执行此操作",
                "only district-office supervisors may do this",
            )

    @classmethod
    def of(cls, user: User, district_units: frozenset[int] | None = None) -> Actor:
        """The actor for a user row; a district-level account sees the `district_units`
        given (workflows.accounts.service.district_units loads them), none when omitted."""
        return cls(
            id=user.id,
            name=user.username,
            role=user.role,
            unit_id=user.unit_id,
            must_change_password=bool(user.must_change_password),
            district_id=user.district_id,
            district_units=district_units,
            city=user.district_id is None and user.role != Role.unit_staff,
        )


def grant_required(district_name: str = "") -> Forbidden:
    """The refusal of a city supervisor acting in a district without that district's grant."""
    where = f"“{district_name}”" if district_name else "该区县"
    return Forbidden(
        "district_grant_required",
        f"市级督查人员只能查看；在{where}办理须由该区县的安全管理员授权",
        "a city supervisor only reads; acting in a district needs that district's grant",
    )


def acts_in(actor: Actor) -> frozenset[int] | None:
    """The districts the actor may act in (change records of): None for every district (the
    city's administrators and the console), a district account's own, a city supervisor's
    granted ones, none for the other city readers."""
    if actor.district_id is not None:
        return frozenset({actor.district_id})
    if actor.city and actor.role in CITY_READERS:
        return actor.acting if actor.role == Role.supervisor else frozenset()
    return None


def can_act(actor: Actor, district_id: int | None) -> bool:
    """Whether the actor may change records of the district (`district_id` None: no row)."""
    allowed = acts_in(actor)
    return district_id is not None and (allowed is None or district_id in allowed)


def acting_in(actor: Actor, district_id: int, district_units: frozenset[int]) -> Actor:
    """The actor a write in `district_id` runs with: unchanged for everyone but a city
    supervisor, who acts there as the district's own supervisor would where it holds the
    district's grant (403 `district_grant_required` otherwise); its reads elsewhere stay.
    The audit lines name the supervisor's own account."""
    if not (actor.city and actor.role in CITY_READERS):
        return actor
    if actor.role != Role.supervisor or not can_act(actor, district_id):
        raise grant_required()
    office = actor.office if actor.office == SOLE_OFFICE else ""  # its district's: not read
    return replace(actor, district_id=district_id, district_units=district_units, city=False,
                   acting=frozenset(), office=office)  # fmt: skip


def acts_by_grant(actor: Actor) -> bool:
    """A city supervisor holding some district's grant: its writes are narrowed to the row's
    district (`tenancy.act_in`) before the row is locked."""
    return actor.city and actor.role == Role.supervisor and bool(actor.acting)


def require_write_somewhere(actor: Actor) -> None:
    """`require_write` for a check made before the row (so its district) is known, e.g. a move's
    role gate: a city supervisor holding some district's grant passes, and the write itself
    runs through `tenancy.act_in`, which refuses it outside the granted districts."""
    if acts_by_grant(actor):
        return
    actor.require_write()


SYSTEM = Actor(id=None, name="system", role=Role.admin, unit_id=None)
"""The console (`openday …`) and the service's own jobs: see Actor.is_console."""


class _Filterable(Protocol):
    def where(self, *whereclause: Any) -> Any: ...


S = TypeVar("S", bound=_Filterable)


def scope(actor: Actor, requested_unit: int | None) -> UnitScope:
    """The units a list is narrowed to: None means every unit (city-level callers who asked
    for none); a district's accounts get the unit asked for when it is their district's, else
    their district's units; staff get their own unit; `NOTHING` (an empty list) for a unit
    asked for that the caller may not see."""
    if requested_unit is not None:
        return requested_unit if actor.may_see_unit(requested_unit) else NOTHING
    if actor.sees_all_units:
        return (actor.district_units or frozenset()) if actor.in_district else None
    return NOTHING if actor.unit_id is None else actor.unit_id


def unit_clause(unit_column: Any, scoped: UnitScope) -> Any:
    """The WHERE clause of a scope on the column holding a row's unit; None for every unit."""
    if scoped is None:
        return None
    if isinstance(scoped, frozenset):
        return IdIn(unit_column, scoped) if scoped else false()
    return unit_column == scoped


def within(statement: S, unit_column: Any, scoped: UnitScope) -> S:
    """`statement` narrowed to a scope (from `scope`) on the column holding a row's unit."""
    clause = unit_clause(unit_column, scoped)
    return statement if clause is None else statement.where(clause)


def visible(statement: S, actor: Actor, unit_column: Any) -> S:
    """`statement` with the rows of the units the actor may see (`unit_column` says where a
    row's unit is), or unchanged for callers who see every unit."""
    return within(statement, unit_column, scope(actor, None))


def visible_with(
    statement: S, actor: Actor, unit_column: Any, district_rows: Callable[[int], Any]
) -> S:
    """As `visible`, and for a district's accounts also the rows of no unit that
    `district_rows(district_id)` (a WHERE clause) says are that district's: an audit line of
    one of its campaigns or accounts."""
    scoped = scope(actor, None)
    if scoped is None:
        return statement
    clause = unit_clause(unit_column, scoped)
    if actor.in_district and actor.district_id is not None:
        clause = or_(clause, and_(unit_column.is_(None), district_rows(actor.district_id)))
    return statement.where(clause)


def in_districts(statement: S, actor: Actor, district_column: Any) -> S:
    """`statement` with the rows of the actor's district only (`district_column` says where a
    row's district is: campaigns, units, accounts), or unchanged at the city level."""
    if actor.district_id is None:
        return statement
    return statement.where(district_column == actor.district_id)


def district_of_new(actor: Actor, requested: int | None) -> int:
    """The district a new campaign, unit or account of the actor's belongs to: the actor's own
    (a different one asked for is refused as unknown), or at the city level the one named.
    A city-level caller naming none is refused: a missing district never widens anything."""
    if actor.district_id is not None:
        if requested is not None and requested != actor.district_id:
            raise NotFound(
                "district_not_found", f"区县 {requested} 不存在", f"district {requested} not found"
            )
        return actor.district_id
    if requested is None:
        if actor.city:
            raise InvalidData(
                "district_required",
                "请指定所属区县",
                "name the district this belongs to",
            )
        return DEFAULT_DISTRICT
    return requested


def require_level(actor: Actor, district_id: int | None, refusal: DomainError) -> None:
    """Raise `refusal` unless a row of the level `district_id` (None: the city level, e.g. a
    city account) is the actor's to manage: a city-level actor manages every level, a
    district's only its own district's rows."""
    if actor.district_id is not None and district_id != actor.district_id:
        raise refusal


def of_district(actor: Actor, district_id: int | None) -> bool:
    """Whether the actor is a district-level account of that very district (what only the
    district's own administrators do: granting a city supervisor acting in it)."""
    return district_id is not None and actor.district_id == district_id


def require_district(actor: Actor, district_id: int | None, refusal: DomainError) -> None:
    """Raise `refusal` (the row's own NotFound) unless the actor may read the district's rows;
    `district_id` None stands for a missing row and is refused the same way."""
    if not actor.sees_district(district_id):
        raise refusal


def require_visible(actor: Actor, unit_id: int | None, refusal: DomainError) -> None:
    """Raise `refusal` unless the actor may see the unit's rows.

    `unit_id` None stands for a row that does not exist and is refused the same way, so a
    unit's staff cannot tell another unit's row from a missing one. Reads refuse with the
    row's own NotFound (404, e.g. `event_not_found`); acting for another unit with
    `other_unit(...)` (403).
    """
    if unit_id is None or not actor.may_see_unit(unit_id):
        raise refusal


def sees_unit(actor: Actor, unit_id: int | None) -> bool:
    """Whether the actor may read the unit's rows (`unit_id` None: no row, so no): for a page
    choosing what to show or where to go next, where require_visible would refuse."""
    return unit_id is not None and actor.may_see_unit(unit_id)


def is_own_unit(actor: Actor, unit_id: int | None) -> bool:
    """Whether the actor is staff of that very unit: what only the unit itself does (report a
    rectification, ask for a correction) is not done by district accounts that see every unit."""
    return unit_id is not None and not actor.sees_all_units and actor.unit_id == unit_id


def require_own_unit(actor: Actor, unit_id: int | None, refusal: DomainError) -> None:
    """Raise `refusal` unless the actor is staff of that very unit (see is_own_unit)."""
    if not is_own_unit(actor, unit_id):
        raise refusal


def other_unit(zh: str, en: str) -> Forbidden:
    """The refusal of acting for a unit the caller does not belong to (403 `other_unit`)."""
    return Forbidden("other_unit", zh, en)
