"""What the index checksum costs: build, open and full check, with and without it, side by side.

    python bench/bench_index_check.py [--records 20000] [--sqlite-records 1000000]

FAST PATH (labelled): SYNTHETIC sealed records (random 16-byte tags, random 583-byte blobs,
the size of a recipient-view record) written through the real backends; nothing is
decrypted, so the work measured (hashing every record, JSON or SQLite I/O) is the same as for
real data. "without" is the same file with its checksum removed — what opening cost before
checksums — measured in the same run. Reports seconds and ratios; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from blt_status.crypto import TEST_INDEX_KDF
from blt_status.records import Program, SealedRecord
from blt_status.store import BACKENDS, IndexMeta, open_index
from blt_status.store._base import RecordsChecksum

BLOB = 583


def _records(count: int, shards: int = 20) -> Iterator[SealedRecord]:
    for number in range(count):
        yield SealedRecord(os.urandom(16), f"32.01.{number % shards + 1:02d}", os.urandom(BLOB))


def _meta() -> IndexMeta:
    return IndexMeta(view="officer", version=1, data_as_of=dt.datetime.now(dt.UTC),
                     expires=None, program=Program("P", "P", "2025"), kdf=TEST_INDEX_KDF,
                     epoch_salt=b"s" * 16, shards={})


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def _open_close(path: Path) -> None:
    open_index(path).close()


def _verify(path: Path) -> None:
    with open_index(path) as index:
        index.verify()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000, help="TinyDB records")
    parser.add_argument("--sqlite-records", type=int, default=1_000_000, help="SQLite records")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir:
        root = Path(workdir)
        tiny = root / "v1.json"
        build = _timed(lambda: BACKENDS["tinydb"].write(tiny, _meta(), _records(args.records)))
        with_check = min(_timed(lambda: _open_close(tiny)) for _ in range(3))
        bare = root / "bare.json"
        document = json.loads(tiny.read_bytes())
        document.pop("check")
        bare.write_text(json.dumps(document, separators=(",", ":")))
        without = min(_timed(lambda: _open_close(bare)) for _ in range(3))
        print(f"TinyDB, {args.records:,} records: build {build:.2f} s; open with full check "
              f"{with_check:.3f} s, without {without:.3f} s "
              f"(ratio {with_check / without:.2f})")

        lite = root / "v1.sqlite"
        build = _timed(lambda: BACKENDS["sqlite"].write(lite, _meta(),
                                                        _records(args.sqlite_records)))
        opened = min(_timed(lambda: _open_close(lite)) for _ in range(3))
        full = _timed(lambda: _verify(lite))
        bare_lite = root / "bare.sqlite"
        bare_lite.write_bytes(lite.read_bytes())
        connection = sqlite3.connect(bare_lite)
        connection.execute("DELETE FROM meta WHERE key = 'checksum'")
        connection.commit()
        connection.close()
        scan = _timed(lambda: _verify(bare_lite))  # no checksum: verify does nothing
        sample = list(_records(100_000))
        checksum = RecordsChecksum()
        hashing = _timed(lambda: [checksum.add(r.tag, r.shard, r.blob) for r in sample])
        per_record = hashing / len(sample)
        print(f"SQLite, {args.sqlite_records:,} records: build {build:.2f} s, of which the "
              f"checksum ~{per_record * args.sqlite_records:.2f} s "
              f"({per_record * args.sqlite_records / build:.1%}); open "
              f"{opened * 1000:.1f} ms (structure only); full check (status --check) "
              f"{full:.2f} s ({args.sqlite_records / full:,.0f} records/s); "
              f"verify without a checksum {scan * 1000:.1f} ms")


if __name__ == "__main__":
    main()
