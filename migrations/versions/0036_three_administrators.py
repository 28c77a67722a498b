"""三员分立: existing admin accounts become security administrators (issue 29)

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-07 00:30:00

Administrator powers are split three ways (system, security, audit administrator; no account
holds two). Every existing `admin` account becomes a `security_admin`: it keeps managing
accounts, so it can create the system administrator and the audit administrator the deployment
now needs (`openday users create --role system_admin|audit_admin`, or 管理 → 账号). It no longer
loads the calendar, manages units or reads the audit. Each change is an audit line on the
account (`role_split`, with this note), chained like any other; at its next sign-in the account
enrols a second factor (OPENDAY_TOTP_REQUIRED_ROLES). Downgrading gives them `admin` back.

Big tables: none. Updates the admin accounts and adds one change_log line for each.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0036"
down_revision: str | None = "0035"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

NOTE = (
    "三员分立：原管理员账号已改为安全管理员；请另建系统管理员和审计管理员账号 / separation of "
    "duties: this admin account is now a security administrator; create a system administrator "
    "and an audit administrator"
)


def upgrade() -> None:
    import models
    from workflows.kernel.audit import _chain

    account = sa.table("account", sa.column("id"), sa.column("role"), sa.column("unit_id"))
    bind = op.get_bind()
    ids = [row.id for row in bind.execute(sa.select(account.c.id).where(account.c.role == "admin"))]
    if not ids:
        return
    bind.execute(sa.update(account).where(account.c.id.in_(ids)).values(role="security_admin"))
    table = models.ChangeLog.__table__
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = [
        {"at": now, "actor_id": None, "actor_name": "system", "entity": "account",
         "entity_id": ident, "unit_id": None, "action": "role_split",
         "before": {"role": "admin"}, "after": {"role": "security_admin", "note": NOTE}}
        for ident in ids
    ]  # fmt: skip
    for row in rows:
        _chain(bind, table, [row])
        bind.execute(sa.insert(table).values(**row))


def downgrade() -> None:
    account = sa.table("account", sa.column("role"))
    op.get_bind().execute(
        sa.update(account).where(account.c.role == "security_admin").values(role="admin")
    )
