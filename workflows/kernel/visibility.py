"""Who is asking, and which units' rows they may see: the one visibility rule.

Admins, supervisors and viewers see every unit; unit staff see their own unit only. Every
route, page and workflow asks this module: `visible` narrows a select, `scope` narrows a list
filter, `require_visible` refuses one row. Nothing else compares a unit against the caller's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from models import Role, User
from workflows.kernel.errors import DomainError, Forbidden

NOTHING = -1
"""A unit id no unit has: the scope of staff asking for another unit (their list is empty)."""


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
        nothing at all)."""
        return self.role in (Role.supervisor, Role.unit_staff) or self.is_console

    @property
    def is_supervisor(self) -> bool:
        """District-office supervisors (and the console) may spot-check and manage campaigns;
        the administrators administer (三员分立) and do not supervise."""
        return self.role == Role.supervisor or self.is_console

    def may_see_unit(self, unit_id: int) -> bool:
        """Whether this caller may read anything of the unit."""
        return self.sees_all_units or self.unit_id == unit_id

    def require_write(self) -> None:
        """Refuse any change by a read-only account."""
        if not self.can_write:
            raise Forbidden(
                "read_only",
                "只读账号和管理员账号不能修改活动数据",
                "this account is read-only for the campaign's records",
            )

    def require_supervisor(self) -> None:
        """Refuse callers who are not district-office supervisors (or the console)."""
        if not self.is_supervisor:
            raise Forbidden(
                "supervisor_required",
                "仅区政府办督查人员可执行此操作",
                "only district-office supervisors may do this",
            )

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a user row."""
        return cls(
            id=user.id,
            name=user.username,
            role=user.role,
            unit_id=user.unit_id,
            must_change_password=bool(user.must_change_password),
        )


SYSTEM = Actor(id=None, name="system", role=Role.admin, unit_id=None)
"""The console (`openday …`) and the service's own jobs: see Actor.is_console."""


class _Filterable(Protocol):
    def where(self, *whereclause: Any) -> Any: ...


S = TypeVar("S", bound=_Filterable)


def scope(actor: Actor, requested_unit: int | None) -> int | None:
    """The unit a list is narrowed to: None means every unit (callers who see all units and
    asked for none); staff get their own unit, and `NOTHING` (an empty list) when they ask
    for another one."""
    if actor.sees_all_units:
        return requested_unit
    own = NOTHING if actor.unit_id is None else actor.unit_id
    if requested_unit is not None and requested_unit != own:
        return NOTHING
    return own


def visible(statement: S, actor: Actor, unit_column: Any) -> S:
    """`statement` with the rows of the actor's own unit only (`unit_column` says where a row's
    unit is), or unchanged for callers who see every unit."""
    unit_id = scope(actor, None)
    if unit_id is None:
        return statement
    return statement.where(unit_column == unit_id)


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
