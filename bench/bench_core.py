"""Core benchmark: lookup cost beyond the KDF, TinyDB open time, and the KDF profiles' cost.

    python bench/bench_core.py                      # 1,000,000-record SQLite, 20,000 TinyDB
    python bench/bench_core.py --sqlite-records 100000 --lookups 500   # a quick run

Method. Indexes are built with the core's own record-building API. For the big SQLite index,
``--probe`` real recipients are derived and sealed with the test KDF profile; the remaining
records are filler with random tags and blobs of a real record's size (deriving a million keys
would only time the KDF, which is measured on its own below). Each measured lookup is paired
with a bare KDF call on the same input, interleaved, so "beyond the KDF" = lookup - bare KDF
on the same machine in the same moment; percentiles are over those differences.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from blt_status.crypto import (
    PRODUCTION_INDEX_KDF,
    PRODUCTION_WRAP_KDF,
    TEST_INDEX_KDF,
    TEST_WRAP_KDF,
    KdfProfile,
)
from blt_status.device import Device, DeviceConfig
from blt_status.indexer import IndexEntry, IndexParams, device_keyring, make_meta, seal_entries
from blt_status.lookup import LookupService
from blt_status.records import (
    PayoutPoint,
    Program,
    RecordPayload,
    Schedule,
    SealedRecord,
    key_for,
)
from blt_status.store import BACKENDS, open_index

PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")
POINT = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12", "kantor_pos")
SHARD = "32.01.01"
PASSPHRASE = "bench"


def synthetic_nik(index: int) -> str:
    """Valid-looking synthetic NIKs in kecamatan 32.01.01 (serial from the index)."""
    day = 1 + index % 28
    month = 1 + (index // 28) % 12
    year = 40 + (index // 336) % 60
    return f"320101{day + 40 * (index % 2):02d}{month:02d}{year:02d}{1 + index % 9999:04d}"


def payload(index: int) -> RecordPayload:
    return RecordPayload(
        view="officer", status="scheduled", amount=600_000, program=PROGRAM,
        schedule=Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
        payout_point=POINT, name=f"Penerima Sintetis {index:07d}", kode_wilayah="32.01.01.1001",
        address=f"Kp. Sintetis RT {index % 20:03d}/RW {index % 9:03d}", household_size=4)


def entries(count: int, offset: int = 0) -> list[IndexEntry]:
    seen: set[str] = set()
    result = []
    index = offset
    while len(result) < count:
        nik = synthetic_nik(index)
        index += 1
        if nik not in seen:
            seen.add(nik)
            result.append(IndexEntry(nik, SHARD, payload(index)))
    return result


def filler(count: int, blob_size: int, seed: int = 1) -> Iterator[SealedRecord]:
    rng = random.Random(seed)
    for _ in range(count):
        yield SealedRecord(rng.randbytes(16), SHARD, rng.randbytes(blob_size))


def build_device(root: Path, backend: str, total: int, probe: int, params: IndexParams,
                 ) -> tuple[Device, list[IndexEntry]]:
    probes = entries(probe)
    device = Device.create(root / backend, DeviceConfig("officer", (SHARD,), "bench",
                                                        backend=backend),
                           device_keyring(params, "officer", [SHARD]), PASSPHRASE,
                           wrap_profile=TEST_WRAP_KDF)
    sealed = list(seal_entries(probes, view="officer", params=params))
    blob_size = len(sealed[0].blob)
    meta = make_meta(view="officer", version=1, program=PROGRAM, params=params, shards=[SHARD],
                     data_as_of=dt.datetime.now(dt.UTC))

    def records() -> Iterator[SealedRecord]:
        yield from sealed
        yield from filler(total - probe, blob_size)

    device.write_index(meta, records())
    return device, probes


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def measure_lookups(device: Device, probes: list[IndexEntry], params: IndexParams, count: int,
                    ) -> dict[str, float]:
    service = LookupService.open(device, device.unlock(PASSPHRASE))
    pepper = params.pepper("officer", SHARD)
    beyond: list[float] = []
    rng = random.Random(5)
    for i in range(count):
        nik = probes[rng.randrange(len(probes))].nik_digits if i % 2 == 0 else \
            synthetic_nik(10_000_000 + i)  # half hits, half misses
        start = time.perf_counter()
        service.lookup(nik)
        lookup = time.perf_counter() - start
        start = time.perf_counter()
        key_for(nik, epoch_salt=params.epoch_salt, pepper=pepper, view="officer",
                profile=params.kdf)
        kdf = time.perf_counter() - start
        beyond.append(lookup - kdf)
    service.close()
    return {"p50_ms": percentile(beyond, 0.5) * 1e3, "p99_ms": percentile(beyond, 0.99) * 1e3,
            "mean_ms": statistics.fmean(beyond) * 1e3}


def time_kdf(profile: KdfProfile, repeat: int) -> float:
    params = IndexParams(b"bench-salt-12345", profile, b"m" * 32)
    times = []
    for i in range(repeat):
        start = time.perf_counter()
        params.root_key(synthetic_nik(i), "officer", SHARD)
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def time_wrap(profile: KdfProfile) -> float:
    start = time.perf_counter()
    profile.derive(b"passphrase", salt=b"s" * 16, pepper=None, ad=b"wrap")
    return (time.perf_counter() - start) * 1e3


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sqlite-records", type=int, default=1_000_000)
    parser.add_argument("--tinydb-records", type=int, default=20_000)
    parser.add_argument("--probe", type=int, default=2000,
                        help="real (derived and sealed) records in each index")
    parser.add_argument("--lookups", type=int, default=2000)
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args(argv)

    params = IndexParams(b"bench-salt-12345", TEST_INDEX_KDF, os.urandom(32))
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as scratch:
        root = Path(scratch)
        print(f"building SQLite index of {args.sqlite_records:,} records ...", file=sys.stderr)
        start = time.perf_counter()
        sqlite_device, probes = build_device(root, "sqlite", args.sqlite_records,
                                             min(args.probe, args.sqlite_records), params)
        build = time.perf_counter() - start
        size = sqlite_device.current_index_path().stat().st_size
        rows.append(("SQLite build", f"{args.sqlite_records:,} records",
                     f"{build:.1f} s, {size / 2**20:.0f} MiB"))
        result = measure_lookups(sqlite_device, probes, params, args.lookups)
        rows.append(("SQLite lookup beyond KDF", f"{args.sqlite_records:,} records",
                     f"p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms "
                     "(target p99 <= 1 ms)"))

        print(f"building TinyDB index of {args.tinydb_records:,} records ...", file=sys.stderr)
        tiny_device, tiny_probes = build_device(root, "tinydb", args.tinydb_records,
                                                min(args.probe, args.tinydb_records), params)
        path = tiny_device.current_index_path()
        opens = []
        for _ in range(5):
            start = time.perf_counter()
            open_index(path).close()
            opens.append(time.perf_counter() - start)
        rows.append(("TinyDB open", f"{args.tinydb_records:,} records",
                     f"median {statistics.median(opens):.3f} s, max {max(opens):.3f} s "
                     "(target <= 0.5 s)"))
        result = measure_lookups(tiny_device, tiny_probes, params, args.lookups)
        rows.append(("TinyDB lookup beyond KDF", f"{args.tinydb_records:,} records",
                     f"p50 {result['p50_ms']:.3f} ms, p99 {result['p99_ms']:.3f} ms "
                     "(target p99 <= 1 ms)"))
    assert BACKENDS  # both backends measured above

    production = time_kdf(PRODUCTION_INDEX_KDF, 15)
    test = time_kdf(TEST_INDEX_KDF, 200)
    rows.append(("KDF per lookup", PRODUCTION_INDEX_KDF.label, f"median {production:.1f} ms"))
    rows.append(("KDF per lookup", TEST_INDEX_KDF.label, f"median {test:.3f} ms"))
    rows.append(("KDF ratio", "production / test", f"{production / test:.0f}x"))
    rows.append(("Unlock (once a session)", PRODUCTION_WRAP_KDF.label,
                 f"{time_wrap(PRODUCTION_WRAP_KDF):.0f} ms"))
    rows.append(("Unlock (once a session)", TEST_WRAP_KDF.label,
                 f"{time_wrap(TEST_WRAP_KDF):.2f} ms"))

    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
