"""The central store at scale: peak RSS and wall time of publish, ingest and a 1 % re-publish.

    python bench/bench_central.py [--sizes 100000,1000000] [--workers N] [--db URL]
                                  [--per-kecamatan 3800] [--kdf test|production]
                                  [--no-cluster] [--cores 256] [--keep DIR]

For each size: synthetic recipients (``central demo-data``; the test KDF unless ``--kdf
production``, which shows the ratio an operator will see), spread at about
``--per-kecamatan`` rows per kecamatan (3,800 rows, about 2,600 published: the national average
of KPM per kecamatan) over as many kecamatan as the size needs, so that the largest kecamatan
stays the same size at every size (``--per-kecamatan 0``: the old world, one kabupaten of 40
kecamatan at every size, whose kecamatan grow with the file). Then each step runs as its own
``blt-status central ...`` process, started by a small launcher process, so that its peak RSS
(the largest of the process and the key-derivation workers it waited for, from ``wait4``;
never this script's own, see ``_LAUNCHER``) and wall time are its own:

    publish      first publish (every Argon2id key derived)
    ingest       the demo payout report (the first kecamatan's recipients)
    republish    the same file with 1 % of the rows changed (new address)

and the ratios the issue asks for: republish / publish time, RSS(largest) / RSS(smallest size).
Then (unless ``--no-cluster``) ``bench_cluster.py``'s table: key derivations per second through
the in-process pool against a local 2-worker Dask cluster, under the test and the production
KDF, and the hours of a first national publish (18.8 M KPM) on 2 and on ``--cores`` cores.
``--keep DIR`` writes the inputs and stores there (and leaves them) instead of a temporary
folder. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from pgdb import fresh_database

CLI = [sys.executable, "-m", "blt_status.cli", "--lang", "en", "central"]


# Linux keeps a process's peak RSS across exec: a child started straight from this script
# would report this script's own peak (e.g. a whole CSV read for the change) whenever that is
# the larger. So each step is started by a small launcher process, whose peak is its own
# (about 10 MB), and the launcher reports the step's ``wait4`` figures.
_LAUNCHER = """\
import os, sys
pid = os.posix_spawn(sys.executable, [sys.executable, *sys.argv[2:]], os.environ)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as handle:
    handle.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def run_measured(args: list[str], env: dict[str, str], scratch: Path,
                 ) -> tuple[float, float, dict[str, Any]]:
    """Wall seconds, peak RSS in MiB and the --json output of one CLI process."""
    usage_file, out_file, err_file = (scratch / name for name in ("usage", "out", "err"))
    started = time.perf_counter()
    with out_file.open("wb") as out, err_file.open("wb") as err:
        subprocess.run([sys.executable, "-c", _LAUNCHER, str(usage_file), *CLI[1:], *args,
                        "--json"], stdout=out, stderr=err, env=env, check=False)
    seconds = time.perf_counter() - started
    maxrss, code = (int(part) for part in usage_file.read_text().split())
    if code != 0:
        raise SystemExit(f"{' '.join(args[:1])} failed: {err_file.read_text()[-500:]}")
    with out_file.open(encoding="utf-8") as handle:
        return seconds, maxrss / 1024, json.load(handle)


def change_one_percent(source: Path, target: Path) -> int:
    """Every 100th row gets a new address; row by row (the script stays small)."""
    changed = 0
    with source.open(encoding="utf-8", newline="") as reading, \
            target.open("w", encoding="utf-8", newline="") as writing:
        writer = csv.writer(writing)
        for index, row in enumerate(csv.reader(reading)):
            if index % 100 == 1:
                row[3] = row[3] + " (pindah)"
                changed += 1
            writer.writerow(row)
    return changed


def largest_kecamatan(recipients_csv: Path) -> tuple[int, int]:
    """How many kecamatan the input's rows live in, and the rows of the largest."""
    rows: Counter[str] = Counter()
    with recipients_csv.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            rows[row["kode_wilayah"].rsplit(".", 1)[0]] += 1
    return len(rows), max(rows.values())


