"""The central store's database: one SQLAlchemy Core ``MetaData``, the engine, the schema check.

SQLite in ``DIR/private/central.db`` by default (nothing to install); PostgreSQL (psycopg 3)
when ``central init DIR --db postgresql+psycopg://...`` saved a URL in ``private/config.json``
or ``BLT_CENTRAL_DB`` names one. One code path for both.

Tables (people are keyed by ``subject``, an HMAC of the NIK under a key derived from the master
pepper, so the database alone never reveals a NIK; what is personal is sealed with AES-GCM):

    versions       one row per published version: epoch, program, inputs, canaries, counts
    roster         the published roster, temporal: a row is part of version v when
                   valid_from <= v and (valid_to is null or valid_to > v); sealed NIK + payload,
                   and in plain what the progress report counts and no person is named by:
                   entitlement (rupiah), payout mode, payout point name (revision 0002);
                   and the keyed hash of the inputs the payload was made from (0004)
    key_cache      per epoch, subject and view: the Argon2id root key (sealed), the sealed
                   record last published and the keyed hash of the payload it holds, and the
                   lookup tag (public: it is in the shard) of the key (0004)
    payout_events  the payout ledger: append-only, one row per payout fact (csv or api)
    payout_outcomes  per epoch and subject, the ledger event that decides the status (the
                   fold of ``ledger.fold_status``), kept by every append in its transaction
                   so the progress report reads one row per person instead of folding the
                   ledger (revision 0003)
    flags          findings about accepted events (reconciliation), by event

The schema is created and upgraded by the Alembic revisions in
``blt_status/central/migrations`` (batch mode on SQLite). Refusals: ``db_unreachable`` (no
server answers), ``db_busy`` (locked longer than the busy timeout), ``db_schema`` (the database
is at a revision this release does not know).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event as sa_event
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DatabaseError, DBAPIError, OperationalError

from blt_status.errors import CentralError

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

__all__ = [
    "DB_ENV",
    "SCHEMA_HEAD",
    "database_url",
    "db_errors",
    "describe_url",
    "dispose_engines",
    "flags",
    "key_cache",
    "metadata",
    "open_engine",
    "payout_events",
    "payout_outcomes",
    "roster",
    "subject_of",
    "upgrade",
    "versions",
]

DB_ENV = "BLT_CENTRAL_DB"
SCHEMA_HEAD = "0004"
BUSY_TIMEOUT_MS = 10_000
_SUBJECT_CONTEXT = b"blt-central-subject-v1"

metadata = sa.MetaData()

versions = sa.Table(
    "versions", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("epoch_id", sa.String(16), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("program", sa.Text, nullable=False),  # JSON
    sa.Column("inputs", sa.Text, nullable=False),  # JSON
    sa.Column("canaries", sa.Text, nullable=False),  # JSON
    sa.Column("records", sa.Integer, nullable=False),
    sa.Column("kecamatan", sa.Text, nullable=False),  # JSON {kecamatan: count}
    sa.Column("changes", sa.Text, nullable=False),  # JSON change report
)

roster = sa.Table(
    "roster", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("nik_last4", sa.String(4), nullable=False),
    sa.Column("kecamatan", sa.String(16), nullable=False),
    sa.Column("desa", sa.String(20), nullable=False),
    sa.Column("point_id", sa.String(64)),
    sa.Column("payload_hash", sa.String(64), nullable=False),
    sa.Column("sealed", sa.LargeBinary, nullable=False),
    sa.Column("valid_from", sa.Integer, nullable=False),
    sa.Column("valid_to", sa.Integer),
    # Not personal, kept in plain so the report counts with GROUP BY instead of unsealing:
    # filled by every publish (roster.roster_row) and, for rows of revision 0001, by 0002.
    sa.Column("amount", sa.BigInteger),  # entitlement, rupiah
    sa.Column("mode", sa.String(16)),  # kantor_pos | komunitas | antar
    sa.Column("point_name", sa.Text),  # the payout point's public name ("" if none)
    # A keyed hash of everything the payload is made from (the checked row, its schedule and
    # payout point, the program; ``plan.StreamedPlan.source_of``): a re-publish that finds the
    # same value keeps the row without building the payload again (0004; NULL: unknown).
    sa.Column("source_hash", sa.String(64)),
    sa.Index("ix_roster_current", "valid_to", "kecamatan"),
    # Covering (0002): the report finds each person with ledger events by subject and reads
    # what it counts from the index, never the wide row with its sealed part.
    sa.Index("ix_roster_subject", "subject", "valid_from", "valid_to", "desa", "point_id",
             "mode", "amount"),
)

key_cache = sa.Table(
    "key_cache", metadata,
    sa.Column("epoch_id", sa.String(16), primary_key=True),
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("view", sa.String(16), primary_key=True),
    sa.Column("key_shard", sa.String(16), nullable=False),
    sa.Column("root_key", sa.LargeBinary, nullable=False),  # sealed
    sa.Column("blob", sa.LargeBinary),  # the published sealed record (ciphertext already)
    sa.Column("blob_hash", sa.String(64)),  # keyed hash of the payload inside ``blob``
    # The key's lookup tag, as published in the shard (0004; NULL: rows of an earlier
    # release, whose tag is computed from the unsealed key).
    sa.Column("tag", sa.LargeBinary),
    sa.Column("version", sa.Integer, nullable=False),  # the publish that wrote the row
)

payout_events = sa.Table(
    "payout_events", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("epoch_id", sa.String(16), nullable=False),
    sa.Column("subject", sa.String(64), nullable=False),
    sa.Column("nik_last4", sa.String(4), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("occurred_at", sa.DateTime, nullable=False),  # UTC
    sa.Column("occurred_offset", sa.Integer, nullable=False),  # seconds east of UTC, as given
    sa.Column("point_id", sa.String(64), nullable=False),
    sa.Column("source", sa.String(16), nullable=False),
    sa.Column("source_ref", sa.String(128), nullable=False),
    sa.Column("row_ref", sa.String(128), nullable=False),
    sa.Column("reason_code", sa.String(64)),
    sa.Column("amount", sa.BigInteger),
    sa.Column("note", sa.LargeBinary),  # sealed free text, never published
    sa.Column("received_at", sa.DateTime, nullable=False),  # UTC
    sa.UniqueConstraint("source", "source_ref", "row_ref", name="uq_payout_events_ref"),
    # Covering (0002): the report's fold reads an epoch's events in subject order from it.
    sa.Index("ix_payout_events_subject", "epoch_id", "subject", "status", "occurred_at", "id",
             "amount"),
    sa.Index("ix_payout_events_received", "received_at"),
)

# One row per (epoch, subject) with a salur, gagal or kembali event: the event that decides the
# status as ``ledger.fold_status`` folds it: the first final event (salur or kembali) in
# (occurred_at, id) order, with its time, id and reported amount; without one, "gagal" (held;
# time, id and amount NULL). Derived from the ledger, never the source of truth: every append
# merges its events in (``ledger.merge_outcomes``), and ``ledger.rebuild_outcomes`` refolds it
# from the ledger. What it holds is what ``payout_events`` holds (no NIK, no name).
payout_outcomes = sa.Table(
    "payout_outcomes", metadata,
    sa.Column("epoch_id", sa.String(16), primary_key=True),
    sa.Column("subject", sa.String(64), primary_key=True),
    sa.Column("status", sa.String(16), nullable=False),  # salur | kembali | gagal
    sa.Column("occurred_at", sa.DateTime),  # UTC, of the final event
    sa.Column("event_id", sa.BigInteger),  # the final event
    sa.Column("amount", sa.BigInteger),  # what the payer reported for the salur, if anything
    sqlite_with_rowid=False,
)

flags = sa.Table(
    "flags", metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
              autoincrement=True),
    sa.Column("event_id", sa.BigInteger, sa.ForeignKey("payout_events.id"), nullable=False),
    sa.Column("code", sa.String(32), nullable=False),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
    sa.Column("kecamatan", sa.String(16)),
    sa.Index("ix_flags_event", "event_id"),
)


# -- URL and engine ----------------------------------------------------------------------------


def database_url(store: CentralStore) -> str:
    """``BLT_CENTRAL_DB``, else the URL saved by ``central init --db``, else the SQLite file."""
    url = os.environ.get(DB_ENV) or store.config.db_url
    if url:
        return url
    return f"sqlite:///{store.private_dir / 'central.db'}"


def describe_url(url: str) -> str:
    """The URL to show a user: backend, host and database, never a password."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return "(invalid database URL)"
    return parsed.render_as_string(hide_password=True)


