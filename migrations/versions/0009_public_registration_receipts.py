"""public registration, public places per event, receipt codes of opinions

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30 22:00:00

Big tables: feedback_item. One UPDATE per opinion (its receipt code), then a unique index. Before
release 0016: not measured.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.types
from models.codes import new_code

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ACTIVE = "state IN ('registered', 'waitlisted', 'confirmed') AND person_key IS NOT NULL"


def upgrade() -> None:
    op.create_table(
        "public_registration",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=12), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=50), nullable=False),
        sa.Column("district", sa.String(length=50), nullable=True),
        sa.Column("phone_enc", sa.Text(), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_last4", sa.String(length=4), nullable=True),
        sa.Column("id_enc", sa.Text(), nullable=True),
        sa.Column("id_hash", sa.String(length=64), nullable=True),
        sa.Column("person_key", sa.String(length=64), nullable=True),
        sa.Column("decline_reason", sa.String(length=300), nullable=True),
        sa.Column("invitee_id", sa.Integer(), nullable=True),
        sa.Column("consent_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", models.types.UTCDateTime(timezone=True), nullable=False),
        sa.Column("purged_at", models.types.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["campaign_id"], ["campaign.id"]),
        sa.ForeignKeyConstraint(["event_id"], ["event.id"]),
        sa.ForeignKeyConstraint(["invitee_id"], ["invitee.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("code"),
    )
    with op.batch_alter_table("public_registration", schema=None) as batch_op:
        batch_op.create_index("ix_public_registration_campaign_id", ["campaign_id"], unique=False)
        batch_op.create_index(
            "ix_public_registration_event_state", ["event_id", "state", "id"], unique=False
        )
        batch_op.create_index("ix_public_registration_id_hash", ["id_hash"], unique=False)
        batch_op.create_index("ix_public_registration_phone_hash", ["phone_hash"], unique=False)
        batch_op.create_index(
            "uq_public_registration_person",
            ["campaign_id", "person_key"],
            unique=True,
            postgresql_where=sa.text(_ACTIVE),
            sqlite_where=sa.text(_ACTIVE),
        )
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("public_places", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.add_column(sa.Column("receipt_code", sa.String(length=12), nullable=True))
    # Opinions recorded before receipts existed get one too.
    conn = op.get_bind()
    ids = [row[0] for row in conn.execute(sa.text("SELECT id FROM feedback_item"))]
    for item_id in ids:
        conn.execute(
            sa.text("UPDATE feedback_item SET receipt_code = :code WHERE id = :id"),
            {"code": new_code(), "id": item_id},
        )
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.create_index("ix_feedback_item_receipt_code", ["receipt_code"], unique=True)


def downgrade() -> None:
    with op.batch_alter_table("feedback_item", schema=None) as batch_op:
        batch_op.drop_index("ix_feedback_item_receipt_code")
        batch_op.drop_column("receipt_code")
    with op.batch_alter_table("event", schema=None) as batch_op:
        batch_op.drop_column("public_places")
    op.drop_table("public_registration")
