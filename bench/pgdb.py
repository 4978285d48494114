"""A new PostgreSQL database per measured store, for the benchmarks' ``--db URL``.

A central store's database must be empty, so each size a benchmark measures gets its own,
named after the URL's database plus a suffix (dropped first if an earlier run left it).
"""

from __future__ import annotations

import sqlalchemy as sa


def fresh_database(url: str, suffix: str) -> str:
    """The URL of an empty database ``<url's database><suffix>`` on ``url``'s server."""
    base = sa.engine.make_url(url)
    name = f"{base.database}{suffix}"
    server = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with server.connect() as connection:
        connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    server.dispose()
    return base.set(database=name).render_as_string(hide_password=False)
