"""The published repository's layout and file formats: what the publisher writes, devices read.

``DIR/public/`` is a TUF repository with consistent snapshots, served by any static host:

    metadata/1.root.json, 2.root.json, ...     root history (N -> N+1 rotation)
    metadata/timestamp.json                    the only unversioned file
    metadata/<v>.snapshot.json, <v>.targets.json
    targets/<sha256>.<name>                    consistent-snapshot target files

Target names (paths under ``targets/``, with the hash prefix on the file name):

    params.json                             kind=params: epoch salt, KDF, program, canaries
    shards/<view>/<kecamatan>.jsonl         kind=shard: sealed records of one kecamatan
    aggregates/<kecamatan>.json             kind=aggregates: public per-desa and per-day counts

Every target's ``custom`` carries ``{"blt": {...}}`` (:func:`target_custom`); a device checks a
shard's ``view`` and ``region`` there against what the file's own header says before use.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from blt_status.crypto import KdfProfile, b64e, canonical_json
from blt_status.errors import SyncError
from blt_status.records import Program, SealedRecord

__all__ = [
    "AGGREGATES_FORMAT",
    "PARAMS_FORMAT",
    "PARAMS_TARGET",
    "SHARD_FORMAT",
    "ShardHeader",
    "aggregates_file",
    "aggregates_target",
    "params_document",
    "read_shard",
    "shard_file",
    "shard_file_of_lines",
    "shard_line",
    "shard_lines",
    "shard_target",
    "target_custom",
    "write_shard",
]

PARAMS_TARGET = "params.json"
PARAMS_FORMAT = "blt-params-v1"
SHARD_FORMAT = "blt-shard-v1"
AGGREGATES_FORMAT = "blt-aggregates-v1"


def shard_target(view: str, kecamatan: str) -> str:
    return f"shards/{view}/{kecamatan}.jsonl"


def aggregates_target(kecamatan: str) -> str:
    return f"aggregates/{kecamatan}.json"


def target_custom(kind: str, **fields: Any) -> dict[str, Any]:
    """The ``custom`` field of a target: ``{"blt": {"kind": ..., **fields}}``.

    Shards: ``view``, ``region`` (kecamatan), ``records``. Aggregates: ``region``.
    """
    return {"blt": {"kind": kind, **fields}}


@dataclass(frozen=True)
class ShardHeader:
    """First line of a shard file."""

    view: str
    region: str
    records: int
    epoch: str

    def to_dict(self) -> dict[str, Any]:
        return {"format": SHARD_FORMAT, "view": self.view, "region": self.region,
                "records": self.records, "epoch": self.epoch}


def write_shard(out: IO[bytes], header: ShardHeader, records: Iterable[SealedRecord]) -> int:
    """Write a shard as JSON lines: the header, then ``{"t": tag hex, "b": blob b64}``.

    Records must be given in a deterministic order (sorted by tag) so an unchanged shard
    hashes the same and is not republished. Returns the number of records written.
    """
    out.write(json.dumps(header.to_dict(), sort_keys=True).encode() + b"\n")
    count = 0
    for record in records:
        if record.shard != header.region:
            raise ValueError("record of another shard")
        out.write(shard_line(record))
        count += 1
    if count != header.records:
        raise ValueError("record count does not match the header")
    return count


def shard_line(record: SealedRecord) -> bytes:
    """One record's line of a shard file (with its newline)."""
    # json.dumps({"t": ..., "b": ...}, separators=(",", ":")): hex and base64 need no
    # escaping, so the line is put together directly (one per recipient and view)
    return b'{"t":"' + record.tag.hex().encode() + b'","b":"' + base64.b64encode(record.blob) \
        + b'"}\n'


_LINE_START = b'{"t":"'


