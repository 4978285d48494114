"""The same inputs give devices the same answers for every NIK, whichever database the central
store uses (SQLite or PostgreSQL): demo data -> init -> publish -> ingest -> re-publish ->
serve -> enroll -> sync -> ``lookup --json``. And two processes ingesting and publishing at
once on PostgreSQL end with every event applied once."""

from __future__ import annotations

import csv
import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from central_world import postgres_database, write_csv

from blt_status.central.demodata import write_demo_world
from blt_status.cli import main

VOLATILE = {"data_as_of", "expires"}  # when each store happened to sign


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    code = main(["--lang", "en", *args, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    return json.loads(out)


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """``python -m http.server`` over a folder holding both stores."""
    root = tmp_path / "served"
    root.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                                "127.0.0.1", "-d", str(root)], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}", root
    finally:
        process.terminate()
        process.wait(timeout=10)


def answers(capsys, files, served: tuple[str, Path], name: str, db: str | None,
            tmp_path: Path) -> dict[str, dict]:
    url, root = served
    central = root / name
    cli(capsys, "central", "init", str(central), "--kdf", "test", *(["--db", db] if db else []))
    inputs = ["--recipients", str(files.recipients_csv), "--payout-points",
              str(files.payout_points_csv), "--program", str(files.program_toml)]
    assert cli(capsys, "central", "publish", str(central), *inputs)["version"] == 1
    assert cli(capsys, "central", "ingest-payouts", str(central),
               str(files.payout_report_csv))["applied"] > 0
    again = cli(capsys, "central", "publish", str(central), *inputs)
    assert again["change_totals"]["changed"] == 0 and again["shards_written"] == 0
    regions = cli(capsys, "central", "status", str(central))["kecamatan"]
    bundle = tmp_path / f"{name}.bundle"
    cli(capsys, "central", "enroll", str(central), "--region", *regions, "--out", str(bundle))
    device = tmp_path / f"{name}-device"
    cli(capsys, "init", "--data-dir", str(device), "--bundle", str(bundle),
        "--insecure-test-kdf")
    assert cli(capsys, "sync", "--from", f"{url}/{name}/public", "--data-dir",
               str(device))["version_after"] == 3
    with files.recipients_csv.open(encoding="utf-8", newline="") as handle:
        niks = sorted({row["nik"] for row in csv.DictReader(handle)})
    found = {}
    for nik in niks:
        answer = cli(capsys, "lookup", nik, "--data-dir", str(device))
        found[nik] = {key: value for key, value in answer.items() if key not in VOLATILE}
    return found


def test_both_backends_give_the_same_answers(tmp_path: Path, capsys,
                                             monkeypatch: pytest.MonkeyPatch, server) -> None:
    monkeypatch.setenv("BLT_PASSPHRASE", "kata sandi uji 123")
    files = write_demo_world(tmp_path / "input", recipients=40)
    on_sqlite = answers(capsys, files, server, "sqlite", None, tmp_path)
    with postgres_database() as url:
        on_postgres = answers(capsys, files, server, "postgresql", url, tmp_path)
    assert on_sqlite == on_postgres
    statuses = {answer.get("status") for answer in on_sqlite.values() if answer["found"]}
    assert {"scheduled", "collected"} <= statuses
    assert sum(answer["found"] for answer in on_sqlite.values()) > 20


WORKER = """
import sys
from pathlib import Path
from blt_status.central import CentralStore, ingest_payouts
store = CentralStore.open(Path(sys.argv[1]))
for report in sys.argv[2:]:
    result = ingest_payouts(store, Path(report), workers=1, wait=120)
    print(result.version, result.applied, result.duplicates, flush=True)
"""


def test_two_processes_ingesting_at_once_apply_every_event_once(tmp_path: Path, capsys,
                                                                ) -> None:
    from blt_status.central import CentralStore
    from blt_status.central.ledger import Ledger

    files = write_demo_world(tmp_path / "input", recipients=60)
    with postgres_database() as url:
        central = tmp_path / "central"
        cli(capsys, "central", "init", str(central), "--kdf", "test", "--db", url)
        published = cli(capsys, "central", "publish", str(central), "--recipients",
                        str(files.recipients_csv), "--payout-points",
                        str(files.payout_points_csv), "--program", str(files.program_toml))
        store = CentralStore.open(central)
        listed = sorted(store.load_state().records)
        assert len(listed) == published["published"]
        with files.payout_points_csv.open(encoding="utf-8", newline="") as handle:
            point = next(iter(csv.DictReader(handle)))["id"]
        # Six reports, each paying out a slice; every report is sent by BOTH processes.
        reports = []
        for part in range(6):
            rows = [[nik, "salur", f"2025-11-2{1 + part}T09:00:00+07:00", point, ""]
                    for nik in listed[part::6]]
            reports.append(str(write_csv(tmp_path / f"r{part}.csv",
                                         ["nik", "status", "waktu", "id_titik", "keterangan"],
                                         rows)))
        processes = [subprocess.Popen([sys.executable, "-c", WORKER, str(central), *order],
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                     for order in (reports, list(reversed(reports)))]
        outputs = [process.communicate(timeout=300) for process in processes]
        for process, (_, err) in zip(processes, outputs, strict=True):
            assert process.returncode == 0, err
        applied = sum(int(line.split()[1]) for out, _ in outputs for line in out.splitlines())
        assert applied == len(listed)  # each fact applied by exactly one of the two
        events = list(Ledger(store).events())
        assert len(events) == len(listed)
        assert len({(event.source_ref, event.row_ref) for event in events}) == len(listed)
        records = store.load_state().records
        assert {record.payload.status for record in records.values()} == {"collected"}
        # Every report that appended published a version (6); one that found all its rows
        # already there published too only where the ledger had grown since the version
        # it saw (the other process appended during that publish).
        assert 1 + 6 <= store.published_version() <= 1 + 12
