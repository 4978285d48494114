"""A 1 % re-publish against the first publish, wall and CPU time, two code versions side by side.

    python bench/bench_republish.py [--sizes 20000] [--rounds 3] [--workers 2]
                                    [--compare OTHER_PYTHON] [--per-kecamatan N]

The steps of ``bench_central.py`` (synthetic recipients, test KDF, each step its own
``blt-status central`` process): first publish, the demo payout report, and the same file
with every 100th row given a new address. Besides wall time it reports CPU time (user + system
of the process and every worker it waited for, from ``wait4``), which a shared, loaded machine
disturbs far less than wall time. ``--compare`` runs the same steps with another interpreter
(e.g. the virtual environment of an earlier checkout), alternating with this one round by
round, so both see the same machine. ``--per-kecamatan N`` writes the world of
``bench_central.py`` (N rows per kecamatan, over as many kecamatan as the size needs; it
defaults to 3,800 there); the default here, 0, is one kabupaten of 40 kecamatan at every size,
the world the figures in docs/central.md were measured on. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_central import change_one_percent  # the same 1 % change (this folder)

# Every step runs in this folder, not in the checkout: ``python -m`` puts the working directory
# first on ``sys.path``, so a step started from a checkout would import that checkout's code
# whichever interpreter (and installed version) runs it.
NEUTRAL = Path(tempfile.gettempdir())


def run_timed(python: str, args: list[str], env: dict[str, str]) -> tuple[float, float, dict]:
    """Wall seconds, CPU seconds (with waited-for workers) and the --json output of a step."""
    command = [python, "-m", "blt_status.cli", "--lang", "en", "central", *args, "--json"]
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               cwd=NEUTRAL)
    out = process.stdout.read() if process.stdout else b""
    err = process.stderr.read() if process.stderr else b""
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{args[0]} failed: {err.decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, json.loads(out or b"{}")


def one_round(python: str, inputs: Path, changed: Path, work: Path, workers: int,
              env: dict[str, str]) -> dict[str, float]:
    central = work / "central"
    subprocess.run([python, "-m", "blt_status.cli", "--lang", "en", "central", "init",
                    str(central), "--kdf", "test"], check=True, capture_output=True, env=env,
                   cwd=NEUTRAL)
    files = ["--payout-points", str(inputs / "payout_points.csv"), "--program",
             str(inputs / "program.toml"), "--workers", str(workers)]
    publish = run_timed(python, ["publish", str(central), "--recipients",
                                 str(inputs / "recipients.csv"), *files], env)
    run_timed(python, ["ingest-payouts", str(central), str(inputs / "payout_report.csv")], env)
    again = run_timed(python, ["publish", str(central), "--recipients", str(changed), *files],
                      env)
    if again[2]["keys_derived"] != 0:
        raise SystemExit("the re-publish derived keys: not the step this bench measures")
    return {"publish_s": publish[0], "publish_cpu": publish[1], "republish_s": again[0],
            "republish_cpu": again[1], "published": publish[2]["published"],
            "changed": again[2]["change_totals"]["changed"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20000")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--compare", default=None,
                        help="another Python (with another checkout of blt-status installed)")
    parser.add_argument("--per-kecamatan", type=int, default=0,
                        help="demo rows per kecamatan (0: one kabupaten of 40 kecamatan)")
    args = parser.parse_args()
    env = {**os.environ, "BLT_LANG": "en"}
    versions = {"this": sys.executable, **({"other": args.compare} if args.compare else {})}
    for name, python in versions.items():
        found = subprocess.run([python, "-c", "import blt_status; print(blt_status.__file__)"],
                               check=True, capture_output=True, text=True, cwd=NEUTRAL)
        print(f"{name}: {found.stdout.strip()}", flush=True)
    print(f"cores {os.cpu_count()}, workers {args.workers}, SQLite, test KDF, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    print(f"{'version':>7} {'size':>8} {'publish':>9} {'cpu':>8} {'1% repub':>9} {'cpu':>8} "
          f"{'wall %':>7} {'cpu %':>6}", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-republish-") as temp:
        base = Path(temp)
        for size in (int(size) for size in args.sizes.split(",")):
            inputs = base / f"in-{size}"
            subprocess.run([sys.executable, "-m", "blt_status.cli", "--lang", "en", "central",
                            "demo-data", str(inputs), "--recipients", str(size), "--seed", "3",
                            *(["--per-kecamatan", str(args.per_kecamatan)]
                              if args.per_kecamatan else [])],
                           check=True, capture_output=True, env=env, cwd=NEUTRAL)
            changed = base / f"changed-{size}.csv"
            change_one_percent(inputs / "recipients.csv", changed)
            results: dict[str, list[dict[str, float]]] = {name: [] for name in versions}
            for number in range(args.rounds):
                for name, python in versions.items():
                    work = base / f"{name}-{size}-{number}"
                    row = one_round(python, inputs, changed, work, args.workers, env)
                    subprocess.run(["rm", "-rf", str(work)], check=True)
                    results[name].append(row)
                    print(f"{name:>7} {size:>8} {row['publish_s']:>8.1f}s "
                          f"{row['publish_cpu']:>7.1f}s {row['republish_s']:>8.1f}s "
                          f"{row['republish_cpu']:>7.1f}s "
                          f"{row['republish_s'] / row['publish_s']:>7.1%} "
                          f"{row['republish_cpu'] / row['publish_cpu']:>6.1%}", flush=True)
            for name, rows in results.items():
                wall = statistics.median(row["republish_s"] / row["publish_s"] for row in rows)
                cpu = statistics.median(row["republish_cpu"] / row["publish_cpu"] for row in rows)
                print(f"{name:>7} {size:>8} median re-publish / publish: wall {wall:.1%}, "
                      f"CPU {cpu:.1%}", flush=True)
    print(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
