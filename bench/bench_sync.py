"""Sync of a large recipient view from loopback: full sync, then a one-kecamatan delta.

    python bench/bench_sync.py [--records 1000000] [--kecamatan 200] [--workdir DIR]

FAST PATH (labelled): the repository is written by ``SignedRepository``
(``tests/support/repository.py``)
with SYNTHETIC sealed records — random 16-byte tags and random blobs of the size of a real
recipient-view record (583 bytes) — instead of running the publisher's Argon2id over N NIKs.
The sync never decrypts records, so its work (TUF verification, streaming download, hash
checks, shard parsing, SQLite build, atomic switch) is the same as for real data. params.json
carries the TEST KDF profile.

The syncing process is ``blt-status sync`` in a subprocess; its wall time and peak RSS
(``ru_maxrss`` from ``wait4``) are measured. Then one kecamatan is re-published (as a payout
report touching one kecamatan would), and the re-sync's bytes and time are compared with the
full sync's, side by side in this run. Targets: peak RSS <= 200 MB, re-sync <= 5 % of both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # tests/support

from support.repository import TEST_EPOCH, RepositoryServer, SignedRepository

from blt_status.crypto import TEST_INDEX_KDF
from blt_status.device import ALL_REGIONS, Keyring
from blt_status.layout import PARAMS_TARGET, params_document, shard_file, shard_target
from blt_status.records import Program, SealedRecord
from blt_status.sync import install_bundle

BLOB_BYTES = 583  # a sealed recipient-view record of the test world
PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")


def _regions(count: int) -> list[str]:
    return [f"{11 + index // 99:02d}.{1 + (index % 99) // 9:02d}.{1 + index % 9:02d}"
            for index in range(count)]


def _records(region: str, count: int) -> list[SealedRecord]:
    return [SealedRecord(os.urandom(16), region, os.urandom(BLOB_BYTES)) for _ in range(count)]


def _params(now: dt.datetime) -> tuple[bytes, dict]:
    return params_document(epoch=TEST_EPOCH, epoch_salt=b"bench-epoch-salt", kdf=TEST_INDEX_KDF,
                           program=PROGRAM, canaries={"recipient": {ALL_REGIONS: b"\0" * 16}},
                           data_as_of=now)


def build_repository(public_dir: Path, records: int, kecamatan: int) -> tuple[
        SignedRepository, list[str], int]:
    repo = SignedRepository(public_dir)
    regions = _regions(kecamatan)
    per_region, extra = divmod(records, kecamatan)
    total_bytes = 0

    def files() -> Iterator[tuple[str, tuple[bytes, dict]]]:  # one shard in memory at a time
        nonlocal total_bytes
        for index, region in enumerate(regions):
            data, custom = shard_file("recipient", region,
                                      _records(region, per_region + (index < extra)),
                                      epoch=TEST_EPOCH)
            total_bytes += len(data)
            yield shard_target("recipient", region), (data, custom)
        yield PARAMS_TARGET, _params(dt.datetime.now(dt.UTC).replace(microsecond=0))

    repo.publish(files())
    return repo, regions, total_bytes


# A forked child's ru_maxrss counts the pages it shared with its parent before exec, so the
# command runs under this small launcher: its RUSAGE_CHILDREN is the command's own peak.
_LAUNCHER = """
import json, resource, subprocess, sys, time
started = time.perf_counter()
result = subprocess.run(sys.argv[1:], capture_output=True)
seconds = time.perf_counter() - started
peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": result.returncode, "seconds": seconds, "peak_kib": peak_kib,
                  "stdout": result.stdout.decode(), "stderr": result.stderr.decode()}))
