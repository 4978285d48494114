"""Publishing a version: seal records per view, write shard/params/aggregate targets, sign.

The flow of one version (``publish_files``, ``ingest_events`` and ``refresh`` all end in
:func:`publish_records`); memory holds one kecamatan's recipients at a time:

1. Kecamatan by kecamatan, compare the published roster's subjects (nothing unsealed) with
   the new roster's (a :class:`~blt_status.central.plan.StreamedPlan` on disk, a mapping, or
   the published roster itself) and ask where the ones who left are now: removals per
   kecamatan. The guards refuse here, before anything is derived.
2. Kecamatan by kecamatan: read its new recipients, their published roster rows, ledger
   statuses and cached keys by subject, and decide for each whether the roster row, the key and
   the sealed record can be kept (a dry run does only this, for the change report). A
   recipient whose inputs hash as published (its source hash) keeps all three without its
   record being built, and its shard lines are copied from the published shards. For a
   kecamatan that changed: Argon2id root keys for NIKs not yet known in this epoch (one process
   pool for the whole publish, or the Dask cluster), sealing in the same worker; known NIKs
   keep their cached key and an unchanged record its sealed blob, so an unchanged shard has the
   same bytes and hash. Its shards and aggregates are staged as targets, its roster and
   key-cache rows written (sealed) to a private staging file. An unchanged kecamatan carries
   its previous target entries over untouched.
3. In one database transaction copy the staged rows (closing the rows of removed or changed
   recipients), write the version row, write ``<v>.targets.json`` and ``<v>.snapshot.json``,
   replace ``timestamp.json`` and only then commit. Any error before that removes everything
   written: ``public/`` is byte-identical to before and the database stays at the previous
   version.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import multiprocessing
import multiprocessing.connection
import multiprocessing.process
import os
import shutil
import signal
import sqlite3
from collections.abc import Callable, Container, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from tuf.api.metadata import Metadata, TargetFile, Targets

from blt_status._fs import atomic_write_bytes, make_private_dir, try_lock
from blt_status.central.cluster import ClusterExecutor, active_executor
from blt_status.central.db import (
    ANALYZE_AFTER_ROWS,
    database_url,
    db_errors,
    key_cache,
    open_engine,
    payout_events,
    refresh_statistics,
    roster,
    subject_of,
    versions,
)
from blt_status.central.ledger import (
    Ledger,
    Outcome,
    PayoutEvent,
    outcomes_in,
    recorded_facts,
    with_outcome,
)
from blt_status.central.repo import RepoTransaction, target_path_on_disk
from blt_status.central.store import CentralStore, Epoch
from blt_status.crypto import VIEWS, IndexKey, lookup_tag
from blt_status.errors import CentralError
from blt_status.i18n import _, format_number, format_percent
from blt_status.indexer import IndexParams
from blt_status.layout import (
    PARAMS_TARGET,
    aggregates_file,
    aggregates_target,
    params_document,
    shard_file_of_lines,
    shard_line,
    shard_target,
)
from blt_status.records import (
    CANARY_INPUT,
    Program,
    RecordPayload,
    SealedRecord,
    seal_payload,
)

if TYPE_CHECKING:
    from blt_status.central.plan import PlannedRow, StreamedPlan

__all__ = [
    "Guards",
    "IngestReport",
    "KecamatanChange",
    "Progress",
    "PublishReport",
    "RejectionLog",
    "VersionResult",
    "check_guards",
    "derive_keys",
    "ingest_events",
    "ingest_payouts",
    "publish_files",
    "publish_records",
    "refresh",
    "rotate_keys",
]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: e.g. ``("sealing", 12000, 20000)``."""

Aggregator = Callable[[Iterable[tuple[str, RecordPayload]]], Mapping[str, Mapping[str, Any]]]

_MIN_PARALLEL_ITEMS = 64
KEEP_TARGET_VERSIONS = 3  # devices mid-sync on a recent version still find its files
KEEP_DISTRIBUTION_LISTS = 2  # the lists hold names: keep few copies


# -- reports -----------------------------------------------------------------------------------


@dataclass
class VersionResult:
    """What one signed version contains and what it wrote."""

    version: int
    published: int
    shards_written: int
    shards_unchanged: int
    keys_derived: int
    keys_reused: int
    kecamatan: list[str]
    epoch: str
    data_as_of: dt.datetime
    distribution_lists: list[Path] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)  # per kecamatan
    dry_run: bool = False


class RejectionLog(Sequence[dict[str, Any]]):
    """The rejected rows of a publish (line, masked NIK, code, reason), in line order, kept in a
    private temporary file and read back when asked: a national file's rejections are not held
    in memory. The file is removed when the log is no longer referenced."""

    def __init__(self, items: Iterable[Mapping[str, Any]]) -> None:
        import tempfile
        import weakref

        folder = Path(tempfile.mkdtemp(prefix="blt-rejected-"))  # 0700
        self._path = folder / "rejected.jsonl"
        self._count = 0
        encode = json.JSONEncoder(ensure_ascii=False).encode
        with self._path.open("w", encoding="utf-8") as handle:
            for item in items:
                handle.write(encode(dict(item)) + "\n")
                self._count += 1
        self._cleanup = weakref.finalize(self, shutil.rmtree, folder, True)

    def __len__(self) -> int:
        return self._count

    def __iter__(self) -> Iterator[dict[str, Any]]:
        with self._path.open(encoding="utf-8") as handle:
            for line in handle:
                yield json.loads(line)

    def __getitem__(self, index: Any) -> Any:
        import itertools

        if isinstance(index, slice):
            wanted = range(self._count)[index]
            if wanted.step != 1:
                return [item for number, item in enumerate(self) if number in wanted]
            return list(itertools.islice(self, wanted.start, wanted.stop))
        position = range(self._count)[index]  # IndexError as a list's
        return next(itertools.islice(self, position, None))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and len(other) == self._count \
            and list(self) == list(other)

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"RejectionLog({self._count} rows)"


@dataclass
class PublishReport:
    version: int
    published: int
    rejected: Sequence[dict[str, Any]]
    input_rows: int
    shards_written: int
    shards_unchanged: int
    keys_derived: int = 0
    keys_reused: int = 0
    kecamatan: list[str] = field(default_factory=list)
    kdf: str = ""
    distribution_lists: list[str] = field(default_factory=list)
    changes: dict[str, dict[str, int]] = field(default_factory=dict)
    dry_run: bool = False
    warnings: list[dict[str, Any]] = field(default_factory=list)  # roster warnings (recon)
    rows_checked_before: int = 0  # rows taken from the last publish's memo (rowmemo)

    def rejected_by_code(self) -> dict[str, int]:
        return _count_codes(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "published": self.published,
            "rows_checked_before": self.rows_checked_before,
            "warnings": self.warnings,
            "rejected": self.rejected,
            "input_rows": self.input_rows,
            "rejected_count": len(self.rejected),
            "shards_written": self.shards_written,
            "shards_unchanged": self.shards_unchanged,
            "keys_derived": self.keys_derived,
            "keys_reused": self.keys_reused,
            "kecamatan": self.kecamatan,
            "rejected_by_code": self.rejected_by_code(),
            "kdf": self.kdf,
            "distribution_dir": (str(Path(self.distribution_lists[0]).parent)
                                 if self.distribution_lists else None),
            "distribution_lists": len(self.distribution_lists),
            "changes": self.changes,
            "change_totals": change_totals(self.changes),
            "dry_run": self.dry_run,
        }


@dataclass
class IngestReport:
    version: int
    applied: int
    rejected: list[dict[str, Any]]
    input_rows: int
    shards_written: int
    shards_unchanged: int = 0
    changed_records: int = 0
    kecamatan: list[str] = field(default_factory=list)
    duplicates: int = 0
    published: bool = True

    def rejected_by_code(self) -> dict[str, int]:
        return _count_codes(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "applied": self.applied,
            "rejected": self.rejected,
            "input_rows": self.input_rows,
            "rejected_count": len(self.rejected),
            "rejected_by_code": self.rejected_by_code(),
            "changed_records": self.changed_records,
            "shards_written": self.shards_written,
            "shards_unchanged": self.shards_unchanged,
            "kecamatan": self.kecamatan,
            "duplicates": self.duplicates,
            "published": self.published,
        }


def change_totals(changes: Mapping[str, Mapping[str, int]]) -> dict[str, int]:
    """The per-kecamatan change report summed over the country."""
    totals = {"added": 0, "removed": 0, "changed": 0, "unchanged": 0}
    for counts in changes.values():
        for key in totals:
            totals[key] += int(counts.get(key, 0))
    return totals


