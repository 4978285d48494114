"""Key derivation + sealing throughput: a local 2-worker Dask cluster against the local pool.

    python bench/bench_cluster.py [--test-items N] [--production-items M] [--rounds R]
                                  [--cores C]

The same work items (NIK x view, spread over kecamatan, each sealed after its Argon2id root
key) go through ``derive_keys`` twice per round, alternating: once with the in-process pool of
2 processes (the default path of ``central publish``), once through ``central publish
--scheduler``'s executor to a ``LocalCluster`` of 2 single-threaded worker processes on
127.0.0.1. Both use 2 cores, so their ratio is the cost of going through Dask. Line 1 uses the
test KDF (cheap: the overhead shows), line 2 the production KDF (m=19 MiB, t=2: KDF-bound).

From the production rate per core it projects a first national publish: 18.8 M KPM x 2 views
= 37.6 M derivations, on ``--cores`` cluster cores (default 256) and on these 2.
Needs the cluster extra: pip install 'blt-status[cluster]'.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from distributed import LocalCluster

from blt_status.central.cluster import use_scheduler
from blt_status.central.publish import WorkItem, derive_keys
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


def report(*, test_items: int = 8000, production_items: int = 160, rounds: int = 3,
           cores: int = 256) -> None:
    """Print the pool-vs-cluster table and the national projection (``bench_central`` too)."""
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as local_cluster:
        address = local_cluster.scheduler_address
        print(f"2 cores each side; Dask LocalCluster {address} (2 workers x 1 thread) vs "
              f"ProcessPoolExecutor(2); median of {rounds} alternating rounds")
        print(f"{'KDF profile':<28} {'items':>6} {'pool /s':>10} {'dask /s':>10} {'dask/pool':>9}")
        production_rate = 0.0
        for kdf, count in ((TEST_INDEX_KDF, test_items),
                           (PRODUCTION_INDEX_KDF, production_items)):
            pool, cluster = _measure(kdf, count, rounds, address)
            print(f"{kdf.name:<28} {count:>6} {pool:>10.1f} {cluster:>10.1f} "
                  f"{cluster / pool:>9.2f}", flush=True)
            if kdf is PRODUCTION_INDEX_KDF:
                production_rate = cluster
    per_core = production_rate / 2
    derivations = NATIONAL_KPM * len(VIEWS)
    print(f"first national publish: {NATIONAL_KPM:,} KPM x {len(VIEWS)} views = "
          f"{derivations:,} production derivations; {per_core:.2f}/s per core through Dask")
    for count in (2, cores):
        hours = derivations / (per_core * count) / 3600
        print(f"  on {count:>4} cores: {hours:,.1f} hours")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--test-items", type=int, default=8000)
    parser.add_argument("--production-items", type=int, default=160)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cores", type=int, default=256,
                        help="cluster cores for the national projection")
    args = parser.parse_args()
    report(test_items=args.test_items, production_items=args.production_items,
           rounds=args.rounds, cores=args.cores)


if __name__ == "__main__":
    main()
