"""row-level security on the remaining tenant tables: audit chains, timers, notifications (issue 28)

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-07 06:50:00

`change_log`, `transition_log`, `notification`, `inbox_message`, `timer`, `outbox` and
`audit_anchor` get a `district_id` column (NULL: a city-level row, such as a digest, a
calendar change or the change log's anchor). On PostgreSQL:

- existing rows are backfilled with one set-based UPDATE per table (the append-only triggers
  of the audit tables are disabled for that statement only; no hashed field changes, so every
  chain's hashes stay as they are: `district_id` is not in audit.HASHED_FIELDS);
- a BEFORE INSERT trigger per table fills `district_id` when the writer left it unset, from the
  row it concerns (its event, unit, campaign, account or notification), else from the
  transaction's own district (`openday.district`), so a row is always its district's whatever
  path inserted it;
- row-level security is ENABLEd and FORCEd with 0042's read and write policies on the row's own
  `district_id` (`openday_sees_district`): a district sees its own rows; a NULL-district row is
  seen only by the city scopes (readers read it, writers and jobs write it), never a district;
- the change log is ONE chain for the whole city, so appending a line must read the chain's
  true tail, which a district's transaction cannot see: `openday_change_log_tail()` takes the
  chain's lock and reads the tail under `openday.scope = city:sweep` (the function's own SET,
  restored when it returns). It returns only (seq, row_hash). `openday audit verify` walks the
  whole chain and so runs under a city scope (the CLI's, or the jobs').

SQLite has no row-level security: it gets the column (unset; the application rule reads the
event, unit and account instead) and nothing else.

Big tables: transition_log, change_log and notification are updated once each (one UPDATE
joining event and campaign); not measured at city scale.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0043"
down_revision: str | None = "0042"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = (
    "change_log", "transition_log", "notification", "inbox_message", "timer", "outbox",
    "audit_anchor",
)  # fmt: skip
APPEND_ONLY = ("change_log", "transition_log", "audit_anchor")
CHANGE_LOG_LOCK = 0x6F70656E64617902  # workflows/kernel/audit.py _LOCK_KEYS["change_log"]

# The district of a row, from the row (`r`) it concerns. Each is a scalar subquery, so one
# UPDATE per table backfills, and the insert trigger evaluates the same for NEW.
_EVENT = (
    "(SELECT c.district_id FROM event e JOIN campaign c ON c.id = e.campaign_id WHERE e.id = {})"
)
_UNIT = "(SELECT u.district_id FROM unit u WHERE u.id = {})"
_CAMPAIGN = "(SELECT c.district_id FROM campaign c WHERE c.id = {})"
_ACCOUNT = "(SELECT a.district_id FROM account a WHERE a.id = {})"
_BULLETIN = (
    "(SELECT c.district_id FROM bulletin b JOIN campaign c ON c.id = b.campaign_id WHERE b.id = {})"
)
_NOTIFICATION = "(SELECT n.district_id FROM notification n WHERE n.id = {})"


def _of(table: str, r: str) -> str:
    """The district expression of `table`'s row `r` (without the transaction's fallback)."""
    if table == "transition_log":
        return _EVENT.format(f"{r}.event_id")
    if table == "change_log":
        return (
            f"coalesce({_UNIT.format(f'{r}.unit_id')}, CASE {r}.entity "
            f"WHEN 'unit' THEN {_UNIT.format(f'{r}.entity_id')} "
            f"WHEN 'campaign' THEN {_CAMPAIGN.format(f'{r}.entity_id')} "
            f"WHEN 'account' THEN {_ACCOUNT.format(f'{r}.entity_id')} "
            f"WHEN 'event' THEN {_EVENT.format(f'{r}.entity_id')} END)"
        )
    if table in ("notification", "timer"):
        extra = f", {_UNIT.format(f'{r}.unit_id')}" if table == "notification" else ""
        return (
            f"coalesce({_EVENT.format(f'{r}.event_id')}{extra}, CASE {r}.subject_type "
            f"WHEN 'bulletin' THEN {_BULLETIN.format(f'{r}.subject_id')} END)"
        )
    if table == "inbox_message":
        # The notification's district, else (a digest, city-wide) the reader's own.
        return (
            f"coalesce({_NOTIFICATION.format(f'{r}.notification_id')}, "
            f"{_ACCOUNT.format(f'{r}.user_id')})"
        )
    if table == "audit_anchor":
        return (
            f"CASE WHEN {r}.table_name = 'transition_log' THEN {_EVENT.format(f'{r}.event_id')} END"
        )
    return "NULL::integer"  # outbox: the writer's (set by the application or the fallback)


_CURRENT = "nullif(current_setting('openday.district', true), '')::integer"


def _fill_trigger(table: str) -> str:
    # A digest and its timer are city-level (one per recipient, items of any district): never
    # the writer's district, so a district's transaction cannot write one (fails closed).
    fallback = _CURRENT
    if table in ("notification", "timer"):
        fallback = f"CASE WHEN NEW.subject_type <> 'digest' THEN {_CURRENT} END"
    return f"""