_engines: dict[tuple[str, str], tuple[tuple[int, int] | None, Engine]] = {}
_engines_lock = threading.Lock()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA journal_mode")
        if str(cursor.fetchone()[0]).lower() != "wal":
            cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA synchronous = NORMAL")
    finally:
        cursor.close()


def _sqlite_read_only_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        # Not query_only: the progress report's TEMP table must still work (``mode=ro``
        # already keeps the store's file from being written).
        cursor.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    finally:
        cursor.close()


def sqlite_read_only(file: Path) -> bool:
    """Whether this process cannot write the SQLite database ``file`` (or the folder its WAL
    files go to): a store copied read-only, a read-only mount, another user's store.

    Root may write whatever the permission bits say (``os.access`` agrees), so for root
    only a read-only file system counts."""
    return file.exists() and not (os.access(file, os.W_OK) and os.access(file.parent, os.W_OK))


def _read_only_connect(file: Path) -> Any:
    """A connect function opening ``file`` read-only.

    A database in WAL mode needs its ``-wal`` and ``-shm`` files even to be read; in a folder
    that cannot be written they cannot be made, so SQLite refused with "attempt to write a
    readonly database" and every command failed. When they are there (a writer is using the
    database) they are read; otherwise the file is opened ``immutable``: nobody can write it
    through this folder either."""
    import sqlite3

    wal = file.with_name(file.name + "-wal")
    shm = file.with_name(file.name + "-shm")
    query = "mode=ro" if wal.exists() and shm.exists() else "mode=ro&immutable=1"
    uri = f"{file.resolve().as_uri()}?{query}"

    def connect() -> Any:
        return sqlite3.connect(uri, uri=True, timeout=BUSY_TIMEOUT_MS / 1000,
                               check_same_thread=False)

    return connect


