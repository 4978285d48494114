"""``blt-status central ...`` as an admin runs it: output, JSON counts, one-line errors, serve."""

from __future__ import annotations

import csv
import json
import os
import signal
import stat
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from central_world import write_world

from blt_status.cli import main

CLI = [sys.executable, "-m", "blt_status.cli"]


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["--lang", "en", *[str(arg) for arg in args]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def central(tmp_path: Path, capsys) -> Path:
    directory = tmp_path / "central"
    code, out, err = run(capsys, "central", "init", directory, "--kdf", "test", "--url",
                         "http://127.0.0.1:8000")
    assert code == 0, err
    assert "NOT FOR REAL DATA" in out and "WARNING" in err
    return directory


def publish_args(directory: Path, world) -> list:
    return ["central", "publish", directory, "--recipients", world.recipients,
            "--payout-points", world.payout_points, "--program", world.program]


def one_error_line(err: str, code: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error [{code}]: ")
    assert "Traceback" not in err


def test_init_json_and_refusal(tmp_path: Path, capsys) -> None:
    code, out, _ = run(capsys, "central", "init", tmp_path / "c", "--kdf", "test", "--json")
    data = json.loads(out)
    assert code == 0 and data["insecure"] is True and data["root_threshold"] == 2
    assert len(data["root_keys"]) == 3
    code, out, err = run(capsys, "central", "init", tmp_path / "c")
    assert code == 1
    one_error_line(err, "store_exists")


def test_publish_json_counts_add_up(central: Path, world, capsys) -> None:
    code, out, err = run(capsys, *publish_args(central, world), "--json", "--workers", "1")
    assert code == 0, err
    assert err == ""  # quiet with --json (and without a terminal)
    data = json.loads(out)
    assert data["version"] == 1
    assert data["published"] + len(data["rejected"]) == data["input_rows"] == 9
    assert sum(data["rejected_by_code"].values()) == len(data["rejected"])
    for item in data["rejected"]:
        assert set(item) == {"line", "nik_masked", "code", "reason"}


def test_publish_text_output(central: Path, world, capsys) -> None:
    code, out, _ = run(capsys, *publish_args(central, world))
    assert code == 0
    assert "Version 1 published: 5 recipients, 4 rejected of 9 rows." in out
    assert "line 7: ************0001 [duplicate_nik]" in out
    assert "distribution lists (SECRET)" in out


def test_ingest_json_counts_add_up(central: Path, world, capsys) -> None:
    run(capsys, *publish_args(central, world))
    code, out, err = run(capsys, "central", "ingest-payouts", central, world.report, "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["version"] == 2
    assert data["applied"] + len(data["rejected"]) == data["input_rows"] == 5
    assert [item["line"] for item in data["rejected"]] == sorted(
        item["line"] for item in data["rejected"])


def test_enroll_writes_a_private_bundle(central: Path, world, tmp_path: Path, capsys) -> None:
    run(capsys, *publish_args(central, world))
    bundle = tmp_path / "officer.bundle"
    code, out, _ = run(capsys, "central", "enroll", central, "--region", "32.01.01", "32.01.02",
                       "--out", bundle, "--json")
    assert code == 0
    assert json.loads(out)["regions"] == ["32.01.01", "32.01.02"]
    assert stat.S_IMODE(bundle.stat().st_mode) == 0o600
    data = json.loads(bundle.read_bytes())
    assert data["central_url"] == "http://127.0.0.1:8000/"
    assert sorted(data["peppers"]) == ["32.01.01", "32.01.02"]
    code, _, err = run(capsys, "central", "enroll", central, "--region", "99.01.01", "--out",
                       tmp_path / "x.bundle")
    assert code == 1
    one_error_line(err, "region_unknown")
    assert not (tmp_path / "x.bundle").exists()


def test_refresh_resigns_the_current_data(central: Path, world, capsys) -> None:
    run(capsys, *publish_args(central, world))
    code, out, _ = run(capsys, "central", "refresh", central, "--json")
    data = json.loads(out)
    assert code == 0 and data["version"] == 2 and data["shards_written"] == 0
    assert data["published"] == 5


@pytest.mark.parametrize(("args", "code"), [
    (["central", "publish", "{dir}", "--recipients", "{tmp}/none.csv", "--payout-points",
      "{tmp}/none.csv", "--program", "{tmp}/none.toml"], "file_missing"),
    (["central", "publish", "{tmp}/nostore", "--recipients", "a", "--payout-points", "b",
      "--program", "c"], "store_missing"),
    (["central", "ingest-payouts", "{dir}", "{tmp}/report.csv"], "nothing_published"),
    (["central", "enroll", "{dir}", "--region", "32.01.01", "--out", "{tmp}/b"],
     "nothing_published"),
    (["central", "refresh", "{dir}"], "nothing_published"),
])
def test_errors_are_one_line_with_a_code(central: Path, tmp_path: Path, capsys, args,
                                         code: str) -> None:
    filled = [arg.format(dir=central, tmp=tmp_path) for arg in args]
    status, _, err = run(capsys, *filled)
    assert status == 1
    one_error_line(err, code)


def test_usage_errors_are_one_line_too(central: Path, tmp_path: Path) -> None:
    done = subprocess.run([*CLI, "central", "enroll", str(central), "--bot", "--region",
                           "32.01.01", "--out", str(tmp_path / "b")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    one_error_line(done.stderr, "usage")
    done = subprocess.run([*CLI, "central", "publish", str(central)], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2
    one_error_line(done.stderr, "usage")


def test_serve_publishes_only_the_public_folder(central: Path, world, capsys) -> None:
    run(capsys, *publish_args(central, world))
    with subprocess.Popen([*CLI, "central", "serve", str(central), "--port", "0"],
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                          env={**os.environ, "BLT_LANG": "en"}) as process:
        try:
            assert process.stdout is not None
            banner = process.stdout.readline()
            url = banner.split(" at ")[1].split(" ")[0].rstrip("/")
            with httpx.Client(base_url=url, timeout=10) as client:
                assert client.get("/metadata/timestamp.json").status_code == 200
                assert client.get("/metadata/1.root.json").json()["signed"]["_type"] == "root"
                for path in ("/private/config.json", "/../private/config.json",
                             "/%2e%2e/private/secrets.json"):
                    assert client.get(path).status_code == 404
        finally:
            process.send_signal(signal.SIGINT)
            assert process.wait(timeout=10) == 0


def test_demo_data_then_publish(tmp_path: Path, capsys) -> None:
    code, out, err = run(capsys, "central", "demo-data", tmp_path / "demo", "--kabupaten",
                         "32.01", "--recipients", "60", "--seed", "3", "--json")
    assert code == 0, err
    files = json.loads(out)
    run(capsys, "central", "init", tmp_path / "c", "--kdf", "test")
    code, out, err = run(capsys, "central", "publish", tmp_path / "c", "--recipients",
                         files["recipients"], "--payout-points", files["payout_points"],
                         "--program", files["program"], "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["published"] + len(data["rejected"]) == data["input_rows"] == 60
    assert data["published"] > 0
    code, out, err = run(capsys, "central", "ingest-payouts", tmp_path / "c",
                         files["payout_report"], "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["applied"] + len(data["rejected"]) == data["input_rows"]
    code, _, err = run(capsys, "central", "demo-data", tmp_path / "demo2", "--recipients", "0")
    assert code == 1
    one_error_line(err, "demo_recipients")
    code, out, err = run(capsys, "central", "demo-data", tmp_path / "demo3", "--recipients",
                         "200", "--per-kecamatan", "40", "--json")
    assert code == 0, err
    with open(json.loads(out)["recipients"], encoding="utf-8", newline="") as handle:
        desa = {row["kode_wilayah"] for row in csv.DictReader(handle)}
    assert {code.rsplit(".", 1)[0] for code in desa} == {f"32.01.0{n}" for n in range(1, 6)}


def test_rotate_keys(central: Path, world, capsys) -> None:
    code, out, _ = run(capsys, "central", "rotate-keys", central, "--role", "timestamp",
                       "--json")
    assert code == 0
    assert json.loads(out) == {"root_version": 2, "roles": ["timestamp"], "version": None}
    run(capsys, *publish_args(central, world))
    code, out, _ = run(capsys, "central", "rotate-keys", central, "--role", "targets",
                       "snapshot")
    assert code == 0
    assert "root version 3, data re-signed as version 2." in out


def test_file_system_failures_are_one_line(central: Path, world, tmp_path: Path,
                                           capsys) -> None:
    code, _, err = run(capsys, "central", "enroll", central, "--bot", "--out", tmp_path)
    assert code == 1
    one_error_line(err, "bundle_out")
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code, _, err = run(capsys, "central", "init", blocker / "store", "--kdf", "test")
    assert code == 1
    one_error_line(err, "io_error")


def test_serve_on_a_taken_port_is_one_line(central: Path, capsys) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code, _, err = run(capsys, "central", "serve", central, "--port", str(port))
    assert code == 1
    one_error_line(err, "serve_port")


def test_every_central_subcommand_has_help_and_docs() -> None:
    import argparse

    from blt_status.cli import build_parser

    parser = build_parser()
    top = next(action for action in parser._actions
               if isinstance(action, argparse._SubParsersAction))
    central = top.choices["central"]
    sub = next(action for action in central._actions
               if isinstance(action, argparse._SubParsersAction))
    docs = (Path(__file__).parent.parent / "docs" / "central.md").read_text(encoding="utf-8")
    assert set(sub.choices) >= {"init", "publish", "ingest-payouts", "enroll", "demo-data",
                                "serve", "refresh", "rotate-keys"}
    helps = {choice.dest: choice.help for choice in sub._choices_actions}
    for name, subparser in sub.choices.items():
        assert helps.get(name) and subparser.description, name
        assert f"blt-status central {name} " in docs, name


def test_status_shows_versions_and_expiry(central: Path, world, capsys) -> None:
    code, out, _ = run(capsys, "central", "status", central, "--json")
    assert code == 0 and json.loads(out)["version"] == 0
    run(capsys, *publish_args(central, world))
    code, out, _ = run(capsys, "central", "status", central, "--json")
    data = json.loads(out)
    assert (data["version"], data["records"], data["kecamatan"]) == (
        1, 5, ["32.01.01", "32.01.02"])
    assert data["expired"] is False and data["insecure"] is True
    assert data["timestamp_expires"] < data["targets_expires"] < data["root_expires"]
    code, out, _ = run(capsys, "central", "status", central)
    assert "version 1: 5 recipients in 2 kecamatan" in out and "NOT FOR REAL DATA" in out


def test_the_change_per_kecamatan_names_each_kecamatan(tmp_path: Path, central: Path, world,
                                                       capsys) -> None:
    """A re-publish lists each kecamatan that changes by code and name, after the totals."""
    assert run(capsys, *publish_args(central, world))[0] == 0
    with world.recipients.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    rows[1][3] += " (pindah)"  # Siti Aminah, Cibinong: a new address
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows(rows)
    code, out, err = run(capsys, "central", "publish", central, "--recipients", changed,
                         "--payout-points", world.payout_points, "--program", world.program,
                         "--dry-run")
    assert code == 0, err
    assert "  changes: 0 added, 0 removed, 1 changed, 4 unchanged" in out
    assert "    32.01.01 Cibinong: +0 -0 ~1 =2\n" in out
    assert "32.01.02" not in out  # nothing changed there
