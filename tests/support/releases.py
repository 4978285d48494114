"""An earlier release of blt-status, exported from git, run in its own process (upgrade tests)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def export_release(tmp_path_factory: pytest.TempPathFactory, commit: str, name: str) -> Path:
    """The ``blt_status`` package at ``commit``, in a fresh folder (skips without the history)."""
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip(f"needs the git history of blt-status (the {name} is exported from it)")
    root = tmp_path_factory.mktemp(name.replace(" ", "-"))
    archive = root / "release.tar"
    done = subprocess.run(["git", "-C", str(REPO), "archive", "--format=tar", "-o",
                           str(archive), commit, "blt_status"], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"commit {commit} of the {name} is not in this clone")
    with tarfile.open(archive) as tar:
        tar.extractall(root, filter="data")
    return root


def run_release(release: Path, script: str, *args: str) -> str:
    """Run ``script`` with the exported release first on the path; its standard output."""
    env = {**os.environ, "PYTHONPATH": str(release)}
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True,
                          text=True, env=env, timeout=120, cwd=release)
    assert done.returncode == 0, done.stderr
    return done.stdout


def store_script(name: str) -> str:
    """A script for :func:`run_release`: the release exported as ``name`` (checked: it is the
    package imported) makes a store at ``argv[1]`` (test KDF), publishes the world whose files
    are in ``argv[2]`` and ingests its payout report."""
    marker = name.replace(" ", "-")
    return f"""
import sys
from pathlib import Path
from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.crypto import TEST_INDEX_KDF
assert "{marker}" in __import__("blt_status").__file__
directory, inputs = Path(sys.argv[1]), Path(sys.argv[2])
store = CentralStore.init(directory, kdf=TEST_INDEX_KDF)
publish_files(store, inputs / "recipients.csv", inputs / "payout_points.csv",
              inputs / "program.toml", workers=1)
ingest_payouts(store, inputs / "payout_report.csv", workers=1)
"""
