"""Reconcile time and peak memory over a big ledger, measured side by side in one run.

    python bench/bench_reconcile.py [--events N] [--small M] [--db URL]

A small demo world is published for real (valid TUF metadata, a version and an epoch in the
database); then synthetic recipients are added to that version's roster and synthetic payout
events (and a few flags) are written straight into the database — most recipients have one
``salur``, a quarter a ``gagal`` first, some a ``kembali``, some nothing yet. ``central
reconcile`` (``reconcile_store``) then runs in a fresh process for M events and for N events,
and the script prints each run's wall time, peak resident memory and the N/M time ratio
(target for 1,000,000 events: <= 30 s and <= 500 MB on 2 cores).
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import sqlalchemy as sa
from pgdb import fresh_database


def build(root: Path, events: int, db_url: str | None) -> Path:
    """A published store whose roster and ledger hold about ``events`` synthetic events."""
    from blt_status.central.db import flags, open_engine, payout_events, roster, subject_of
    from blt_status.central.demodata import write_demo_world
    from blt_status.central.publish import publish_files, published_info
    from blt_status.central.roster import current_roster, roster_row
    from blt_status.central.store import CentralStore
    from blt_status.crypto import TEST_INDEX_KDF

    if db_url:
        os.environ["BLT_CENTRAL_DB"] = fresh_database(db_url, f"_{events}")
    files = write_demo_world(root / "input", recipients=200, seed=5)
    store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, files.recipients_csv, files.payout_points_csv, files.program_toml,
                  workers=1)
    info = published_info(store)
    assert info is not None
    version, _, _, epoch_id = info
    templates = [entry.payload for entry in current_roster(store, version=version)]
    kecamatan = sorted({entry.kecamatan for entry in current_roster(store, version=version)})
    rng = random.Random(17)
    start = dt.datetime(2025, 11, 21, 1, 0)  # UTC, naive as stored
    engine = open_engine(store)
    written = 0
    event_id = 0
    with engine.begin() as connection:
        base_id = connection.scalar(sa.select(sa.func.coalesce(sa.func.max(payout_events.c.id),
                                                                0))) or 0
        event_id = int(base_id)
        roster_rows: list[dict[str, object]] = []
        event_rows: list[dict[str, object]] = []
        flag_rows: list[dict[str, object]] = []

        def flush(final: bool = False) -> None:
            """Write what is gathered: roster, then events, then their flags."""
            if not final and len(event_rows) < 10000:
                return
            for table, rows in ((roster, roster_rows), (payout_events, event_rows),
                                (flags, flag_rows)):
                if rows:
                    connection.execute(sa.insert(table), rows)
                    rows.clear()

        number = -1
        while written < events:
            number += 1
            nik = f"99{number:014d}"
            template = templates[number % len(templates)]
            kec = kecamatan[number % len(kecamatan)]
            payload = replace(template, name=f"Sintetis {number}")
            subject = subject_of(store, nik)
            roster_rows.append(roster_row(store, subject, nik, kec, payload, version=version))
            point = payload.payout_point.id if payload.payout_point else "X"
            draw = rng.random()
            statuses = (["gagal", "salur"] if draw < 0.25 else ["kembali"] if draw < 0.30
                        else ["salur"] if draw < 0.95 else [])
            for offset, status in enumerate(statuses):
                if written >= events:
                    break
                event_id += 1
                written += 1
                moment = start + dt.timedelta(minutes=number % 20000, hours=offset)
                event_rows.append({
                    "id": event_id, "epoch_id": epoch_id, "subject": subject,
                    "nik_last4": nik[-4:], "status": status, "occurred_at": moment,
                    "occurred_offset": 7 * 3600, "point_id": point, "source": "csv",
                    "source_ref": f"bench-{number // 10000}", "row_ref": str(event_id),
                    "reason_code": None if status == "salur" else "lainnya", "amount": None,
                    "note": None, "received_at": moment + dt.timedelta(days=1)})
                if event_id % 97 == 0:
                    flag_rows.append({"event_id": event_id, "code": "outside_hours",
                                      "severity": "low", "detail": "paid at 20:00",
                                      "kecamatan": kec})
            flush()
        flush(final=True)
    print(f"  built: {number + 1:,} synthetic recipients, {written:,} events", flush=True)
    return store.directory


def _run(directory: str, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    from blt_status.central.reconcile import reconcile_store
    from blt_status.central.store import CentralStore

    started = time.perf_counter()
    result = reconcile_store(CentralStore.open(Path(directory)))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    queue.put((seconds, peak_mb, result.recipients, len(result.flags),
               result.totals.balanced()))


def measure(directory: Path) -> tuple[float, float, int, int, bool]:
    """Reconcile in a fresh process: (seconds, peak RSS MB, recipients, flags, balanced)."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=_run, args=(str(directory), queue))
    process.start()
    outcome = queue.get()
    process.join()
    return outcome  # type: ignore[no-any-return]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    parser.add_argument("--db", default=None,
                        help="a PostgreSQL URL; each size gets a new database named after it "
                             "plus _EVENTS (default: SQLite in the store)")
    args = parser.parse_args()
    print(f"bench_reconcile: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as folder:
        rows = []
        for events in (args.small, args.events):
            directory = build(Path(folder) / str(events), events, args.db)
            seconds, peak, recipients, flagged, balanced = measure(directory)
            rows.append((events, seconds, peak))
            print(f"  reconcile {events:>9,} events ({recipients:,} recipients, {flagged:,} "
                  f"flags): {seconds:6.1f} s, peak {peak:6.0f} MB, balanced={balanced}",
                  flush=True)
        (small, small_s, _), (big, big_s, big_peak) = rows
        print(f"  ratio: {big / small:.0f}x the events took {big_s / small_s:.1f}x the time")
        print(f"  target for {big:,} events: <= 30 s and <= 500 MB -> "
              f"{'met' if big_s <= 30 and big_peak <= 500 else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