def bench_size(base: Path, size: int, workers: int, db: str | None,
               per_kecamatan: int, kdf: str = "test") -> dict[str, float]:
    env = {**os.environ, "BLT_LANG": "en"}
    inputs = base / f"in-{size}"
    spread = ["--per-kecamatan", str(per_kecamatan)] if per_kecamatan else []
    subprocess.run([*CLI, "demo-data", str(inputs), "--recipients", str(size), "--seed", "3",
                    *spread], check=True, capture_output=True, env=env)
    kecamatan, largest = largest_kecamatan(inputs / "recipients.csv")
    central = base / f"central-{size}"
    subprocess.run([*CLI, "init", str(central), "--kdf", kdf,
                    *(["--db", fresh_database(db, f"_{size}")] if db else [])],
                   check=True, capture_output=True, env=env)
    files = ["--payout-points", str(inputs / "payout_points.csv"), "--program",
             str(inputs / "program.toml"), "--workers", str(workers)]
    publish_s, publish_mb, report = run_measured(
        ["publish", str(central), "--recipients", str(inputs / "recipients.csv"), *files], env,
        base)
    ingest_s, ingest_mb, ingest = run_measured(
        ["ingest-payouts", str(central), str(inputs / "payout_report.csv")], env, base)
    changed_csv = base / f"changed-{size}.csv"
    changed = change_one_percent(inputs / "recipients.csv", changed_csv)
    republish_s, republish_mb, again = run_measured(
        ["publish", str(central), "--recipients", str(changed_csv), *files], env, base)
    return {"size": size, "kecamatan": kecamatan, "largest_rows": largest,
            "published": report["published"], "publish_s": publish_s,
            "publish_mb": publish_mb, "ingest_rows": ingest["input_rows"],
            "ingest_s": ingest_s, "ingest_mb": ingest_mb, "changed_rows": changed,
            "republish_changed": again["change_totals"]["changed"],
            "republish_s": republish_s, "republish_mb": republish_mb,
            "republish_keys_derived": again["keys_derived"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--db", default=None,
                        help="a PostgreSQL URL; each size gets a new database named after it "
                             "plus _ROWS (default: SQLite)")
    parser.add_argument("--per-kecamatan", type=int, default=3800,
                        help="demo rows per kecamatan (0: one kabupaten of 40 kecamatan)")
    parser.add_argument("--kdf", choices=("test", "production"), default="test",
                        help="the index KDF of the stores (production: Argon2id m=19 MiB, t=2;"
                             " use small sizes, a first publish derives two keys a recipient)")
    parser.add_argument("--no-cluster", action="store_true",
                        help="skip the Dask throughput and the national projection")
    parser.add_argument("--cores", type=int, default=256,
                        help="cluster cores for the national projection")
    parser.add_argument("--keep", type=Path, default=None,
                        help="write inputs and stores here and leave them")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    world = (f"about {args.per_kecamatan} rows per kecamatan" if args.per_kecamatan
             else "one kabupaten of 40 kecamatan")
    print(f"cores {os.cpu_count()}, workers {args.workers}, database "
          f"{'PostgreSQL' if args.db else 'SQLite'}, {args.kdf} KDF, {world}", flush=True)
    print(f"{'rows':>9} {'kec':>4} {'largest':>7} {'published':>9} {'publish':>9} {'RSS':>7} "
          f"{'ingest':>8} {'RSS':>7} {'1% repub':>9} {'RSS':>7} {'repub/pub':>9}", flush=True)
    results = []
    with contextlib.ExitStack() as stack:
        if args.keep:
            args.keep.mkdir(parents=True, exist_ok=True)
            base = args.keep
        else:
            base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-central-")))
        for size in sizes:
            row = bench_size(base, size, args.workers, args.db, args.per_kecamatan, args.kdf)
            results.append(row)
            print(f"{row['size']:>9} {row['kecamatan']:>4} {row['largest_rows']:>7} "
                  f"{row['published']:>9} {row['publish_s']:>8.1f}s {row['publish_mb']:>5.0f}MB "
                  f"{row['ingest_s']:>7.1f}s {row['ingest_mb']:>5.0f}MB "
                  f"{row['republish_s']:>8.1f}s {row['republish_mb']:>5.0f}MB "
                  f"{row['republish_s'] / row['publish_s']:>8.1%}", flush=True)
    if len(results) > 1:
        small, big = results[0], results[-1]
        print(f"peak RSS, {big['size']} vs {small['size']}: publish "
              f"{big['publish_mb'] / small['publish_mb']:.2f}x, ingest "
              f"{big['ingest_mb'] / small['ingest_mb']:.2f}x, 1 % re-publish "
              f"{big['republish_mb'] / small['republish_mb']:.2f}x")
    if not args.no_cluster:
        try:
            import bench_cluster  # needs the cluster extra
        except ImportError as error:
            raise SystemExit(f"the Dask throughput needs pip install 'blt-status[cluster]' "
                             f"({error}); or run with --no-cluster") from None
        print("key derivation and sealing per second, in-process pool against a local Dask "
              "cluster:", flush=True)
        bench_cluster.report(cores=args.cores)


if __name__ == "__main__":
    main()
