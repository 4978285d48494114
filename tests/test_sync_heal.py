"""A damaged local index heals: detected when opened or checked, rebuilt by the next sync.

Each case damages the live index file of a device synced to version 1 the way a failing disk
or a hand edit would — malformed metadata, altered tags, altered blobs, one flipped byte — and
then runs the real commands: ``lookup`` and ``status`` must say ``index_corrupt`` (never an
internal error, never a silent "not found"), and ``sync`` must rebuild the live version from
the repository although the version is current, after which every answer is as before.
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path

import pytest
from conftest import PASSPHRASE, PEOPLE
from sync_world import answers
from test_sync_faults import Case

from blt_status.device import Device
from blt_status.lookup import LookupService
from blt_status.store import open_index
from blt_status.sync import device_status


@pytest.fixture()
def case(tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    running = Case(tmp_path, capsys)
    yield running
    running.close()


def _run(case: Case, *argv: str) -> tuple[int, str, str]:
    from blt_status.cli import main

    case.capsys.readouterr()
    code = main(["--lang", "en", *argv])
    captured = case.capsys.readouterr()
    return code, captured.out, captured.err


def _lookup(case: Case, device: Device, nik: str = PEOPLE[0].nik) -> tuple[int, str, str]:
    return _run(case, "lookup", nik, "--data-dir", str(device.data_dir), "--json")


def _assert_refuses(case: Case, device: Device) -> None:
    """lookup and status report index_corrupt in one line, never an internal error."""
    code, _out, err = _lookup(case, device)
    assert code != 0 and err.startswith("error [index_corrupt]:"), err
    assert "internal" not in err and len(err.strip().splitlines()) == 1
    code, out, err = _run(case, "status", "--data-dir", str(device.data_dir), "--json")
    assert json.loads(out)["index_error"]["code"] == "index_corrupt", (out, err)


def _assert_sync_heals(case: Case, device: Device) -> None:
    code, out, err = _run(case, "sync", "--from", case.server.url, "--data-dir",
                          str(device.data_dir), "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["changed"] and report["repaired"] and report["version_after"] == 1
    assert answers(device) == case.before[device.data_dir]
    code, out, err = _run(case, "status", "--check", "--data-dir", str(device.data_dir))
    assert code == 0 and "Checked" in out, (out, err)


def _tinydb(device: Device) -> tuple[Path, dict]:
    path = device.current_index_path()
    assert path is not None and path.suffix == ".json"
    return path, json.loads(path.read_bytes())


def test_malformed_metadata_is_index_corrupt_and_sync_rebuilds(case: Case):
    path, _ = _tinydb(case.officer)
    path.write_text('{"meta": 42}')
    _assert_refuses(case, case.officer)
    _assert_sync_heals(case, case.officer)


def test_altered_tags_are_detected_not_silently_not_found(case: Case):
    path, data = _tinydb(case.officer)
    for document in data["records"].values():
        tag = document["t"]
        document["t"] = ("0" if tag[0] != "0" else "1") + tag[1:]
    path.write_text(json.dumps(data))
    _assert_refuses(case, case.officer)
    _assert_sync_heals(case, case.officer)


def test_altered_blob_is_rebuilt_although_the_version_is_current(case: Case):
    path, data = _tinydb(case.officer)
    document = next(iter(data["records"].values()))
    blob = bytearray(base64.b64decode(document["b"]))
    blob[len(blob) // 2] ^= 0x01
    document["b"] = base64.b64encode(bytes(blob)).decode()
    path.write_text(json.dumps(data))
    _assert_refuses(case, case.officer)
    _assert_sync_heals(case, case.officer)


@pytest.mark.parametrize("view", ["officer", "recipient"])
def test_one_flipped_byte_in_the_middle_of_the_file(case: Case, view: str):
    device = case.officer if view == "officer" else case.bot
    path = device.current_index_path()
    assert path is not None
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    if view == "recipient":  # SQLite: found by the full check (status --check)
        code, out, _err = _run(case, "status", "--check", "--data-dir", str(device.data_dir),
                               "--json")
        assert code == 1 and json.loads(out)["checked"] is not True
    _assert_refuses(case, device)
    _assert_sync_heals(case, device)


def _sqlite_edit(device: Device, statement: str, *params: object) -> None:
    path = device.current_index_path()
    assert path is not None and path.suffix == ".sqlite"
    connection = sqlite3.connect(path)
    connection.execute(statement, params)
    connection.commit()
    connection.close()


@pytest.mark.parametrize("damage", ["tags", "blob"])
def test_sqlite_damage_found_by_the_background_check(case: Case, damage: str):
    """The lookup service checks a SQLite index in pages off the caller's thread."""
    if damage == "tags":
        _sqlite_edit(case.bot, "UPDATE records SET tag = zeroblob(length(tag)) "
                     "WHERE tag = (SELECT min(tag) FROM records)")
    else:
        _sqlite_edit(case.bot, "UPDATE records SET blob = zeroblob(length(blob)) "
                     "WHERE tag = (SELECT max(tag) FROM records)")
    service = LookupService.open(case.bot, case.bot.unlock(PASSPHRASE))
    try:
        service.index.wait_for_check(10)  # type: ignore[attr-defined]
        assert service.index.damage is not None
        with pytest.raises(Exception, match="corrupt"):
            service.lookup(PEOPLE[0].nik)
    finally:
        service.close()
    assert (case.bot.index_dir / "DAMAGED").exists()
    _assert_refuses(case, case.bot)
    _assert_sync_heals(case, case.bot)
    assert not (case.bot.index_dir / "DAMAGED").exists()


