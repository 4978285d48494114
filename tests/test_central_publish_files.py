"""Publishing from the three input files: counts, distribution lists, privacy, refusals."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from central_world import POINTS, write_csv, write_world
from conftest import KNOWN_SECRETS, PEOPLE, secrets_found
from test_central_publish import load_verified, snapshot_tree

from blt_status.central import CentralStore, publish_files
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import BltError, FileFormatError


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def store(tmp_path: Path) -> CentralStore:
    return CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)


def test_every_row_is_published_or_rejected(store: CentralStore, world) -> None:
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    assert (report.version, report.published, report.input_rows) == (1, 5, 9)
    assert report.published + len(report.rejected) == report.input_rows
    assert [item["line"] for item in report.rejected] == [7, 8, 9, 10]
    assert [item["code"] for item in report.rejected] == [
        "duplicate_nik", "nik_length", "desil_above_max", "not_active"]
    data = report.to_dict()
    assert data["published"] + len(data["rejected"]) == data["input_rows"]
    assert "NOT FOR REAL DATA" in data["kdf"]
    targets = load_verified(store, 1).signed.targets
    assert targets["shards/recipient/32.01.01.jsonl"].custom["blt"]["records"] == 3
    assert targets["shards/recipient/32.01.02.jsonl"].custom["blt"]["records"] == 2


def test_distribution_lists_are_private_and_mask_the_nik(store: CentralStore, world) -> None:
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    folder = store.private_dir / "distribution" / "1"
    assert sorted(Path(path).name for path in report.distribution_lists) == [
        f"{point[0]}.csv" for point in POINTS]
    text = (folder / "KP-CIBINONG.csv").read_text(encoding="utf-8")
    assert "Siti Aminah" in text  # the counter works from names
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        content = path.read_text(encoding="utf-8")
        for person in PEOPLE:
            assert person.nik not in content and person.kk not in content


def test_no_personal_data_outside_the_distribution_lists(store: CentralStore, world) -> None:
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    distribution = store.private_dir / "distribution"
    checked = 0
    for path in store.directory.rglob("*"):
        if path.is_file() and distribution not in path.parents:
            assert secrets_found(path.read_bytes(), KNOWN_SECRETS) == [], path
            checked += 1
    assert checked > 20


def test_unchanged_files_republish_without_new_shards(store: CentralStore, world) -> None:
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    shards_before = {name for name in snapshot_tree(store.targets_dir) if "shards" in name}
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    assert (report.version, report.shards_written, report.keys_derived) == (2, 0, 0)
    assert report.shards_unchanged == 4
    assert {name for name in snapshot_tree(store.targets_dir) if "shards" in name} \
        == shards_before


@pytest.mark.parametrize("breakage", ["program", "points_columns", "recipients_empty",
                                      "capacity", "missing_file"])
def test_bad_input_publishes_nothing(store: CentralStore, world, tmp_path: Path,
                                     breakage: str) -> None:
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    before = snapshot_tree(store.directory)
    recipients, points, program = world.recipients, world.payout_points, world.program
    if breakage == "program":
        program.write_text("[program\nid = ", encoding="utf-8")
    elif breakage == "points_columns":
        write_csv(points, ["id", "jenis", "nama"], [["KP-X", "kantor_pos", "X"]])
    elif breakage == "recipients_empty":
        recipients.write_bytes(b"")
    elif breakage == "capacity":
        write_csv(points, ["id", "jenis", "nama", "alamat", "kode_wilayah",
                           "kapasitas_per_hari", "jam_buka", "jam_tutup"],
                  [[*point[:5], "1", "08:00", "09:00"] for point in POINTS])
        program.write_text(program.read_text().replace("end = 2025-12-11", "end = 2025-11-21"))
    else:
        recipients = tmp_path / "nowhere.csv"
    with pytest.raises(BltError) as caught:
        publish_files(store, recipients, points, program, workers=1)
    assert caught.value.code and " " not in caught.value.code
    if breakage != "capacity":
        assert isinstance(caught.value, FileFormatError)
    assert snapshot_tree(store.directory) == before
    assert store.published_version() == 1


def test_only_the_newest_two_distribution_lists_are_kept(store: CentralStore, world) -> None:
    for _ in range(3):
        publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    folders = sorted(path.name for path in (store.private_dir / "distribution").iterdir())
    assert folders == ["2", "3"]
