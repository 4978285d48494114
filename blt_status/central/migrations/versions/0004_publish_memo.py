"""Roster rows remember what their payload was made from; key-cache rows their lookup tag.

Revision ID: 0004
Revises: 0003

A re-publish rebuilt every recipient's payload (unsealing the checked row, computing the
entitlement, encoding and hashing the payload) only to find, for nearly all of them, the hash
it had published; and it unsealed every cached Argon2id key only to compute the lookup tag the
shard already holds. Two nullable columns let it skip both:

- ``roster.source_hash``: a keyed hash of the payload's inputs (the checked row, its schedule,
  payout point and program; see ``plan.StreamedPlan.source_of``). Equal inputs make the equal
  payload, so a recipient whose inputs hash the same keeps its roster row, cached key and
  sealed records without the payload being built.
- ``key_cache.tag``: the key's lookup tag (public: it is what the shard lists).

Neither is backfilled: NULL means "not known", and a publish computes what it needs as the
previous release did, then writes both for the rows it writes. SQLite adds a nullable column in
place; a column already there (an ``ALTER TABLE`` that outlived a failed upgrade on SQLite) is
not added twice.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_COLUMNS = (("roster", "source_hash", sa.String(64)), ("key_cache", "tag", sa.LargeBinary()))


def upgrade() -> None:
    inspector = sa.inspect(op.get_bind())
    for table, name, kind in _COLUMNS:
        if name not in {column["name"] for column in inspector.get_columns(table)}:
            with op.batch_alter_table(table) as batch:
                batch.add_column(sa.Column(name, kind, nullable=True))


def downgrade() -> None:
    for table, name, _kind in reversed(_COLUMNS):
        with op.batch_alter_table(table) as batch:
            batch.drop_column(name)
