"""event tally: events per campaign, unit and state, kept by triggers on `event` (issue 32)

Revision ID: 0047
Revises: 0046
Create Date: 2026-12-07 13:00:00

The board's funnel (各阶段活动数), its count of summaries waiting for a spot check and of units
with an event counted a district's events on every view: a scan of every event of the campaign
(26 ms at 100,000 events, most of the board's 25 ms budget). `event_tally` holds those counts
per (campaign, unit, state), and triggers on `event` keep them in the writing statement's own
transaction, whichever door wrote the row (the ORM, the schedule import's Core insert, SQL
seeds): +1 for an inserted event, -1 for a deleted one, and for an update that changes the
state, the unit or the campaign -1 on the old row and +1 on the new. On PostgreSQL the two rows
are touched in key order, so two moves crossing in opposite directions (a rework against a
submission of the same unit) cannot deadlock on them.

A tenant table: `district_id` (the campaign's), row-level security ENABLEd and FORCEd with
0043's read and write policies; the trigger runs as the writer, whose transaction already
writes that district's event. Filled here from the events with one INSERT … SELECT.

Big tables: event. Read once by the fill: 65 ms at 100,000 events; creating the triggers
holds `event` ShareRowExclusive (writes wait, reads go on) for an instant.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FILL = (
    "INSERT INTO event_tally (campaign_id, unit_id, state, district_id, events) "
    "SELECT e.campaign_id, e.unit_id, e.state, min(c.district_id), count(*) "
    "FROM event e JOIN campaign c ON c.id = e.campaign_id "
    "GROUP BY e.campaign_id, e.unit_id, e.state"
)

_ADD = """
    INSERT INTO event_tally (campaign_id, unit_id, state, district_id, events)
    VALUES ({r}.campaign_id, {r}.unit_id, {r}.state,
            (SELECT district_id FROM campaign WHERE id = {r}.campaign_id), 1)
    ON CONFLICT (campaign_id, unit_id, state) DO UPDATE SET events = event_tally.events + 1;
"""
_TAKE = """
    UPDATE event_tally SET events = events - 1
    WHERE campaign_id = {r}.campaign_id AND unit_id = {r}.unit_id AND state = {r}.state;
"""
_CHANGED = (
    "OLD.state IS DISTINCT FROM NEW.state OR OLD.unit_id IS DISTINCT FROM NEW.unit_id "
    "OR OLD.campaign_id IS DISTINCT FROM NEW.campaign_id"
)

_PG_FUNCTION = f"""
CREATE FUNCTION openday_event_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_ADD.format(r="NEW")}
  ELSIF TG_OP = 'DELETE' THEN
    {_TAKE.format(r="OLD")}
  ELSIF (OLD.campaign_id, OLD.unit_id, OLD.state) < (NEW.campaign_id, NEW.unit_id, NEW.state) THEN
    {_TAKE.format(r="OLD")}
    {_ADD.format(r="NEW")}
  ELSE
    {_ADD.format(r="NEW")}
    {_TAKE.format(r="OLD")}
  END IF;
  RETURN NULL;
END
$$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER event_tally_insert_delete AFTER INSERT OR DELETE ON event "
    "FOR EACH ROW EXECUTE FUNCTION openday_event_tally()",
    "CREATE TRIGGER event_tally_update AFTER UPDATE OF state, unit_id, campaign_id ON event "
    f"FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION openday_event_tally()",
)
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER event_tally_insert AFTER INSERT ON event BEGIN {_ADD.format(r='NEW')} END",
    f"CREATE TRIGGER event_tally_delete AFTER DELETE ON event BEGIN {_TAKE.format(r='OLD')} END",
    "CREATE TRIGGER event_tally_update AFTER UPDATE OF state, unit_id, campaign_id ON event "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    f"BEGIN {_TAKE.format(r='OLD')} {_ADD.format(r='NEW')} END",
)
_TRIGGER_NAMES = {
    "postgresql": ("event_tally_insert_delete", "event_tally_update"),
    "sqlite": ("event_tally_insert", "event_tally_delete", "event_tally_update"),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "event_tally",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("state", sa.String(32), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("district.id"), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
    )
    op.execute(FILL)
    if not postgres:
        for statement in _SQLITE_TRIGGERS:
            op.execute(statement)
        return
    op.execute(_PG_FUNCTION)
    for statement in _PG_TRIGGERS:
        op.execute(statement)
    op.execute('ALTER TABLE "event_tally" ENABLE ROW LEVEL SECURITY')
    op.execute('ALTER TABLE "event_tally" FORCE ROW LEVEL SECURITY')
    op.execute(
        'CREATE POLICY tenant_read ON "event_tally" FOR SELECT '
        "USING (openday_sees_district(district_id, false))"
    )
    op.execute(
        'CREATE POLICY tenant_write ON "event_tally" FOR ALL '
        "USING (openday_sees_district(district_id, true)) "
        "WITH CHECK (openday_sees_district(district_id, true))"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for name in _TRIGGER_NAMES["postgresql" if dialect == "postgresql" else "sqlite"]:
        op.execute(
            f"DROP TRIGGER IF EXISTS {name}" + (" ON event" if dialect == "postgresql" else "")
        )
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS openday_event_tally()")
    op.drop_table("event_tally")
