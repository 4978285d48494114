"""TinyDB index backend: the embedded default for an officer device (thousands of records).

TinyDB's own JSONStorage rewrites its file in place; :class:`AtomicJSONStorage` writes a whole
new file and renames it over the old one, and the builder writes exactly once (through
``CachingMiddleware``). Opening reads the file once and builds a tag -> record map: no lookup
is ever a TinyDB ``Query`` scan.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from blt_status.errors import FileFormatError, IndexCorrupt, IndexMissing
from blt_status.records import SealedRecord
from blt_status.store._base import IndexBackend, IndexMeta, IndexStore, atomic_write_bytes


class AtomicJSONStorage(Storage):
    """A TinyDB storage that replaces its file atomically on every write."""

    def __init__(self, path: str | Path, access_mode: str = "r+") -> None:
        self.path = Path(path)
        self.access_mode = access_mode

    def read(self) -> dict[str, dict[str, Any]] | None:
        try:
            text = self.path.read_bytes()
        except FileNotFoundError:
            return None
        return json.loads(text) if text else None

    def write(self, data: dict[str, dict[str, Any]]) -> None:
        if self.access_mode == "r":
            raise OSError("read-only storage")
        atomic_write_bytes(self.path, json.dumps(data, separators=(",", ":")).encode())

    def close(self) -> None:
        pass


class TinyDbStore(IndexStore):
    def __init__(self, path: Path) -> None:
        self.path = path
        if not path.is_file():
            raise IndexMissing(str(path))
        try:
            with TinyDB(path, storage=AtomicJSONStorage, access_mode="r") as db:
                metas = db.table("meta").all()
                if len(metas) != 1:
                    raise IndexCorrupt(str(path), "no metadata")
                self.meta = IndexMeta.from_dict(metas[0])
                # tag (hex) -> (shard, blob as base64); blobs are decoded only when hit.
                self._by_tag: dict[str, tuple[str, str]] = {
                    document["t"]: (document["s"], document["b"])
                    for document in db.table("records").all()
                }
        except (ValueError, KeyError, TypeError, FileFormatError) as error:
            raise IndexCorrupt(str(path), type(error).__name__) from None

    def get(self, tag: bytes) -> SealedRecord | None:
        hit = self._by_tag.get(tag.hex())
        if hit is None:
            return None
        return SealedRecord(tag, hit[0], base64.b64decode(hit[1]))

    def __len__(self) -> int:
        return len(self._by_tag)

    def iter_shard(self, shard: str) -> Iterator[SealedRecord]:
        for tag, (record_shard, blob) in self._by_tag.items():
            if record_shard == shard:
                yield SealedRecord(bytes.fromhex(tag), shard, base64.b64decode(blob))


class TinyDbBackend(IndexBackend):
    name = "tinydb"
    suffix = ".json"

    def write(self, path: Path, meta: IndexMeta, records: Iterable[SealedRecord]) -> IndexMeta:
        counts: dict[str, int] = {}
        seen: set[bytes] = set()
        documents = []
        for record in records:
            if record.tag in seen:
                raise FileFormatError("duplicate_tag")
            seen.add(record.tag)
            counts[record.shard] = counts.get(record.shard, 0) + 1
            documents.append({"t": record.tag.hex(), "s": record.shard,
                              "b": base64.b64encode(record.blob).decode("ascii")})
        meta = meta.with_changes(shards=counts)
        path.unlink(missing_ok=True)  # only ever a scratch or new version name
        # One write at close: the whole file appears at once (AtomicJSONStorage renames).
        with TinyDB(path, storage=CachingMiddleware(AtomicJSONStorage)) as db:
            db.table("records").insert_multiple(documents)
            db.table("meta").insert(meta.to_dict())
        return meta

    def open(self, path: Path) -> IndexStore:
        return TinyDbStore(path)
