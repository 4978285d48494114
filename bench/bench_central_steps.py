"""Where a publish's memory and time go: the peak RSS and the wall time of each step, in one
in-process run.

    python bench/bench_central_steps.py republish STORE RECIPIENTS_CSV INPUT_DIR [--workers N]
    python bench/bench_central_steps.py ingest STORE REPORT_CSV [--workers N]

Runs on a copy of STORE (e.g. one left by ``bench_central.py --keep DIR``; the copy is deleted
afterwards). ``INPUT_DIR`` holds the ``payout_points.csv`` and ``program.toml`` of the store's
demo world. A thread reads VmRSS from ``/proc/self/status`` every 10 ms; each rise of the peak
is counted to the step running then (steps are the publish's functions, wrapped by name), so
the figures add up to the process's peak. A step's time is its own (a step inside another is
not counted twice); the distribution lists are written by a second process at the same time,
whose time is not in the table. Diagnostic only; never run by the test suite.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import blt_status.central.checks as checks_module
import blt_status.central.plan as plan_module
import blt_status.central.publish as publish_module
import blt_status.central.repo as repo_module
from blt_status.central import CentralStore

_STEPS: list[tuple[Any, str, str]] = [
    (plan_module.StreamedPlan, "build", "plan: reading the program and points"),
    (plan_module.StreamedPlan, "_check_rows", "plan: check rows into the scratch file"),
    (plan_module.StreamedPlan, "_apply_duplicate_rules", "plan: duplicate rules"),
    (plan_module.StreamedPlan, "_schedule", "plan: schedule"),
    (publish_module, "_flagged", "flagged payouts"),
    (publish_module, "_new_events", "ingest: events not yet in the ledger"),
    (checks_module, "check_events", "ingest: payout rules"),
    (publish_module, "_start", "removal pre-pass"),
    (publish_module, "_derive_canaries", "canaries"),
    (publish_module, "_decide", "kecamatan loop: decisions"),
    (publish_module, "_send", "kecamatan loop: send derivations"),
    (publish_module, "_receive", "kecamatan loop: wait for derivations, tags"),
    (publish_module, "shard_file_of_lines", "kecamatan loop: shards"),
    (publish_module, "_patched_lines", "kecamatan loop: published shard lines"),
    (publish_module, "_stage_aggregates", "kecamatan loop: aggregates"),
    (publish_module, "_stage_rows", "kecamatan loop: staged rows"),
    (plan_module.StreamedPlan, "write_distribution_lists", "distribution lists"),
    (publish_module, "_write_rows", "commit: database rows"),
    (repo_module.RepoTransaction, "write_metadata", "commit: signed metadata"),
    (publish_module, "prune_targets", "pruning"),
    (plan_module.StreamedPlan, "rejections", "rejection log"),
]


class Sampler:
    """The peak RSS, how much of it each step added, and each step's own wall time."""

    def __init__(self) -> None:
        self.step = ["imports and set-up"]
        self.added: dict[str, int] = {}
        self.spent: dict[str, float] = {}
        self.inner: list[float] = [0.0]  # time spent in steps inside the running one
        self.peak = 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def rss_kib() -> int:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def _run(self) -> None:
        while not self.stopped.is_set():
            rss = self.rss_kib()
            step = self.step[-1]
            self.added.setdefault(step, 0)
            if rss > self.peak:
                self.added[step] += rss - self.peak
                self.peak = rss
            time.sleep(0.01)

    def wrap(self, owner: Any, name: str, label: str) -> None:
        function: Callable[..., Any] = getattr(owner, name)

        def step(*args: Any, **kwargs: Any) -> Any:
            self.step.append(label)
            self.inner.append(0.0)
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                elapsed = time.perf_counter() - started
                self.spent[label] = self.spent.get(label, 0.0) + elapsed - self.inner.pop()
                self.inner[-1] += elapsed
                self.step.pop()

        setattr(owner, name, step)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["republish", "ingest"])
    parser.add_argument("store", type=Path)
    parser.add_argument("file", type=Path, help="recipients CSV (republish) or report CSV")
    parser.add_argument("input_dir", type=Path, nargs="?",
                        help="payout_points.csv and program.toml (republish)")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    if args.mode == "republish" and args.input_dir is None:
        parser.error("republish needs INPUT_DIR")
    sampler = Sampler()
    sampler.peak = sampler.rss_kib()
    sampler.added[sampler.step[0]] = sampler.peak
    for owner, name, label in _STEPS:
        sampler.wrap(owner, name, label)
    with tempfile.TemporaryDirectory(prefix="bench-steps-") as temp:
        copy = Path(temp) / "store"
        shutil.copytree(args.store, copy)
        sampler.thread.start()
        store = CentralStore.open(copy)
        started = time.perf_counter()
        if args.mode == "republish":
            publish_module.publish_files(store, args.file, args.input_dir / "payout_points.csv",
                                         args.input_dir / "program.toml", workers=args.workers)
        else:
            publish_module.ingest_payouts(store, args.file, workers=args.workers)
        seconds = time.perf_counter() - started
        time.sleep(0.05)
        sampler.stopped.set()
        sampler.thread.join()
    print(f"{args.mode} of {args.store.name}: {seconds:.1f} s")
    for step in [*sampler.added, *(step for step in sampler.spent
                                   if step not in sampler.added)]:
        spent = sampler.spent.get(step)
        print(f"  {step:<44} +{sampler.added.get(step, 0) / 1024:6.0f} MB"
              + (f" {spent:8.2f} s" if spent is not None else ""))
    print(f"  {'other (not in a step)':<44} {'':>9} "
          f"{seconds - sum(sampler.spent.values()):8.2f} s")
    print(f"  {'peak (sampled)':<44} {sampler.peak / 1024:7.0f} MB")
    print(f"  {'peak (getrusage)':<44} "
          f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:7.0f} MB")


if __name__ == "__main__":
    main()
