"""Publish throughput (records/s), one worker against all cores, measured side by side.

    python bench/bench_publish.py [--records N] [--production-records M] [--rounds R]
                                  [--check-rows C]

On demo data (``central demo-data``): the inputs are planned once, then each round publishes
the same plan into fresh central stores (so every Argon2id key is derived) with 1 worker and
with all cores, alternating, and reports the median. Line 1 uses the test KDF profile (cheap:
sealing, shard writing and signing weigh as much as the KDF); line 2 a sample under the
production profile (m=19 MiB, t=2), where the work is KDF-bound and scales with cores. A third
line times a re-publish of unchanged input (cached keys: no KDF at all). The last line plans
a file of ``--check-rows`` rows (checks, duplicate rules, schedule: what every publish does
before any key) with its rows checked in this process against checked by a pool of all cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from blt_status.central import CentralStore, publish_records
from blt_status.central.demodata import write_demo_world
from blt_status.central.plan import StreamedPlan, compute_aggregates, plan_publication
from blt_status.crypto import PRODUCTION_INDEX_KDF, TEST_INDEX_KDF, KdfProfile
from blt_status.records import Program, RecordPayload

Records = dict[str, tuple[str, RecordPayload]]


def _plan(directory: Path, records: int) -> tuple[Records, Program]:
    files = write_demo_world(directory, recipients=records, seed=11)
    plan = plan_publication(files.recipients_csv, files.payout_points_csv, files.program_toml)
    program = plan.program.program
    return {r.nik_digits: (r.shard, r.payload) for r in plan.recipients}, program


def _publish_seconds(base: Path, name: str, kdf: KdfProfile, records: Records,
                     program: Program, workers: int) -> float:
    store = CentralStore.init(base / name, kdf=kdf)
    started = time.perf_counter()
    publish_records(store, records, program=program, workers=workers,
                    aggregate=lambda items: compute_aggregates(items, program))
    return time.perf_counter() - started


def measure(base: Path, label: str, kdf: KdfProfile, records: Records, program: Program,
            rounds: int, cores: int) -> tuple[str, int, float, float]:
    single: list[float] = []
    parallel: list[float] = []
    for round_index in range(rounds):
        order = [1, cores] if round_index % 2 == 0 else [cores, 1]
        for workers in order:
            seconds = _publish_seconds(base, f"{label}-{round_index}-{workers}", kdf, records,
                                       program, workers)
            (single if workers == 1 else parallel).append(seconds)
    return label, len(records), statistics.median(single), statistics.median(parallel)


def plan_seconds(base: Path, rows: int, rounds: int, cores: int) -> tuple[float, float, int]:
    """Median seconds to plan a ``rows``-row file with 1 worker and with ``cores``, alternating;
    and how many rows the plan published."""
    files = write_demo_world(base / "check-rows", recipients=rows, seed=13)
    timings: dict[int, list[float]] = {1: [], cores: []}
    published = 0
    for round_index in range(rounds):
        for workers in ([1, cores] if round_index % 2 == 0 else [cores, 1]):
            started = time.perf_counter()
            with StreamedPlan.build(files.recipients_csv, files.payout_points_csv,
                                    files.program_toml, subject_key=bytes(32),
                                    workers=workers) as plan:
                timings[workers].append(time.perf_counter() - started)
                published = plan.published
    return statistics.median(timings[1]), statistics.median(timings[cores]), published


def _burn(loops: int) -> int:
    total = 0
    for index in range(loops):
        total += index * index
    return total


def available_parallelism(workers: int, loops: int = 3_000_000, trials: int = 3) -> float:
    """How many cores ``workers`` pure-CPU jobs got just now (best of a few short trials)."""
    best = 0.0
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(_burn, [1] * workers))  # start the workers first
        for _ in range(trials):
            started = time.perf_counter()
            _burn(loops)
            alone = time.perf_counter() - started
            started = time.perf_counter()
            list(pool.map(_burn, [loops] * workers))
            best = max(best, workers * alone / (time.perf_counter() - started))
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=5000,
                        help="demo recipients (rows; ~70%% are eligible and published)")
    parser.add_argument("--production-records", type=int, default=300,
                        help="rows for the production-KDF sample (0 to skip)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--check-rows", type=int, default=100_000,
                        help="rows of the file planned with and without the pool (0 to skip)")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                        help="the 'all cores' worker count")
    args = parser.parse_args(argv)
    cores = max(1, args.workers)
    rows: list[tuple[str, int, float, float]] = []
    load_before = os.getloadavg()[0]
    ceiling_before = available_parallelism(cores)
    with tempfile.TemporaryDirectory(prefix="bench-publish-") as scratch:
        base = Path(scratch)
        records, program = _plan(base / "demo", args.records)
        rows.append(measure(base, "test KDF", TEST_INDEX_KDF, records, program, args.rounds,
                            cores))
        if args.production_records:
            sample, sample_program = _plan(base / "demo-prod", args.production_records)
            rows.append(measure(base, "production KDF", PRODUCTION_INDEX_KDF, sample,
                                sample_program, max(1, args.rounds - 1), cores))
        store = CentralStore.init(base / "republish", kdf=TEST_INDEX_KDF)
        publish_records(store, records, program=program, workers=cores,
                        aggregate=lambda items: compute_aggregates(items, program))
        started = time.perf_counter()
        publish_records(store, records, program=program, workers=cores,
                        aggregate=lambda items: compute_aggregates(items, program))
        republish = time.perf_counter() - started
        planned = plan_seconds(base, args.check_rows, args.rounds, cores) \
            if args.check_rows else None

    ceiling_after = available_parallelism(cores)
    print(f"publish throughput, median of rounds; cores: {os.cpu_count()}, 'all cores' = "
          f"{cores} workers; load average before/after: {load_before:.1f}/"
          f"{os.getloadavg()[0]:.1f}")
    print(f"machine check: {cores} pure-CPU jobs ran {ceiling_before:.2f}x / "
          f"{ceiling_after:.2f}x (before/after) as fast as one — the ceiling for any speedup "
          "while other work shares the machine")
    header = f"{'profile':<16}{'records':>9}{'1 worker rec/s':>17}" \
             f"{f'{cores} workers rec/s':>19}{'speedup':>10}"
    print(header)
    print("-" * len(header))
    for label, count, single, parallel in rows:
        print(f"{label:<16}{count:>9}{count / single:>17.0f}{count / parallel:>19.0f}"
              f"{single / parallel:>9.2f}x")
    print(f"{'re-publish':<16}{len(records):>9}{'':>17}{len(records) / republish:>19.0f}"
          "   (unchanged input, cached keys)")
    if planned is not None:
        single, parallel, published = planned
        print(f"{'plan, rows/s':<16}{args.check_rows:>9}{args.check_rows / single:>17.0f}"
              f"{args.check_rows / parallel:>19.0f}{single / parallel:>9.2f}x   (all rows "
              f"checked, {published} published; no key)")
    print("records = published recipients; each is sealed for 2 views (2 Argon2id keys).")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
