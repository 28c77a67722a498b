"""event tally: events per campaign, unit and state, kept by triggers on `event`; the first
summary's lateness on the event (issues 28, 32)

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

`event.summary_late_seconds`: how late the summary's first submission came (0 on time, NULL
never submitted), set by the submit_summary move from now on and filled here from each event's
first submit_summary line (its `late_seconds`). The report read every line of a campaign's
events to find each event's first (93 ms for 全市对比 at city scale); the tally now also counts
the summaries first submitted on time and late; `ix_event_summary_late` finds the late ones for
the assessment's records, and `ix_event_summary_unsent` the held events whose summary was never
submitted (it was an anti-join of the campaigns' events against every submission line: 86 ms).

A tenant table: `district_id` (the campaign's), row-level security ENABLEd and FORCEd with
0043's read and write policies; the trigger runs as the writer, whose transaction already
writes that district's event. Filled here from the events with one INSERT … SELECT.

Big tables: event, transition_log. One UPDATE of every event with a submitted summary (from its
first submit_summary line, through the trigger's partial index), then one read of every event
fills the tally; two partial indexes on `event`; creating the triggers holds `event`
ShareRowExclusive (writes wait, reads go on).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0047"
down_revision: str | None = "0046"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ON_TIME = "CASE WHEN {r}.summary_late_seconds < 1 THEN 1 ELSE 0 END"
LATE = "CASE WHEN {r}.summary_late_seconds >= 1 THEN 1 ELSE 0 END"
FILL = (
    "INSERT INTO event_tally (campaign_id, unit_id, state, district_id, events, "
    "summaries_on_time, summaries_late) "
    "SELECT e.campaign_id, e.unit_id, e.state, min(c.district_id), count(*), "
    f"sum({ON_TIME.format(r='e')}), sum({LATE.format(r='e')}) "
    "FROM event e JOIN campaign c ON c.id = e.campaign_id "
    "GROUP BY e.campaign_id, e.unit_id, e.state"
)
# Each event's first submit_summary line's lateness (the line's `late_seconds`, 0 if absent).
_FIRST_LINE = (
    "SELECT {late} FROM transition_log t WHERE t.event_id = event.id "
    "AND t.trigger = 'submit_summary' ORDER BY t.id LIMIT 1"
)
_LATE_PG = "coalesce((t.data ->> 'late_seconds')::numeric, 0)::integer"
_LATE_SQLITE = "CAST(coalesce(json_extract(t.data, '$.late_seconds'), 0) AS INTEGER)"

_ADD = """
    INSERT INTO event_tally (campaign_id, unit_id, state, district_id, events,
                             summaries_on_time, summaries_late)
    VALUES ({r}.campaign_id, {r}.unit_id, {r}.state,
            (SELECT district_id FROM campaign WHERE id = {r}.campaign_id), 1,
            {on_time}, {late})
    ON CONFLICT (campaign_id, unit_id, state) DO UPDATE SET
      events = event_tally.events + 1,
      summaries_on_time = event_tally.summaries_on_time + excluded.summaries_on_time,
      summaries_late = event_tally.summaries_late + excluded.summaries_late;
"""
_TAKE = """
    UPDATE event_tally SET events = events - 1,
      summaries_on_time = summaries_on_time - {on_time},
      summaries_late = summaries_late - {late}
    WHERE campaign_id = {r}.campaign_id AND unit_id = {r}.unit_id AND state = {r}.state;
"""


def _add(r: str) -> str:
    return _ADD.format(r=r, on_time=ON_TIME.format(r=r), late=LATE.format(r=r))


def _take(r: str) -> str:
    return _TAKE.format(r=r, on_time=ON_TIME.format(r=r), late=LATE.format(r=r))


WATCHED = ("state", "unit_id", "campaign_id", "summary_late_seconds")
_CHANGED = " OR ".join(f"OLD.{c} IS DISTINCT FROM NEW.{c}" for c in WATCHED)

_PG_FUNCTION = f"""
CREATE FUNCTION openday_event_tally() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    {_add("NEW")}
  ELSIF TG_OP = 'DELETE' THEN
    {_take("OLD")}
  ELSIF (OLD.campaign_id, OLD.unit_id, OLD.state) < (NEW.campaign_id, NEW.unit_id, NEW.state) THEN
    {_take("OLD")}
    {_add("NEW")}
  ELSE
    {_add("NEW")}
    {_take("OLD")}
  END IF;
  RETURN NULL;
END
$$
"""
_PG_TRIGGERS = (
    "CREATE TRIGGER event_tally_insert_delete AFTER INSERT OR DELETE ON event "
    "FOR EACH ROW EXECUTE FUNCTION openday_event_tally()",
    f"CREATE TRIGGER event_tally_update AFTER UPDATE OF {', '.join(WATCHED)} ON event "
    f"FOR EACH ROW WHEN ({_CHANGED}) EXECUTE FUNCTION openday_event_tally()",
)
_SQLITE_TRIGGERS = (
    f"CREATE TRIGGER event_tally_insert AFTER INSERT ON event BEGIN {_add('NEW')} END",
    f"CREATE TRIGGER event_tally_delete AFTER DELETE ON event BEGIN {_take('OLD')} END",
    f"CREATE TRIGGER event_tally_update AFTER UPDATE OF {', '.join(WATCHED)} ON event "
    f"WHEN {_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} "
    f"BEGIN {_take('OLD')} {_add('NEW')} END",
)
_TRIGGER_NAMES = {
    "postgresql": ("event_tally_insert_delete", "event_tally_update"),
    "sqlite": ("event_tally_insert", "event_tally_delete", "event_tally_update"),
}


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.add_column("event", sa.Column("summary_late_seconds", sa.Integer(), nullable=True))
    first = _FIRST_LINE.format(late=_LATE_PG if postgres else _LATE_SQLITE)
    op.execute(
        f"UPDATE event SET summary_late_seconds = ({first}) WHERE EXISTS (SELECT 1 FROM "
        "transition_log t WHERE t.event_id = event.id AND t.trigger = 'submit_summary')"
    )
    op.create_index(
        "ix_event_summary_late",
        "event",
        ["campaign_id"],
        postgresql_where=sa.text("summary_late_seconds >= 1"),
        sqlite_where=sa.text("summary_late_seconds >= 1"),
    )
    unsent = "held_on IS NOT NULL AND summary_late_seconds IS NULL"
    op.create_index(
        "ix_event_summary_unsent",
        "event",
        ["campaign_id", "summary_due_at"],
        postgresql_where=sa.text(unsent),
        sqlite_where=sa.text(unsent),
    )
    op.create_table(
        "event_tally",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("state", sa.String(32), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("district.id"), nullable=True),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("summaries_on_time", sa.Integer(), nullable=False),
        sa.Column("summaries_late", sa.Integer(), nullable=False),
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
    op.drop_index("ix_event_summary_unsent", table_name="event")
    op.drop_index("ix_event_summary_late", table_name="event")
    with op.batch_alter_table("event") as batch:
        batch.drop_column("summary_late_seconds")
