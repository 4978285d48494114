"""The officer audit log: chain, forward-secure MAC, tamper cases, the verify command."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path

import pytest
from conftest import KNOWN_SECRETS, NOT_LISTED_NIK, PASSPHRASE, PEOPLE, secrets_found

from blt_status.audit import AuditLog, audit_dir, initial_key, verify
from blt_status.cli import main as cli_main
from blt_status.errors import FileFormatError
from blt_status.lookup import LookupService


@pytest.fixture()
def device(make_device):
    return make_device()


@pytest.fixture()
def keyring(device):
    return device.unlock(PASSPHRASE)


def _fill(device, keyring, count: int = 4) -> AuditLog:
    log = AuditLog.open(device, keyring)
    for number in range(count):
        log.append(action="lookup", tag=f"{number:032x}", result="found", data_version=1)
    return log


def _lines(device) -> list[bytes]:
    return (audit_dir(device.data_dir) / "log.jsonl").read_bytes().splitlines()


def _write_lines(device, lines: list[bytes]) -> None:
    (audit_dir(device.data_dir) / "log.jsonl").write_bytes(b"".join(x + b"\n" for x in lines))


def test_intact_log_verifies_with_count(device, keyring):
    _fill(device, keyring, 5)
    report = verify(device.data_dir, keyring)
    assert report.ok and report.count == 5
    assert report.message("en") == "OK: 5 entries, chain and MACs intact"


def test_empty_and_absent_logs_verify(device, keyring):
    assert verify(device.data_dir, keyring).ok
    AuditLog.open(device, keyring)
    assert verify(device.data_dir, keyring) == verify(device.data_dir, keyring)
    assert verify(device.data_dir, keyring).count == 0


def test_key_evolves_and_old_key_is_gone_from_disk(device, keyring):
    log = _fill(device, keyring, 1)
    anchor = json.loads(log.anchor_path.read_text())
    k0 = initial_key(keyring, anchor["log_id"])
    state = json.loads(log.state_path.read_text())
    assert state["count"] == 1 and bytes.fromhex(state["key"]) != k0
    on_disk = b"".join(p.read_bytes() for p in audit_dir(device.data_dir).iterdir())
    assert k0.hex().encode() not in on_disk and k0 not in on_disk


def test_edited_entry_is_detected(device, keyring):
    _fill(device, keyring)
    lines = _lines(device)
    lines[1] = lines[1].replace(b'"result":"found"', b'"result":"not_found"')
    _write_lines(device, lines)
    report = verify(device.data_dir, keyring)
    assert not report.ok and report.broken_at == 2 and "MAC" in report.reason_en


def test_deleted_entry_is_detected(device, keyring):
    _fill(device, keyring)
    lines = _lines(device)
    del lines[1]
    _write_lines(device, lines)
    report = verify(device.data_dir, keyring)
    assert not report.ok and report.broken_at == 2 and "sequence" in report.reason_en


def test_reordered_pair_is_detected(device, keyring):
    _fill(device, keyring)
    lines = _lines(device)
    lines[1], lines[2] = lines[2], lines[1]
    _write_lines(device, lines)
    report = verify(device.data_dir, keyring)
    assert not report.ok and report.broken_at == 2


def test_renumbered_reorder_is_still_detected(device, keyring):
    """Swapping two entries and fixing their sequence numbers breaks the MAC/hash chain."""
    _fill(device, keyring)
    lines = _lines(device)
    second, third = json.loads(lines[1]), json.loads(lines[2])
    second["seq"], third["seq"] = 3, 2
    lines[1], lines[2] = (json.dumps(third, separators=(",", ":"), sort_keys=True).encode(),
                          json.dumps(second, separators=(",", ":"), sort_keys=True).encode())
    _write_lines(device, lines)
    report = verify(device.data_dir, keyring)
    assert not report.ok and report.broken_at == 2


def test_truncated_tail_is_detected(device, keyring):
    _fill(device, keyring)
    _write_lines(device, _lines(device)[:-1])
    report = verify(device.data_dir, keyring)
    assert not report.ok and report.broken_at == 4 and "truncated" in report.reason_en


def test_truncated_tail_with_rewound_count_is_detected(device, keyring):
    """Cutting the tail and rewinding the count still fails: k_n cannot be turned into k_{n-1}."""
    log = _fill(device, keyring)
    _write_lines(device, _lines(device)[:-1])
    state = json.loads(log.state_path.read_text())
    state["count"] = 3
    log.state_path.write_text(json.dumps(state))
    report = verify(device.data_dir, keyring)
    assert not report.ok and "current key" in report.reason_en


def test_forged_entry_with_wrong_key_is_detected(device, keyring):
    log = _fill(device, keyring, 2)
    lines = _lines(device)
    forged = json.loads(lines[1])
    forged["tag"] = "ff" * 16
    lines[1] = json.dumps(forged, separators=(",", ":"), sort_keys=True).encode()
    _write_lines(device, lines)
    assert not verify(device.data_dir, keyring).ok
    day = next(iter(log.entries())).day  # the forged line is still counted, not dropped
    assert log.count_on(day) == 2 and log.count_on(day - dt.timedelta(days=1)) == 0


def test_missing_state_or_anchor_is_reported(device, keyring):
    log = _fill(device, keyring, 2)
    log.state_path.unlink()
    assert not verify(device.data_dir, keyring).ok
    log.anchor_path.unlink()
    assert not verify(device.data_dir, keyring).ok


def test_cli_lookup_appends_and_verify_reports(device, monkeypatch, capsys):
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    monkeypatch.setenv("BLT_LANG", "en")
    assert cli_main(["lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir)]) == 0
    assert cli_main(["lookup", NOT_LISTED_NIK, "--data-dir", str(device.data_dir)]) == 0
    capsys.readouterr()
    assert cli_main(["audit", "verify", "--data-dir", str(device.data_dir)]) == 0
    # each command unlocked the device (logged), then looked up; verify unlocked too
    assert capsys.readouterr().out.strip() == "OK: 5 entries, chain and MACs intact"
    results = [(json.loads(line)["action"], json.loads(line)["result"])
               for line in _lines(device)]
    assert results == [("unlock", "ok"), ("lookup", "found"), ("unlock", "ok"),
                       ("lookup", "not_found"), ("unlock", "ok")]
    lines = _lines(device)
    _write_lines(device, lines[:1])
    assert cli_main(["audit", "verify", "--data-dir", str(device.data_dir)]) == 1
    assert "BROKEN" in capsys.readouterr().out
    written = b"".join(p.read_bytes() for p in Path(device.data_dir).rglob("*") if p.is_file())
    assert secrets_found(written, KNOWN_SECRETS) == []


def test_audit_tag_is_the_lookup_tag(device, keyring):
    service = LookupService.open(device, keyring)
    result = service.lookup(PEOPLE[0].nik)
    service.close()
    entry = AuditLog.open(device, keyring).append(
        action="lookup", tag=result.tag_hex, result="found", data_version=result.data_version)
    assert len(entry.tag) == 32 and entry.tag == result.tag_hex
    assert os.path.exists(audit_dir(device.data_dir) / "state.json")


@pytest.mark.parametrize("damage", [b"", b"{not json", b"[1, 2]"])
def test_keyring_damaged_during_a_session_is_keyring_corrupt(device, keyring, damage):
    # The keyring was read at unlock; damaged afterwards, the next entry's mark cannot be
    # bound into it: a coded error (the UI shows one line), not a JSON traceback.
    log = _fill(device, keyring, 1)
    (device.data_dir / "keyring.json").write_bytes(damage)
    with pytest.raises(FileFormatError) as raised:
        log.append(action="lookup", tag="0" * 32, result="found", data_version=1,
                   keyring=keyring)
    assert raised.value.code == "keyring_corrupt"
    assert len(_lines(device)) == 2  # the entry itself was written before the mark