CREATE FUNCTION openday_fill_district_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.district_id IS NULL THEN
    NEW.district_id := coalesce({_of(table, "NEW")}, {fallback});
  END IF;
  RETURN NEW;
END
$$;
CREATE TRIGGER {table}_fill_district BEFORE INSERT ON "{table}"
  FOR EACH ROW EXECUTE FUNCTION openday_fill_district_{table}();
"""


TAIL_FUNCTION = f"""
CREATE FUNCTION openday_change_log_tail(OUT tail_seq bigint, OUT tail_hash varchar)
LANGUAGE plpgsql VOLATILE SET openday.scope = 'city:sweep' AS $$
BEGIN
  PERFORM pg_advisory_xact_lock({CHANGE_LOG_LOCK});
  SELECT c.seq, c.row_hash INTO tail_seq, tail_hash
    FROM change_log c ORDER BY c.seq DESC LIMIT 1;
END
$$;
"""


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in TABLES:
        op.execute(f'ALTER TABLE "{table}" ADD COLUMN district_id INTEGER REFERENCES district (id)')
    if not postgres:
        return
    for table in TABLES:  # parents first: inbox_message reads notification's district
        if table in APPEND_ONLY:
            op.execute(f'ALTER TABLE "{table}" DISABLE TRIGGER USER')
        op.execute(f'UPDATE "{table}" AS r SET district_id = {_of(table, "r")}')
        if table in APPEND_ONLY:
            op.execute(f'ALTER TABLE "{table}" ENABLE TRIGGER USER')
    for table in TABLES:
        op.execute(_fill_trigger(table))
        op.execute(f'ALTER TABLE "{table}" ENABLE ROW LEVEL SECURITY')
        op.execute(f'ALTER TABLE "{table}" FORCE ROW LEVEL SECURITY')
        op.execute(
            f'CREATE POLICY tenant_read ON "{table}" FOR SELECT '
            "USING (openday_sees_district(district_id, false))"
        )
        op.execute(
            f'CREATE POLICY tenant_write ON "{table}" FOR ALL '
            "USING (openday_sees_district(district_id, true)) "
            "WITH CHECK (openday_sees_district(district_id, true))"
        )
    op.execute(TAIL_FUNCTION)


def downgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    if postgres:
        op.execute("DROP FUNCTION IF EXISTS openday_change_log_tail()")
        for table in TABLES:
            op.execute(f'DROP POLICY IF EXISTS tenant_read ON "{table}"')
            op.execute(f'DROP POLICY IF EXISTS tenant_write ON "{table}"')
            op.execute(f'ALTER TABLE "{table}" NO FORCE ROW LEVEL SECURITY')
            op.execute(f'ALTER TABLE "{table}" DISABLE ROW LEVEL SECURITY')
            op.execute(f'DROP TRIGGER IF EXISTS {table}_fill_district ON "{table}"')
            op.execute(f"DROP FUNCTION IF EXISTS openday_fill_district_{table}()")
    for table in TABLES:  # SQLite 3.35+ drops a column in place (its triggers stay)
        op.execute(f'ALTER TABLE "{table}" DROP COLUMN district_id')
