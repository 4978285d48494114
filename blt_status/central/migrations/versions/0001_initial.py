"""The central store's first database schema: versions, roster, key cache, ledger, flags.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")


def upgrade() -> None:
    op.create_table(
        "versions",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("epoch_id", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("program", sa.Text, nullable=False),
        sa.Column("inputs", sa.Text, nullable=False),
        sa.Column("canaries", sa.Text, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("kecamatan", sa.Text, nullable=False),
        sa.Column("changes", sa.Text, nullable=False),
    )
    op.create_table(
        "roster",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("nik_last4", sa.String(4), nullable=False),
        sa.Column("kecamatan", sa.String(16), nullable=False),
        sa.Column("desa", sa.String(20), nullable=False),
        sa.Column("point_id", sa.String(64)),
        sa.Column("payload_hash", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary, nullable=False),
        sa.Column("valid_from", sa.Integer, nullable=False),
        sa.Column("valid_to", sa.Integer),
    )
    with op.batch_alter_table("roster") as batch:
        batch.create_index("ix_roster_current", ["valid_to", "kecamatan"])
        batch.create_index("ix_roster_subject", ["subject"])
    op.create_table(
        "key_cache",
        sa.Column("epoch_id", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("view", sa.String(16), primary_key=True),
        sa.Column("key_shard", sa.String(16), nullable=False),
        sa.Column("root_key", sa.LargeBinary, nullable=False),
        sa.Column("blob", sa.LargeBinary),
        sa.Column("blob_hash", sa.String(64)),
        sa.Column("version", sa.Integer, nullable=False),
    )
    op.create_table(
        "payout_events",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("epoch_id", sa.String(16), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("nik_last4", sa.String(4), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("occurred_offset", sa.Integer, nullable=False),
        sa.Column("point_id", sa.String(64), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_ref", sa.String(128), nullable=False),
        sa.Column("row_ref", sa.String(128), nullable=False),
        sa.Column("reason_code", sa.String(64)),
        sa.Column("amount", sa.BigInteger),
        sa.Column("note", sa.LargeBinary),
        sa.Column("received_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("source", "source_ref", "row_ref", name="uq_payout_events_ref"),
    )
    with op.batch_alter_table("payout_events") as batch:
        batch.create_index("ix_payout_events_subject", ["epoch_id", "subject"])
        batch.create_index("ix_payout_events_received", ["received_at"])
    op.create_table(
        "flags",
        sa.Column("id", _ID, primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.BigInteger, sa.ForeignKey("payout_events.id"),
                  nullable=False),
        sa.Column("code", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(8), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("kecamatan", sa.String(16)),
    )
    with op.batch_alter_table("flags") as batch:
        batch.create_index("ix_flags_event", ["event_id"])


def downgrade() -> None:
    for table in ("flags", "payout_events", "key_cache", "roster", "versions"):
        op.drop_table(table)
