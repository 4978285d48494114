"""A store made by the file-based release (private/state/) is migrated into the database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from central_world import db_dump, db_url, write_world  # noqa: F401  (db_url: fixture)
from conftest import PEOPLE
from support.releases import export_release, run_release, store_script
from test_central_publish import snapshot_tree

from blt_status.central import CentralStore, publish_files
from blt_status.central.ledger import Ledger
from blt_status.errors import CentralError

# The last commit of the file-based release (the base the database work started from).
OLD_RELEASE = "3f825db"

OLD_SCRIPT = store_script("old release")

OLD_READ = """
import sys
from pathlib import Path
from blt_status.central import CentralStore
assert "old-release" in __import__("blt_status").__file__
state = CentralStore.open(Path(sys.argv[1])).load_state()
print(state.version, len(state.records))
"""


@pytest.fixture(scope="module")
def old_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The file-based release's package, exported from git."""
    return export_release(tmp_path_factory, OLD_RELEASE, "old release")


@pytest.fixture()
def old_store(tmp_path: Path, old_release: Path, db_url: str | None,  # noqa: F811
              monkeypatch: pytest.MonkeyPatch) -> Path:
    world = write_world(tmp_path / "inputs")
    directory = tmp_path / "central"
    run_release(old_release, OLD_SCRIPT, str(directory), str(world.recipients.parent))
    assert (directory / "private" / "state" / "2.json").exists()
    if db_url is not None:
        monkeypatch.setenv("BLT_CENTRAL_DB", db_url)
    return directory


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "blt_status.cli", "central", *args],
                          capture_output=True, text=True, timeout=120)


def test_an_old_store_is_migrated_and_keeps_its_payouts(old_store: Path, tmp_path: Path) -> None:
    public_before = snapshot_tree(old_store / "public")
    done = cli("migrate", str(old_store), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) | {"database": None} == {
        "version": 2, "records": 5, "kecamatan": 2, "events": 2, "keys": 10, "database": None}
    assert snapshot_tree(old_store / "public") == public_before
    assert not (old_store / "private" / "state").exists()
    assert (old_store / "private" / "state.migrated" / "2.json").exists()
    store = CentralStore.open(old_store)
    records = store.load_state().records
    assert records[PEOPLE[0].nik].payload.status == "collected"
    assert (records[PEOPLE[3].nik].payload.status,
            records[PEOPLE[3].nik].payload.reason_code) == ("held", "nama_tidak_sesuai")
    held = [event for event in Ledger(store).events() if event.status == "gagal"]
    assert Ledger(store).note(held[0].id) == "nama tidak sesuai KTP"
    # The next publish reuses the migrated keys and keeps the payouts.
    world = tmp_path / "inputs"
    report = publish_files(store, world / "recipients.csv", world / "payout_points.csv",
                           world / "program.toml", workers=1)
    assert (report.version, report.keys_derived, report.keys_reused) == (3, 0, 10)
    records = store.load_state().records
    assert records[PEOPLE[0].nik].payload.status == "collected"
    assert records[PEOPLE[3].nik].payload.status == "held"
    again = cli("migrate", str(old_store))
    assert again.returncode != 0 and again.stderr.startswith("error [migrate_nothing]")


def test_an_old_store_is_migrated_on_first_use(old_store: Path) -> None:
    done = cli("status", str(old_store), "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["records"] == 5
    assert (old_store / "private" / "state.migrated").is_dir()


def test_a_failed_migration_leaves_the_old_store_usable(old_store: Path, old_release: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from blt_status.central import legacy

    store = CentralStore.open(old_store, migrate=False)
    state_before = snapshot_tree(old_store / "private" / "state")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(legacy.Ledger, "append_in", broken)
    with pytest.raises(CentralError) as caught:
        legacy.migrate_store(store)
    assert caught.value.code == "migrate_failed"
    assert snapshot_tree(old_store / "private" / "state") == state_before
    assert all(rows == [] for name, rows in db_dump(store).items() if name != "alembic_version")
    assert run_release(old_release, OLD_READ, str(old_store)).split() == ["2", "5"]
    monkeypatch.undo()
    assert legacy.migrate_store(store).records == 5
