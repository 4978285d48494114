"""The central store at scale: peak RSS and wall time of publish, ingest and a 1 % re-publish.

    python bench/bench_central.py [--sizes 100000,1000000] [--workers N] [--db URL]

For each size: synthetic recipients (``central demo-data``, test KDF), then each step runs as
its own ``blt-status central ...`` process so that its peak RSS (the largest of the process
and the key-derivation workers it waited for, from ``wait4``) and wall time are its own:

    publish      first publish (every Argon2id key derived)
    ingest       the demo payout report (~1 % of the recipients)
    republish    the same file with 1 % of the rows changed (new address)

and the ratios the issue asks for: republish / publish time, RSS(largest) / RSS(smallest size).
Never run by the test suite.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CLI = [sys.executable, "-m", "blt_status.cli", "--lang", "en", "central"]


def run_measured(args: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS in MiB and the --json output of one CLI process."""
    started = time.perf_counter()
    process = subprocess.Popen([*CLI, *args, "--json"], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env=env)
    out = process.stdout.read() if process.stdout else b""
    err = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed: {err.decode()[-500:]}")
    return seconds, usage.ru_maxrss / 1024, json.loads(out or b"{}")


def change_one_percent(source: Path, target: Path) -> int:
    with source.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    changed = 0
    for index in range(1, len(rows), 100):
        rows[index][3] = rows[index][3] + " (pindah)"
        changed += 1
    with target.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    return changed


def bench_size(base: Path, size: int, workers: int, db: str | None) -> dict[str, float]:
    env = {**os.environ, "BLT_LANG": "en"}
    inputs = base / f"in-{size}"
    subprocess.run([*CLI, "demo-data", str(inputs), "--recipients", str(size), "--seed", "3"],
                   check=True, capture_output=True, env=env)
    central = base / f"central-{size}"
    subprocess.run([*CLI, "init", str(central), "--kdf", "test",
                    *(["--db", db] if db else [])], check=True, capture_output=True, env=env)
    files = ["--payout-points", str(inputs / "payout_points.csv"), "--program",
             str(inputs / "program.toml"), "--workers", str(workers)]
    publish_s, publish_mb, report = run_measured(
        ["publish", str(central), "--recipients", str(inputs / "recipients.csv"), *files], env)
    ingest_s, ingest_mb, ingest = run_measured(
        ["ingest-payouts", str(central), str(inputs / "payout_report.csv")], env)
    changed_csv = base / f"changed-{size}.csv"
    changed = change_one_percent(inputs / "recipients.csv", changed_csv)
    republish_s, republish_mb, again = run_measured(
        ["publish", str(central), "--recipients", str(changed_csv), *files], env)
    return {"size": size, "published": report["published"], "publish_s": publish_s,
            "publish_mb": publish_mb, "ingest_rows": ingest["input_rows"],
            "ingest_s": ingest_s, "ingest_mb": ingest_mb, "changed_rows": changed,
            "republish_changed": again["change_totals"]["changed"],
            "republish_s": republish_s, "republish_mb": republish_mb,
            "republish_keys_derived": again["keys_derived"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--db", default=None, help="a PostgreSQL URL (default: SQLite)")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    print(f"cores {os.cpu_count()}, workers {args.workers}, database "
          f"{'PostgreSQL' if args.db else 'SQLite'}, test KDF", flush=True)
    print(f"{'recipients':>10} {'publish':>9} {'RSS':>8} {'ingest':>8} {'RSS':>8} "
          f"{'1% repub':>9} {'RSS':>8} {'repub/pub':>9}", flush=True)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-central-") as temp:
        for size in sizes:
            row = bench_size(Path(temp), size, args.workers, args.db)
            results.append(row)
            print(f"{row['published']:>10} {row['publish_s']:>8.1f}s {row['publish_mb']:>6.0f}MB "
                  f"{row['ingest_s']:>7.1f}s {row['ingest_mb']:>6.0f}MB "
                  f"{row['republish_s']:>8.1f}s {row['republish_mb']:>6.0f}MB "
                  f"{row['republish_s'] / row['publish_s']:>8.1%}", flush=True)
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(f"peak RSS of publish, {big['size']} vs {small['size']}: "
              f"{big['publish_mb'] / small['publish_mb']:.2f}x; of ingest: "
              f"{big['ingest_mb'] / small['ingest_mb']:.2f}x")


if __name__ == "__main__":
    main()
