"""Alembic environment of the central store: runs on the connection the caller passes in."""

from __future__ import annotations

from alembic import context

from blt_status.central.db import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
