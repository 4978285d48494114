"""The IndexStore interface, the index metadata, and atomic file replacement.

A store file holds one index version for one view: ``IndexMeta`` plus sealed records. Store
files are immutable once written: a new version is a new file, built beside the old one and
moved into place with :func:`atomic_replace`, so a reader never sees half a file.

Every file also carries a **checksum** written when it is built (:class:`RecordsChecksum`):
a hash of its metadata, its record count and the sum (mod 2**256) of one SHA-256 per record,
so it can be computed while records stream in and checked later in any order, page by page.
It is not a signature (whoever can write the file can write a new checksum): it catches a
damaged disk, a flipped byte, or a hand-edited file, which would otherwise answer "not found"
or fail record by record. ``IndexStore.verify`` checks it in full.
"""

from __future__ import annotations

import abc
import datetime as dt
import hashlib
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from blt_status._fs import atomic_replace as atomic_replace
from blt_status._fs import atomic_write_bytes as atomic_write_bytes
from blt_status._fs import fsync_dir as fsync_dir
from blt_status._fs import locked as locked
from blt_status._fs import temp_path_for as temp_path_for
from blt_status.crypto import KdfProfile, b64d, b64e, canonical_json
from blt_status.errors import FileFormatError, IndexCorrupt
from blt_status.records import Program, SealedRecord

INDEX_FORMAT = "blt-index-v1"
CHECKSUM_FORMAT = "blt-index-check-v1"
_MOD = 2**256


class RecordsChecksum:
    """The build-time checksum of one store file, fed one record at a time in any order."""

    def __init__(self) -> None:
        self.count = 0
        self.total = 0

    def add(self, tag: bytes, shard: str, blob: bytes) -> None:
        shard_bytes = shard.encode("utf-8")
        digest = hashlib.sha256(
            struct.pack(">III", len(tag), len(shard_bytes), len(blob)) + tag + shard_bytes
            + blob).digest()
        self.total = (self.total + int.from_bytes(digest, "big")) % _MOD
        self.count += 1

    def merge(self, other: RecordsChecksum) -> None:
        self.count += other.count
        self.total = (self.total + other.total) % _MOD

    def hexdigest(self, meta: Mapping[str, Any]) -> str:
        """The checksum of a file holding ``meta`` (as stored) and the records added."""
        material = (f"{CHECKSUM_FORMAT}|".encode() + canonical_json(dict(meta))
                    + f"|{self.count}|{self.total:064x}".encode())
        return hashlib.sha256(material).hexdigest()


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class IndexMeta:
    """What an index file is: view, version, dates, program, key parameters, shard counts.

    ``canaries`` maps each shard (kecamatan) to the tag of a fixed input under that shard's
    pepper, epoch salt and KDF: a device that derives a different tag holds other parameters.
    """

    view: str
    version: int
    data_as_of: dt.datetime
    expires: dt.datetime | None
    program: Program
    kdf: KdfProfile
    epoch_salt: bytes = field(repr=False)
    shards: Mapping[str, int]  # shard -> record count
    canaries: Mapping[str, bytes] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def record_count(self) -> int:
        return sum(self.shards.values())

    def is_stale(self, now: dt.datetime | None = None) -> bool:
        return self.expires is not None and (now or utcnow()) > self.expires

    def with_changes(self, **changes: Any) -> IndexMeta:
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": INDEX_FORMAT,
            "view": self.view,
            "version": self.version,
            "data_as_of": self.data_as_of.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "program": self.program.to_dict(),
            "kdf": self.kdf.to_dict(),
            "epoch_salt": b64e(self.epoch_salt),
            "shards": dict(sorted(self.shards.items())),
            "canaries": {shard: tag.hex() for shard, tag in sorted(self.canaries.items())},
            "extra": dict(self.extra),
        }

    @classmethod
    def from_dict(cls, data: Any) -> IndexMeta:
        try:
            if data.get("format") != INDEX_FORMAT:
                raise ValueError("format")
            expires = data.get("expires")
            return cls(
                view=str(data["view"]),
                version=int(data["version"]),
                data_as_of=dt.datetime.fromisoformat(data["data_as_of"]),
                expires=dt.datetime.fromisoformat(expires) if expires else None,
                program=Program.from_dict(data["program"]),
                kdf=KdfProfile.from_dict(data["kdf"]),
                epoch_salt=b64d(data["epoch_salt"]),
                shards={str(k): int(v) for k, v in data["shards"].items()},
                canaries={str(k): bytes.fromhex(v) for k, v in data.get("canaries", {}).items()},
                extra=dict(data.get("extra", {})),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise FileFormatError("index_meta") from None


class IndexStore(abc.ABC):
    """A read-only, opened index version. Lookups are keyed, never scans.

    ``checksum`` is the build-time checksum the file carries (None for a file written before
    checksums existed: it cannot be checked and the next sync rebuilds it). ``damage`` is set
    once a check found the file damaged; lookups then fail with it instead of answering.
    """

    path: Path
    meta: IndexMeta
    checksum: str | None = None
    damage: IndexCorrupt | None = None

    @abc.abstractmethod
    def verify(self) -> None:
        """Check the whole file against its checksum (raises :class:`IndexCorrupt`)."""

    def check_in_background(  # noqa: B027 - a no-op for backends that check when opening
            self, on_damage: Callable[[IndexCorrupt], None] | None = None) -> None:
        """Start checking the file page by page off the caller's thread (if the backend
        does not check it in full when opened); ``on_damage`` is called if it is damaged."""

    def _damaged(self, detail: str) -> IndexCorrupt:
        self.damage = IndexCorrupt(str(self.path), detail)
        return self.damage

    @abc.abstractmethod
    def get(self, tag: bytes) -> SealedRecord | None:
        """The record with this tag, or None."""

    @abc.abstractmethod
    def __len__(self) -> int:
        """Number of records."""

    @abc.abstractmethod
    def iter_shard(self, shard: str) -> Iterator[SealedRecord]:
        """Every record of one shard (for building the next version)."""

    def close(self) -> None:  # noqa: B027 - optional for backends without handles
        """Release file handles."""

    def __enter__(self) -> IndexStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class IndexBackend(abc.ABC):
    """Writes and opens one kind of store file."""

    name: str
    suffix: str

    @abc.abstractmethod
    def write(self, path: Path, meta: IndexMeta, records: Iterable[SealedRecord]) -> IndexMeta:
        """Write a complete store atomically; return the meta with true shard counts."""

    @abc.abstractmethod
    def open(self, path: Path) -> IndexStore:
        """Open a store for lookups (raises IndexMissing / IndexCorrupt)."""

    def files(self, path: Path) -> list[Path]:
        """Every file the version at ``path`` needs (a derived version may name a base)."""
        return [path]

    def derive(self, base: IndexStore, path: Path, meta: IndexMeta,
               replaced: Mapping[str, Iterable[SealedRecord]]) -> IndexMeta:
        """A new version from ``base``: the shards in ``replaced`` swapped, others kept.

        A shard mapped to an empty iterable is dropped. Backends may do this faster.
        """

        def records() -> Iterator[SealedRecord]:
            for shard in sorted(set(base.meta.shards) | set(replaced)):
                if shard in replaced:
                    yield from replaced[shard]
                else:
                    yield from base.iter_shard(shard)

        return self.write(path, meta, records())


