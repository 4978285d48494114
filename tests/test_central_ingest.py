"""Ingesting Kantor Pos payout reports: per-row outcomes, next version, only affected shards."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from central_world import write_csv, write_world
from conftest import PEOPLE
from test_central_publish import load_verified, snapshot_tree

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central.repo import target_path_on_disk
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import BltError, CentralError, FileFormatError

REPORT_HEADER = ["nik", "status", "waktu", "id_titik", "keterangan"]


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def store(tmp_path: Path, world) -> CentralStore:
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    return store


def test_report_rows_are_applied_or_rejected_and_counts_add_up(store: CentralStore,
                                                               world) -> None:
    report = ingest_payouts(store, world.report)
    assert report.version == 2
    assert report.input_rows == 5
    assert report.applied == 2 and report.changed_records == 2
    assert report.applied + len(report.rejected) == report.input_rows
    assert {(item["line"], item["code"]) for item in report.rejected} == {
        (4, "duplicate"), (5, "unknown_nik"), (6, "unknown_point")}
    for item in report.rejected:
        assert set(item) == {"line", "nik_masked", "code", "reason"}
        assert item["nik_masked"].startswith("*")
    as_json = report.to_dict()
    assert as_json["applied"] + len(as_json["rejected"]) == as_json["input_rows"]
    json.dumps(as_json)
    state = store.load_state()
    collected = state.records[PEOPLE[0].nik].payload
    assert collected.status == "collected"
    assert collected.collected_point_id == "KP-CIBINONG"
    assert collected.collected_at == dt.datetime(2025, 11, 24, 8, 30,
                                                 tzinfo=dt.timezone(dt.timedelta(hours=7)))
    held = state.records[PEOPLE[3].nik].payload
    assert (held.status, held.reason_code, held.status_note) == (
        "held", "nama_tidak_sesuai", None)
    assert report.kecamatan == ["32.01.01", "32.01.02"]


def test_a_report_for_one_kecamatan_changes_only_its_shards(store: CentralStore,
                                                            tmp_path: Path) -> None:
    before = load_verified(store, 1).signed.targets
    report_csv = write_csv(tmp_path / "one.csv", REPORT_HEADER, [
        [PEOPLE[4].nik, "kembali", "2025-11-25T10:00:00+07:00", "KP-GUNUNGPUTRI", "pindah"]])
    report = ingest_payouts(store, report_csv)
    assert (report.applied, report.rejected, report.shards_written) == (1, [], 2)
    after = load_verified(store, 2).signed.targets
    changed = sorted(name for name in before
                     if before[name] != after[name] and name != "params.json")
    assert changed == ["aggregates/32.01.02.json", "shards/officer/32.01.02.jsonl",
                       "shards/recipient/32.01.02.jsonl"]
    aggregates = json.loads(target_path_on_disk(
        store.targets_dir, after["aggregates/32.01.02.json"]).read_bytes())
    assert aggregates["totals"]["returned"] == 1


def test_paying_out_twice_is_refused_and_changes_no_shard(store: CentralStore, world) -> None:
    ingest_payouts(store, world.report)
    files_before = set(snapshot_tree(store.targets_dir))
    again = ingest_payouts(store, world.report)
    # The gagal row applies again (held -> held, same note): applied, but nothing changes.
    assert (again.version, again.applied, again.changed_records) == (3, 1, 0)
    codes = {item["line"]: item["code"] for item in again.rejected}
    assert codes[2] == "already_collected"
    assert again.shards_written == 0
    new_files = set(snapshot_tree(store.targets_dir)) - files_before
    assert all(name.endswith(".params.json") for name in new_files)


def test_a_broken_report_publishes_nothing(store: CentralStore, tmp_path: Path) -> None:
    before = snapshot_tree(store.public_dir)
    broken = tmp_path / "broken.csv"
    broken.write_text("nik,status\n3201014505900001,salur\n", encoding="utf-8")
    with pytest.raises(FileFormatError):
        ingest_payouts(store, broken)
    with pytest.raises(BltError):
        ingest_payouts(store, tmp_path / "missing.csv")
    assert snapshot_tree(store.public_dir) == before
    assert store.published_version() == 1


def test_ingest_needs_a_published_version(tmp_path: Path, world) -> None:
    store = CentralStore.init(tmp_path / "empty", kdf=TEST_INDEX_KDF)
    with pytest.raises(CentralError) as caught:
        ingest_payouts(store, world.report)
    assert caught.value.code == "nothing_published"
