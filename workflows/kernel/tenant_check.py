"""`openday verify tenants`: does PostgreSQL really keep each district's rows to itself?

Row-level security is easy to have on paper and inert in fact: a service connecting as a
superuser, a BYPASSRLS role, or the tables' owner without FORCE skips every policy. So this
connects as the service does (OPENDAY_DATABASE_URL) and checks, on the database itself:

1. the role has neither SUPERUSER nor BYPASSRLS;
2. every table with a `district_id` column (but the shared `account`) and every child and line
   table of workflows/kernel/tenancy.py has row-level security ENABLEd and FORCEd, with its
   policies;
3. a canary unit of district A, written in a transaction that is rolled back, is invisible to
   a transaction working for district B and to one with no district set (which sees no unit at
   all), and visible to district A's; so are a notification, a timer and a change-log line
   written for it under A without naming a district (the insert trigger gives them A's).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from workflows.kernel import tenancy


@dataclass
class Report:
    """What was checked: each line passed or failed."""

    lines: list[tuple[bool, str]] = field(default_factory=list)

    def add(self, ok: bool, text: str) -> None:
        """Record one check."""
        self.lines.append((ok, text))

    @property
    def ok(self) -> bool:
        """Every check passed (and there was at least one)."""
        return bool(self.lines) and all(ok for ok, _ in self.lines)


def verify(engine: Engine) -> Report:
    """Run every check on `engine` (the service's own URL and role)."""
    report = Report()
    if engine.dialect.name != "postgresql":
        report.add(True, "SQLite：无行级安全，仅由应用规则隔离 / SQLite: no row-level security, "
                   "the application rule alone isolates districts")  # fmt: skip
        return report
    with engine.connect() as conn:  # one transaction, rolled back: the canary leaves nothing
        try:
            _role(conn, report)
            _tables(conn, report)
            _canary(conn, report)
        finally:
            conn.rollback()
    return report


def privileges(conn: Connection) -> tuple[str, list[str]]:
    """The connected role's name and which of SUPERUSER and BYPASSRLS it has (PostgreSQL): each
    skips every row-level security policy."""
    row = conn.execute(
        sa.text(
            "SELECT current_user AS name, rolsuper, rolbypassrls FROM pg_roles "
            "WHERE rolname = current_user"
        )
    ).one()
    return str(row.name), [p for p, has in (("SUPERUSER", row.rolsuper),
                                            ("BYPASSRLS", row.rolbypassrls)) if has]  # fmt: skip


def _role(conn: Connection, report: Report) -> None:
    name, powers = privileges(conn)
    superuser, bypass = "SUPERUSER" in powers, "BYPASSRLS" in powers
    report.add(not superuser, f"角色 {name} 不是超级用户 / role {name} is not SUPERUSER")
    report.add(not bypass, f"角色 {name} 无 BYPASSRLS / role has no BYPASSRLS")


_TABLES = sa.text(
    """
    SELECT c.relname AS name, c.relrowsecurity AS enabled, c.relforcerowsecurity AS forced,
           (SELECT count(*) FROM pg_policies p
             WHERE p.schemaname = n.nspname AND p.tablename = c.relname) AS policies,
           EXISTS (SELECT 1 FROM information_schema.columns i
                    WHERE i.table_schema = n.nspname AND i.table_name = c.relname
                      AND i.column_name = 'district_id') AS has_district
      FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
     WHERE n.nspname = current_schema() AND c.relkind = 'r'
    """
)


def _tables(conn: Connection, report: Report) -> None:
    rows = {r.name: r for r in conn.execute(_TABLES)}
    wanted = {n for n, r in rows.items() if r.has_district} - set(tenancy.SHARED_TABLES)
    wanted |= set(tenancy.ROOT_TABLES) | set(tenancy.CHILD_TABLES) | set(tenancy.LINE_TABLES)
    for name in sorted(wanted):
        r = rows.get(name)
        if r is None:
            report.add(False, f"表 {name} 不存在 / table {name} is missing")
            continue
        fine = r.enabled and r.forced and r.policies >= 2
        report.add(
            fine,
            f"表 {name}：行级安全 {'已' if r.enabled else '未'}启用、{'已' if r.forced else '未'}"
            f"强制，策略 {r.policies} 条 / table {name}: RLS enabled={r.enabled} "
            f"forced={r.forced} policies={r.policies}",
        )


def _bind(conn: Connection, district: int | None, scope: str = "") -> None:
    conn.execute(
        sa.text(
            "SELECT set_config('openday.district', :d, true), set_config('openday.scope', :s, true)"
        ),
        {"d": "" if district is None else str(district), "s": scope},
    )


def _count(conn: Connection, unit_id: int | None = None) -> int:
    stmt = "SELECT count(*) FROM unit" + ("" if unit_id is None else " WHERE id = :u")
    return int(conn.execute(sa.text(stmt), {"u": unit_id}).scalar_one())


def _canary(conn: Connection, report: Report) -> None:
    tag = secrets.token_hex(4)
    _bind(conn, None, tenancy.CLI)
    insert = sa.text(
        "INSERT INTO district (code, name, city_name, office_name, created_at) "
        "VALUES (:code, :name, '', '', now()) RETURNING id"
    )
    a = conn.execute(insert, {"code": f"canary-a-{tag}", "name": f"金丝雀甲{tag}"}).scalar_one()
    b = conn.execute(insert, {"code": f"canary-b-{tag}", "name": f"金丝雀乙{tag}"}).scalar_one()
    _bind(conn, a)
    unit = conn.execute(
        sa.text(
            "INSERT INTO unit (district_id, name, kind, created_at, webhook_format) "
            "VALUES (:d, :name, 'other', now(), 'json') RETURNING id"
        ),
        {"d": a, "name": f"金丝雀单位{tag}"},
    ).scalar_one()
    lines = {table: _line(conn, table, unit, tag) for table in _LINES}
    report.add(_count(conn, unit) == 1, "甲区看得见甲区的金丝雀单位 / district A sees its canary")
    for table, row in lines.items():
        report.add(
            _seen(conn, table, row) == 1, f"甲区看得见自己的 {table} / district A sees its {table}"
        )
    _bind(conn, b)
    report.add(
        _count(conn, unit) == 0, "乙区看不见甲区的金丝雀单位 / district B does not see A's canary"
    )
    for table, row in lines.items():
        report.add(
            _seen(conn, table, row) == 0,
            f"乙区看不见甲区的 {table} / district B does not see A's {table}",
        )
    _bind(conn, None)
    report.add(
        _count(conn) == 0, "未设区县时看不到任何单位 / with no district set, no unit is seen"
    )
    for table, row in lines.items():
        report.add(
            _seen(conn, table, row) == 0,
            f"未设区县时看不到 {table} / with no district set, no {table} is seen",
        )


# Canary lines of district A, written with no district_id: the insert trigger must give them
# A's (from the unit, or the transaction's district), and the policies must hide them from B.
_LINES = ("notification", "timer", "change_log")
_INSERTS = {
    "notification": "INSERT INTO notification (key, subject_type, subject_id, unit_id, rule, "
    "kind, level, channel, recipient, title, body, state, attempts, created_at) VALUES "
    "(:tag, 'canary', 0, :unit, 'canary', 'reminder', 0, 'log', 'canary', '', '', 'withdrawn', "
    "0, now()) RETURNING id",
    "timer": "INSERT INTO timer (rule, kind, level, subject_type, subject_id, deadline_on, "
    "due_at, provisional, state, created_at) VALUES ('canary', 'reminder', 0, :tag, 0, "
    "current_date, now(), false, 'cancelled', now()) RETURNING id",
    # A seq no chain uses (negative), rolled back with the rest.
    "change_log": "INSERT INTO change_log (at, actor_name, entity, entity_id, unit_id, action, "
    "before, after, seq, prev_hash, row_hash) VALUES (now(), 'canary', 'unit', :unit, :unit, "
    "'canary', '{}', '{}', -(:unit), '', :tag) RETURNING id",
}


def _line(conn: Connection, table: str, unit: int, tag: str) -> int:
    return int(
        conn.execute(sa.text(_INSERTS[table]), {"unit": unit, "tag": f"canary-{tag}"}).scalar_one()
    )


def _seen(conn: Connection, table: str, row: int) -> int:
    stmt = sa.text(f'SELECT count(*) FROM "{table}" WHERE id = :id')  # noqa: S608 (listed names)
    return int(conn.execute(stmt, {"id": row}).scalar_one())
