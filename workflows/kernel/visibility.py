"""Who is asking, and which units' rows they may see: the one visibility rule."""

from __future__ import annotations

from dataclasses import dataclass

from models import Role, User
from workflows.kernel.errors import Forbidden


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the domain needs it (no ORM row)."""

    id: int | None
    name: str
    role: str
    unit_id: int | None

    @property
    def sees_all_units(self) -> bool:
        """Admins, supervisors and viewers see every unit; staff only their own."""
        return self.role in (Role.admin, Role.supervisor, Role.viewer)

    @property
    def can_write(self) -> bool:
        """Viewers are read-only."""
        return self.role != Role.viewer

    @property
    def is_supervisor(self) -> bool:
        """District-office supervisors (and admins) may spot-check and manage campaigns."""
        return self.role in (Role.admin, Role.supervisor)

    def may_see_unit(self, unit_id: int) -> bool:
        """Whether this caller may read anything of the unit."""
        return self.sees_all_units or self.unit_id == unit_id

    def require_write(self) -> None:
        """Refuse any change by a read-only account."""
        if not self.can_write:
            raise Forbidden("read_only", "只读账号不能修改数据", "this account is read-only")

    def require_unit(self, unit_id: int, zh: str, en: str) -> None:
        """Refuse acting for a unit the caller does not belong to (supervisors act for any)."""
        if not self.may_see_unit(unit_id):
            raise Forbidden("other_unit", zh, en)

    def require_supervisor(self) -> None:
        """Refuse callers who are not district-office supervisors or admins."""
        if not self.is_supervisor:
            raise Forbidden(
                "supervisor_required",
                "仅区政府办督查人员或管理员可执行此操作",
                "only district-office supervisors or admins may do this",
            )

    @classmethod
    def of(cls, user: User) -> Actor:
        """The actor for a user row."""
        return cls(id=user.id, name=user.username, role=user.role, unit_id=user.unit_id)


SYSTEM = Actor(id=None, name="system", role=Role.admin, unit_id=None)