def shard_lines(data: bytes) -> dict[bytes, bytes] | None:
    """The record lines of a shard file written by :func:`write_shard`, by their tag's hex;
    None if ``data`` is not laid out as that writes it."""
    header, _, body = data.partition(b"\n")
    lines = body.splitlines(keepends=True)
    try:
        records = json.loads(header)["records"]
    except (ValueError, KeyError, TypeError):
        return None
    found: dict[bytes, bytes] = {}
    for line in lines:
        tag, middle, _ = line[len(_LINE_START):].partition(b'","b":"')
        if not (line.startswith(_LINE_START) and middle and line.endswith(b'"}\n')):
            return None
        found[tag] = line
    return found if records == len(lines) == len(found) else None


def shard_file_of_lines(view: str, region: str, lines: Iterable[bytes], *,
                        epoch: str) -> tuple[bytes, dict[str, Any]]:
    """:func:`shard_file` from record lines (:func:`shard_line`; sorted here): the same bytes
    as ``shard_file`` gives for the same records."""
    ordered = sorted(lines)  # every line starts alike, then the tag's hex: in tag order
    header = json.dumps(ShardHeader(view, region, len(ordered), epoch).to_dict(),
                        sort_keys=True).encode() + b"\n"
    return header + b"".join(ordered), target_custom("shard", view=view, region=region,
                                                     records=len(ordered), epoch=epoch)


def shard_file(view: str, region: str, records: Iterable[SealedRecord], *,
               epoch: str) -> tuple[bytes, dict[str, Any]]:
    """A shard target's bytes (records sorted by tag, so unchanged input hashes the same)
    and its ``custom``."""
    ordered = sorted(records, key=lambda record: record.tag)
    buffer = io.BytesIO()
    write_shard(buffer, ShardHeader(view, region, len(ordered), epoch), ordered)
    return buffer.getvalue(), target_custom("shard", view=view, region=region,
                                            records=len(ordered), epoch=epoch)


def params_document(*, epoch: str, epoch_salt: bytes, kdf: KdfProfile, program: Program,
                    canaries: Mapping[str, Mapping[str, bytes]], data_as_of: dt.datetime,
                    ) -> tuple[bytes, dict[str, Any]]:
    """``params.json``: what a device needs to derive keys for this version (canary tags
    per view and pepper region), and its ``custom``."""
    body = {"format": PARAMS_FORMAT, "epoch": epoch, "epoch_salt": b64e(epoch_salt),
            "kdf": kdf.to_dict(), "kdf_label": kdf.label, "program": program.to_dict(),
            "canaries": {view: {region: tag.hex() for region, tag in tags.items()}
                         for view, tags in canaries.items()},
            "data_as_of": data_as_of.isoformat()}
    return canonical_json(body), target_custom("params", epoch=epoch)


def aggregates_file(region: str, body: Mapping[str, Any]) -> tuple[bytes, dict[str, Any]]:
    """``aggregates/<kec>.json``: public counts only, and its ``custom``."""
    document = {"format": AGGREGATES_FORMAT, "region": region, **body}
    return canonical_json(document), target_custom("aggregates", region=region)


def _bad_shard(detail: str) -> SyncError:
    return SyncError("shard_invalid", detail=detail)


def read_shard(lines: Iterable[bytes], *, view: str, region: str) -> Iterator[SealedRecord]:
    """Stream the records of a shard, checking its header against the expected view/region.

    Raises :class:`SyncError` (``shard_invalid``) on a header of another view or region, a
    malformed line, or a record count that differs from the header.
    """
    iterator = iter(lines)
    try:
        header = json.loads(next(iterator))
    except (StopIteration, ValueError):
        raise _bad_shard("no header") from None
    if not isinstance(header, dict) or header.get("format") != SHARD_FORMAT:
        raise _bad_shard("unknown format")
    if header.get("view") != view or header.get("region") != region:
        raise _bad_shard(f"expected {view}/{region}, got {header.get('view')}/"
                         f"{header.get('region')}")
    count = 0
    for line in iterator:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            record = SealedRecord(bytes.fromhex(item["t"]), region,
                                  base64.b64decode(item["b"], validate=True))
        except (ValueError, KeyError, TypeError):
            raise _bad_shard(f"line {count + 2} unreadable") from None
        count += 1
        yield record
    if count != header.get("records"):
        raise _bad_shard("record count differs from header")
