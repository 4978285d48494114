"""Roster rows carry in plain what the progress report counts: entitlement, payout mode, point name.

Revision ID: 0002
Revises: 0001

None of the three names a person (the amount is the program's, the mode and point are those of
the payout point list), yet the report of the previous release had to unseal every roster row
to read them. The columns are added (nullable: SQLite adds them in place, without copying the
table) and filled, in the same transaction, from the sealed rows of the previous release —
with the store's key, which :func:`blt_status.central.db.upgrade` passes in.

Two indexes are widened so that the report reads what it counts from them (see ``_INDEXES``).

A backfill that fails rolls back (the store stays at 0001 and the previous release keeps
working). SQLite does not undo an ``ALTER TABLE`` that ran outside a transaction, so a column
already there is not added twice: the upgrade is run again as it is.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from alembic import context, op

from blt_status.errors import CentralError

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_COLUMNS = (("amount", sa.BigInteger()), ("mode", sa.String(16)), ("point_name", sa.Text()))
_CHUNK = 5_000
# Widened to cover the report's reads: the roster by subject (each person with ledger events),
# the ledger by epoch and subject (the fold's window). Same names, the old columns first, so
# every query that used them still does.
_INDEXES = (
    ("roster", "ix_roster_subject",
     ["subject", "valid_from", "valid_to", "desa", "point_id", "mode", "amount"]),
    ("payout_events", "ix_payout_events_subject",
     ["epoch_id", "subject", "status", "occurred_at", "id", "amount"]),
)
_NARROW = (("roster", "ix_roster_subject", ["subject"]),
           ("payout_events", "ix_payout_events_subject", ["epoch_id", "subject"]))
# The table as this revision knows it (not the current metadata, which later revisions change).
_roster = sa.table("roster", sa.column("id", sa.Integer), sa.column("subject", sa.String),
                   sa.column("sealed", sa.LargeBinary), sa.column("amount", sa.BigInteger),
                   sa.column("mode", sa.String), sa.column("point_name", sa.Text))


def report_facts(store: CentralStore, subject: str, sealed: bytes) -> dict[str, Any]:
    """The three plain values of one sealed roster row (the body ``roster.roster_row`` seals)."""
    try:
        payload = json.loads(store.unseal(sealed, f"roster|{subject}".encode()))["p"]
        point = payload.get("payout_point") or {}
        return {"amount": int(payload["amount"]), "mode": str(payload["schedule"]["mode"]),
                "point_name": str(point.get("name", ""))}
    except (ValueError, KeyError, TypeError):
        raise CentralError("state_corrupt_db") from None


def upgrade() -> None:
    connection = op.get_bind()
    present = {column["name"] for column in sa.inspect(connection).get_columns("roster")}
    missing = [(name, kind) for name, kind in _COLUMNS if name not in present]
    if missing:
        with op.batch_alter_table("roster") as batch:
            for name, kind in missing:
                batch.add_column(sa.Column(name, kind, nullable=True))
    store: CentralStore = context.config.attributes["store"]
    backfill(connection, store)
    for table, name, columns in _INDEXES:
        _replace_index(connection, table, name, columns)
    # The previous release's cache of these values (private/report_cache.sqlite): obsolete.
    (store.private_dir / "report_cache.sqlite").unlink(missing_ok=True)


def _replace_index(connection: sa.Connection, table: str, name: str,
                   columns: list[str]) -> None:
    """Index ``name`` of ``table`` on ``columns`` (widened in place; kept if already so)."""
    found = {index["name"]: index["column_names"]
             for index in sa.inspect(connection).get_indexes(table)}
    if found.get(name) == columns:
        return
    with op.batch_alter_table(table) as batch:
        if name in found:
            batch.drop_index(name)
        batch.create_index(name, columns)


def backfill(connection: sa.Connection, store: CentralStore) -> int:
    """Fill the three columns of every row that lacks them; the number of rows filled."""
    filled = 0
    last = -1
    update = _roster.update().where(_roster.c.id == sa.bindparam("row_id")).values(
        amount=sa.bindparam("amount"), mode=sa.bindparam("mode"),
        point_name=sa.bindparam("point_name"))
    while True:
        rows = connection.execute(
            sa.select(_roster.c.id, _roster.c.subject, _roster.c.sealed)
            .where(_roster.c.amount.is_(None), _roster.c.id > last)
            .order_by(_roster.c.id).limit(_CHUNK)).all()
        if not rows:
            return filled
        connection.execute(update, [{"row_id": row.id, **report_facts(store, row.subject,
                                                                      row.sealed)}
                                    for row in rows])
        filled += len(rows)
        last = rows[-1].id


def downgrade() -> None:
    for table, name, columns in _NARROW:
        _replace_index(op.get_bind(), table, name, columns)
    with op.batch_alter_table("roster") as batch:
        for name, _kind in reversed(_COLUMNS):
            batch.drop_column(name)
