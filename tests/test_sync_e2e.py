"""The issue's "Done when", end to end with the real commands and ``python -m http.server``.

demo-data -> central init -> publish -> serve DIR/public -> enroll + init devices -> sync ->
``blt-status lookup`` gives each sampled recipient's schedule; ingest-payouts -> sync (only the
touched kecamatan is downloaded) -> lookup shows ``collected`` / ``held`` / ``returned``.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from blt_status.central.demodata import write_demo_world

PASSPHRASE = "kata sandi e2e"
PROGRAM_START, PROGRAM_END = dt.date(2025, 11, 21), dt.date(2025, 12, 11)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _cli(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, BLT_PASSPHRASE=PASSPHRASE, BLT_LANG="en")
    result = subprocess.run([sys.executable, "-m", "blt_status.cli", *args], env=env,
                            capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _json(*args: str) -> dict:
    return json.loads(_cli(*args, "--json").stdout)


@pytest.fixture()
def http_server(tmp_path: Path):
    """``python -m http.server -d DIR/public`` on a free loopback port."""
    public = tmp_path / "central" / "public"
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1", "-d",
         str(public)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    process.terminate()
    process.wait(timeout=10)


def test_publish_serve_sync_lookup_then_payouts(tmp_path: Path, http_server: str):
    files = write_demo_world(tmp_path / "input", recipients=300)
    region = files.report_kecamatan
    central = tmp_path / "central"
    _cli("central", "init", str(central), "--kdf", "test")
    published = _json("central", "publish", str(central), "--recipients",
                      str(files.recipients_csv), "--payout-points", str(files.payout_points_csv),
                      "--program", str(files.program_toml))
    assert published["version"] == 1 and published["published"] > 0

    officer, bot = tmp_path / "officer", tmp_path / "bot"
    _cli("central", "enroll", str(central), "--region", region, "--out",
         str(tmp_path / "officer.bundle"))
    _cli("central", "enroll", str(central), "--bot", "--out", str(tmp_path / "bot.bundle"))
    _cli("init", "--data-dir", str(officer), "--bundle", str(tmp_path / "officer.bundle"),
         "--insecure-test-kdf")
    _cli("init", "--data-dir", str(bot), "--bundle", str(tmp_path / "bot.bundle"),
         "--pepper-file", str(tmp_path / "secret" / "bot.pepper"))
    for device in (officer, bot):
        report = _json("sync", "--from", http_server, "--data-dir", str(device))
        assert report["changed"] and report["version_after"] == 1

    samples = {label: nik for label, nik in files.sample_niks.items()
               if label in ("scheduled", "komunitas", "antar", "will_be_collected",
                            "will_be_held", "will_be_returned")}
    assert {"scheduled", "will_be_collected"} <= set(samples)
    for device in (officer, bot):
        for label, nik in samples.items():
            answer = _json("lookup", nik, "--data-dir", str(device))
            assert answer["found"] and answer["status"] == "scheduled", label
            schedule = answer["schedule"]
            assert PROGRAM_START <= dt.date.fromisoformat(schedule["date"]) <= PROGRAM_END
            assert schedule["mode"] in ("kantor_pos", "komunitas", "antar")
            if schedule["mode"] != "antar":
                assert schedule["start"] and answer["payout_point"]["name"]
            assert answer["amount"] > 0 and answer["data_version"] == 1
        missing = _json("lookup", files.sample_niks["not_listed"], "--data-dir", str(device))
        assert missing["found"] is False
    text = _cli("lookup", samples["scheduled"], "--data-dir", str(officer)).stdout
    assert "When:" in text and "Where:" in text

    ingested = _json("central", "ingest-payouts", str(central), str(files.payout_report_csv))
    assert ingested["version"] == 2 and ingested["kecamatan"] == [region]
    officer_sync = _json("sync", "--from", http_server, "--data-dir", str(officer))
    bot_sync = _json("sync", "--from", http_server, "--data-dir", str(bot))
    assert officer_sync["version_after"] == bot_sync["version_after"] == 2
    assert bot_sync["shards_downloaded"] == 1 and bot_sync["shards_reused"] >= 10
    expected = {"will_be_collected": "collected", "will_be_held": "held",
                "will_be_returned": "returned", "scheduled": "scheduled"}
    for device in (officer, bot):
        for label, status in expected.items():
            if label in samples:
                answer = _json("lookup", samples[label], "--data-dir", str(device))
                assert answer["status"] == status and answer["data_version"] == 2, label
    status = _json("status", "--data-dir", str(officer))
    assert status["version"] == 2 and status["last_sync"]["ok"] and not status["stale"]
    assert status["regions"] == [region] and "NOT FOR REAL DATA" in status["kdf_profile"]

    # Nothing a device wrote holds a NIK, KK number or name in plaintext.
    with files.recipients_csv.open(encoding="utf-8", newline="") as handle:
        rows = [row for row in csv.DictReader(handle) if row["nik"] in samples.values()]
    secrets = [value.encode() for row in rows for value in (row["nik"], row["no_kk"])]
    secrets += [row["nama"].encode() for row in rows if " " in row["nama"]]  # full names
    assert len(secrets) >= 2 * len(samples)
    written = [path for device in (officer, bot) for path in device.rglob("*") if path.is_file()]
    assert len(written) > 5
    for path in written:
        data = path.read_bytes()
        assert not [secret for secret in secrets if secret in data], path
