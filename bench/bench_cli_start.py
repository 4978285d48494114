"""How long a ``blt-status`` command takes from start to exit, two code versions side by side.

    python bench/bench_cli_start.py [--rounds 7] [--compare OTHER_PYTHON]

An officer types ``blt-status lookup`` or ``nik`` many times a day, and the test suite starts
the command line hundreds of times: most of a short command's time is the interpreter
importing what the command needs (and, before it was made lazy, what it did not). Runs each
command of the table ``--rounds`` times on the demo world (synthetic people, test KDF, built
once in a temporary folder with this interpreter's code) and reports the median wall time.
``--compare`` runs the same commands with another interpreter (e.g. the virtual environment of
an earlier checkout), alternating with this one run by run, so both see the same machine, and
prints this/other per command. Never run by the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from blt_status.demo import DemoWorld, ensure_demo_world

# Every command runs in this folder, not in the checkout: ``python -m`` puts the working
# directory first on ``sys.path``, so a command started from a checkout would import that
# checkout's code whichever interpreter runs it.
NEUTRAL = Path(tempfile.gettempdir())


def commands(world: DemoWorld) -> dict[str, list[str]]:
    """The commands timed, by label."""
    nik = sorted(world.sample_niks.values())[0]
    return {
        "--version": ["--version"],
        "nik NIK": ["nik", nik],
        "nik NIK --lang en": ["--lang", "en", "nik", nik],
        "lookup NIK (officer)": ["lookup", nik, "--data-dir", str(world.officer_dir)],
        "status (officer)": ["status", "--data-dir", str(world.officer_dir)],
        "central status": ["central", "status", str(world.central_dir)],
    }


def run_once(python: str, args: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run([python, "-m", "blt_status.cli", *args], capture_output=True,
                          env=env, cwd=NEUTRAL, check=False)
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({python}): {done.stderr.decode()[-300:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--compare", default=None,
                        help="another Python (with another checkout of blt-status installed)")
    args = parser.parse_args()
    pythons = [sys.executable] + ([args.compare] if args.compare else [])
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as temp:
        world = ensure_demo_world(Path(temp) / "demo")
        env = {**os.environ, "BLT_PASSPHRASE": world.passphrase, "HOME": temp}
        table = commands(world)
        times: dict[tuple[str, str], list[float]] = {}
        for _ in range(args.rounds):
            for label, command in table.items():
                for python in pythons:
                    times.setdefault((label, python), []).append(run_once(python, command, env))
    print(f"median of {args.rounds} runs, wall seconds, cores {os.cpu_count()}")
    header = f"{'command':<24}{'this':>8}"
    if args.compare:
        header += f"{'other':>8}{'this/other':>12}"
    print(header)
    for label in table:
        this = statistics.median(times[(label, sys.executable)])
        line = f"{label:<24}{this:>8.3f}"
        if args.compare:
            other = statistics.median(times[(label, args.compare)])
            line += f"{other:>8.3f}{this / other:>11.2f}x"
        print(line)


if __name__ == "__main__":
    main()