def test_sqlite_full_check_by_status(case: Case):
    _sqlite_edit(case.bot, "UPDATE records SET blob = zeroblob(length(blob)) "
                 "WHERE tag = (SELECT max(tag) FROM records)")
    code, out, _err = _run(case, "status", "--check", "--data-dir", str(case.bot.data_dir),
                           "--json")
    status = json.loads(out)
    assert code == 1 and status["checked"] is False
    assert status["index_error"]["code"] == "index_corrupt"
    _assert_refuses(case, case.bot)
    _assert_sync_heals(case, case.bot)


@pytest.mark.parametrize("view", ["officer", "recipient"])
def test_sync_repair_rebuilds_a_sound_index(case: Case, view: str):
    device = case.officer if view == "officer" else case.bot
    code, out, err = _run(case, "sync", "--from", case.server.url, "--data-dir",
                          str(device.data_dir), "--json")
    assert code == 0 and not json.loads(out)["changed"], err  # current: nothing to do
    before = device.current_index_path()
    code, out, err = _run(case, "sync", "--repair", "--from", case.server.url, "--data-dir",
                          str(device.data_dir), "--json")
    report = json.loads(out)
    assert code == 0 and report["repaired"] and report["version_before"] == 1, err
    assert report["shards_downloaded"] == len(device_status(device)["counts"])
    assert device.current_index_path() != before
    assert answers(device) == case.before[device.data_dir]


def test_every_built_file_carries_a_checksum(case: Case):
    for device in case.devices:
        path = device.current_index_path()
        assert path is not None
        with open_index(path) as index:
            assert index.checksum and len(index.checksum) == 64
            index.verify()


def test_index_without_a_checksum_answers_and_the_next_sync_rebuilds_it(case: Case):
    """A file written before checksums existed keeps answering; sync replaces it."""
    path, data = _tinydb(case.officer)
    del data["check"]
    path.write_text(json.dumps(data))
    assert answers(case.officer) == case.before[case.officer.data_dir]
    _assert_sync_heals(case, case.officer)
    with open_index(case.officer.current_index_path()) as index:  # type: ignore[arg-type]
        assert index.checksum


def test_closing_during_the_background_check_is_quick_and_no_verdict(
        case: Case, monkeypatch: pytest.MonkeyPatch):
    import time

    import blt_status.store._sqlite as sqlite_module

    monkeypatch.setattr(sqlite_module, "CHECK_PAGE", 1)
    monkeypatch.setattr(sqlite_module, "CHECK_PAUSE", 5.0)  # one record, then a long pause
    service = LookupService.open(case.bot, case.bot.unlock(PASSPHRASE))
    index = service.index
    assert service.lookup(PEOPLE[0].nik).found  # lookups answer while the check runs
    started = time.monotonic()
    service.close()
    assert time.monotonic() - started < 2
    assert index.damage is None and not (case.bot.index_dir / "DAMAGED").exists()


@pytest.mark.parametrize("pointer", ["", '{"file', "[1]", '{"previous": null}'])
@pytest.mark.parametrize("view", ["officer", "recipient"])
def test_a_damaged_current_pointer_is_rebuilt_by_sync(case: Case, view: str, pointer: str):
    """``index/CURRENT`` empty or garbled (a crash on a disk that lost the last write):
    lookup says index_corrupt and "run sync", so sync must heal it instead of failing the same
    way for ever."""
    device = case.officer if view == "officer" else case.bot
    (device.index_dir / "CURRENT").write_text(pointer)
    _assert_refuses(case, device)
    _assert_sync_heals(case, device)


def test_a_damaged_local_root_is_not_blamed_on_the_server(case: Case):
    """The device's own pinned root (tuf/root.bootstrap.json) garbled: sync said "the server's
    metadata cannot be read" (sync_bad_metadata), sending the officer after the server."""
    device = case.officer
    (device.data_dir / "tuf" / "root.bootstrap.json").write_text("garbage")
    code, _out, err = _run(case, "sync", "--from", case.server.url, "--data-dir",
                           str(device.data_dir))
    assert code == 1 and err.startswith("error [sync_not_enrolled]:"), err
    assert len(err.strip().splitlines()) == 1
    assert answers(device) == case.before[device.data_dir]  # the index still answers
