"""waiting-list offers with an answer window (issue 27)

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-06 23:30:00

A place that comes free is offered to the first on the waiting list until `offer_until`
(registration state `offered`, a durable timer row ends the window; `lapsed` when nobody
answered in time). An offered registration is a person's active one, so the partial unique
index of one active registration per person and campaign now counts `offered` too. No existing
row changes: nobody is offered anything before this revision.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030"
down_revision: str | None = "0029"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD = "state IN ('registered', 'waitlisted', 'confirmed') AND person_key IS NOT NULL"
_NEW = "state IN ('registered', 'waitlisted', 'confirmed', 'offered') AND person_key IS NOT NULL"


def _person_index(where: str) -> None:
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.drop_index("uq_public_registration_person")
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.create_index(
            "uq_public_registration_person",
            ["campaign_id", "person_key"],
            unique=True,
            postgresql_where=sa.text(where),
            sqlite_where=sa.text(where),
        )


def upgrade() -> None:
    from models.types import UTCDateTime

    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.add_column(sa.Column("offer_until", UTCDateTime(timezone=True), nullable=True))
    _person_index(_NEW)


def downgrade() -> None:
    op.execute("UPDATE public_registration SET state = 'waitlisted' WHERE state = 'offered'")
    op.execute("UPDATE public_registration SET state = 'cancelled' WHERE state = 'lapsed'")
    _person_index(_OLD)
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.drop_column("offer_until")
