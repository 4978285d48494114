"""Progress report time at national scale, and the admin dashboard's drill-down time.

    python bench/bench_report.py [--recipients 1000000] [--events 1000000] [--rounds 3]

A central store (test KDF) publishes a tiny demo world, then the roster of that version and
the ledger are filled directly in its database: ``--recipients`` sealed roster rows spread over
every desa of the region table, ``--events`` payout events (salur/gagal/kembali) and a flag on
one event in a thousand. Then, side by side in this one run:

- the one-time upgrade of such a store from schema 0001 (revision 0002 unseals every row to
  fill its plain amount, mode and point name; revision 0003 folds the ledger once into each
  person's deciding event, ``payout_outcomes``);
- ``central report`` at each level (read the database, fold the ledger, count, print the
  table), median of ``--rounds`` — target <= 10 s at 1M recipients with 1M events;
- the admin dashboard (``blt-tui --central``) at 120x40 driven by Pilot: time from an Enter or
  Backspace key press to the redrawn frame, median over a walk down Indonesia -> titik and
  back up — target <= 100 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from blt_status.central import CentralStore
from blt_status.central.db import (
    dispose_engines,
    flags,
    open_engine,
    payout_events,
    roster,
)
from blt_status.central.demodata import write_demo_world
from blt_status.central.ledger import rebuild_outcomes
from blt_status.central.publish import publish_files
from blt_status.central.report_format import render
from blt_status.central.report_source import load_report
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.regions import _current

CHUNK = 20_000


def _desa_codes() -> list[str]:
    return [code for code in _current() if code.count(".") == 3]


def fill(store: CentralStore, recipients: int, events: int, seed: int = 5) -> None:
    """Roster rows valid in version 1 and ledger rows, written straight into the database."""
    rng = random.Random(seed)
    desa = _desa_codes()
    engine = open_engine(store)
    program = {"id": "BLT-PANGAN-2025", "name": "BLT Pangan 2025", "period": "Okt-Des 2025"}
    subjects: list[str] = []
    with engine.begin() as connection:
        epoch = connection.execute(sa.text("select epoch_id from versions where version = 1"))\
            .scalar_one()
        rows = []
        for number in range(recipients):
            code = desa[number * len(desa) // recipients]
            kecamatan = code.rsplit(".", 1)[0]
            subject = f"{number:064x}"
            subjects.append(subject)
            mode = ("kantor_pos", "komunitas", "antar")[rng.randrange(10) % 3]
            point_id = f"KP-{kecamatan}" if mode != "komunitas" else f"KB-{code}"
            payload = {"view": "officer", "status": "scheduled", "amount": 600_000,
                       "program": program,
                       "schedule": {"date": "2025-11-24", "start": "08:00", "end": "09:00",
                                    "mode": mode, "window_end": None},
                       "payout_point": {"id": point_id, "name": f"Titik {point_id}",
                                        "address": "Jl. Raya 1", "kind": "kantor_pos"},
                       "name": "Penerima Sintetis", "kode_wilayah": code, "address": "RT 1",
                       "household_size": 4, "special_needs": None, "collected_at": None,
                       "collected_point_id": None, "status_note": None}
            nik = f"{number:016d}"
            body = json.dumps({"nik": nik, "p": payload}, separators=(",", ":")).encode()
            rows.append({"subject": subject, "nik_last4": nik[-4:], "kecamatan": kecamatan,
                         "desa": code, "point_id": point_id, "payload_hash": subject,
                         "sealed": store.seal(body, f"roster|{subject}".encode()),
                         "valid_from": 1, "valid_to": None, "amount": 600_000, "mode": mode,
                         "point_name": f"Titik {point_id}"})
            if len(rows) == CHUNK:
                connection.execute(sa.insert(roster), rows)
                rows = []
        if rows:
            connection.execute(sa.insert(roster), rows)
        start = dt.datetime(2025, 11, 21, 1, 0)
        received = dt.datetime(2025, 12, 1, 0, 0)
        rows = []
        for number in range(events):
            subject = subjects[rng.randrange(len(subjects))]
            status = ("salur", "salur", "salur", "salur", "gagal", "kembali")[rng.randrange(6)]
            rows.append({"epoch_id": epoch, "subject": subject, "nik_last4": "0000",
                         "status": status,
                         "occurred_at": start + dt.timedelta(minutes=rng.randrange(18 * 1440)),
                         "occurred_offset": 7 * 3600, "point_id": "KP", "source": "csv",
                         "source_ref": "bench", "row_ref": str(number),
                         "reason_code": None if status == "salur" else "lainnya",
                         "amount": None, "note": None, "received_at": received})
            if len(rows) == CHUNK:
                connection.execute(sa.insert(payout_events), rows)
                rows = []
        if rows:
            connection.execute(sa.insert(payout_events), rows)
        rebuild_outcomes(connection)  # as the appends would have kept it
        first = connection.execute(sa.select(sa.func.min(payout_events.c.id))).scalar_one()
        connection.execute(sa.insert(flags), [
            {"event_id": first + number, "code": "burst", "severity": "medium",
             "detail": "bench", "kecamatan": None} for number in range(0, events, 1000)])


def time_backfill(store: CentralStore) -> tuple[float, float, int]:
    """The one-time upgrade of a store of the previous release: the report's columns emptied
    and the revision set back to 0001, then the store opened (revision 0002 fills them, 0003
    folds the ledger into ``payout_outcomes`` anew)."""
    engine = open_engine(store)
    with engine.begin() as connection:
        connection.execute(roster.update().values(amount=None, mode=None, point_name=None))
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0001'"))
    dispose_engines(store)
    started, started_cpu = time.perf_counter(), time.process_time()
    engine = open_engine(store)
    wall, cpu = time.perf_counter() - started, time.process_time() - started_cpu
    with engine.connect() as connection:
        filled = connection.execute(sa.select(sa.func.count()).select_from(roster)
                                    .where(roster.c.amount.is_not(None))).scalar_one()
    return wall, cpu, int(filled)


def time_report(store: CentralStore, level: str, rounds: int) -> tuple[float, float, int]:
    """Median wall and CPU seconds (CPU: this process, SQLite included — the wall time also
    counts waiting for cores other processes hold)."""
    wall: list[float] = []
    cpu: list[float] = []
    total = 0
    for _ in range(rounds):
        started, started_cpu = time.perf_counter(), time.process_time()
        report = load_report(store, level=level)
        render(report, "table")
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
        total = report.total.recipients
    return statistics.median(wall), statistics.median(cpu), total


async def time_drill(store: CentralStore) -> tuple[float, float, float, int]:
    from tui.admin.app import AdminApp

    app = AdminApp(store, lang="id", poll_seconds=3600)
    timings: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(6000):
            if app.progress is not None:
                break
            await pilot.pause(0.05)
        load_started = time.perf_counter()
        app.reload(force=True)
        while app._busy:
            await pilot.pause(0.02)
        load_seconds = time.perf_counter() - load_started
        for key in keys_walked():
            started = time.perf_counter()
            await pilot.press(key)
            await pilot.pause()  # the key handled and the frame composed
            timings.append(time.perf_counter() - started)
        frames = app.screen.frame_seconds
    return (statistics.median(frames), max(frames), statistics.median(timings),
            round(load_seconds * 1000))


def keys_walked() -> list[str]:
    return ["enter"] * 5 + ["backspace"] * 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        base = Path(temp)
        files = write_demo_world(base / "demo", recipients=60, seed=3)
        store = CentralStore.init(base / "central", kdf=TEST_INDEX_KDF)
        publish_files(store, files.recipients_csv, files.payout_points_csv, files.program_toml,
                      workers=1)
        started = time.perf_counter()
        fill(store, args.recipients, args.events)
        print(f"setup: {args.recipients:,} roster rows + {args.events:,} events written in "
              f"{time.perf_counter() - started:.1f} s (not timed below)")
        wall, cpu, filled = time_backfill(store)
        print(f"upgrade of this store from schema 0001 (every row unsealed once for amount, "
              f"mode, point name; the ledger folded once into each person's deciding event; once "
              f"per store): {wall:6.1f} s wall, {cpu:6.1f} s CPU, "
              f"{filled:,} rows")
        for level in ("provinsi", "kabupaten", "kecamatan", "desa", "titik"):
            wall, cpu, total = time_report(store, level, args.rounds)
            print(f"central report --level {level:<9}: {wall:6.2f} s wall, {cpu:6.2f} s CPU, "
                  f"median of {args.rounds}, {total:,} recipients (target <= 10 s)")
        load = os.getloadavg()[0]
        print(f"load average {load:.1f} on {os.cpu_count()} cores during the run")
        median, worst, pilot_median, load_ms = asyncio.run(time_drill(store))
        print(f"dashboard drill-down key->frame: {median * 1000:.1f} ms median, "
              f"{worst * 1000:.1f} ms worst over {len(keys_walked())} steps (target <= 100 ms; "
              f"key handler start to the composed frame); {pilot_median * 1000:.0f} ms with "
              f"Pilot's own waits; tree rebuild in the worker {load_ms} ms (off the key path)")


if __name__ == "__main__":
    main()
