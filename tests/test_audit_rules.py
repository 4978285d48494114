"""The audit rules every frontend shares: what is logged, failed unlocks, deletion, full disk.

Real devices on disk, the real CLI (``blt_status.cli.main``) and the real sync against a
loopback repository; the only thing replaced is ``time.sleep`` (recorded instead of slept) and,
for the full disk, one write that raises ENOSPC after the log line is on disk.
"""

from __future__ import annotations

import errno
import json
import shutil
from pathlib import Path

import pytest
from conftest import NOT_LISTED_NIK, PASSPHRASE, PEOPLE
from support.repository import RepositoryServer
from sync_world import SyncWorld

import blt_status.audit as audit_module
from blt_status.audit import (
    AuditLog,
    AuditTrail,
    audit_dir,
    describe,
    failure_delay,
    local_time,
    short_tag,
    unlock,
    unlock_failures,
    verify,
)
from blt_status.cli import main as cli_main
from blt_status.errors import SyncError, WrongPassphrase
from blt_status.sync import sync_device


@pytest.fixture()
def device(make_device):
    return make_device()


def _logged(device) -> list[tuple[str, str]]:
    lines = (audit_dir(device.data_dir) / "log.jsonl").read_bytes().splitlines()
    return [(json.loads(line)["action"], json.loads(line)["result"]) for line in lines]


def _cli(*argv: str) -> int:
    return cli_main(["--lang", "en", *argv])


# -- what is logged ----------------------------------------------------------------------------


def test_cli_logs_invalid_niks_like_the_tui(device, monkeypatch, capsys):
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    data_dir = str(device.data_dir)
    assert _cli("lookup", PEOPLE[0].nik, "--data-dir", data_dir) == 0
    assert _cli("lookup", NOT_LISTED_NIK, "--data-dir", data_dir) == 0
    assert _cli("lookup", "1234 hello", "--data-dir", data_dir) == 1
    assert "error [" in capsys.readouterr().err
    assert _logged(device) == [("unlock", "ok"), ("lookup", "found"), ("unlock", "ok"),
                               ("lookup", "not_found"), ("unlock", "ok"),
                               ("lookup", "invalid")]
    entries = AuditLog.attach(device).entries()  # type: ignore[union-attr]
    assert entries[-1].tag == "" and len(entries[1].tag) == 32
    assert verify(device.data_dir, device.unlock(PASSPHRASE)).ok


def test_invalid_nik_without_a_passphrase_still_fails_first(device, monkeypatch, capsys):
    """Nothing to unlock with: the NIK error, not a passphrase prompt (and nothing logged)."""
    monkeypatch.delenv("BLT_PASSPHRASE", raising=False)
    monkeypatch.setattr("sys.stdin", None)
    assert _cli("lookup", "1234", "--data-dir", str(device.data_dir)) == 1
    assert capsys.readouterr().err.startswith("error [length]")
    assert not (audit_dir(device.data_dir) / "log.jsonl").exists()


def test_failed_unlocks_are_logged_and_wait_longer_each_time(device):
    unlock(device, PASSPHRASE)  # the log exists once the device was unlocked
    slept: list[float] = []
    clock = [1000.0]
    for _ in range(4):
        with pytest.raises(WrongPassphrase):
            unlock(device, "salah", sleep=slept.append, clock=lambda: clock[0])
    # waits before attempts 2, 3 and 4: 1 s, 2 s, 4 s (the clock did not move)
    assert slept == [1.0, 2.0, 4.0] and unlock_failures(device) == 4
    clock[0] += 3.0  # three of the eight seconds have passed
    unlock(device, PASSPHRASE, sleep=slept.append, clock=lambda: clock[0])
    assert slept[-1] == 5.0 and unlock_failures(device) == 0
    assert _logged(device) == [("unlock", "ok")] + [("unlock", "failed")] * 4 \
        + [("unlock", "ok")]
    assert [failure_delay(n) for n in (0, 1, 2, 6, 60)] == [0.0, 1.0, 2.0, 30.0, 30.0]


def test_the_cli_waits_after_wrong_passphrases_too(device, monkeypatch, capsys):
    slept: list[float] = []
    monkeypatch.setattr(audit_module.time, "sleep", slept.append)
    data_dir = str(device.data_dir)
    monkeypatch.setenv("BLT_PASSPHRASE", "salah")
    for _ in range(3):
        assert _cli("lookup", PEOPLE[0].nik, "--data-dir", data_dir) == 1
        assert "wrong_passphrase" in capsys.readouterr().err
    assert len(slept) == 2 and 0.5 < slept[0] <= 1.0 and 1.5 < slept[1] <= 2.0
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    assert _cli("lookup", PEOPLE[0].nik, "--data-dir", data_dir) == 0
    assert len(slept) == 3 and 3.5 < slept[2] <= 4.0  # the earned wait, then it opens
    assert unlock_failures(device) == 0


