"""TinyDB index backend: the embedded default for an officer device (thousands of records).

TinyDB's own JSONStorage rewrites its file in place; :class:`AtomicJSONStorage` writes a whole
new file and renames it over the old one, and the builder writes exactly once (through
``CachingMiddleware``). Opening reads the file once, checks its structure and its build-time
checksum in full (an officer's index is small), and builds a tag -> record map: no lookup is
ever a TinyDB ``Query`` scan. Anything malformed or altered is :class:`IndexCorrupt`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.middlewares import CachingMiddleware
from tinydb.storages import Storage

from blt_status.errors import FileFormatError, IndexCorrupt, IndexMissing
from blt_status.i18n import N_
from blt_status.records import SealedRecord
from blt_status.store._base import (
    IndexBackend,
    IndexMeta,
    IndexStore,
    RecordsChecksum,
    atomic_write_bytes,
)

_TABLES = ("meta", "records", "check")


def _only_document(table: Any) -> dict[str, Any]:
    if not isinstance(table, dict) or len(table) != 1:
        raise ValueError("a table that should hold one document")
    document = next(iter(table.values()))
    if not isinstance(document, dict):
        raise ValueError("a document that is not an object")
    return document


def _records(table: Any) -> dict[str, tuple[str, str]]:
    """tag (hex) -> (shard, blob as base64), every field checked for its type."""
    if not isinstance(table, dict):
        raise ValueError("the records table is not an object")
    by_tag: dict[str, tuple[str, str]] = {}
    for document in table.values():
        if not isinstance(document, dict):
            raise ValueError("a record that is not an object")
        tag, shard, blob = document.get("t"), document.get("s"), document.get("b")
        if not (isinstance(tag, str) and isinstance(shard, str) and isinstance(blob, str)):
            raise ValueError("a record field of the wrong type")
        if tag in by_tag:
            raise ValueError("two records with one tag")
        by_tag[tag] = (shard, blob)
    return by_tag


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
            data = AtomicJSONStorage(path, access_mode="r").read()
            if not isinstance(data, dict) or not set(data) <= set(_TABLES):
                raise ValueError("not an index file")
            meta_document = _only_document(data.get("meta"))
            self.meta = IndexMeta.from_dict(meta_document)
            # tag (hex) -> (shard, blob as base64); blobs are decoded only when hit.
            self._by_tag = _records(data.get("records", {}))
            check = data.get("check")
            self.checksum = None if check is None else str(_only_document(check)["sha256"])
        except (ValueError, KeyError, TypeError, OSError, FileFormatError) as error:
            raise IndexCorrupt(str(path), type(error).__name__) from None
        if self.checksum is not None:
            self._check(meta_document)

    def _check(self, meta_document: dict[str, Any]) -> None:
        """The whole file against its checksum (an officer's index: thousands of records)."""
        checksum = RecordsChecksum()
        try:
            for tag, (shard, blob) in self._by_tag.items():
                checksum.add(bytes.fromhex(tag), shard, base64.b64decode(blob, validate=True))
        except (ValueError, binascii.Error):
            raise self._damaged(N_("a record cannot be decoded")) from None
        if checksum.hexdigest(meta_document) != self.checksum:
            raise self._damaged(N_("its records do not match the checksum written when it "
                                   "was built"))

    def verify(self) -> None:
        if self.damage is not None:
            raise self.damage

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
        checksum = RecordsChecksum()
        for record in records:
            if record.tag in seen:
                raise FileFormatError("duplicate_tag")
            seen.add(record.tag)
            counts[record.shard] = counts.get(record.shard, 0) + 1
            checksum.add(record.tag, record.shard, record.blob)
            documents.append({"t": record.tag.hex(), "s": record.shard,
                              "b": base64.b64encode(record.blob).decode("ascii")})
        meta = meta.with_changes(shards=counts)
        path.unlink(missing_ok=True)  # only ever a scratch or new version name
        # One write at close: the whole file appears at once (AtomicJSONStorage renames).
        storage = CachingMiddleware(AtomicJSONStorage)
        with TinyDB(path, storage=storage) as db:
            db.table("records").insert_multiple(documents)
            db.table("meta").insert(meta.to_dict())
            # canonical_json of what is stored: the reader hashes the document it reads
            db.table("check").insert({"sha256": checksum.hexdigest(
                json.loads(json.dumps(meta.to_dict())))})
        return meta

    def open(self, path: Path) -> IndexStore:
        return TinyDbStore(path)
