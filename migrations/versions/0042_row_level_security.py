"""row-level security: PostgreSQL keeps each district's rows to itself (issue 28)

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-07 03:40:00

On PostgreSQL every tenant table below gets ROW LEVEL SECURITY, ENABLEd and FORCEd (so the
table's owner is held to it too; superusers and BYPASSRLS roles never are, which is why the
service connects as a runtime role with neither: `openday verify tenants` checks it). The
policies read two settings of the current transaction, which workflows/kernel/tenancy.py sets
with `set_config(..., true)` whenever a session begins a transaction:

- `openday.district`: the district the transaction works for;
- `openday.scope`: one of the named city-wide scopes (readers: city:read, city:public;
  writers: city:admin, city:sweep, city:cli, city:migrate).

With neither set, a tenant table shows no row and takes none. A table holding `district_id`
is checked on its own column; a child table through its parent's row (which the parent's own
policy must let the transaction see), and written only where the transaction may write.
SQLite has no row-level security: nothing to do there.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0042"
down_revision: str | None = "0041"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

READ_SCOPES = ("city:read", "city:public")
WRITE_SCOPES = ("city:admin", "city:sweep", "city:cli", "city:migrate")

# Tables with their own district column.
ROOTS = ("unit", "campaign")
# Child tables: (table, foreign key column, parent table), parents before children. The key is
# NOT NULL in each (a row of no parent would belong to no district).
CHILDREN = (
    ("unit_name", "unit_id", "unit"),
    ("event", "campaign_id", "campaign"),
    ("bulletin", "campaign_id", "campaign"),
    ("sample_draw", "campaign_id", "campaign"),
    ("campaign_unit", "campaign_id", "campaign"),
    ("public_registration", "campaign_id", "campaign"),
    ("attachment", "event_id", "event"),
    ("cancellation_request", "event_id", "event"),
    ("correction_request", "event_id", "event"),
    ("invitee", "event_id", "event"),
    ("site_visit", "event_id", "event"),
    ("spot_check", "event_id", "event"),
    ("summary", "event_id", "event"),
    ("feedback_item", "event_id", "event"),
    ("rectification", "event_id", "event"),
    ("event_filing", "event_id", "event"),
    ("extension_request", "feedback_item_id", "feedback_item"),
    ("feedback_transfer", "feedback_item_id", "feedback_item"),
    ("opinion_reply", "feedback_item_id", "feedback_item"),
    ("rectification_file", "rectification_id", "rectification"),
    ("visit_photo", "visit_id", "site_visit"),
)


def _list(values: Sequence[str]) -> str:
    return "ARRAY[" + ", ".join(f"'{v}'" for v in values) + "]"


FUNCTIONS = f"""
CREATE FUNCTION openday_may_write() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(current_setting('openday.district', true), '') <> ''
      OR coalesce(current_setting('openday.scope', true), '') = ANY ({_list(WRITE_SCOPES)})
$$;
CREATE FUNCTION openday_sees_district(row_district integer, writing boolean)
RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT coalesce(
           row_district = nullif(current_setting('openday.district', true), '')::integer,
           false)
      OR coalesce(current_setting('openday.scope', true), '') = ANY (
           CASE WHEN writing THEN {_list(WRITE_SCOPES)}
                ELSE {_list(READ_SCOPES + WRITE_SCOPES)} END)
$$;
"""


def _secure(table: str) -> None:
    op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
    op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTIONS)
    for table in ROOTS:
        _secure(table)
        op.execute(
            f'CREATE POLICY tenant_read ON "{table}" FOR SELECT '
            "USING (openday_sees_district(district_id, false))"
        )
        op.execute(
            f'CREATE POLICY tenant_write ON "{table}" FOR ALL '
            "USING (openday_sees_district(district_id, true)) "
            "WITH CHECK (openday_sees_district(district_id, true))"
        )
    for table, key, parent in CHILDREN:
        _secure(table)
        # The parent's row as this transaction may see it (its own policy applies inside).
        seen = f'EXISTS (SELECT 1 FROM "{parent}" p WHERE p.id = "{table}".{key})'
        op.execute(f'CREATE POLICY tenant_read ON "{table}" FOR SELECT USING ({seen})')
        op.execute(
            f'CREATE POLICY tenant_write ON "{table}" FOR ALL '
            f"USING (openday_may_write() AND {seen}) "
            f"WITH CHECK (openday_may_write() AND {seen})"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in (*ROOTS, *(c[0] for c in CHILDREN)):
        op.execute(f'DROP POLICY IF EXISTS tenant_read ON "{table}"')
        op.execute(f'DROP POLICY IF EXISTS tenant_write ON "{table}"')
        op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
    op.execute("DROP FUNCTION IF EXISTS openday_sees_district(integer, boolean)")
    op.execute("DROP FUNCTION IF EXISTS openday_may_write()")
