"""Each person's deciding ledger event in a table of its own, kept by every append.

Revision ID: 0003
Revises: 0002

The progress report counted people by folding the whole ledger of the epoch (a window over
every event, per person) at every run: at a million events that fold was most of a national
report's time. ``payout_outcomes`` holds its result, one row per epoch and person with events
(the first final event, salur or kembali, in ``(occurred_at, id)`` order, with its time, id
and reported amount; else ``gagal``), and every ledger append merges its events into it in the
same transaction (``ledger.merge_outcomes``). This revision creates the table and fills it from
the ledger with the same window, in the upgrade's transaction: a fill that fails leaves the
store at 0002, usable by the previous release. The table holds what the ledger holds (keyed
subjects, no NIK, no name).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The tables as this revision knows them (not the current metadata, which later revisions
# may change).
_events = sa.table("payout_events", sa.column("id", sa.BigInteger),
                   sa.column("epoch_id", sa.String), sa.column("subject", sa.String),
                   sa.column("status", sa.String), sa.column("occurred_at", sa.DateTime),
                   sa.column("amount", sa.BigInteger))
_COLUMNS = ["epoch_id", "subject", "status", "occurred_at", "event_id", "amount"]


def upgrade() -> None:
    # Derived data: a table left by an earlier attempt whose DDL outlived its rollback
    # (SQLite outside a transaction) is made again.
    op.execute("DROP TABLE IF EXISTS payout_outcomes")
    outcomes = op.create_table(
        "payout_outcomes",
        sa.Column("epoch_id", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(64), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("occurred_at", sa.DateTime),
        sa.Column("event_id", sa.BigInteger),
        sa.Column("amount", sa.BigInteger),
        sqlite_with_rowid=False,
    )
    assert outcomes is not None
    events = _events.c
    final = events.status.in_(("salur", "kembali"))
    rank = sa.func.row_number().over(
        partition_by=(events.epoch_id, events.subject),
        order_by=(sa.case((final, 0), else_=1), events.occurred_at, events.id))
    first = sa.select(events.epoch_id, events.subject, events.status, events.occurred_at,
                      events.id, events.amount, rank.label("rank")).subquery("ranked")
    final_row = first.c.status != "gagal"
    op.get_bind().execute(outcomes.insert().from_select(_COLUMNS, sa.select(
        first.c.epoch_id, first.c.subject, first.c.status,
        sa.case((final_row, first.c.occurred_at)), sa.case((final_row, first.c.id)),
        sa.case((final_row, first.c.amount))).where(first.c.rank == 1)))


def downgrade() -> None:
    op.drop_table("payout_outcomes")
