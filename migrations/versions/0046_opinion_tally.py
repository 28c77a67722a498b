"""opinion tally: the report's opinion counts kept per campaign and unit; the board's
not-told index by unit (issue 32)

Revision ID: 0046
Revises: 0045
Create Date: 2026-12-07 10:00:00

- `opinion_tally` (campaign, event's unit, holding unit → opinions, answered, answered not
  told, late, on time, working days late, back-dated), filled here from the opinions with one
  INSERT … SELECT (workflows/feedback/tally.py's `recount_sql`, frozen below) and kept by the
  workflows in each writing transaction from now on. A tenant table: `district_id` (the
  campaign's), row-level security ENABLEd and FORCEd with 0043's read and write policies.
- `ix_transition_log_submit_summary` and `ix_transition_log_return_for_rework`, partial on
  their trigger, (event_id, id): the report's summaries and reworks read each event's few lines
  of the trigger instead of every line of the campaign's events.
- `ix_feedback_item_answered_not_told` keyed (unit_id, event_id) instead of (event_id): the
  board's count of answers not yet told probes a district's units instead of reading every
  district's not-told answers.

Big tables: feedback_item (read), transition_log (read). One aggregate read of every opinion
fills the tally; two partial indexes are built on transition_log (CREATE INDEX: writes wait,
reads go on) and the not-told index on feedback_item is dropped and rebuilt (DROP INDEX holds
feedback_item exclusively to the commit: reads wait too). The tally and the not-told index: 1.7 s
on the city benchmark's 977,770 opinions; the two transition_log indexes 0.1 s at 97,580 lines.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0046"
down_revision: str | None = "0045"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

COUNTS = (
    "opinions", "answered", "answered_not_told", "answered_late", "answered_on_time",
    "workdays_late", "answered_backdated",
)  # fmt: skip
NOT_TOLD = "state = 'answered' AND told_at IS NULL"
TRIGGERS = ("submit_summary", "return_for_rework")


def _recount(postgres: bool) -> str:
    told = "f.told_at IS NOT NULL"
    late = "coalesce(f.answered_late_workdays, 0)"
    typed_on = (
        "CAST(timezone('Asia/Shanghai', f.answered_at) AS DATE)"
        if postgres
        else "date(f.answered_at, '+8 hours')"
    )
    back = f"f.answered_at IS NOT NULL AND f.answered_on IS NOT NULL AND f.answered_on < {typed_on}"
    return (
        "INSERT INTO opinion_tally (campaign_id, event_unit_id, unit_id, district_id, "
        + ", ".join(COUNTS)
        + ") SELECT e.campaign_id, e.unit_id, f.unit_id, min(c.district_id), count(*), "
        f"sum(CASE WHEN {told} THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN f.answered_at IS NOT NULL AND f.told_at IS NULL THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} > 0 THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} <= 0 THEN 1 ELSE 0 END), "
        f"sum(CASE WHEN {told} AND {late} > 0 THEN {late} ELSE 0 END), "
        f"sum(CASE WHEN {back} THEN 1 ELSE 0 END) "
        "FROM feedback_item f JOIN event e ON e.id = f.event_id "
        "JOIN campaign c ON c.id = e.campaign_id "
        "GROUP BY e.campaign_id, e.unit_id, f.unit_id"
    )


def _not_told_index(*columns: str) -> None:
    op.drop_index("ix_feedback_item_answered_not_told", table_name="feedback_item")
    op.create_index(
        "ix_feedback_item_answered_not_told",
        "feedback_item",
        list(columns),
        postgresql_where=sa.text(NOT_TOLD),
        sqlite_where=sa.text(NOT_TOLD),
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    op.create_table(
        "opinion_tally",
        sa.Column("campaign_id", sa.Integer(), sa.ForeignKey("campaign.id"), primary_key=True),
        sa.Column("event_unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("unit_id", sa.Integer(), sa.ForeignKey("unit.id"), primary_key=True),
        sa.Column("district_id", sa.Integer(), sa.ForeignKey("district.id"), nullable=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in COUNTS),
    )
    op.execute(_recount(postgres))
    _not_told_index("unit_id", "event_id")
    for trigger in TRIGGERS:
        op.create_index(
            f"ix_transition_log_{trigger}",
            "transition_log",
            ["event_id", "id"],
            postgresql_where=sa.text(f"trigger = '{trigger}'"),
            sqlite_where=sa.text(f"trigger = '{trigger}'"),
        )
    if not postgres:
        return
    op.execute('ALTER TABLE "opinion_tally" ENABLE ROW LEVEL SECURITY')
    op.execute('ALTER TABLE "opinion_tally" FORCE ROW LEVEL SECURITY')
    op.execute(
        'CREATE POLICY tenant_read ON "opinion_tally" FOR SELECT '
        "USING (openday_sees_district(district_id, false))"
    )
    op.execute(
        'CREATE POLICY tenant_write ON "opinion_tally" FOR ALL '
        "USING (openday_sees_district(district_id, true)) "
        "WITH CHECK (openday_sees_district(district_id, true))"
    )


def downgrade() -> None:
    for trigger in TRIGGERS:
        op.drop_index(f"ix_transition_log_{trigger}", table_name="transition_log")
    _not_told_index("event_id")
    op.drop_table("opinion_tally")