def _count_codes(rejected: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in rejected:
        counts[str(item["code"])] = counts.get(str(item["code"]), 0) + 1
    return dict(sorted(counts.items()))


# -- key derivation and sealing (worker side) -------------------------------------------------

_worker_params: IndexParams | None = None

WorkItem = tuple[str, str, str, RecordPayload | None]
"""``(nik, view, shard, payload of that view)``; no payload: derive only (a canary)."""


def _init_worker(params: IndexParams) -> None:
    global _worker_params
    _worker_params = params


def _derive_and_seal(params: IndexParams, items: Sequence[WorkItem]) -> list[tuple[bytes, bytes]]:
    results = []
    for nik, view, shard, payload in items:
        root = params.root_key(nik, view, shard)
        if payload is None:
            results.append((root, b""))
            continue
        sealed = seal_payload(payload, key=IndexKey.from_root(root), shard=shard)
        results.append((root, sealed.blob))
    return results


def _derive_and_seal_chunk(items: Sequence[WorkItem]) -> list[tuple[bytes, bytes]]:
    assert _worker_params is not None
    return _derive_and_seal(_worker_params, items)


def _chunks(items: Sequence[WorkItem], size: int) -> list[Sequence[WorkItem]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def derive_keys(params: IndexParams, items: Sequence[WorkItem], *, workers: int | None,
                progress: Progress | None, executor: ClusterExecutor | None = None,
                ) -> list[tuple[bytes, bytes]]:
    """Argon2id + seal each item; over a process pool when worth it, or on a Dask cluster
    (``executor``, default: :func:`~blt_status.central.cluster.use_scheduler`'s). Order is
    preserved. One batch of :class:`_Deriver`, the publisher's own."""
    deriver = _Deriver(params, workers=workers, progress=progress, total=len(items),
                       executor=executor)
    try:
        if progress and deriver.executor is None:  # the cluster reports its own start
            progress("sealing", 0, len(items))
        return deriver(items)
    finally:
        deriver.close()


# -- the version builder ----------------------------------------------------------------------
#
# One version is built in three steps: ``_plan`` reads the previous version from the database
# and works out what changes (no secrets derived, nothing written: a dry run stops there),
# ``_send`` and ``_receive`` compute the missing Argon2id keys and seal the changed records,
# and ``_commit`` stages the public files, writes the database rows in one transaction and
# replaces timestamp.json before that transaction commits.


def _view_payload(payload: RecordPayload, view: str) -> RecordPayload:
    return payload if view == "officer" else payload.for_recipient()


def _previous_targets(store: CentralStore, version: int) -> dict[str, TargetFile]:
    if version == 0:
        return {}
    path = store.metadata_dir / f"{version}.targets.json"
    return dict(Metadata[Targets].from_file(str(path)).signed.targets)


@dataclass
class KecamatanChange:
    """How one kecamatan's recipients change from the published version to the new one."""

    added: int = 0
    removed: int = 0
    changed: int = 0
    unchanged: int = 0

    def to_dict(self) -> dict[str, int]:
        return {"added": self.added, "removed": self.removed, "changed": self.changed,
                "unchanged": self.unchanged}


_MISSING: Any = object()


class _PerView:
    """A value per view (officer, recipient): a two-slot stand-in for a small dict, since a
    publish holds one per recipient of the kecamatan being built (a dict costs ~4x more)."""

    __slots__ = ("officer", "recipient")

    def __init__(self) -> None:
        self.officer: Any = _MISSING
        self.recipient: Any = _MISSING

    def __getitem__(self, view: str) -> Any:
        value = getattr(self, view)
        if value is _MISSING:
            raise KeyError(view)
        return value

    def __setitem__(self, view: str, value: Any) -> None:
        setattr(self, view, value)

    def __contains__(self, view: object) -> bool:
        return getattr(self, str(view)) is not _MISSING

    def get(self, view: str, default: Any = None) -> Any:
        value = getattr(self, view)
        return default if value is _MISSING else value

    def items(self) -> Iterator[tuple[str, Any]]:
        for view in VIEWS:
            value = getattr(self, view)
            if value is not _MISSING:
                yield view, value


Loader = Callable[[], tuple[str, RecordPayload]]
"""A recipient's NIK and officer payload, made when first asked for (see :class:`_Entry`)."""


@dataclass(slots=True)
class _Entry:
    """One recipient of the kecamatan being built (in memory only).

    The NIK and the payload are made only when something needs them (``load``): a recipient
    of a re-publish whose inputs hash as before (``source``) keeps its roster row, key and
    sealed records, and only its aggregate inputs (``desa``, ``amount``, ``day``) are read.
    """

    subject: str
    shard: str
    base_hash: str | None  # the roster's content hash; None until decided
    load: Loader = field(repr=False)
    source: str | None = None  # the plan's source hash (None: not known)
    desa: str = ""
    day: dt.date | None = None  # the schedule's date
    amount: int | None = None  # known without the payload when the source matched
    outcome: Outcome | None = field(default=None, repr=False)  # from the ledger
    keys: _PerView = field(default_factory=_PerView, repr=False)  # derived root keys
    blobs: _PerView = field(default_factory=_PerView, repr=False)
    blob_hashes: _PerView = field(default_factory=_PerView)
    cache_write: _PerView = field(default_factory=_PerView)  # views whose cache row changes
    sealed_keys: _PerView = field(default_factory=_PerView, repr=False)  # from the cache
    tags: _PerView = field(default_factory=_PerView, repr=False)
    roster_write: bool = False  # a new roster row (new, moved or changed recipient)
    memo_write: bool = False  # the kept roster row gets this source hash
    tag_write: _PerView = field(default_factory=_PerView)  # kept cache rows without a tag
    _nik: str | None = field(default=None, repr=False)
    _base: RecordPayload | None = field(default=None, repr=False)
    _published: RecordPayload | None = field(default=None, repr=False)

    @classmethod
    def loaded(cls, subject: str, nik: str, shard: str, payload: RecordPayload,
               base_hash: str) -> _Entry:
        return cls(subject, shard, base_hash, lambda: (nik, payload), desa=payload.kode_wilayah,
                   day=payload.schedule.date, _nik=nik, _base=payload)

    def _opened(self) -> RecordPayload:
        if self._base is None:
            self._nik, self._base = self.load()
        return self._base

    @property
    def same_source(self) -> bool:
        """Its source hash is its published row's (only then is ``amount`` read from it)."""
        return self.amount is not None

    @property
    def nik(self) -> str:
        self._opened()
        assert self._nik is not None
        return self._nik

    @property
    def base(self) -> RecordPayload:
        """The roster's payload (as planned)."""
        return self._opened()

    @property
    def published(self) -> RecordPayload:
        """The payload with the ledger's status."""
        if self.outcome is None:
            return self._opened()
        if self._published is None:
            self._published = with_outcome(self._opened(), self.outcome)
        return self._published

    def aggregate_row(self) -> tuple[Any, ...]:
        """What the aggregates read of this recipient (:func:`plan.aggregate_input`), without
        the payload when nothing changed it."""
        from blt_status.central.plan import aggregate_input

        if self.outcome is None and self._base is None and self.amount is not None \
                and self.day is not None:
            return (self.desa, "scheduled", self.amount, self.day.isoformat(), "")
        return aggregate_input(self.published)


@dataclass(slots=True)
class _CacheRow:
    key_shard: str
    root_key: bytes = field(repr=False)  # sealed
    blob: bytes | None
    blob_hash: str | None
    tag: bytes | None


# What a publish reads of a key-cache row: (subject, view) and then _CacheRow's fields in order.
_CACHE_COLUMNS = (key_cache.c.subject, key_cache.c.view, key_cache.c.key_shard,
                  key_cache.c.root_key, key_cache.c.blob, key_cache.c.blob_hash, key_cache.c.tag)


class Previous(NamedTuple):
    """A published roster row."""

    id: int
    kecamatan: str
    payload_hash: str
    source_hash: str | None = None
    amount: int | None = None


class _Source:
    """Where the next version's recipients come from, one kecamatan at a time."""

    kecamatan: list[str]
    published: int
    carry_over = False  # the published roster itself (nobody added or removed)

    def records(self, kec: str) -> Iterator[tuple[_Entry, Previous | None]]:
        """Each recipient, with its previous roster row if the source knows it."""
        raise NotImplementedError

    def placed(self, subjects: Sequence[str]) -> dict[str, str]:
        """The kecamatan of each of ``subjects`` in the new version (absent: removed)."""
        raise NotImplementedError

    def subjects_in(self, kec: str) -> Container[str]:
        """The subjects of ``kec`` in the new version."""
        raise NotImplementedError


class _MappingSource(_Source):
    """Records given in memory (NIK -> (kecamatan, payload))."""

    def __init__(self, store: CentralStore,
                 records: Mapping[str, tuple[str, RecordPayload]]) -> None:
        self.store = store
        self.by_kec: dict[str, list[tuple[str, RecordPayload]]] = {}
        self.where: dict[str, str] = {}
        self.subjects_by_kec: dict[str, set[str]] = {}
        for nik, (shard, payload) in records.items():
            if payload.view != "officer":
                raise ValueError("publish expects officer-view payloads")
            self.by_kec.setdefault(shard, []).append((nik, payload))
            subject = subject_of(store, nik)
            self.where[subject] = shard
            self.subjects_by_kec.setdefault(shard, set()).add(subject)
        self.kecamatan = sorted(self.by_kec)
        self.published = len(records)

    def records(self, kec: str) -> Iterator[tuple[_Entry, Previous | None]]:
        from blt_status.central.roster import content_hash

        for nik, payload in self.by_kec.get(kec, []):
            yield _Entry.loaded(subject_of(self.store, nik), nik, kec, payload,
                                content_hash(self.store, kec, payload)), None

    def placed(self, subjects: Sequence[str]) -> dict[str, str]:
        return {subject: self.where[subject] for subject in subjects if subject in self.where}

    def subjects_in(self, kec: str) -> Container[str]:
        return self.subjects_by_kec.get(kec, set())


class _PlanSource(_MappingSource):
    """A :class:`~blt_status.central.plan.StreamedPlan`: read back per kecamatan from disk,
    each recipient's sealed part opened only if the publish needs it."""

    def __init__(self, store: CentralStore, plan: StreamedPlan) -> None:
        self.store = store
        self.plan = plan
        self.kecamatan = list(plan.kecamatan)
        self.published = plan.published

    def records(self, kec: str) -> Iterator[tuple[_Entry, Previous | None]]:
        plan = self.plan
        for row in plan.planned_rows(kec):
            def load(row: PlannedRow = row) -> tuple[str, RecordPayload]:
                recipient = plan.recipient(row)
                return recipient.nik_digits, recipient.payload

            # publish_files builds the plan with this store's subject key: the checked row's
            # subject is reused instead of a second HMAC per recipient
            subject = row.subject or subject_of(self.store, load()[0])
            yield _Entry(subject, kec, None, load, plan.source_of(row), row.desa,
                         row.schedule.date), None

    def placed(self, subjects: Sequence[str]) -> dict[str, str]:
        return self.plan.placed(subjects)

    def subjects_in(self, kec: str) -> Container[str]:
        return self.plan.subjects_in(kec)


class _RosterSource(_Source):
    """The published roster carried over (refresh, ingest): statuses from the ledger."""

    carry_over = True

    def __init__(self, store: CentralStore, connection: Connection, version: int) -> None:
        from blt_status.central.roster import kecamatan_at

        self.store = store
        self.connection = connection
        self.version = version
        self.kecamatan = kecamatan_at(connection, version) if version else []
        self.published = 0  # counted as read

    def records(self, kec: str) -> Iterator[tuple[_Entry, Previous | None]]:
        from blt_status.central.roster import sealed_rows

        for row in sealed_rows(self.store, self.connection, self.version, kec):
            yield (_Entry.loaded(row.subject, row.nik_digits, kec, row.payload,
                                 row.payload_hash),
                   Previous(row.id, kec, row.payload_hash))

    def placed(self, subjects: Sequence[str]) -> dict[str, str]:  # pragma: no cover
        raise AssertionError("a carried-over roster removes nobody")

    def subjects_in(self, kec: str) -> Container[str]:  # pragma: no cover
        raise AssertionError("a carried-over roster removes nobody")


# The roster columns a publish stages (from ``roster.roster_row``): every column of the table
# but the row id and the validity range, which the commit sets. Read from the table, so a
# column a later revision adds is staged too instead of silently dropped.
_STAGED_ROSTER = tuple(column.name for column in roster.columns
                       if column.name not in ("id", "valid_from", "valid_to"))


class _Staging:
    """The new version's database rows, written kecamatan by kecamatan to a private scratch
    file (sealed as in the database) and copied into the database in the commit transaction."""

    def __init__(self) -> None:
        import sqlite3
        import tempfile

        self.folder = Path(tempfile.mkdtemp(prefix="blt-stage-"))  # 0700
        self.db = sqlite3.connect(self.folder / "stage.db", isolation_level=None)
        for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE"):
            self.db.execute(f"PRAGMA {pragma}")
        self.db.execute("CREATE TABLE closed (id INTEGER)")
        self.db.execute("CREATE TABLE memo (id INTEGER, source_hash TEXT)")
        self.db.execute("CREATE TABLE tags (subject TEXT, view TEXT, tag BLOB)")
        self.db.execute(f"CREATE TABLE roster ({', '.join(_STAGED_ROSTER)})")
        self.db.execute("CREATE TABLE cache (subject TEXT, view TEXT, key_shard TEXT,"
                        " root_key BLOB, blob BLOB, blob_hash TEXT, tag BLOB)")
        self.rows = 0  # staged so far, all tables

    def close(self) -> None:
        self.db.close()
        shutil.rmtree(self.folder, ignore_errors=True)

    def add(self, table: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if rows:
            marks = ",".join("?" * len(rows[0]))
            self.db.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
            self.rows += len(rows)

    def read(self, table: str, size: int = 1000) -> Iterator[list[tuple[Any, ...]]]:
        cursor = self.db.execute(f"SELECT * FROM {table}")
        while batch := cursor.fetchmany(size):
            yield batch


@dataclass
class _Plan:
    """What the next version will be: worked out before anything is derived or written, then
    filled in kecamatan by kecamatan (only counters and names are kept for the whole roster)."""

    version: int
    epoch: Epoch
    new_epoch: bool
    program: Program
    kecamatan: list[str]
    changes: dict[str, KecamatanChange]
    previous_counts: dict[str, int]
    previous_canaries: dict[str, dict[str, str]]
    previous_inputs: dict[str, str]
    previous_targets: dict[str, TargetFile]
    published_kecamatan: set[str]
    published: int = 0
    counts: dict[str, int] = field(default_factory=dict)
    dirty: set[str] = field(default_factory=set)
    keys_reused: int = 0
    keys_derived: int = 0
    aggregate_keys: dict[str, str] = field(default_factory=dict)  # per kecamatan

    @property
    def removed(self) -> int:
        return sum(change.removed for change in self.changes.values())

    @property
    def previous_aggregate_keys(self) -> dict[str, str]:
        return dict(self.previous_inputs.get(AGGREGATE_KEYS, {}))  # type: ignore[arg-type]

    def change(self, kec: str) -> KecamatanChange:
        return self.changes.setdefault(kec, KecamatanChange())

    def change_report(self) -> dict[str, dict[str, int]]:
        return {kec: change.to_dict() for kec, change in sorted(self.changes.items())}


@dataclass(frozen=True)
class Guards:
    """Which publish guards apply (``allow_*`` lifts one) and their thresholds."""

    allow_empty: bool = False
    allow_shrink: bool = False
    allow_rejections: bool = False
    max_removed_fraction: float = 0.10
    max_rejected_fraction: float = 0.50
    input_rows: int = 0
    rejected: int = 0
    rejected_by_code: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def for_store(cls, store: CentralStore, *, input_rows: int, rejected: int,
                  allow_empty: bool = False, allow_shrink: bool = False,
                  allow_rejections: bool = False,
                  rejected_by_code: Mapping[str, int] | None = None) -> Guards:
        return cls(allow_empty, allow_shrink, allow_rejections,
                   store.config.guard("max_removed_fraction"),
                   store.config.guard("max_rejected_fraction"), input_rows, rejected,
                   dict(rejected_by_code or {}))

    def reasons(self) -> str:
        """The commonest rejection codes, for a refusal that says why rows were rejected
        (``; most often: nik_scientific 299``); empty when none are known."""
        top = sorted(self.rejected_by_code.items(), key=lambda item: (-item[1], item[0]))[:3]
        if not top:
            return ""
        return _("; most often: {codes}").format(
            codes=", ".join(f"{code} {format_number(count)}" for code, count in top))


def check_guards(plan: _Plan, guards: Guards) -> None:
    """Refuse a publish that would empty devices or that looks like a broken input file."""
    published = plan.published
    if published == 0 and not guards.allow_empty:
        raise CentralError("publish_empty", rejected=format_number(guards.rejected),
                           reasons=guards.reasons())
    if guards.input_rows and not guards.allow_rejections \
            and guards.rejected > guards.max_rejected_fraction * guards.input_rows:
        raise CentralError("publish_mostly_rejected", rejected=format_number(guards.rejected),
                           rows=format_number(guards.input_rows),
                           limit=format_percent(guards.max_rejected_fraction),
                           reasons=guards.reasons())
    previous_total = sum(plan.previous_counts.values())
    present = set(plan.kecamatan)
    emptied = sorted(kec for kec, count in plan.previous_counts.items()
                     if count and kec not in present)
    too_many = plan.removed > guards.max_removed_fraction * previous_total
    if previous_total and (too_many or emptied) and not guards.allow_shrink and published:
        shown = ", ".join(emptied[:5]) + (" ..." if len(emptied) > 5 else "")
        raise CentralError(
            "publish_shrink", removed=format_number(plan.removed),
            published=format_number(previous_total),
            share=format_percent(plan.removed / previous_total),
            emptied=f"; kecamatan emptied: {shown}" if emptied else "")


def _view_hash(store: CentralStore, shard: str, payload: RecordPayload) -> str:
    return store.keyed_hash(shard.encode() + b"|" + payload.to_bytes())


def _start(store: CentralStore, connection: Connection, source: _Source,
           staging: _Staging | None, *, program: Program | None,
           previous_version: int) -> _Plan:
    """The previous version, the epoch, and who leaves each published kecamatan.

    Reads the published roster's subjects one kecamatan at a time (no unsealing) against the
    source's subjects of that kecamatan, and asks the source where the ones not there now
    have gone: removals are counted (and their rows staged to be closed) before any
    kecamatan is built, so the guards can refuse before anything is derived.
    """
    from blt_status.central.roster import visible_at

    info = _version_info(connection, previous_version)
    if program is None:
        if info is None:
            raise CentralError("nothing_published")
        program = Program.from_dict(json.loads(info.program))
    epoch, new_epoch = store.epoch_for_program(program.id)
    previous_epoch = info.epoch_id if info is not None else None
    previous_counts: dict[str, int] = {}
    if previous_version:
        query = sa.select(roster.c.kecamatan, sa.func.count()) \
            .where(visible_at(previous_version)).group_by(roster.c.kecamatan)
        previous_counts = {row[0]: int(row[1]) for row in connection.execute(query)}
    plan = _Plan(previous_version + 1, epoch, new_epoch, program, list(source.kecamatan), {},
                 previous_counts,
                 json.loads(info.canaries) if info is not None and previous_epoch == epoch.id
                 else {}, json.loads(info.inputs) if info is not None else {},
                 _previous_targets(store, previous_version), set(previous_counts))
    plan.published = sum(previous_counts.values()) if source.carry_over else source.published
    if source.carry_over or not previous_version:
        return plan
    # One kecamatan at a time, never a scan of the whole roster: memory holds one
    # kecamatan's subjects, and no statement needs a server-side cursor (yield_per set on a
    # connection stays for every later read; on PostgreSQL a 1 % re-publish of 100,000 rows
    # then took minutes).
    for kec in sorted(previous_counts):
        here = source.subjects_in(kec)
        leaving = [(int(row_id), subject) for row_id, subject in connection.execute(
            sa.select(roster.c.id, roster.c.subject)
            .where(visible_at(previous_version), roster.c.kecamatan == kec))
            if subject not in here]
        if not leaving:
            continue
        plan.change(kec).removed += len(leaving)
        plan.dirty.add(kec)
        placed = source.placed([subject for _id, subject in leaving])
        if staging is not None:  # moved ones are closed by their new kecamatan
            staging.add("closed", [(row_id,) for row_id, subject in leaving
                                   if subject not in placed])
    return plan


def _lookup(connection: Connection, query: Callable[[list[str]], Any],
            subjects: Sequence[str]) -> Iterator[Any]:
    chosen = sorted(subjects)
    for start in range(0, len(chosen), 500):
        yield from connection.execute(query(chosen[start:start + 500]))


@dataclass
class _Kecamatan:
    """One kecamatan of the next version, decided: its entries and what they still need."""

    name: str
    entries: list[_Entry]
    work: list[tuple[_Entry, str]] = field(default_factory=list)  # keys to derive
    reseal: list[tuple[_Entry, str]] = field(default_factory=list)  # cached key, new content
    closed: list[int] = field(default_factory=list)  # roster rows ending with this version
    memo: list[tuple[int, str | None]] = field(default_factory=list)  # kept rows' new source
    touched: bool = False
    # Recipients whose records are their published ones (same source, no ledger status):
    # their shard lines are copied from the published shards (see _patched_lines).
    kept: set[str] = field(default_factory=set)
    kept_lines: dict[str, list[bytes]] = field(default_factory=dict)  # per view


def _decide(store: CentralStore, connection: Connection, plan: _Plan, source: _Source,
            kec: str, previous_version: int) -> _Kecamatan:
    """Read one kecamatan's published rows, ledger statuses and cached keys; decide for each
    recipient whether the roster row, the key and the sealed record can be kept.

    A recipient whose source hash (:meth:`~blt_status.central.plan.StreamedPlan.source_of`)
    equals its published row's has that row's payload: its content hash and amount are read
    from the row, and its payload is never built unless a ledger status or a changed view
    needs it."""
    from blt_status.central.roster import content_hash, visible_at

    entries: list[_Entry] = []
    previous: dict[str, Previous] = {}
    for entry, before in source.records(kec):
        entries.append(entry)
        if before is not None:
            previous[entry.subject] = before
    subjects = [entry.subject for entry in entries]
    # Most recipients were in this kecamatan before: their roster and key-cache rows come in
    # one query each, by kecamatan; only the others (new, moved, back) are looked up by subject.
    here = visible_at(previous_version) & (roster.c.kecamatan == kec) if previous_version \
        else None
    columns = (roster.c.id, roster.c.subject, roster.c.kecamatan, roster.c.payload_hash,
               roster.c.source_hash, roster.c.amount)
    if here is not None and not source.carry_over:
        for row in connection.execute(sa.select(*columns).where(here)):
            previous[row.subject] = Previous(int(row.id), *row[2:])
        elsewhere = [subject for subject in subjects if subject not in previous]
        for row in _lookup(connection, lambda chunk: sa.select(*columns).where(
                visible_at(previous_version), roster.c.subject.in_(chunk)), elsewhere):
            previous[row.subject] = Previous(int(row.id), *row[2:])
    for entry in entries:
        if entry.base_hash is not None:
            continue
        before = previous.get(entry.subject)
        if entry.source is not None and before is not None and before.kecamatan == kec \
                and before.source_hash == entry.source and before.amount is not None:
            entry.base_hash, entry.amount = before.payload_hash, int(before.amount)
        else:
            entry.base_hash = content_hash(store, kec, entry.base)
            # the same payload made from inputs that hash differently (a new release): the
            # kept row learns the new source, so the next publish need not build it again
            entry.memo_write = entry.source is not None and before is not None \
                and before.kecamatan == kec and before.payload_hash == entry.base_hash
    if here is not None and not source.carry_over:
        # those published here: one statement; only the others (new, moved) by subject
        # (the statuses of those who leave are read too, and not asked for below)
        outcomes = outcomes_in(
            connection, plan.epoch.id,
            [entry.subject for entry in entries
             if (before := previous.get(entry.subject)) is None or before.kecamatan != kec],
            among=sa.select(roster.c.subject).where(here)) if subjects else {}
    else:
        outcomes = outcomes_in(connection, plan.epoch.id, subjects) if subjects else {}
    for entry in entries:
        entry.outcome = outcomes.get(entry.subject)
    cache: dict[tuple[str, str], _CacheRow] = {}

    def read_cache(chosen: Iterable[str]) -> None:
        for subject, view, *values in _lookup(
                connection, lambda chunk: sa.select(*_CACHE_COLUMNS).where(
                    key_cache.c.epoch_id == plan.epoch.id, key_cache.c.subject.in_(chunk)),
                list(chosen)):
            cache[(subject, view)] = _CacheRow(*values)

    kept: set[str] = set()
    kept_lines: dict[str, list[bytes]] | None = None
    if here is not None and not source.carry_over and not plan.new_epoch \
            and kec in plan.published_kecamatan \
            and all(shard_target(view, kec) in plan.previous_targets for view in VIEWS):
        kept = {entry.subject for entry in entries if entry.same_source and entry.outcome is None}
    if kept:
        # Only the other recipients' cache rows, and those of everyone who leaves this
        # kecamatan's shards (for their tags); the kept ones' lines come from the shards.
        leaving = sorted(subject for subject, before in previous.items()
                         if before.kecamatan == kec and subject not in kept)
        read_cache({entry.subject for entry in entries if entry.subject not in kept}
                   | set(leaving))
        kept_lines = _patched_lines(store, plan, kec, leaving, cache)
        if kept_lines is None or any(len(lines) != len(kept) for lines in kept_lines.values()):
            read_cache(kept)  # the shards are not what the database says: built as before
            kept, kept_lines = set(), None
    elif not plan.new_epoch:
        cached_subjects = set()
        if here is not None:
            for subject, view, *values in connection.execute(sa.select(*_CACHE_COLUMNS).where(
                    key_cache.c.epoch_id == plan.epoch.id,
                    key_cache.c.subject.in_(sa.select(roster.c.subject).where(here)))):
                cache[(subject, view)] = _CacheRow(*values)
                cached_subjects.add(subject)
        read_cache(subject for subject in subjects if subject not in cached_subjects)
    decided = _Kecamatan(kec, entries, kept=kept, kept_lines=kept_lines or {})
    for entry in entries:
        if entry.subject in kept:
            plan.keys_reused += len(VIEWS)
            plan.change(kec).unchanged += 1
            continue
        before = previous.get(entry.subject)
        touched = False
        officer_unchanged = False
        for view in VIEWS:
            cached = cache.get((entry.subject, view))
            if view == "officer":
                # The roster's hash is the officer view's hash when the ledger adds nothing.
                wanted = entry.base_hash if entry.outcome is None \
                    else _view_hash(store, entry.shard, entry.published)
                officer_unchanged = cached is not None and cached.blob_hash == wanted
            elif officer_unchanged and cached is not None and cached.blob_hash is not None \
                    and cached.blob is not None:
                wanted = cached.blob_hash  # the recipient view follows the officer view
            else:
                wanted = _view_hash(store, entry.shard, _view_payload(entry.published, view))
            entry.blob_hashes[view] = wanted
            if cached is None or (view == "officer" and cached.key_shard != entry.shard):
                decided.work.append((entry, view))
                entry.cache_write[view] = True
                touched = True
                continue
            plan.keys_reused += 1
            entry.sealed_keys[view] = cached.root_key  # unsealed only if the shard is rebuilt
            if cached.tag is not None:
                entry.tags[view] = cached.tag
            else:  # a row of an earlier release: its tag is stored once the shard is built
                entry.tag_write[view] = True
            if cached.blob_hash == wanted and cached.blob is not None:
                entry.blobs[view] = cached.blob
            else:
                decided.reseal.append((entry, view))
                entry.cache_write[view] = True
                touched = True
        if before is None or before.kecamatan != entry.shard:
            plan.change(entry.shard).added += 1
            if before is not None:
                decided.closed.append(before.id)
            entry.roster_write = True
            touched = True
        else:
            if before.payload_hash != entry.base_hash:
                decided.closed.append(before.id)
                entry.roster_write = True
                touched = True
            if touched:
                plan.change(entry.shard).changed += 1
            else:
                plan.change(entry.shard).unchanged += 1
            if entry.memo_write and not entry.roster_write:
                decided.memo.append((before.id, entry.source))
        decided.touched |= touched
    plan.keys_derived += len(decided.work)
    plan.counts[kec] = len(entries)
    if decided.touched or kec not in plan.published_kecamatan or any(
            shard_target(view, kec) not in plan.previous_targets for view in VIEWS):
        plan.dirty.add(kec)
    return decided


def _patched_lines(store: CentralStore, plan: _Plan, kec: str, leaving: Sequence[str],
                   cache: Mapping[tuple[str, str], _CacheRow]) -> dict[str, list[bytes]] | None:
    """The published shards' lines of ``kec`` without those of ``leaving`` (found by the
    tags of their cached keys), per view; None when a shard file is missing, is not the
    published one or a leaving recipient's line cannot be found (then the kecamatan is built
    from the key cache, as without this)."""
    from tuf.api.exceptions import LengthOrHashMismatchError

    from blt_status.layout import shard_lines

    kept: dict[str, list[bytes]] = {}
    for view in VIEWS:
        target = plan.previous_targets[shard_target(view, kec)]
        try:
            data = target_path_on_disk(store.targets_dir, target).read_bytes()
            target.verify_length_and_hashes(data)
        except (OSError, LengthOrHashMismatchError):
            return None
        lines = shard_lines(data)
        if lines is None:
            return None
        for subject in leaving:
            cached = cache.get((subject, view))
            if cached is None:
                return None
            tag = cached.tag if cached.tag is not None \
                else lookup_tag(store.unseal(cached.root_key, _key_aad(subject, view)))
            if lines.pop(tag.hex().encode(), None) is None:
                return None
        kept[view] = list(lines.values())
    return kept


def _key_aad(subject: str, view: str) -> bytes:
    return f"key|{subject}|{view}".encode()


def _version_info(connection: Connection, version: int) -> Any:
    if version == 0:
        return None
    row = connection.execute(sa.select(versions).where(versions.c.version == version)).first()
    if row is None:
        raise CentralError("db_store_mismatch", db_version=_latest_version(connection),
                           published=version)
    return row


def _latest_version(connection: Connection) -> int:
    return int(connection.execute(sa.select(sa.func.max(versions.c.version))).scalar() or 0)


class _Deriver:
    """Argon2id + sealing for the whole publish: one process pool (or the Dask cluster,
    ``executor``, default: :func:`~blt_status.central.cluster.use_scheduler`'s), fed one
    kecamatan's work at a time, in slices."""

    def __init__(self, params: IndexParams, *, workers: int | None,
                 progress: Progress | None, total: int,
                 executor: ClusterExecutor | None = None) -> None:
        self.params = params
        self.workers = max(1, workers or os.cpu_count() or 1)
        self.progress = progress
        self.total = total
        self.done = 0
        self.executor = executor or active_executor()
        if self.executor is not None:  # slices wide enough for all of the cluster
            self.workers = self.executor.threads()
        self.pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)  # nothing is queued unless a publish stopped
            self.pool = None

    def _report(self, done: int) -> None:
        if self.progress is not None:
            self.progress("sealing", done, max(self.total, done))

    def __call__(self, items: Sequence[WorkItem]) -> list[tuple[bytes, bytes]]:
        return self.submit(items).collect()

    def submit(self, items: Sequence[WorkItem]) -> _Batch:
        """Send ``items`` to the pool or the cluster now; the batch's ``collect`` waits for
        the results (in item order). Batches are collected in the order they were sent."""
        offset = self.done
        self.done = offset + len(items)

        def report(_stage: str, done: int, _total: int) -> None:
            self._report(offset + done)

        if self.executor is not None:
            sent = self.executor.submit(self.params, items)
            return _Batch(lambda: sent.collect(report if self.progress else None), sent.cancel)
        if self.workers == 1 or len(items) < _MIN_PARALLEL_ITEMS:
            def here() -> list[tuple[bytes, bytes]]:
                results: list[tuple[bytes, bytes]] = []
                for chunk in _chunks(items, 256):
                    results.extend(_derive_and_seal(self.params, chunk))
                    self._report(offset + len(results))
                return results

            return _Batch(here)
        if self.pool is None:
            self.pool = ProcessPoolExecutor(max_workers=self.workers, initializer=_init_worker,
                                            initargs=(self.params,))
        size = max(16, min(2000, len(items) // (self.workers * 8) or 1))
        futures = [self.pool.submit(_derive_and_seal_chunk, chunk)
                   for chunk in _chunks(items, size)]

        def gather() -> list[tuple[bytes, bytes]]:
            results: list[tuple[bytes, bytes]] = []
            for future in futures:
                results.extend(future.result())
                self._report(offset + len(results))
            return results

        def cancel() -> None:
            for future in futures:
                future.cancel()

        return _Batch(gather, cancel)


@dataclass
class _Batch:
    """Derivations sent (:meth:`_Deriver.submit`): ``collect`` waits for their results,
    ``cancel`` drops what has not started (a publish that stops)."""

    collect: Callable[[], list[tuple[bytes, bytes]]]
    cancel: Callable[[], None] = lambda: None


class _Background:
    """``call(argument)`` in a forked process while this one goes on; :meth:`result` waits for
    it and returns its value or raises its error. The distribution lists of a publish read only
    the plan's scratch file (its own connection: :attr:`StreamedPlan.db`) and write only their
    folder, so a second core writes them while the shards are built: a re-publish derives no
    key, and the lists were a fifth of its time. ``fork``, not ``spawn``: the child needs the
    plan and the callable as they are (neither is pickled), and it ends with ``os._exit``, so
    nothing of the parent's (database connections, temporary folders) is closed by it. Without
    ``fork``, or when a Dask cluster (threads) is active, the call runs here, at once."""

    def __init__(self, call: Callable[[Path], list[Path]], argument: Path) -> None:
        self.value: list[Path] | None = None
        self.process: multiprocessing.process.BaseProcess | None = None
        if "fork" not in multiprocessing.get_all_start_methods() \
                or active_executor() is not None:
            self.value = call(argument)
            return
        context = multiprocessing.get_context("fork")
        self.receive, send = context.Pipe(duplex=False)
        # Ctrl-C while the fork runs would land in logging's at-fork hooks, which swallow it
        # ("Exception ignored in _releaseLock") and the publish went on: the signal is held
        # back across the fork and delivered here just after, where it stops the publish.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        try:
            self.process = context.Process(target=_run_and_send,
                                           args=(call, argument, send, held),
                                           name="blt-distribution-lists", daemon=True)
            self.process.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
        send.close()

    def result(self) -> list[Path]:
        if self.process is None:
            return self.value or []
        try:
            kind, value = self.receive.recv()
        except EOFError:
            raise RuntimeError("the process writing the distribution lists ended without a "
                               "result") from None
        finally:
            self._reap()
        if kind != "ok":
            raise value
        return list(value)

    def cancel(self) -> None:
        """Stop the child (an error elsewhere in the publish): nothing it writes is kept."""
        if self.process is not None:
            self.process.kill()
            self._reap()

    def _reap(self) -> None:
        if self.process is not None:
            self.process.join()
            self.process.close()
            self.process = None
            self.receive.close()


def _run_and_send(call: Callable[[Path], list[Path]], argument: Path,
                  send: multiprocessing.connection.Connection,
                  mask: Iterable[signal.Signals] = ()) -> None:
    """:class:`_Background`'s child: the call's value or error down the pipe (its signal mask
    first set back to the parent's before the fork)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, mask)
    try:
        outcome: tuple[str, Any] = ("ok", call(argument))
    except BaseException as error:  # sent to the parent, which raises it
        outcome = ("error", error)
    try:
        send.send(outcome)
    except Exception:  # an error that does not pickle: its type only
        send.send(("error", RuntimeError(type(outcome[1]).__name__)))
    finally:
        send.close()


def _derive_canaries(plan: _Plan, deriver: _Deriver) -> dict[str, dict[str, str]]:
    cached = plan.previous_canaries
    canary_work: list[WorkItem] = [
        (CANARY_INPUT, "officer", kec, None) for kec in plan.kecamatan
        if kec not in cached.get("officer", {})]
    if "*" not in cached.get("recipient", {}):
        canary_work.append((CANARY_INPUT, "recipient", "", None))
    results = deriver(canary_work) if canary_work else []
    present = set(plan.kecamatan)
    canaries = {"officer": {kec: tag for kec, tag in cached.get("officer", {}).items()
                            if kec in present},
                "recipient": dict(cached.get("recipient", {}))}
    for (_input, view, shard, _payload), (root, _blob) in zip(canary_work, results,
                                                               strict=True):
        canaries[view][shard if view == "officer" else "*"] = IndexKey.from_root(root).tag.hex()
    canaries["officer"] = dict(sorted(canaries["officer"].items()))
    return canaries


def _send(decided: _Kecamatan, deriver: _Deriver) -> _Batch:
    """Send one kecamatan's missing keys (and the records they seal) to be derived."""
    return deriver.submit([(entry.nik, view, entry.shard, _view_payload(entry.published, view))
                           for entry, view in decided.work])


def _receive(store: CentralStore, decided: _Kecamatan, sent: _Batch) -> None:
    """One kecamatan's derived keys and sealed records (from :func:`_send`); changed records
    sealed again, an unchanged one keeps its sealed blob (its cached key is unsealed only for
    its lookup tag)."""
    for (entry, view), (root, blob) in zip(decided.work, sent.collect(), strict=True):
        entry.keys[view] = root
        entry.tags[view] = IndexKey.from_root(root).tag
        entry.blobs[view] = blob
    for entry, view in decided.reseal:
        key = IndexKey.from_root(store.unseal(entry.sealed_keys[view],
                                              _key_aad(entry.subject, view)))
        entry.tags[view] = key.tag
        entry.blobs[view] = seal_payload(_view_payload(entry.published, view), key=key,
                                         shard=entry.shard).blob
    for entry in decided.entries:
        for view, sealed in entry.sealed_keys.items():
            if view not in entry.tags:
                entry.tags[view] = lookup_tag(store.unseal(sealed, _key_aad(entry.subject, view)))


def _sealed(view: str, kecamatan: str, entries: Iterable[_Entry]) -> Iterator[SealedRecord]:
    for entry in entries:
        yield SealedRecord(entry.tags[view], kecamatan, entry.blobs[view])


AGGREGATE_KEYS = "aggregate_inputs"
"""The key of ``versions.inputs`` that holds each kecamatan's aggregate input hash."""
# How many ledger events of the epoch there were before the version read any status (kept in
# ``versions.inputs``): an ingest that appends nothing publishes again only if the ledger has
# grown since (an earlier ingest appended and then failed before its publish, or an event
# came in during the publish). Counted before the statuses are read, so every event counted
# is in the version; one that came in after may or may not be, and then the count has moved.
LEDGER_EVENTS = "ledger_events"
# The largest event id counted with it (same statement, so the same snapshot), and the flagged
# payouts per kecamatan the version's aggregates were made with: a carried-over roster (ingest,
# refresh) decides again only the kecamatan these say may have moved (:func:`_settled`).
LEDGER_LAST = "ledger_last_id"
FLAGGED = "flagged"


def _ledger_events(connection: Connection, epoch_id: str, *,
                   up_to: int | None = None) -> tuple[int, int]:
    """How many events the epoch has (with ids up to ``up_to``, if given), and the largest id."""
    query = sa.select(sa.func.count(), sa.func.max(payout_events.c.id)) \
        .where(payout_events.c.epoch_id == epoch_id)
    if up_to is not None:
        query = query.where(payout_events.c.id <= up_to)
    count, last = connection.execute(query).one()
    return int(count), int(last or 0)


def _settled(connection: Connection, plan: _Plan, previous_version: int,
             flagged: Mapping[str, int] | None) -> set[str]:
    """The published kecamatan a carried-over roster can keep as they are, without reading them.

    Its recipients, keys and sealed records are the published version's, so a kecamatan's
    shards and aggregates change only when one of its recipients has a ledger event the
    published version may not have seen, or when its flagged count moved. The published
    version counted the epoch's events and their largest id in one snapshot: an event is
    unseen if its id is larger, and if the count up to that id has grown since (a writer
    whose id was taken before that snapshot committed after it, as PostgreSQL's sequences
    allow), nothing is kept. Empty (everything decided) when the version holds no markers
    (published by an earlier release), the epoch or the program changed, or no flagged counts
    are given.
    """
    previous = plan.previous_inputs
    if plan.new_epoch or flagged is None or LEDGER_LAST not in previous \
            or FLAGGED not in previous or LEDGER_EVENTS not in previous:
        return set()
    info = _version_info(connection, previous_version)
    if info is None or info.epoch_id != plan.epoch.id \
            or json.loads(info.program) != plan.program.to_dict():
        return set()
    last = int(previous[LEDGER_LAST])
    if _ledger_events(connection, plan.epoch.id, up_to=last)[0] != int(previous[LEDGER_EVENTS]):
        return set()
    from blt_status.central.roster import visible_at

    unseen = sa.select(payout_events.c.subject).where(
        payout_events.c.epoch_id == plan.epoch.id, payout_events.c.id > last)
    moved = {row[0] for row in connection.execute(
        sa.select(roster.c.kecamatan).distinct().where(
            visible_at(previous_version), roster.c.subject.in_(unseen)))}
    before: Mapping[str, int] = previous[FLAGGED]  # type: ignore[assignment]
    moved |= {kec for kec in set(before) | set(flagged)
              if before.get(kec, 0) != flagged.get(kec, 0)}
    return {kec for kec in plan.previous_counts
            if kec not in moved and all(name in plan.previous_targets for name in (
                *(shard_target(view, kec) for view in VIEWS), aggregates_target(kec)))}


def _stage_aggregates(store: CentralStore, plan: _Plan, transaction: RepoTransaction,
                      aggregate: Aggregator, decided: _Kecamatan) -> None:
    """Compute one kecamatan's aggregates file, or keep the published one when the aggregator
    says (``input_key``) that what it reads of this kecamatan has not changed."""
    kec = decided.name
    input_key = getattr(aggregate, "input_key_of_rows", None)
    if input_key is not None:
        key = store.keyed_hash(input_key(kec, (entry.aggregate_row()
                                               for entry in decided.entries)))
        plan.aggregate_keys[kec] = key
        previous = plan.previous_targets.get(aggregates_target(kec))
        if previous is not None and plan.previous_aggregate_keys.get(kec) == key:
            transaction.keep_target(previous)
            return
    aggregates = aggregate((kec, entry.published) for entry in decided.entries)
    if kec in aggregates:
        transaction.add_target(aggregates_target(kec), *aggregates_file(kec, aggregates[kec]))


def _stage_rows(store: CentralStore, staging: _Staging, decided: _Kecamatan,
                version: int) -> None:
    """One kecamatan's roster and key-cache rows, sealed, to the staging file."""
    from blt_status.central.roster import roster_row

    staging.add("closed", [(row_id,) for row_id in decided.closed])
    staging.add("memo", decided.memo)
    new_rows = []
    for entry in decided.entries:
        if entry.roster_write:
            row = roster_row(store, entry.subject, entry.nik, entry.shard, entry.base,
                             version=version, payload_hash=entry.base_hash,
                             source_hash=entry.source)
            new_rows.append(tuple(row[column] for column in _STAGED_ROSTER))
    staging.add("roster", new_rows)
    staging.add("cache", [
        (entry.subject, view, entry.shard if view == "officer" else "",
         entry.sealed_keys.get(view) or store.seal(entry.keys[view],
                                                   _key_aad(entry.subject, view)),
         entry.blobs[view],
         entry.blob_hashes[view], entry.tags[view])
        for entry in decided.entries for view, _ in entry.cache_write.items()])
    staging.add("tags", [(entry.subject, view, entry.tags[view]) for entry in decided.entries
                         for view, _ in entry.tag_write.items() if view not in entry.cache_write])


def _write_rows(connection: Connection, plan: _Plan, staging: _Staging,
                canaries: Mapping[str, Mapping[str, str]], inputs: Mapping[str, str],
                now: dt.datetime) -> None:
    """The new version's database rows, from the staging file: roster changes, key cache, the
    version itself."""
    version = plan.version
    for batch in staging.read("closed"):
        connection.execute(roster.update().where(roster.c.id.in_([row[0] for row in batch]))
                           .values(valid_to=version))
    memo = roster.update().where(roster.c.id == sa.bindparam("row_id")) \
        .values(source_hash=sa.bindparam("source"))
    for batch in staging.read("memo"):
        connection.execute(memo, [{"row_id": row[0], "source": row[1]} for row in batch])
    tags = key_cache.update().where(key_cache.c.epoch_id == plan.epoch.id,
                                    key_cache.c.subject == sa.bindparam("s"),
                                    key_cache.c.view == sa.bindparam("v")) \
        .values(tag=sa.bindparam("t"))
    for batch in staging.read("tags"):
        connection.execute(tags, [{"s": row[0], "v": row[1], "t": row[2]} for row in batch])
    for batch in staging.read("roster"):
        connection.execute(sa.insert(roster), [
            {**dict(zip(_STAGED_ROSTER, row, strict=True)), "valid_from": version,
             "valid_to": None}
            for row in batch])
    delete = key_cache.delete().where(key_cache.c.epoch_id == sa.bindparam("e"),
                                      key_cache.c.subject == sa.bindparam("s"),
                                      key_cache.c.view == sa.bindparam("v"))
    for batch in staging.read("cache"):
        connection.execute(delete, [{"e": plan.epoch.id, "s": row[0], "v": row[1]}
                                    for row in batch])
        connection.execute(sa.insert(key_cache), [
            {"epoch_id": plan.epoch.id, "subject": row[0], "view": row[1], "key_shard": row[2],
             "root_key": row[3], "blob": row[4], "blob_hash": row[5], "tag": row[6],
             "version": version}
            for row in batch])
    if plan.new_epoch:  # keys of an earlier program period are never used again
        connection.execute(key_cache.delete().where(key_cache.c.epoch_id != plan.epoch.id))
    counts = {kec: count for kec, count in sorted(plan.counts.items()) if count}
    connection.execute(sa.insert(versions).values(
        version=version, epoch_id=plan.epoch.id, created_at=now.astimezone(dt.UTC)
        .replace(tzinfo=None), program=json.dumps(plan.program.to_dict(), sort_keys=True),
        inputs=json.dumps({**inputs, AGGREGATE_KEYS: dict(sorted(plan.aggregate_keys.items()))},
                          sort_keys=True),
        canaries=json.dumps(canaries, sort_keys=True), records=sum(counts.values()),
        kecamatan=json.dumps(counts), changes=json.dumps(plan.change_report(), sort_keys=True)))
    # Closed roster rows are kept: every published roster stays readable (a payout for someone
    # removed since is flagged removed_recipient, not refused as unknown_nik). A version only
    # adds the rows of changed recipients, so the history grows with changes, not with versions.


def _flagged(store: CentralStore, program: Program) -> dict[str, int]:
    """Flagged payouts per kecamatan of ``program``'s period, for the public aggregates
    (officers see "ditandai"); a new period starts with none."""
    from blt_status.central.report_source import flagged_per_kecamatan

    epoch, new = store.epoch_for_program(program.id)
    return {} if new else flagged_per_kecamatan(store, epoch.id)


def publish_records(store: CentralStore,
                    records: Mapping[str, tuple[str, RecordPayload]] | StreamedPlan | None, *,
                    program: Program | None, aggregate: Aggregator,
                    inputs: Mapping[str, str] | None = None,
                    distribution: Callable[[Path], list[Path]] | None = None,
                    workers: int | None = None, progress: Progress | None = None,
                    now: dt.datetime | None = None, guards: Guards | None = None,
                    dry_run: bool = False, wait: float = 0) -> VersionResult:
    """Publish ``records`` (NIK -> (kecamatan of residence, officer payload), or a streamed
    plan) as the next version.

    ``records=None`` carries the published roster over (refresh, ingest); statuses always come
    from the roster and the ledger. All or nothing: on any error nothing under ``public/``
    and nothing in the database changes. ``dry_run`` stops after the change report and the
    guards (nothing derived, nothing written). Memory holds one kecamatan's recipients at a
    time (plus the whole roster when ``records`` is a mapping, as given).
    """
    with store.lock(wait=wait, write=not dry_run), db_errors(database_url(store)), \
            _db_lock(store):
        return _publish_records(store, records, program=program, aggregate=aggregate,
                                inputs=inputs, distribution=distribution, workers=workers,
                                progress=progress, now=now, guards=guards, dry_run=dry_run)


@contextlib.contextmanager
def _db_lock(store: CentralStore) -> Iterator[None]:
    """On PostgreSQL, one publisher per database across machines (an advisory lock)."""
    with _advisory_lock(store, _ADVISORY_KEY, wait=0):
        yield


_ADVISORY_KEY = 0x626C7463  # "bltc"
_INGEST_KEY = 0x626C7469  # "blti"


@contextlib.contextmanager
def _advisory_lock(store: CentralStore, key: int, *, wait: float) -> Iterator[None]:
    """PostgreSQL's advisory lock ``key`` held for the block (nothing on SQLite, where the
    store's lock files are the only writers' locks); ``store_busy`` if another session holds
    it after ``wait`` seconds (0: one try)."""
    engine = open_engine(store)
    if engine.dialect.name != "postgresql":
        yield
        return
    with engine.connect() as connection:
        if wait > 0:  # lock_timeout 0 would mean no limit; LOCAL: this transaction only
            connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(wait * 1000))}")
            try:
                connection.execute(sa.text("SELECT pg_advisory_lock(:key)"), {"key": key})
            except sa.exc.OperationalError as error:
                if getattr(error.orig, "sqlstate", None) == "55P03":  # lock_not_available
                    raise CentralError("store_busy") from None
                raise
        elif not connection.execute(sa.text("SELECT pg_try_advisory_lock(:key)"),
                                    {"key": key}).scalar():
            raise CentralError("store_busy")
        try:
            yield
        finally:
            connection.execute(sa.text("SELECT pg_advisory_unlock(:key)"), {"key": key})
            connection.commit()


@contextlib.contextmanager
def _ingest_lock(store: CentralStore, *, wait: float) -> Iterator[None]:
    """One check-and-append at a time per store (a file lock) and per database (on
    PostgreSQL, an advisory lock): the payout rules read the ledger (paid out already?), so
    the same payout reported at once by two sources (a CSV report and the API) would otherwise
    pass both checks and be appended twice. Not the publish lock: an ingest waits only for
    another ingest, never for a publish (which can take hours). ``store_busy`` after ``wait``
    seconds."""
    store.require_writable()
    with try_lock(store.private_dir / "ingest.lock", wait=wait) as held:
        if not held:
            raise CentralError("store_busy")
        with _advisory_lock(store, _INGEST_KEY, wait=wait):
            yield


def _publish_records(store: CentralStore,
                     records: Mapping[str, tuple[str, RecordPayload]] | StreamedPlan | None, *,
                     program: Program | None, aggregate: Aggregator,
                     inputs: Mapping[str, str] | None,
                     distribution: Callable[[Path], list[Path]] | None, workers: int | None,
                     progress: Progress | None, now: dt.datetime | None,
                     guards: Guards | None, dry_run: bool) -> VersionResult:
    from blt_status.central.plan import StreamedPlan

    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    if not dry_run:
        store.settle_keys()
    engine = open_engine(store)
    previous_version = store.published_version()
    staging = None if dry_run else _Staging()
    try:
        with engine.connect() as connection:
            source: _Source
            if records is None:
                source = _RosterSource(store, connection, previous_version)
            elif isinstance(records, StreamedPlan):
                source = _PlanSource(store, records)
            else:
                source = _MappingSource(store, records)
            plan = _start(store, connection, source, staging, program=program,
                          previous_version=previous_version)
            if guards is not None:
                check_guards(plan, guards)
            if staging is None:
                for kec in plan.kecamatan:
                    _decide(store, connection, plan, source, kec, previous_version)
                return _result(plan, 0, 0, [], now, dry_run=True)
            return _build(store, engine, connection, plan, source, staging,
                          aggregate=aggregate, previous_version=previous_version,
                          inputs=inputs if inputs is not None else plan.previous_inputs,
                          distribution=distribution, workers=workers, progress=progress,
                          now=now)
    finally:
        if staging is not None:
            staging.close()


def _result(plan: _Plan, shards_written: int, shards_unchanged: int,
            distribution_lists: list[Path], now: dt.datetime, *,
            dry_run: bool = False) -> VersionResult:
    return VersionResult(plan.version, sum(plan.counts.values()), shards_written,
                         shards_unchanged, plan.keys_derived, plan.keys_reused,
                         [kec for kec in plan.kecamatan if plan.counts.get(kec)], plan.epoch.id,
                         now, distribution_lists, plan.change_report(), dry_run)


def _build(store: CentralStore, engine: sa.Engine, connection: Connection, plan: _Plan,
           source: _Source, staging: _Staging, *, aggregate: Aggregator, previous_version: int,
           inputs: Mapping[str, str], distribution: Callable[[Path], list[Path]] | None,
           workers: int | None, progress: Progress | None, now: dt.datetime) -> VersionResult:
    """Derive, seal and stage one kecamatan at a time; then write the rows, sign, and replace
    timestamp.json in one database transaction; or undo it all."""
    version = plan.version
    transaction = RepoTransaction(store.public_dir, version)
    distribution_dir = store.private_dir / "distribution" / str(version)
    distribution_lists: list[Path] = []
    shards_written = shards_unchanged = 0
    timestamp_path = store.metadata_dir / "timestamp.json"
    old_timestamp = timestamp_path.read_bytes() if timestamp_path.exists() else None
    committed = False
    deriver = _Deriver(store.index_params(plan.epoch), workers=workers, progress=progress,
                       total=2 * plan.published + len(plan.kecamatan) + 1)
    lists: _Background | None = None
    pending: tuple[int, _Kecamatan, _Batch] | None = None  # sent, not yet written
    try:
        if distribution is not None:  # written by a second process while the shards are built
            shutil.rmtree(distribution_dir, ignore_errors=True)  # an aborted earlier attempt
            make_private_dir(distribution_dir)
            lists = _Background(distribution, distribution_dir)
        events, last_event = _ledger_events(connection, plan.epoch.id)  # before any status
        flagged = getattr(aggregate, "flagged", None)
        settled = _settled(connection, plan, previous_version, flagged) \
            if source.carry_over and previous_version else set()
        inputs = {**inputs, LEDGER_EVENTS: str(events), LEDGER_LAST: str(last_event)}
        if flagged is not None:
            inputs[FLAGGED] = dict(sorted(flagged.items()))  # type: ignore[assignment]
        canaries = _derive_canaries(plan, deriver)

        def advance(sent: tuple[int, _Kecamatan, _Batch] | None) -> None:
            """Make ``sent`` the pending kecamatan, then write the one pending before (if a
            write fails, ``sent`` is the one the ``finally`` below cancels)."""
            nonlocal pending, shards_written, shards_unchanged
            previous, pending = pending, sent
            if previous is None:
                return
            number, decided, batch = previous
            written, unchanged = _write_kecamatan(store, plan, transaction, aggregate,
                                                  staging, decided, batch)
            shards_written += written
            shards_unchanged += unchanged
            if progress:
                progress("shards", number, len(plan.kecamatan))

        # Pipelined: kecamatan k+1 is decided and its keys sent to the pool (or the cluster)
        # before kecamatan k's shards and rows are written, so the workers derive while this
        # process writes. At most two kecamatan are in memory.
        for done, kec in enumerate(plan.kecamatan, 1):
            if kec in settled:  # as _decide would find it: every recipient unchanged
                count = plan.previous_counts[kec]
                plan.counts[kec] = count
                plan.change(kec).unchanged += count
                plan.keys_reused += len(VIEWS) * count
            else:
                decided = _decide(store, connection, plan, source, kec, previous_version)
            if kec in settled or kec not in plan.dirty:
                advance(None)  # the kecamatan before first: progress in order
                if kec not in settled:
                    staging.add("memo", decided.memo)
                for name in (*(shard_target(view, kec) for view in VIEWS),
                             aggregates_target(kec)):
                    if name in plan.previous_targets:
                        transaction.keep_target(plan.previous_targets[name])
                if kec in plan.previous_aggregate_keys:
                    plan.aggregate_keys[kec] = plan.previous_aggregate_keys[kec]
                shards_unchanged += len(VIEWS)
                if progress:
                    progress("shards", done, len(plan.kecamatan))
                continue
            sent = (done, decided, _send(decided, deriver))
            del decided
            advance(sent)
            del sent
        advance(None)
        deriver.close()
        if progress:
            progress("sealing", deriver.total, deriver.total)
        plan.kecamatan = [kec for kec in plan.kecamatan if plan.counts.get(kec)]
        transaction.add_target(PARAMS_TARGET, *params_document(
            epoch=plan.epoch.id, epoch_salt=plan.epoch.salt, kdf=store.config.kdf,
            program=plan.program,
            canaries={view: {region: bytes.fromhex(tag) for region, tag in tags.items()}
                      for view, tags in canaries.items()},
            data_as_of=now))

        if lists is not None:
            distribution_lists = lists.result()
            for path in distribution_dir.rglob("*"):
                os.chmod(path, 0o700 if path.is_dir() else 0o600)

        connection.close()  # the reads are done; the commit writes on its own connection
        if plan.new_epoch:
            store.save_epoch(plan.epoch)
        with engine.begin() as writer:
            if _latest_version(writer) >= version:  # another writer got there first
                raise CentralError("store_busy")
            _write_rows(writer, plan, staging, canaries, inputs, now)
            expires = {role: store.config.expiry(role, now)
                       for role in ("targets", "snapshot", "timestamp")}
            timestamp = transaction.write_metadata(
                targets_signer=store.signer("targets"),
                snapshot_signer=store.signer("snapshot"),
                timestamp_signer=store.signer("timestamp"), expires=expires)
            transaction.commit(timestamp)
            try:
                writer.commit()
            except BaseException:
                # The database refused at the last moment: put the old timestamp back.
                _restore_timestamp(timestamp_path, old_timestamp)
                transaction.committed = False
                raise
        committed = True
    finally:
        if pending is not None:
            pending[2].cancel()
        deriver.close()
        if lists is not None:
            lists.cancel()  # a no-op once its result is in
        if not committed:
            transaction.rollback()
            shutil.rmtree(distribution_dir, ignore_errors=True)
    if staging.rows >= ANALYZE_AFTER_ROWS:
        refresh_statistics(engine, roster, key_cache, versions)
    prune_targets(store, keep_versions=KEEP_TARGET_VERSIONS)
    if distribution is not None:
        prune_distribution_lists(store, keep=KEEP_DISTRIBUTION_LISTS)
    return _result(plan, shards_written, shards_unchanged, distribution_lists, now)


def _write_kecamatan(store: CentralStore, plan: _Plan, transaction: RepoTransaction,
                     aggregate: Aggregator, staging: _Staging, decided: _Kecamatan,
                     sent: _Batch) -> tuple[int, int]:
    """One kecamatan's derivations received, its shards and aggregates staged in the
    transaction and its rows in the staging file: (shards written, shards unchanged)."""
    _receive(store, decided, sent)
    written = unchanged = 0
    for view in VIEWS:
        # the kept recipients' lines as published, the others' as built now
        built = (entry for entry in decided.entries if entry.subject not in decided.kept)
        data, custom = shard_file_of_lines(
            view, decided.name, [*decided.kept_lines.get(view, ()), *map(
                shard_line, _sealed(view, decided.name, built))], epoch=plan.epoch.id)
        _, wrote = transaction.add_target(shard_target(view, decided.name), data, custom)
        del data  # a shard of a large kecamatan is tens of MB: one at a time
        if wrote:
            written += 1
        else:
            unchanged += 1
    _stage_aggregates(store, plan, transaction, aggregate, decided)
    _stage_rows(store, staging, decided, plan.version)
    return written, unchanged


def _restore_timestamp(path: Path, data: bytes | None) -> None:
    if data is None:
        path.unlink(missing_ok=True)
    else:
        atomic_write_bytes(path, data, mode=0o644)


def prune_targets(store: CentralStore, *, keep_versions: int) -> int:
    """Delete target files no longer named by the newest ``keep_versions`` versions.

    Runs only after a commit; old ``<v>.targets.json``/``<v>.snapshot.json`` stay (small, and
    a client that asks for them gets a consistent answer). Returns the number of files removed.
    """
    current = store.published_version()
    referenced: set[Path] = set()
    for version in range(max(1, current - keep_versions + 1), current + 1):
        path = store.metadata_dir / f"{version}.targets.json"
        if not path.exists():
            continue
        try:
            targets = Metadata[Targets].from_file(str(path)).signed.targets
        except Exception:
            return 0  # never delete on a doubt
        referenced.update(target_path_on_disk(store.targets_dir, target)
                          for target in targets.values())
    if not referenced:
        return 0
    removed = 0
    for path in store.targets_dir.rglob("*"):
        if path.is_file() and path not in referenced:
            path.unlink()
            removed += 1
    return removed


def prune_distribution_lists(store: CentralStore, *, keep: int) -> None:
    """Keep only the newest ``keep`` distribution list folders (they hold names)."""
    folder = store.private_dir / "distribution"
    versions = sorted((int(path.name), path) for path in folder.iterdir()
                      if path.is_dir() and path.name.isdigit())
    for _number, path in versions[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def published_info(store: CentralStore) -> tuple[int, Program, dict[str, str], str] | None:
    """The published version, its program, input file names and epoch (None: nothing yet)."""
    version = store.published_version()
    if version == 0:
        return None
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        info = _version_info(connection, version)
    return (version, Program.from_dict(json.loads(info.program)), json.loads(info.inputs),
            str(info.epoch_id))


def refresh(store: CentralStore, *, now: dt.datetime | None = None,
            wait: float = 0) -> VersionResult:
    """Re-sign the current content as the next version (new expiry dates, no new shards)."""
    from blt_status.central.plan import Aggregates

    with store.lock(wait=wait):
        info = published_info(store)
        if info is None:
            raise CentralError("nothing_published")
        program = info[1]
        return publish_records(store, None, program=program,
                               aggregate=Aggregates(program, _flagged(store, program)), now=now)


def rotate_keys(store: CentralStore, roles: Sequence[str], *,
                now: dt.datetime | None = None) -> tuple[int, VersionResult | None]:
    """Replace the keys of ``roles`` (root N -> N+1), then re-sign the data with them.

    The new root is signed by every old root key (and every new one when the root keys
    change), so devices pinned to root N follow to N+1 on their next sync. Returns the new
    root version and the re-signed data version.
    """
    from securesystemslib.signer import CryptoSigner

    from blt_status.central.repo import make_next_root

    chosen = sorted(set(roles))
    if not chosen:
        raise CentralError("role_unknown:none")
    with store.lock():
        store.settle_keys()
        current = store.root()
        new_keys = {role: [CryptoSigner.generate_ed25519() for _ in store.key_names(role)]
                    for role in chosen}
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        old_root_signers = [store.signer(name) for name in store.key_names("root")]
        root = make_next_root(current, new_keys=new_keys, old_root_signers=old_root_signers,
                              expires=store.config.expiry("root", now))
        version = root.signed.version
        for role, signers in new_keys.items():
            for name, signer in zip(store.key_names(role), signers, strict=True):
                store.stage_key(name, signer)
        # The commit point of the rotation: the new root names the staged keys.
        atomic_write_bytes(store.metadata_dir / f"{version}.root.json", root.to_bytes(),
                           mode=0o644)
        store.settle_keys()
        result = refresh(store, now=now) if store.published_version() else None
    return version, result


# -- the entry points -------------------------------------------------------------------------


def publish_files(store: CentralStore, recipients_csv: Path, payout_points_csv: Path,
                  program_toml: Path, *, workers: int | None = None,
                  progress: Progress | None = None, now: dt.datetime | None = None,
                  dry_run: bool = False, allow_empty: bool = False, allow_shrink: bool = False,
                  allow_rejections: bool = False) -> PublishReport:
    """Validate, plan and publish the next version from the three input files.

    Refused unless allowed (nothing written): 0 recipients (``publish_empty``), too many
    published recipients removed or a kecamatan emptied (``publish_shrink``), most input rows
    rejected (``publish_mostly_rejected``). ``dry_run`` reports what would change and writes
    nothing at all.
    """
    if not dry_run:
        store.require_writable()  # before reading a national file, not after
    from blt_status.central.plan import Aggregates, StreamedPlan
    from blt_status.central.rowmemo import MEMO_FILE

    memo = store.private_dir / MEMO_FILE

    def row_progress(done: int, total: int) -> None:
        if progress is not None:
            progress("checking", done, total)

    with StreamedPlan.build(Path(recipients_csv), Path(payout_points_csv), Path(program_toml),
                            progress=row_progress,
                            subject_key=store.subject_key, memo=memo,
                            workers=max(1, workers or os.cpu_count() or 1)) as plan:
        program = plan.program.program
        guards = Guards.for_store(store, input_rows=plan.input_rows,
                                  rejected_by_code=plan.rejected_by_code(),
                                  rejected=plan.rejected_count, allow_empty=allow_empty,
                                  allow_shrink=allow_shrink, allow_rejections=allow_rejections)
        if dry_run:
            inputs = None
        else:
            inputs = {"program": store.save_input(Path(program_toml), ".toml"),
                      "payout_points": store.save_input(Path(payout_points_csv), ".csv")}
        result = publish_records(
            store, plan, program=program,
            aggregate=Aggregates(program, _flagged(store, program)),
            inputs=inputs, distribution=plan.write_distribution_lists,
            workers=workers, progress=progress, now=now, guards=guards, dry_run=dry_run)
        if result.published + plan.rejected_count != plan.input_rows:
            raise CentralError("count_mismatch")
        if not dry_run:
            with contextlib.suppress(OSError, sqlite3.Error):  # a cache: the next publish
                plan.save_memo(memo)  # only checks more rows without it
        rejected = RejectionLog(rejection.to_dict() for rejection in plan.rejections())
        return PublishReport(result.version, result.published, rejected, plan.input_rows,
                             result.shards_written, result.shards_unchanged,
                             result.keys_derived, result.keys_reused, result.kecamatan,
                             store.config.kdf.label,
                             [str(path) for path in result.distribution_lists],
                             result.changes, dry_run,
                             [warning.to_dict() for warning in plan.warnings], plan.memo_rows)


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def ingest_payouts(store: CentralStore, report_csv: Path, *, progress: Progress | None = None,
                   now: dt.datetime | None = None, workers: int | None = None,
                   wait: float = 120) -> IngestReport:
    """Read a Kantor Pos payout report, append its facts to the ledger, publish (only changed
    shards). Reading the same report again appends nothing (every row is a duplicate)."""
    from blt_status.central.payouts import read_payout_report

    report_csv = Path(report_csv)
    if store.published_version() == 0:
        raise CentralError("nothing_published")
    rows, rejections, input_rows = read_payout_report(report_csv)
    source_ref = _file_sha256(report_csv)
    events = [PayoutEvent(row.nik_digits, row.status, row.waktu, row.id_titik, "csv",
                          source_ref, str(row.line), row.reason_code, row.keterangan)
              for row in rows]
    return ingest_events(store, events, progress=progress, now=now, workers=workers,
                         rejected_before=[rejection.to_dict() for rejection in rejections],
                         input_rows=input_rows, wait=wait)


def ingest_events(store: CentralStore, events: Sequence[PayoutEvent], *,
                  received_at: dt.datetime | None = None, publish: bool = True,
                  progress: Progress | None = None, now: dt.datetime | None = None,
                  workers: int | None = None,
                  rejected_before: Sequence[Mapping[str, Any]] = (),
                  input_rows: int | None = None, wait: float = 120) -> IngestReport:
    """Check payout facts (CSV rows or API feedback), append the accepted ones to the ledger
    and (``publish``) publish the next version. One path for every source.

    Facts already in the ledger (same source, reference and row) are counted as duplicates
    and change nothing; the others are applied or rejected with a code.
    """
    info = published_info(store)
    if info is None:
        raise CentralError("nothing_published")
    version, program, inputs, epoch_id = info
    with db_errors(database_url(store)), _ingest_lock(store, wait=wait):
        fresh, recorded = _new_events(store, events, epoch_id)
        duplicates = len(recorded)
        from blt_status.central.checks import check_events  # issue 10's rules and flags

        accepted, rejected, found = check_events(store, fresh, version=version,
                                                 epoch_id=epoch_id, inputs=inputs,
                                                 received_at=received_at, recorded=recorded)
        appended = Ledger(store).append(accepted, epoch_id=epoch_id, received_at=received_at,
                                        flags=found)
    duplicates += appended.duplicates
    rejected = sorted([*(dict(item) for item in rejected_before), *rejected],
                      key=lambda item: int(item["line"]))
    rows = len(events) + len(rejected_before) if input_rows is None else input_rows
    report = IngestReport(version, len(appended.appended), rejected, rows, 0,
                          duplicates=duplicates, published=False)
    if not publish:
        return report
    if not appended.appended and inputs.get(LEDGER_EVENTS) is not None:
        with db_errors(database_url(store)), open_engine(store).connect() as connection:
            if str(_ledger_events(connection, epoch_id)[0]) == inputs[LEDGER_EVENTS]:
                return report  # nothing new since the published version: it stays
    from blt_status.central.plan import Aggregates

    result = publish_records(store, None, program=program,
                             aggregate=Aggregates(program, _flagged(store, program)),
                             workers=workers, progress=progress, now=now, wait=wait)
    report.version = result.version
    report.shards_written = result.shards_written
    report.shards_unchanged = result.shards_unchanged
    report.changed_records = sum(counts["changed"] for counts in result.changes.values())
    report.kecamatan = sorted(kec for kec, counts in result.changes.items() if counts["changed"])
    report.published = True
    return report


def _new_events(store: CentralStore, events: Sequence[PayoutEvent], epoch_id: str,
                ) -> tuple[list[PayoutEvent], list[PayoutEvent]]:
    """The events not yet in the ledger, and those that were: by reference (the same report
    file and line, the same API message and reference) and, for report rows, by fact (the
    same report re-saved as another file, or repeating the API's answers:
    :func:`ledger.recorded_facts`)."""
    refs = {(event.source, event.source_ref) for event in events}
    known: set[tuple[str, str, str]] = set()
    with open_engine(store).connect() as connection:
        for source, source_ref in refs:
            query = sa.select(payout_events.c.row_ref).where(
                payout_events.c.source == source, payout_events.c.source_ref == source_ref)
            known.update((source, source_ref, row.row_ref) for row in connection.execute(query))
        unknown: list[PayoutEvent] = []
        recorded: list[PayoutEvent] = []  # known by reference, then by fact
        for event in events:
            in_ledger = (event.source, event.source_ref, event.row_ref) in known
            (recorded if in_ledger else unknown).append(event)
        same_fact = recorded_facts(connection, store, epoch_id, unknown)
    recorded += [unknown[index] for index in sorted(same_fact)]
    fresh = [event for index, event in enumerate(unknown) if index not in same_fact]
    return fresh, recorded


