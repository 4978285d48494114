"""SQLite index backend (standard library): for the bot and anything from a kabupaten up.

A store file holds ``meta`` rows and ``records`` keyed by tag in a ``WITHOUT ROWID`` B-tree,
so a lookup is one keyed probe. Files are built under a scratch name, renamed into place, and
never changed afterwards (opened read-only and immutable).

A new version that changes a few shards is an *overlay*: a small file holding only the shards
changed since a full *base* file, which it names. A lookup probes the overlay, then the base
(ignoring base records of shards the overlay replaced). Re-syncing one kecamatan of a
35-million-record index therefore writes that kecamatan, not a copy of the country. When the
overlay outgrows ``COMPACT_FRACTION`` of the index, the next version is a full file again.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping
from itertools import chain, islice
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

COMPACT_FRACTION = 0.25

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
            raise FileFormatError("duplicate_tag") from None
    return counts


def _finish(connection: sqlite3.Connection, meta: IndexMeta,
            overlay: tuple[str, list[str]] | None = None) -> None:
    rows = [("meta", json.dumps(meta.to_dict()))]
    if overlay is not None:
        rows += [("base", overlay[0]), ("overlay_shards", json.dumps(sorted(overlay[1])))]
    connection.executemany("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", rows)
    connection.execute("COMMIT")
    connection.close()


class SqliteStore(IndexStore):
    """One store file, or an overlay file together with the base file it names."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.base: SqliteStore | None = None
        self.overlay_shards: frozenset[str] = frozenset()
        if not path.is_file():
            raise IndexMissing(str(path))
        try:
            self._db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro&immutable=1",
                                       uri=True, check_same_thread=False)
            rows = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
            if "meta" not in rows:
                raise IndexCorrupt(str(path), "no metadata")
            self.meta = IndexMeta.from_dict(json.loads(rows["meta"]))
            if "base" in rows:
                self.overlay_shards = frozenset(json.loads(rows["overlay_shards"]))
        except (sqlite3.DatabaseError, ValueError, KeyError, FileFormatError) as error:
            raise IndexCorrupt(str(path), type(error).__name__) from None
        if "base" in rows:
            base_path = path.parent / Path(rows["base"]).name
            try:
                self.base = SqliteStore(base_path)
            except IndexMissing:
                self._db.close()
                raise IndexCorrupt(str(path), "its base file is missing") from None
            if self.base.base is not None:
                raise IndexCorrupt(str(path), "an overlay of an overlay")

    def _own(self, tag: bytes) -> SealedRecord | None:
        try:
            row = self._db.execute("SELECT shard, blob FROM records WHERE tag = ?",
                                   (tag,)).fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(str(self.path), type(error).__name__) from None
        return SealedRecord(tag, row[0], row[1]) if row else None

    def get(self, tag: bytes) -> SealedRecord | None:
        record = self._own(tag)
        if record is not None or self.base is None:
            return record
        record = self.base.get(tag)
        return None if record is None or record.shard in self.overlay_shards else record

    def __len__(self) -> int:
        if self.base is not None:
            return self.meta.record_count
        return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])

    def _own_shard(self, shard: str) -> Iterator[SealedRecord]:
        cursor = self._db.execute("SELECT tag, blob FROM records WHERE shard = ?", (shard,))
        for tag, blob in cursor:
            yield SealedRecord(tag, shard, blob)

    def iter_shard(self, shard: str) -> Iterator[SealedRecord]:
        if self.base is not None and shard not in self.overlay_shards:
            return self.base.iter_shard(shard)
        return self._own_shard(shard)

    def iter_all(self) -> Iterator[SealedRecord]:
        """Every record of this version, in one pass over each file."""
        for tag, shard, blob in self._db.execute("SELECT tag, shard, blob FROM records"):
            yield SealedRecord(tag, shard, blob)
        if self.base is not None:
            for record in self.base.iter_all():
                if record.shard not in self.overlay_shards:
                    yield record

    def files(self) -> list[Path]:
        """The files this version needs (itself, and its base if it is an overlay)."""
        return [self.path, *(self.base.files() if self.base else [])]

    def close(self) -> None:
        self._db.close()
        if self.base is not None:
            self.base.close()


class SqliteBackend(IndexBackend):
    name = "sqlite"
    suffix = ".sqlite"

    def write(self, path: Path, meta: IndexMeta, records: Iterable[SealedRecord]) -> IndexMeta:
        return self._build(path, meta, records, {}, None)

    def _build(self, path: Path, meta: IndexMeta, records: Iterable[SealedRecord],
               counts: dict[str, int], overlay: tuple[str, list[str]] | None) -> IndexMeta:
        temp = temp_path_for(path)
        try:
            connection = _connect_for_build(temp)
            connection.executescript(_SCHEMA)
            connection.execute("BEGIN")
            counts = {**counts, **_insert(connection, records)}
            meta = meta.with_changes(shards={k: v for k, v in sorted(counts.items()) if v})
            _finish(connection, meta, overlay)
            atomic_replace(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        return meta

    def derive(self, base: IndexStore, path: Path, meta: IndexMeta,
               replaced: Mapping[str, Iterable[SealedRecord]]) -> IndexMeta:
        """Write only what changed: an overlay of the changed shards over the base file.

        The overlay carries every shard changed since its base (the previous overlay's
        shards that are not replaced again are copied from it, which is small). A base that
        is not SQLite, another directory, or an overlay grown past ``COMPACT_FRACTION`` of the
        index gives a full file instead.
        """
        if not isinstance(base, SqliteStore):
            return super().derive(base, path, meta, replaced)
        root = base.base or base
        overlay_shards = set(base.overlay_shards) | set(replaced)
        counts = {shard: n for shard, n in base.meta.shards.items() if shard not in replaced}
        carried = [shard for shard in base.overlay_shards if shard not in replaced]
        carried_records = sum(counts.get(shard, 0) for shard in carried)
        total = max(1, sum(base.meta.shards.values()))
        if root.path.parent != path.parent or carried_records > COMPACT_FRACTION * total:
            return self.write(path, meta, self._merged(base, replaced))
        # Shards kept from the base file itself are counted; overlay shards are re-counted.
        kept_counts = {shard: n for shard, n in counts.items() if shard not in overlay_shards}
        records = chain(chain.from_iterable(base._own_shard(s) for s in carried),
                        chain.from_iterable(replaced.values()))
        return self._build(path, meta, records, kept_counts, (root.path.name,
                                                               sorted(overlay_shards)))

    @staticmethod
    def _merged(base: SqliteStore, replaced: Mapping[str, Iterable[SealedRecord]],
                ) -> Iterator[SealedRecord]:
        for record in base.iter_all():
            if record.shard not in replaced:
                yield record
        for records in replaced.values():
            yield from records

    def open(self, path: Path) -> IndexStore:
        return SqliteStore(path)

    def files(self, path: Path) -> list[Path]:
        store = SqliteStore(path)
        with store:
            return store.files()
