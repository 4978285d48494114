"""The IndexStore interface, the index metadata, and atomic file replacement.

A store file holds one index version for one view: ``IndexMeta`` plus sealed records. Store
files are immutable once written: a new version is a new file, built beside the old one and
moved into place with :func:`atomic_replace`, so a reader never sees half a file.
"""

from __future__ import annotations

import abc
import contextlib
import datetime as dt
import fcntl
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from blt_status.crypto import KdfProfile, b64d, b64e
from blt_status.errors import FileFormatError
from blt_status.records import Program, SealedRecord

INDEX_FORMAT = "blt-index-v1"


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
    """A read-only, opened index version. Lookups are keyed, never scans."""

    path: Path
    meta: IndexMeta

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


def fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A unique scratch name beside ``path`` (same filesystem, so rename is atomic)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")


def atomic_replace(temp: Path, path: Path) -> None:
    """fsync ``temp``, rename it over ``path``, fsync the directory."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a whole small file so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (created 0700/0600), waiting for it."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
