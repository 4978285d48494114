"""Key derivation + sealing throughput: a local 2-worker Dask cluster against the local pool.

    python bench/bench_cluster.py [--test-items N] [--production-items M] [--rounds R]
                                  [--publish-rows P] [--serial-rows S] [--cores C]

Two cores each side: a ``LocalCluster`` of 2 single-threaded worker processes on 127.0.0.1
against the in-process pool of 2 processes (the default path of ``central publish``), so their
ratio is the cost of going through Dask. Rounds alternate the two.

1. ``derive_keys`` alone: the same work items (NIK x view over 8 kecamatan, each sealed after
   its Argon2id root key) in one call; test KDF (cheap: the overhead shows) and production KDF
   (m=19 MiB, t=2: KDF-bound).
2. A whole first publish under the production KDF (``--publish-rows`` demo rows, about 200
   per kecamatan): keys derived per second of the publish's wall time, through the pool and
   with ``--scheduler``. The publisher hands the cluster one kecamatan at a time, so this is
   what a publish gets from it, where line 1 is what the cluster can do.
3. The publisher's own work, which no cluster shares: a first publish of ``--serial-rows``
   demo rows (about 3,800 per kecamatan) under the test KDF, whose derivations cost next to
   nothing: seconds per published recipient, split into the kecamatan loop (decisions,
   shards, rows: from the publish's first progress report after the row checks to its last)
   and the rest (reading and checking the rows, duplicates, schedule, the commit).

It projects a first national publish (18.8 M KPM x 2 views = 37.6 M production derivations)
on ``--cores`` cluster cores (default 256) and on these 2: the derivations at line 1's
production rate per core, and the publisher's own work of line 3 for 18.8 M recipients. The
loop is pipelined (kecamatan k+1 derives while kecamatan k is written), so its own work runs
beside the derivations: the projection is the rest + the larger of the two.
Needs the cluster extra: pip install 'blt-status[cluster]'.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from distributed import LocalCluster

from blt_status.central import CentralStore
from blt_status.central.cluster import use_scheduler
from blt_status.central.demodata import DemoFiles, write_demo_world
from blt_status.central.publish import WorkItem, derive_keys, publish_files
from blt_status.crypto import PRODUCTION_INDEX_KDF, TEST_INDEX_KDF, KdfProfile
from blt_status.indexer import IndexParams
from blt_status.records import Program, RecordPayload, Schedule

NATIONAL_KPM = 18_800_000
VIEWS = ("officer", "recipient")
KECAMATAN = [f"32.01.{number:02d}" for number in range(1, 9)]  # one Dask task each


def _items(count: int) -> list[WorkItem]:
    """``count`` work items (half per view) over 8 kecamatan, with realistic payloads."""
    import datetime as dt

    program = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")
    items: list[WorkItem] = []
    for number in range(count // 2):
        shard = KECAMATAN[number % len(KECAMATAN)]
        payload = RecordPayload(
            view="officer", status="scheduled", amount=600_000, program=program,
            schedule=Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
            payout_point=None, name=f"Penerima Uji {number}", kode_wilayah=f"{shard}.1001",
            address="Jl. Uji No. 1", household_size=4)
        nik = f"3201014505{number:06d}"
        items.append((nik, "officer", shard, payload))
        items.append((nik, "recipient", shard, payload.for_recipient()))
    return items


def _seconds(run: Callable[[], object]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def _measure(kdf: KdfProfile, count: int, rounds: int, address: str,
             ) -> tuple[float, float]:
    """Median derivations/s of the local pool and of the cluster, alternating per round."""
    params = IndexParams(epoch_salt=os.urandom(16), kdf=kdf, master_pepper=os.urandom(32))
    items = _items(count)
    pool, cluster = [], []
    with use_scheduler(address) as executor:
        for _ in range(rounds):
            pool.append(len(items) / _seconds(lambda: _local(params, items)))
            cluster.append(len(items) / _seconds(
                lambda: derive_keys(params, items, workers=2, progress=None,
                                    executor=executor)))
    return statistics.median(pool), statistics.median(cluster)


def _local(params: IndexParams, items: list[WorkItem]) -> object:
    """The in-process pool, even inside ``use_scheduler`` (no executor is looked up)."""
    from blt_status.central import cluster as cluster_module

    token = cluster_module._ACTIVE.set(None)
    try:
        return derive_keys(params, items, workers=2, progress=None)
    finally:
        cluster_module._ACTIVE.reset(token)


def _first_publish(world: DemoFiles, kdf: KdfProfile, address: str | None,
                   ) -> tuple[float, float, int, int]:
    """Wall seconds of a first publish into a new store and of its kecamatan loop, keys
    derived and recipients published; through the Dask cluster at ``address``, else the
    in-process pool of 2."""
    loop: list[float] = []  # the first and the last progress report after the row checks

    def progress(stage: str, _done: int, _total: int) -> None:
        if stage != "checking":
            now = time.perf_counter()
            loop[:] = [loop[0] if loop else now, now]

    with tempfile.TemporaryDirectory(prefix="bench-cluster-") as temp:
        store = CentralStore.init(Path(temp) / "central", kdf=kdf)
        with use_scheduler(address) if address else contextlib.nullcontext():
            started = time.perf_counter()
            report = publish_files(store, world.recipients_csv, world.payout_points_csv,
                                   world.program_toml, workers=2, progress=progress)
            seconds = time.perf_counter() - started
    return seconds, loop[-1] - loop[0], report.keys_derived, report.published


def _publish_rates(world: DemoFiles, rounds: int, address: str) -> tuple[float, float, int]:
    """Median production keys per second of a whole publish: pool, cluster; and the keys."""
    pool: list[float] = []
    cluster: list[float] = []
    keys = 0
    for _ in range(rounds):
        for rates, through in ((pool, None), (cluster, address)):
            seconds, _, keys, _ = _first_publish(world, PRODUCTION_INDEX_KDF, through)
            rates.append(keys / seconds)
    return statistics.median(pool), statistics.median(cluster), keys


def report(*, test_items: int = 8000, production_items: int = 160, rounds: int = 3,
           publish_rows: int = 600, serial_rows: int = 20000, cores: int = 256) -> None:
    """Print the pool-vs-cluster tables and the national projection (``bench_central`` too)."""
    with tempfile.TemporaryDirectory(prefix="bench-cluster-worlds-") as temp:
        small = write_demo_world(Path(temp) / "small", recipients=publish_rows, seed=5,
                                 per_kecamatan=200)
        large = write_demo_world(Path(temp) / "large", recipients=serial_rows, seed=5,
                                 per_kecamatan=3800)
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                          dashboard_address=None) as local_cluster:
            address = local_cluster.scheduler_address
            print(f"2 cores each side; Dask LocalCluster {address} (2 workers x 1 thread) vs "
                  f"ProcessPoolExecutor(2); median of {rounds} alternating rounds")
            print(f"{'derive_keys, KDF profile':<34} {'items':>6} {'pool /s':>10} "
                  f"{'dask /s':>10} {'dask/pool':>9}")
            production_rate = 0.0
            for kdf, count in ((TEST_INDEX_KDF, test_items),
                               (PRODUCTION_INDEX_KDF, production_items)):
                pool, cluster = _measure(kdf, count, rounds, address)
                print(f"{kdf.name:<34} {count:>6} {pool:>10.1f} {cluster:>10.1f} "
                      f"{cluster / pool:>9.2f}", flush=True)
                if kdf is PRODUCTION_INDEX_KDF:
                    production_rate = cluster
            pool, cluster, keys = _publish_rates(small, rounds, address)
            print(f"{'first publish, ' + PRODUCTION_INDEX_KDF.name:<34} {keys:>6} "
                  f"{pool:>10.1f} {cluster:>10.1f} {cluster / pool:>9.2f}", flush=True)
        seconds, in_loop, _, published = _first_publish(large, TEST_INDEX_KDF, None)
    print(f"the publisher's own work: {seconds:.1f} s for {published:,} recipients under the "
          f"test KDF = {seconds / published * 1000:.2f} ms per recipient, "
          f"{in_loop / published * 1000:.2f} ms of it in the kecamatan loop")
    per_core = production_rate / 2
    derivations = NATIONAL_KPM * len(VIEWS)
    rest = NATIONAL_KPM * (seconds - in_loop) / published / 3600
    loop_own = NATIONAL_KPM * in_loop / published / 3600
    print(f"first national publish: {NATIONAL_KPM:,} KPM x {len(VIEWS)} views = "
          f"{derivations:,} production derivations; {per_core:.2f}/s per core through Dask; "
          f"the publisher's own work {rest:,.1f} hours outside the kecamatan loop and "
          f"{loop_own:,.1f} hours in it, beside the derivations")
    for count in (2, cores):
        hours = derivations / (per_core * count) / 3600
        print(f"  on {count:>4} cores: {rest:,.1f} + the larger of {hours:,.1f} hours of "
              f"derivations and {loop_own:,.1f} = {rest + max(hours, loop_own):,.1f} hours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-items", type=int, default=8000)
    parser.add_argument("--production-items", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--publish-rows", type=int, default=600,
                        help="demo rows of the production-KDF publish (about 200 a kecamatan)")
    parser.add_argument("--serial-rows", type=int, default=20000,
                        help="demo rows of the test-KDF publish that times the publisher")
    parser.add_argument("--cores", type=int, default=256,
                        help="cluster cores for the national projection")
    args = parser.parse_args()
    report(test_items=args.test_items, production_items=args.production_items,
           rounds=args.rounds, publish_rows=args.publish_rows, serial_rows=args.serial_rows,
           cores=args.cores)


if __name__ == "__main__":
    main()