def test_syncs_are_logged(tmp_path: Path):
    world = SyncWorld(tmp_path)
    world.publish()
    officer = world.install("officer", ("32.01.01",))
    unlock(officer, PASSPHRASE)
    server = RepositoryServer(world.public_dir).start()
    sync_device(officer, server.url)
    sync_device(officer, server.url)
    server.stop()
    with pytest.raises(SyncError) as raised:
        sync_device(officer, server.url, timeout=5)
    assert raised.value.code == "sync_network"
    assert _logged(officer) == [("unlock", "ok"), ("sync", "ok"), ("sync", "unchanged"),
                                ("sync", "failed")]
    entries = AuditLog.attach(officer).entries()  # type: ignore[union-attr]
    assert [entry.data_version for entry in entries] == [0, 1, 1, 1]
    assert verify(officer.data_dir, officer.unlock(PASSPHRASE)).ok


# -- deletion and rollback ---------------------------------------------------------------------


def _fill(device, count: int = 3) -> AuditTrail:
    keyring = unlock(device, PASSPHRASE)
    trail = AuditTrail.open(device, keyring)
    for number in range(count):
        assert trail.record("lookup", "found", tag=f"{number:032x}", data_version=1) is None
    return trail


def test_deleted_audit_folder_is_detected(device):
    _fill(device)
    keyring = device.unlock(PASSPHRASE)
    assert verify(device.data_dir, keyring).ok
    shutil.rmtree(audit_dir(device.data_dir))
    report = verify(device.data_dir, keyring)
    assert not report.ok and "folder is gone" in report.reason_en
    _fill(device, 1)  # a fresh log over the deleted one still says so, for good
    report = verify(device.data_dir, keyring)
    assert not report.ok and "deleted or put back" in report.reason_en


def test_older_copy_of_the_audit_folder_is_detected(device, tmp_path: Path):
    _fill(device, 2)
    copy = tmp_path / "old-audit"
    shutil.copytree(audit_dir(device.data_dir), copy)
    _fill(device, 2)
    keyring = device.unlock(PASSPHRASE)
    assert verify(device.data_dir, keyring).ok
    shutil.rmtree(audit_dir(device.data_dir))
    shutil.copytree(copy, audit_dir(device.data_dir))
    report = verify(device.data_dir, keyring)
    assert not report.ok and "older copy" in report.reason_en
    _fill(device, 1)  # appending to the old copy does not make it whole again
    assert not verify(device.data_dir, keyring).ok


def test_a_forged_mark_is_detected(device):
    _fill(device, 2)
    keyring_file = device.data_dir / "keyring.json"
    document = json.loads(keyring_file.read_bytes())
    document["audit_mark"]["count"] = 1
    keyring_file.write_text(json.dumps(document))
    report = verify(device.data_dir, device.unlock(PASSPHRASE))
    assert not report.ok and "mark" in report.reason_en


# -- a full disk -----------------------------------------------------------------------------


def test_full_disk_after_the_line_leaves_the_chain_valid(device, monkeypatch):
    trail = _fill(device, 2)
    real_write = audit_module.atomic_write_bytes
    failures = [1]

    def full_disk(path: Path, data: bytes, mode: int = 0o600) -> None:
        if path.name == "state.json" and failures[0]:
            failures[0] -= 1
            raise OSError(errno.ENOSPC, "No space left on device")
        real_write(path, data, mode)

    monkeypatch.setattr(audit_module, "atomic_write_bytes", full_disk)
    error = trail.record("lookup", "not_found", tag="ab" * 16, data_version=1)
    assert error is not None and error.code == "audit_write"
    # the operating system's reason in the language of the run (os_reason), not strerror's
    assert "ruang disk habis" in error.message("id") and "No space" not in error.message("id")
    keyring = device.unlock(PASSPHRASE)
    report = verify(device.data_dir, keyring)
    assert report.ok and report.count == 4  # unlock, two lookups, and the written line
    assert trail.record("lookup", "found", tag="cd" * 16, data_version=1) is None
    report = verify(device.data_dir, keyring)
    assert report.ok and report.count == 5
    assert _logged(device)[-2:] == [("lookup", "not_found"), ("lookup", "found")]


def test_torn_line_from_a_full_disk_is_dropped_by_the_next_append(device):
    trail = _fill(device, 2)
    log_path = audit_dir(device.data_dir) / "log.jsonl"
    with open(log_path, "ab") as handle:
        handle.write(b'{"seq":4,"time":"2025-11-2')  # the disk filled up mid-line
    keyring = device.unlock(PASSPHRASE)
    assert verify(device.data_dir, keyring).ok
    assert trail.record("lookup", "invalid", data_version=1) is None
    report = verify(device.data_dir, keyring)
    assert report.ok and report.count == 4


# -- how entries read ------------------------------------------------------------------------


def test_entries_read_as_words_local_times_and_short_tags(device):
    _fill(device, 1)
    entries = AuditLog.attach(device).entries()  # type: ignore[union-attr]
    assert describe(entries[1], "id") == ("Pencarian NIK", "ditemukan")
    assert describe(entries[0], "id") == ("Buka kunci", "berhasil")
    assert describe(entries[1], "en") == ("NIK lookup", "NIK found")
    assert short_tag(entries[1].tag) == "#0000" and short_tag("") == "—"
    moment = entries[0].moment
    assert moment is not None
    assert local_time(moment, "32.01.01").tzname() == "WIB"
    assert local_time(moment, "51.71.01").tzname() == "WITA"
    assert local_time(moment, "91.01.01").tzname() == "WIT"
    assert local_time(moment, "91.01.01").utcoffset().total_seconds() == 9 * 3600