"""


def measured(*command: str) -> tuple[dict, float, float]:
    """Run ``blt-status COMMAND``: (its JSON output, wall seconds, peak RSS in MB)."""
    launcher = subprocess.run(
        [sys.executable, "-c", _LAUNCHER, sys.executable, "-m", "blt_status.cli", *command],
        capture_output=True, text=True, env=dict(os.environ, BLT_LANG="en"), check=True)
    result = json.loads(launcher.stdout)
    if result["code"] != 0:
        raise SystemExit(f"blt-status {command[0]} failed: {result['stderr']}")
    return json.loads(result["stdout"]), result["seconds"], result["peak_kib"] / 1024


def timed_sync(url: str, data_dir: Path) -> dict:
    """``blt-status sync --json`` in a child: its report plus seconds and peak RSS."""
    report, seconds, peak_mb = measured("sync", "--from", url, "--data-dir", str(data_dir),
                                        "--json")
    report.update(wall_seconds=seconds, peak_rss_mb=peak_mb)
    return report


def baseline(data_dir: Path) -> tuple[float, float]:
    """``blt-status status`` (interpreter + imports): the floor of any command."""
    _, seconds, peak_mb = measured("status", "--data-dir", str(data_dir), "--json")
    return seconds, peak_mb


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--kecamatan", type=int, default=200)
    parser.add_argument("--workdir", type=Path, default=None,
                        help="where to build (default: a temporary directory, removed after)")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-sync-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        started = time.perf_counter()
        repo, regions, shard_bytes = build_repository(workdir / "public", args.records,
                                                      args.kecamatan)
        build_seconds = time.perf_counter() - started
        bundle_path = workdir / "bot.bundle"
        repo.bundle(view="recipient", regions=(),
                    keyring=Keyring({ALL_REGIONS: os.urandom(32)})).write(bundle_path)
        device = install_bundle(workdir / "bot", bundle_path, None, backend="sqlite",
                                pepper_file=workdir / "secret" / "bot.pepper")
        with RepositoryServer(workdir / "public") as server:
            full = timed_sync(server.url, device.data_dir)
            touched = regions[len(regions) // 2]
            count = repo.targets[shard_target("recipient", touched)].unrecognized_fields[
                "custom"]["blt"]["records"]
            repo.publish({
                shard_target("recipient", touched): shard_file("recipient", touched,
                                                               _records(touched, count),
                                                               epoch=TEST_EPOCH),
                PARAMS_TARGET: _params(dt.datetime.now(dt.UTC).replace(microsecond=0)
                                       + dt.timedelta(seconds=1)),
            })
            delta = timed_sync(server.url, device.data_dir)
        floor_seconds, floor = baseline(device.data_dir)
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)

    assert full["records"] == args.records and delta["records"] == args.records
    assert delta["shards_downloaded"] == 1, delta
    print(f"sync benchmark — {args.records:,} records, {args.kecamatan} kecamatan, recipient "
          f"view, SQLite; SYNTHETIC sealed records (fast path), TEST KDF params")
    print(f"repository built in {build_seconds:.1f} s; shards {shard_bytes / 1e6:.1f} MB; "
          f"a bare command (`status`: interpreter + imports) takes {floor_seconds:.2f} s "
          f"and {floor:.0f} MB RSS")
    print()
    rows = [
        ("wall time (s)", full["wall_seconds"], delta["wall_seconds"], "{:.2f}"),
        ("peak RSS (MB)", full["peak_rss_mb"], delta["peak_rss_mb"], "{:.1f}"),
        ("bytes downloaded", full["bytes_downloaded"], delta["bytes_downloaded"], "{:,}"),
        ("shards downloaded", full["shards_downloaded"], delta["shards_downloaded"], "{}"),
        ("shards reused", full["shards_reused"], delta["shards_reused"], "{}"),
    ]
    print(f"{'':20} {'full sync':>16} {'re-sync (1 kec)':>16} {'ratio':>8}")
    for label, first, second, style in rows:
        ratio = f"{second / first:.2%}" if first else "-"
        print(f"{label:20} {style.format(first):>16} {style.format(second):>16} {ratio:>8}")
    print()
    byte_ratio = delta["bytes_downloaded"] / full["bytes_downloaded"]
    time_ratio = delta["wall_seconds"] / full["wall_seconds"]
    print(f"targets: peak RSS <= 200 MB: {full['peak_rss_mb']:.1f} MB "
          f"{'OK' if full['peak_rss_mb'] <= 200 else 'MISSED'}; re-sync bytes <= 5%: "
          f"{byte_ratio:.2%} {'OK' if byte_ratio <= 0.05 else 'MISSED'}; re-sync time <= 5%: "
          f"{time_ratio:.2%} {'OK' if time_ratio <= 0.05 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