def _create_engine(url: str) -> Engine:
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        raise CentralError("db_url", url=describe_url(url)) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if path and path != ":memory:":
            file = Path(path)
            if not file.parent.is_dir():
                raise CentralError("db_unreachable", url=describe_url(url),
                                   reason="the folder does not exist")
            if sqlite_read_only(file):
                engine = sa.create_engine(parsed, creator=_read_only_connect(file))
                engine.info_read_only = True  # type: ignore[attr-defined]
                sa_event.listen(engine, "connect", _sqlite_read_only_pragmas)
                return engine
            if not file.exists():  # private data: 0600 from the start (WAL files follow)
                os.close(os.open(file, os.O_WRONLY | os.O_CREAT, 0o600))
        engine = sa.create_engine(parsed, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000})
        sa_event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            parsed = parsed.set(drivername="postgresql+psycopg")
        return sa.create_engine(parsed, pool_pre_ping=True,
                                connect_args={"connect_timeout": 5,
                                              "options": f"-c lock_timeout={BUSY_TIMEOUT_MS}"})
    raise CentralError("db_url", url=describe_url(url))


@contextlib.contextmanager
def db_errors(url: str = "") -> Iterator[None]:
    """Database failures as one-line errors: ``db_busy``, ``db_unreachable``,
    ``db_damaged``."""
    try:
        yield
    except OperationalError as error:
        text = str(error.orig or error).lower()
        if "readonly database" in text or "read-only" in text:  # SQLite's words, PostgreSQL's
            raise CentralError("store_read_only", path=_database_place(url)) from None
        if "locked" in text or "lock timeout" in text or "lock_timeout" in text \
                or "could not obtain lock" in text or "deadlock" in text:
            raise CentralError("db_busy") from None
        raise CentralError("db_unreachable", url=describe_url(url),
                           reason=_first_line(str(error.orig or error))) from None
    except DatabaseError as error:
        if "file is not a database" in str(error.orig or error).lower():  # SQLite's words
            raise CentralError("db_damaged", url=describe_url(url)) from None
        if "read-only transaction" in str(error.orig or error).lower():  # a PostgreSQL replica
            raise CentralError("store_read_only", path=_database_place(url)) from None
        if error.connection_invalidated:
            raise CentralError("db_unreachable", url=describe_url(url),
                               reason=_first_line(str(error.orig or error))) from None
        raise
    except DBAPIError as error:
        if error.connection_invalidated:
            raise CentralError("db_unreachable", url=describe_url(url),
                               reason=_first_line(str(error.orig or error))) from None
        raise


def _database_place(url: str) -> str:
    """The database as a user names it: the SQLite file's path, else the URL (no password)."""
    if url.startswith("sqlite:///"):
        return url.removeprefix("sqlite:///")
    return describe_url(url)


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else "no answer"
    return line[:200]


