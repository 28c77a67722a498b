"""Local passwords switched off per role (OPENDAY_PASSWORD_OFF_ROLES): those accounts sign in
through the unified identity service only."""

from __future__ import annotations

from collections.abc import Collection

from models import User
from workflows.kernel.errors import Forbidden


def require_password_allowed(user: User, off_roles: Collection[str]) -> None:
    """Refuse a password sign-in of a role whose local passwords are off (checked after the
    password itself, so the refusal tells nothing to someone without it)."""
    if str(user.role) in off_roles:
        raise Forbidden(
            "password_sign_in_off",
            "该角色的账号须通过统一身份认证登录，不能使用本地密码",
            "accounts of this role sign in through the unified identity service only",
            details={"role": str(user.role)},
        )
