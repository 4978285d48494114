"""A central store that is damaged or cannot be written, driven through the real command line
in a child process on real files, on SQLite and PostgreSQL: every command either works or
ends in one coded line with a non-zero exit, never a traceback, never a silent success."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
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


# -- a store that cannot be written ----------------------------------------------------------


@pytest.fixture()
def read_only_user() -> Iterator[tuple[list[str], Path]]:
    """How to run a command that the permission bits bind, and a folder for its store.

    Root ignores permission bits, so as root the commands run as ``nobody`` (``setpriv``),
    on a store it owns, in a folder it can reach; as another user, as that user."""
    if os.geteuid() != 0:
        folder = Path(tempfile.mkdtemp(prefix="blt-ro-"))
        yield [], folder
        subprocess.run(["chmod", "-R", "u+w", str(folder)], check=False)
        shutil.rmtree(folder, ignore_errors=True)
        return
    setpriv = shutil.which("setpriv")
    if setpriv is None:
        pytest.skip("running as root and no setpriv to drop to an unprivileged user")
    folder = Path(tempfile.mkdtemp(prefix="blt-ro-"))
    folder.chmod(0o755)
    probe = subprocess.run([setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                            sys.executable, "-c", "import blt_status"], capture_output=True,
                           check=False)
    if probe.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        pytest.skip("the unprivileged user cannot import blt_status from here")
    yield [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"], folder
    shutil.rmtree(folder, ignore_errors=True)


def tree_digest(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def make_read_only(central: Path, user: list[str]) -> None:
    if user:  # root: the store belongs to nobody, who then cannot write it
        subprocess.run(["chown", "-R", "nobody:nogroup", str(central)], check=True)
    subprocess.run(["chmod", "-R", "a-w", str(central)], check=True)


def test_a_read_only_store_answers_reads_and_refuses_writes_in_one_line(
        tmp_path: Path, db_url: str | None,  # noqa: F811
        read_only_user: tuple[list[str], Path]) -> None:
    """``chmod -R a-w DIR`` (a copy handed to an auditor, a read-only mount): status, report
    and reconcile answer as before (the SQLite database in WAL mode used to refuse even to
    be read: "db_unreachable ... attempt to write a readonly database"); ingest, refresh and
    publish stop with one line, ``store_read_only``, before writing anything."""
    user, folder = read_only_user
    central, world = published_store(folder, db_url)
    reads = [["status", central, "--json"], ["reconcile", central, "--json"],
             ["report", central, "--format", "json"]]
    expected = {}
    for command in reads:
        done = cli("central", *command)
        assert done.returncode == 0, done.stderr
        expected[command[0]] = json.loads(done.stdout)
    for path in folder.rglob("*"):  # the inputs stay readable for the other user
        path.chmod(path.stat().st_mode | 0o555 if path.is_dir() else 0o644)
    central.chmod(0o755)
    make_read_only(central, user)
    before = tree_digest(central)
    env = {**os.environ, "HOME": str(folder), "MPLCONFIGDIR": str(folder / "mpl")}
    for command in reads:
        done = cli("central", *command, user=user, env=env)
        assert done.returncode == 0, done.stderr
        assert "Traceback" not in done.stderr
        answer = json.loads(done.stdout)
        if command[0] == "report":
            answer.pop("generated_at", None)
            expected[command[0]].pop("generated_at", None)
        assert answer == expected[command[0]]
    dry = cli("central", "publish", central, "--recipients", world.recipients,
              "--payout-points", world.payout_points, "--program", world.program,
              "--dry-run", user=user, env=env)
    assert dry.returncode == 0, dry.stderr
    writes = [["ingest-payouts", central, world.report], ["refresh", central],
              ["publish", central, "--recipients", world.recipients, "--payout-points",
               world.payout_points, "--program", world.program],
              ["rotate-keys", central, "--role", "timestamp"]]
    for command in writes:
        done = cli("central", *command, user=user, env=env)
        assert "read-only" in one_line(done, "store_read_only")
    done = cli("--lang", "id", "central", "ingest-payouts", central, world.report, user=user,
               env=env)
    assert "hanya bisa dibaca" in one_line(done, "store_read_only")
    # The lists written into the store, and the first invitations (they make the store's
    # reference key), write to it: the same line (it was io_error, "permission denied").
    out = folder / "auditor"
    out.mkdir(mode=0o777)
    out.chmod(0o777)
    done = cli("central", "lists", central, user=user, env=env)
    assert "read-only" in one_line(done, "store_read_only")
    done = cli("central", "invitations", central, "--desa", "32.01.01.1001", "--out",
               out / "undangan.pdf", user=user, env=env)
    assert "read-only" in one_line(done, "store_read_only")
    # Written elsewhere, the signed lists of a read-only store are an auditor's copy.
    done = cli("central", "lists", central, "--out", out / "lists", "--json", user=user,
               env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["lists"]
    assert tree_digest(central) == before