def open_engine(store: CentralStore, *, upgrade_schema: bool = True) -> Engine:
    """The store's engine (cached per store and URL), its schema checked.

    A database without tables is created at the current schema (first use); one at an older
    known revision is upgraded; one at a revision this release does not know is refused
    (``db_schema``).
    """
    url = database_url(store)
    key = (str(store.directory), url)
    identity = _sqlite_identity(url)
    with _engines_lock:
        cached = _engines.get(key)
        if cached is not None:
            if cached[0] == identity:
                return cached[1]
            _engines.pop(key)[1].dispose()  # the store was made anew at the same place
        engine = _create_engine(url)
        identity = _sqlite_identity(url)
        try:
            with db_errors(url):
                revision = current_revision(engine)
                if revision != SCHEMA_HEAD:
                    if revision is not None and revision not in known_revisions():
                        raise CentralError("db_schema", found=revision, expected=SCHEMA_HEAD)
                    if not upgrade_schema:
                        raise CentralError("db_schema", found=revision or "none",
                                           expected=SCHEMA_HEAD)
                    if getattr(engine, "info_read_only", False):
                        raise CentralError("store_read_only", path=_database_place(url))
                    upgrade(engine, store)
        except BaseException:
            engine.dispose()
            raise
        _engines[key] = (identity, engine)
        return engine


def _sqlite_identity(url: str) -> tuple[int, int] | None:
    """Which SQLite file a URL names now (device, inode): a replaced file needs a new engine."""
    if not url.startswith("sqlite:///"):
        return None
    try:
        info = os.stat(url.removeprefix("sqlite:///"))
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def dispose_engines(store: CentralStore | None = None) -> None:
    """Close pooled connections (of one store, or all): SQLite then removes its WAL files."""
    with _engines_lock:
        for key in list(_engines):
            if store is None or key[0] == str(store.directory):
                _engines.pop(key)[1].dispose()


# -- schema (Alembic) --------------------------------------------------------------------------


def _alembic_config() -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(Path(__file__).with_name("migrations")))
    return config


def known_revisions() -> set[str]:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(_alembic_config())
    return {revision.revision for revision in script.walk_revisions()}


_VERSION_TABLE = "alembic_version"  # Alembic's default (migrations/env.py names no other)


def current_revision(engine: Engine) -> str | None:
    """The Alembic revision the database is at (None: no schema yet).

    Read from Alembic's version table with SQLAlchemy, as Alembic's ``MigrationContext``
    reads it: importing Alembic's runtime takes about 0.14 s, a seventh of a short central
    command, and only a database that is not at :data:`SCHEMA_HEAD` needs Alembic. Several
    rows (branches this project never makes) are one revision no release knows.
    """
    with engine.connect() as connection:
        if not sa.inspect(connection).has_table(_VERSION_TABLE):
            return None
        found = connection.execute(sa.text(f"SELECT version_num FROM {_VERSION_TABLE}")) \
            .scalars().all()
    return "+".join(sorted(found)) if found else None


def upgrade(engine: Engine, store: CentralStore, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (Alembic).

    The revisions get the store too (``config.attributes["store"]``): one that fills a new
    column from sealed data unseals with the store's key.
    """
    from alembic import command

    config = _alembic_config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        config.attributes["store"] = store
        command.upgrade(config, revision)


# -- planner statistics ------------------------------------------------------------------------


ANALYZE_AFTER_ROWS = 1000
"""A write of at least this many rows refreshes PostgreSQL's planner statistics at once."""


def refresh_statistics(engine: Engine, *tables: sa.Table) -> None:
    """``ANALYZE`` ``tables`` on PostgreSQL after a bulk write (a no-op on SQLite).

    Autovacuum analyses a table a minute or more after it changed; a query planned before
    that sees the old row counts (an empty roster after the first publish, no ledger events
    after a large ingest) and can pick a plan a hundred times slower: the ingest's "which
    kecamatan did the new events touch" took 1.35 s instead of 13 ms on 40,000 recipients,
    growing with roster x events. Statistics only help, so a failure here is ignored: the
    write it follows has committed.
    """
    if engine.dialect.name != "postgresql" or not tables:
        return
    with contextlib.suppress(sa.exc.SQLAlchemyError), engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE " + ", ".join(table.name for table in tables))


# -- subjects ----------------------------------------------------------------------------------


def subject_key(master_pepper: bytes) -> bytes:
    return hmac.new(master_pepper, _SUBJECT_CONTEXT, hashlib.sha256).digest()


def subject_of(store: CentralStore, nik_digits: str) -> str:
    """How the database names a person: hex HMAC-SHA256 of the NIK under a pepper-derived key."""
    return subject_from_key(store.subject_key, nik_digits)


def subject_from_key(key: bytes, nik_digits: str) -> str:
    """:func:`subject_of` with the store's subject key given (a process without the store)."""
    return hmac.digest(key, nik_digits.encode(), "sha256").hex()
