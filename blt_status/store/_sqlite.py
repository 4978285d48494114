"""SQLite index backend (standard library): for the bot and anything from a kabupaten up.

A store file holds ``meta`` rows and ``records`` keyed by tag in a ``WITHOUT ROWID`` B-tree,
so a lookup is one keyed probe. Files are built under a scratch name, renamed into place, and
never changed afterwards (opened read-only and immutable).

A new version that changes a few shards is an *overlay*: a small file holding only the shards
changed since a full *base* file, which it names. A lookup probes the overlay, then the base
(ignoring base records of shards the overlay replaced). Re-syncing one kecamatan of a
35-million-record index therefore writes that kecamatan, not a copy of the country. When the
overlay outgrows ``COMPACT_FRACTION`` of the index, the next version is a full file again.

Each file carries the checksum of its own metadata and records (``meta`` row ``checksum``).
Opening checks the structure only (a bot's index holds millions of records); the records are
checked page by page in a background thread (:meth:`SqliteStore.check_in_background`, started
by the lookup service) and in full by :meth:`SqliteStore.verify` (``blt-status status
--check``). A damaged file makes every later lookup fail with ``index_corrupt``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from itertools import chain, islice
from pathlib import Path

from blt_status.errors import FileFormatError, IndexCorrupt, IndexMissing
from blt_status.i18n import N_
from blt_status.records import SealedRecord
from blt_status.store._base import (
    IndexBackend,
    IndexMeta,
    IndexStore,
    RecordsChecksum,
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
CHECK_PAGE = 2000  # records per page of the background check
CHECK_PAUSE = 0.005  # seconds the background check yields between pages


def _connect_for_build(path: Path) -> sqlite3.Connection:
    connection = sqlite3.connect(path, isolation_level=None)
    # A scratch file that is renamed into place only when complete needs no journal.
    connection.execute("PRAGMA journal_mode=OFF")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("PRAGMA cache_size=-65536")
    return connection


def _insert(connection: sqlite3.Connection, records: Iterable[SealedRecord],
            checksum: RecordsChecksum) -> dict[str, int]:
    counts: dict[str, int] = {}
    iterator = iter(records)
    while batch := list(islice(iterator, _BATCH)):
        for record in batch:
            counts[record.shard] = counts.get(record.shard, 0) + 1
            checksum.add(record.tag, record.shard, record.blob)
        try:
            connection.executemany(
                "INSERT INTO records (tag, shard, blob) VALUES (?, ?, ?)",
                [(record.tag, record.shard, record.blob) for record in batch],
            )
        except sqlite3.IntegrityError:
            raise FileFormatError("duplicate_tag") from None
    return counts


def _finish(connection: sqlite3.Connection, meta: IndexMeta, checksum: RecordsChecksum,
            overlay: tuple[str, list[str]] | None = None) -> None:
    meta_json = json.dumps(meta.to_dict())
    rows = [("meta", meta_json), ("checksum", checksum.hexdigest(json.loads(meta_json)))]
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
                raise IndexCorrupt(str(path), N_("it has no metadata"))
            self._meta_document = json.loads(rows["meta"])
            self.meta = IndexMeta.from_dict(self._meta_document)
            self.checksum = rows.get("checksum")
            if self.checksum is not None and not isinstance(self.checksum, str):
                raise ValueError("checksum")
            if "base" in rows:
                self.overlay_shards = frozenset(json.loads(rows["overlay_shards"]))
        except (sqlite3.DatabaseError, ValueError, KeyError, TypeError,
                FileFormatError) as error:
            raise IndexCorrupt(str(path), type(error).__name__) from None
        self._stop = threading.Event()
        self._checker: threading.Thread | None = None
        self._check_connection: sqlite3.Connection | None = None
        if "base" in rows:
            base_path = path.parent / Path(rows["base"]).name
            try:
                self.base = SqliteStore(base_path)
            except IndexMissing:
                self._db.close()
                raise IndexCorrupt(str(path), N_("its base file is missing")) from None
            if self.base.base is not None:
                raise IndexCorrupt(str(path), N_("it is an overlay of an overlay"))

    def _own(self, tag: bytes) -> SealedRecord | None:
        try:
            row = self._db.execute("SELECT shard, blob FROM records WHERE tag = ?",
                                   (tag,)).fetchone()
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(str(self.path), type(error).__name__) from None
        return SealedRecord(tag, row[0], row[1]) if row else None

    def get(self, tag: bytes) -> SealedRecord | None:
        if self.damage is not None:
            raise self.damage
        record = self._own(tag)
        if record is not None or self.base is None:
            return record
        record = self.base.get(tag)
        return None if record is None or record.shard in self.overlay_shards else record

    def __len__(self) -> int:
        if self.base is not None:
            return self.meta.record_count
        try:
            return int(self._db.execute("SELECT count(*) FROM records").fetchone()[0])
        except sqlite3.DatabaseError as error:  # a damaged file: never an internal error
            raise IndexCorrupt(str(self.path), type(error).__name__) from None

    def _own_shard(self, shard: str) -> Iterator[SealedRecord]:
        try:
            cursor = self._db.execute("SELECT tag, blob FROM records WHERE shard = ?", (shard,))
            for tag, blob in cursor:
                yield SealedRecord(tag, shard, blob)
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(str(self.path), type(error).__name__) from None

    def iter_shard(self, shard: str) -> Iterator[SealedRecord]:
        if self.base is not None and shard not in self.overlay_shards:
            return self.base.iter_shard(shard)
        return self._own_shard(shard)

    def iter_all(self) -> Iterator[SealedRecord]:
        """Every record of this version, in one pass over each file."""
        try:
            for tag, shard, blob in self._db.execute("SELECT tag, shard, blob FROM records"):
                yield SealedRecord(tag, shard, blob)
        except sqlite3.DatabaseError as error:
            raise IndexCorrupt(str(self.path), type(error).__name__) from None
        if self.base is not None:
            for record in self.base.iter_all():
                if record.shard not in self.overlay_shards:
                    yield record

    def files(self) -> list[Path]:
        """The files this version needs (itself, and its base if it is an overlay)."""
        return [self.path, *(self.base.files() if self.base else [])]

    # -- checking the file against its checksum ----------------------------------------------

    def _check_pages(self, pause: float = 0.0, stop: threading.Event | None = None) -> None:
        """Hash every record of this file (and its base) in pages; raise IndexCorrupt."""
        if self.checksum is None:
            return  # written before checksums: cannot be checked (the next sync rebuilds it)
        stop = stop or self._stop
        checksum = RecordsChecksum()
        # Its own connection: the check may run in another thread than the lookups.
        connection = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro&immutable=1",
                                     uri=True, check_same_thread=False)
        self._check_connection = connection  # close() interrupts a long quick_check
        try:
            last = b""
            while not stop.is_set():
                page = connection.execute(
                    "SELECT tag, shard, blob FROM records WHERE tag > ? ORDER BY tag LIMIT ?",
                    (last, CHECK_PAGE)).fetchall()
                if not page:
                    break
                for tag, shard, blob in page:
                    checksum.add(bytes(tag), str(shard), bytes(blob))
                last = bytes(page[-1][0])
                if pause:
                    stop.wait(pause)
            # The file's own structure too (b-tree pages, indexes), not only what it holds.
            if not stop.is_set():
                verdict = connection.execute("PRAGMA quick_check").fetchall()
                if verdict != [("ok",)]:
                    raise self._damaged(N_("SQLite finds the file damaged"))
        except (sqlite3.DatabaseError, TypeError, ValueError) as error:
            if stop.is_set():
                return  # interrupted by close(): not a verdict
            raise self._damaged(type(error).__name__) from None
        finally:
            self._check_connection = None
            connection.close()
        if stop.is_set():
            return
        if checksum.hexdigest(self._meta_document) != self.checksum:
            raise self._damaged(N_("its records do not match the checksum written when it "
                                   "was built"))
        if self.base is not None:
            try:
                self.base._check_pages(pause, stop)
            except IndexCorrupt as damage:
                self.damage = damage
                raise

    def verify(self) -> None:
        if self.damage is not None:
            raise self.damage
        self._check_pages()

    def check_in_background(self, on_damage: Callable[[IndexCorrupt], None] | None = None,
                            ) -> None:
        if self._checker is not None or self.checksum is None:
            return

        def run() -> None:
            try:
                self._check_pages(CHECK_PAUSE)
            except IndexCorrupt as damage:
                if on_damage is not None and not self._stop.is_set():
                    on_damage(damage)

        self._checker = threading.Thread(target=run, name="blt-index-check", daemon=True)
        self._checker.start()

    def wait_for_check(self, timeout: float | None = None) -> None:
        """Wait for the background check to end (tests, and ``close``)."""
        if self._checker is not None:
            self._checker.join(timeout)

    def close(self) -> None:
        self._stop.set()
        for store in (self, self.base):
            checking = store._check_connection if store is not None else None
            if checking is not None:
                with contextlib.suppress(sqlite3.Error):  # it may have just finished
                    checking.interrupt()
        self.wait_for_check(5.0)
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
            checksum = RecordsChecksum()
            counts = {**counts, **_insert(connection, records, checksum)}
            meta = meta.with_changes(shards={k: v for k, v in sorted(counts.items()) if v})
            _finish(connection, meta, checksum, overlay)
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
        try:
            return store.files()
        finally:
            store.close()
