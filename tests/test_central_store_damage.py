"""A central store that is damaged, driven through the real command line
in a child process on real files, on SQLite and PostgreSQL: every command either works or
ends in one coded line with a non-zero exit, never a traceback, never a silent success."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

from central_world import db_url, write_world  # noqa: F401  (db_url)

CLI = [sys.executable, "-m", "blt_status.cli", "--lang", "en"]


def cli(*args: object, user: list[str] | None = None,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*(user or []), *CLI, *[str(arg) for arg in args]],
                          capture_output=True, text=True, timeout=300, check=False, env=env)


def one_line(done: subprocess.CompletedProcess[str], code: str) -> str:
    assert done.returncode == 1, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error [{code}]: "), done.stderr
    return lines[0]


def published_store(root: Path, db: str | None, *, ingest: bool = True) -> tuple[Path, object]:
    world = write_world(root / "inputs")
    central = root / "central"
    done = cli("central", "init", central, "--kdf", "test", *(["--db", db] if db else []))
    assert done.returncode == 0, done.stderr
    done = cli("central", "publish", central, "--recipients", world.recipients,
               "--payout-points", world.payout_points, "--program", world.program)
    assert done.returncode == 0, done.stderr
    if ingest:
        done = cli("central", "ingest-payouts", central, world.report)
        assert done.returncode == 0, done.stderr
    return central, world


# -- a damaged public/ ----------------------------------------------------------------------


def test_status_of_a_store_whose_timestamp_was_deleted_is_one_coded_line(
        tmp_path: Path, db_url: str | None) -> None:  # noqa: F811
    """public/metadata/timestamp.json deleted: the store is damaged, not "nothing published"
    with exit 0 (a monitoring script would have seen a healthy store)."""
    central, _world = published_store(tmp_path, db_url, ingest=False)
    (central / "public" / "metadata" / "timestamp.json").unlink()
    for command in (["status", central], ["status", central, "--json"],
                    ["reconcile", central], ["report", central]):
        done = cli("central", *command)
        assert "timestamp.json" in one_line(done, "store_corrupt")
    done = cli("central", "status", central, "--json")
    assert json.loads(done.stdout)["error"]["code"] == "store_corrupt"


def test_status_of_a_store_with_an_empty_public_folder_is_one_coded_line(
        tmp_path: Path, db_url: str | None) -> None:  # noqa: F811
    """Everything under public/ gone (a wrong rsync --delete): no internal error."""
    central, world = published_store(tmp_path, db_url, ingest=False)
    for child in (central / "public").iterdir():
        shutil.rmtree(child)
    for command in (["status", central], ["status", central, "--json"],
                    ["reconcile", central], ["ingest-payouts", central, world.report]):
        done = cli("central", *command)
        assert "root.json" in one_line(done, "store_corrupt")
    fresh = tmp_path / "fresh"
    assert cli("central", "init", fresh, "--kdf", "test").returncode == 0
    done = cli("central", "status", fresh)  # nothing published yet is no damage
    assert done.returncode == 0 and "Traceback" not in done.stderr
