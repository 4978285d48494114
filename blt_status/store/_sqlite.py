"""SQLite index backend (standard library): for the bot and anything from a kabupaten up.

One file per index version: ``meta`` (one JSON row) and ``records`` keyed by tag in a
``WITHOUT ROWID`` B-tree, so a lookup is one keyed probe. Files are built under a scratch name
and renamed into place; opened read-only and immutable.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from itertools import islice
from pathlib import Path

from blt_status.errors import FileFormatError, IndexCorrupt, IndexMissing
from blt_status.records import SealedRecord
from blt_status.store._base import (
    IndexBackend,
    IndexMeta,
    IndexStore,
    atomic_replace,
    temp_path_for,
)

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE records (tag BLOB PRIMARY KEY, shard TEXT NOT NULL, blob BLOB NOT NULL)
    WITHOUT ROWID;
"""
_BATCH = 5000


def _connect_for_build(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    # A scratch file that is renamed into place only when complete needs no journal.
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-65536")
    return connection


def _insert(connection: sqlite3.Connection, records: Iterable[SealedRecord]) -> dict[str, int]:
    counts: dict[str, int] = {}
    iterator = iter(records)
    while batch := list(islice(iterator, _BATCH)):
        for record in batch:
            counts[record.shard] = counts.get(record.shard, 0) + 1
        try:
            connection.executemany(
                "INSERT INTO records (tag, shard, blob) VALUES (?, ?, ?)",
                [(record.tag, record.shard, record.blob) for record in batch],
            )
        except sqlite3.IntegrityError:
            raise FileFormatError("duplicate_tag", "Dua catatan dengan tag yang sama.",
                                  "Two records share one tag (the same NIK twice).") from None
    return counts


def _finish(connection: sqlite3.Connection, meta: IndexMeta) -> None:
    connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('meta', ?)",
                       (json.dumps(meta.to_dict()),))
    connection.execute("COMMIT")
    connection.close()


class SqliteStore(IndexStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise IndexMissing(str(path))
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1",
                                       uri=True, check_same_thread=False)
            row = self._db.execute("SELECT value FROM meta WHERE key = 'meta'").fetchone()
            if row is None:
                raise IndexCorrupt(str(path), "no metadata")
            self.meta = IndexMeta.from_dict(json.loads(row[0]))
        except (sqlite3.DatabaseError, ValueError, FileFormatError) as error:
            raise IndexCorrupt(str(path), type(error).__name__) from None

    def get(self, tag: bytes) -> SealedRecord | None:
        try:
            row = self._db.execute("SELECT shard, blob FROM records WHERE tag = ?",
                                   (tag,)).fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(str(self.path), type(error).__name__) from None
        return SealedRecord(tag, row[0], row[1]) if row else None

    def __len__(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def iter_shard(self, shard: str) -> Iterator[SealedRecord]:
        cursor = self._db.execute("SELECT tag, blob FROM records WHERE shard = ?", (shard,))
        for tag, blob in cursor:
            yield SealedRecord(tag, shard, blob)

    def close(self) -> None:
        self._db.close()


class SqliteBackend(IndexBackend):
    name = "sqlite"
    suffix = ".sqlite"

    def write(self, path: Path, meta: IndexMeta, records: Iterable[SealedRecord]) -> IndexMeta:
        temp = temp_path_for(path)
        try:
            connection = _connect_for_build(temp)
            connection.executescript(_SCHEMA)
            connection.execute("BEGIN")
            counts = _insert(connection, records)
            meta = meta.with_changes(shards=counts)
            _finish(connection, meta)
            atomic_replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return meta

    def derive(self, base: IndexStore, path: Path, meta: IndexMeta,
               replaced: Mapping[str, Iterable[SealedRecord]]) -> IndexMeta:
        """Copy the base file, then swap only the replaced shards: cost follows the change."""
        if not isinstance(base, SqliteStore):
            return super().derive(base, path, meta, replaced)
        temp = temp_path_for(path)
        try:
            shutil.copyfile(base.path, temp)
            connection = _connect_for_build(temp)
            connection.execute("BEGIN")
            counts = dict(base.meta.shards)
            for shard, records in replaced.items():
                connection.execute("DELETE FROM records WHERE shard = ?", (shard,))
                counts.pop(shard, None)
                counts.update(_insert(connection, records))
            meta = meta.with_changes(shards=counts)
            _finish(connection, meta)
            atomic_replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return meta

    def open(self, path: Path) -> IndexStore:
        return SqliteStore(path)
