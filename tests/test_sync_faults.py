"""Fault injection: a real loopback server misbehaves, a real ``blt-status sync`` must refuse.

Every case: a device synced to version 1 is offered a broken or hostile version 2. The sync
must fail with one line ``error [sync_...]: ...`` and a non-zero exit, the device must answer
every known NIK exactly as before, ``status`` must record the failure, and once the fault is
gone a clean sync must succeed. The kill cases run the real sync in a subprocess
(``support/paused_sync.py``), stop it at a named phase through the ``checkpoint`` hook the test
passes in, and SIGKILL it there.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PEOPLE
from securesystemslib.signer import CryptoSigner
from support.repository import TEST_EPOCH, Fault, RepositoryServer
from sync_world import SyncWorld, answers, collected

from blt_status.cli import main
from blt_status.device import Device
from blt_status.layout import ShardHeader, shard_file, shard_target
from blt_status.store import BACKENDS
from blt_status.sync import device_status, sync_device

ERROR_LINE = re.compile(r"^error \[((?:sync|target)_[a-z_]+)\]: .+$")
CIBINONG = "32.01.01"
OFFICER_SHARD = shard_target("officer", CIBINONG)


def _past(days: float = 1) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).replace(microsecond=0)


def _v2_people() -> list:
    """Version 2: the first Cibinong recipient has collected (changes the 32.01.01 shards)."""
    return [collected(p) if p.nik == PEOPLE[0].nik else p for p in PEOPLE]


class Case:
    """A world at version 1, a server, and devices synced to it."""

    def __init__(self, root: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.world = SyncWorld(root)
        self.world.publish()
        self.server = RepositoryServer(self.world.public_dir).start()
        self.capsys = capsys
        self.officer = self.world.install("officer", (CIBINONG,))
        self.bot = self.world.install("recipient")
        for device in (self.officer, self.bot):
            sync_device(device, self.server.url)
        self.before = {device.data_dir: answers(device) for device in self.devices}

    @property
    def devices(self) -> list[Device]:
        return [self.officer, self.bot]

    def sync_cli(self, device: Device, *extra: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(["--lang", "en", "sync", "--from", self.server.url, "--data-dir",
                     str(device.data_dir), *extra])
        return code, self.capsys.readouterr().err

    def assert_refused(self, expected: str, devices: list[Device] | None = None,
                       *extra: str) -> None:
        """Sync fails with one line carrying ``expected``; every answer is as before."""
        for device in devices or self.devices:
            code, err = self.sync_cli(device, *extra)
            lines = err.strip().splitlines()
            assert code == 1, err
            assert len(lines) == 1 and ERROR_LINE.match(lines[0]), err
            assert ERROR_LINE.match(lines[0]).group(1) == expected, err
            self.assert_unchanged(device)
            last = device_status(device)["last_sync"]
            assert last["ok"] is False and last["code"] == expected
            assert device_status(device)["version"] == 1

    def assert_unchanged(self, device: Device) -> None:
        assert answers(device) == self.before[device.data_dir]
        leftovers = [p.name for p in device.index_dir.iterdir() if ".tmp-" in p.name]
        assert not leftovers

    def assert_recovers(self, devices: list[Device] | None = None) -> None:
        """With the fault gone, a clean sync reaches the newest version."""
        for device in devices or self.devices:
            code, err = self.sync_cli(device)
            assert code == 0, err
            status = device_status(device)
            assert status["version"] == self.world.repo.version and status["last_sync"]["ok"]
            result = answers(device)
            expected = {p.nik: p.payload.status for p in self.world.people}
            assert result[PEOPLE[0].nik]["status"] == expected[PEOPLE[0].nik]

    def close(self) -> None:
        self.server.stop()


@pytest.fixture()
def case(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    running = Case(tmp_path, capsys)
    yield running
    running.close()


# -- the wire ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "expected"), [
    ("drop", "sync_network"),
    ("truncate", "sync_hash_mismatch"),
    ("oversize", "sync_too_large"),
    ("status", "sync_network"),
])
def test_broken_shard_transfer(case: Case, kind: str, expected: str):
    case.world.publish(_v2_people())
    case.server.faults.append(Fault("/targets/shards/", kind, status=503))
    case.assert_refused(expected)
    case.server.faults.clear()
    case.assert_recovers()


@pytest.mark.parametrize("interval", [pytest.param(1.0, id="drip"),
                                      pytest.param(60.0, id="stall")])
def test_drip_server_ends_the_sync_by_its_deadline(case: Case, interval: float):
    """One byte a second (or one byte, then nothing) on timestamp.json: sync_timeout within
    --timeout, the lock released."""
    case.world.publish(_v2_people())
    case.server.faults.append(Fault("/metadata/timestamp.json", "drip", interval=interval))
    started = time.monotonic()
    case.assert_refused("sync_timeout", None, "--timeout", "1.5")
    took = time.monotonic() - started
    assert took < 2 * (1.5 + 0.5), took  # two devices, each cut off at its deadline
    case.server.faults.clear()
    case.assert_recovers()  # the lock was released: the next sync runs at once


def test_drip_server_is_cut_off_by_the_byte_rate_floor(case: Case):
    """The floor ends a dripping file long before the (default) deadline."""
    from tuf.api.exceptions import SlowRetrievalError

    from blt_status.sync._errors import translate
    from blt_status.sync._fetcher import HttpxFetcher

    case.server.faults.append(Fault("/metadata/timestamp.json", "drip", interval=0.2))
    started = time.monotonic()
    with HttpxFetcher(min_rate=100, rate_window=0.5) as fetcher, \
            pytest.raises(SlowRetrievalError) as raised:
        fetcher.download_bytes(case.server.url + "/metadata/timestamp.json", 16 * 1024)
    assert time.monotonic() - started < 3
    error = translate(raised.value)
    assert error.code == "sync_too_slow" and "timestamp.json" in error.message("en")
    assert "100 bytes" in error.message("en")


def test_redirect_to_another_host_is_refused_unless_configured(case: Case):
    import dataclasses

    case.world.publish(_v2_people())
    mirror = RepositoryServer(case.world.public_dir).start()
    try:
        case.server.faults.append(Fault("/metadata/", "redirect", location=mirror.url))
        case.assert_refused("sync_redirect")
        assert not [r for r in mirror.requests if "timestamp" in r]  # never followed
        host = mirror.url.removeprefix("http://")
        for device in case.devices:
            config = dataclasses.replace(device.config, redirect_hosts=(host,))
            (device.data_dir / "device.json").write_text(json.dumps(config.to_dict()))
        case.assert_recovers()
        assert [r for r in mirror.requests if "timestamp" in r]  # followed, once allowed
    finally:
        mirror.stop()


def test_missing_shard_is_reported_as_missing(case: Case):
    case.world.publish(_v2_people())
    case.server.faults.append(Fault("/targets/shards/", "status", status=404))
    case.assert_refused("target_missing")
    code, err = case.sync_cli(case.officer)
    assert code == 1 and "shards/officer/32.01.01.jsonl" in err and "no data repository" not in err
    case.server.faults.clear()
    case.assert_recovers()


def test_missing_repository_is_still_not_found(case: Case):
    case.server.faults.append(Fault("/metadata/timestamp.json", "status", status=404))
    case.assert_refused("sync_not_found")
    case.capsys.readouterr()
    main(["--lang", "id", "sync", "--from", case.server.url, "--data-dir",
          str(case.officer.data_dir)])
    err = case.capsys.readouterr().err  # the detail has no English words in it ("404 for")
    assert "Tidak ada repositori data" in err and "(HTTP 404: http://127.0.0.1:" in err, err
    case.server.faults.clear()
    case.assert_recovers()


def test_no_environment_variable_pauses_the_real_sync(case: Case, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch):
    """The old test hook (BLT_SYNC_PAUSE_AT) is gone from production code."""
    marker = tmp_path / "paused"
    monkeypatch.setenv("BLT_SYNC_PAUSE_AT", "metadata,shards,index,switch,switched")
    monkeypatch.setenv("BLT_SYNC_PAUSE_MARKER", str(marker))
    monkeypatch.setenv("BLT_SYNC_PAUSE_SECONDS", "0")
    case.world.publish(_v2_people())
    case.assert_recovers()
    assert not marker.exists()


def test_oversized_timestamp_is_cut_off(case: Case):
    case.world.publish(_v2_people())
    case.server.faults.append(Fault("/metadata/timestamp.json", "oversize", extra=64 * 1024))
    case.assert_refused("sync_too_large")
    case.server.faults.clear()
    case.assert_recovers()


def test_server_down(case: Case):
    case.world.publish(_v2_people())
    case.server.stop()
    case.assert_refused("sync_network")
    case.server = RepositoryServer(case.world.public_dir).start()
    case.assert_recovers()


def test_tampered_shard_bytes(case: Case):
    case.world.publish(_v2_people())
    paths = [case.world.repo.target_path(shard_target(view, CIBINONG))
             for view in ("officer", "recipient")]
    originals = [path.read_bytes() for path in paths]
    for path, data in zip(paths, originals, strict=True):
        tampered = bytearray(data)
        tampered[-10] = ord("A") if tampered[-10] != ord("A") else ord("B")
        path.write_bytes(bytes(tampered))  # same length, other content
    case.assert_refused("sync_hash_mismatch")
    for path, data in zip(paths, originals, strict=True):
        path.write_bytes(data)
    case.assert_recovers()


# -- signatures, versions, expiry ----------------------------------------------------------------


def test_tampered_metadata_fails_its_signature(case: Case):
    case.world.publish(_v2_people())
    timestamp = case.world.public_dir / "metadata" / "timestamp.json"
    document = json.loads(timestamp.read_bytes())
    document["signed"]["expires"] = "2099-01-01T00:00:00Z"  # still valid JSON, signature not
    timestamp.write_text(json.dumps(document))
    case.assert_refused("sync_bad_signature")
    case.world.repo.write_timestamp()
    case.assert_recovers()


def test_signature_by_an_unknown_key(case: Case):
    case.world.publish(_v2_people(), timestamp_signer=CryptoSigner.generate_ed25519())
    case.assert_refused("sync_bad_signature")
    case.world.repo.write_timestamp()
    case.assert_recovers()


def test_new_root_with_too_few_signatures(case: Case):
    repo = case.world.repo
    repo.write_root(signers=repo.root_signers[:1])  # threshold is 2 of 3
    case.world.publish(_v2_people())
    case.assert_refused("sync_bad_signature")
    repo.root_version = 1
    repo.write_root(signers=repo.root_signers[1:])  # two distinct keys: enough
    case.assert_recovers()
    assert (case.officer.data_dir / "tuf" / "metadata" / "root_history" / "2.root.json").exists()


def test_rollback_to_an_older_version(case: Case):
    case.world.publish(_v2_people())
    old_timestamp = (case.world.public_dir / "metadata" / "timestamp.json").read_bytes()
    case.world.publish([collected(p) if p.nik == PEOPLE[2].nik else p for p in _v2_people()])
    case.assert_recovers()  # both devices now trust version 3
    case.before = {device.data_dir: answers(device) for device in case.devices}
    (case.world.public_dir / "metadata" / "timestamp.json").write_bytes(old_timestamp)
    for device in case.devices:
        code, err = case.sync_cli(device)
        assert code == 1 and ERROR_LINE.match(err.strip()).group(1) == "sync_rollback", err
        case.assert_unchanged(device)
        assert device_status(device)["version"] == 3
    case.world.publish(case.world.people)
    case.assert_recovers()


def test_fresh_timestamp_naming_an_older_snapshot(case: Case):
    """A correctly signed, newer timestamp that points back at snapshot version 1."""
    case.world.publish(_v2_people())
    case.assert_recovers()  # both devices trust snapshot version 2
    case.before = {device.data_dir: answers(device) for device in case.devices}
    case.world.repo.write_timestamp(snapshot_version=1)
    for device in case.devices:
        code, err = case.sync_cli(device)
        assert code == 1 and ERROR_LINE.match(err.strip()).group(1) == "sync_rollback", err
        case.assert_unchanged(device)
    case.world.repo.write_timestamp()
    case.assert_recovers()


@pytest.mark.parametrize("role", ["timestamp", "snapshot", "targets"])
def test_expired_metadata_is_refused(case: Case, role: str):
    case.world.publish(_v2_people(), **{f"{role}_expires": _past()})
    case.assert_refused("sync_expired")
    if role == "timestamp":
        case.world.repo.write_timestamp()
    else:
        case.world.publish(case.world.people)
    case.assert_recovers()


def test_stale_device_still_answers_and_says_so(case: Case):
    """Past expiry the last good index answers; status says it may be out of date."""
    now = dt.datetime.now(dt.UTC) + dt.timedelta(days=400)
    status = device_status(case.officer, now=now)
    assert status["stale"] is True and status["version"] == 1
    assert answers(case.officer) == case.before[case.officer.data_dir]


# -- hostile but signed content ----------------------------------------------------------------



    def __exit__(self, *exc: object) -> None:
        return None


def _shard_of(case: Case, view: str, region: str) -> bytes:
    return case.world.repo.target_path(shard_target(view, region)).read_bytes()


@pytest.mark.parametrize("swap", ["other_region_file", "other_view_file", "signed_other_region",
                                  "signed_other_view"])
def test_shard_of_another_region_or_view(case: Case, swap: str):
    """A shard signed under our name but for another region/view (a buggy or hostile signer)."""
    if swap == "other_region_file":  # the file's header says 32.01.02
        data = _shard_of(case, "officer", "32.01.02")
        custom = {"blt": {"kind": "shard", "view": "officer", "region": CIBINONG,
                          "records": 2}}
    elif swap == "other_view_file":  # the file's header says the recipient view
        data = _shard_of(case, "recipient", CIBINONG)
        custom = {"blt": {"kind": "shard", "view": "officer", "region": CIBINONG,
                          "records": 3}}
    elif swap == "signed_other_region":
        data, custom = shard_file("officer", CIBINONG, [], epoch=TEST_EPOCH)
        custom["blt"]["region"] = "32.01.02"
    else:
        data, custom = shard_file("officer", CIBINONG, [], epoch=TEST_EPOCH)
        custom["blt"]["view"] = "recipient"
    case.world.repo.publish({OFFICER_SHARD: (data, custom)})
    case.assert_refused("sync_shard_mismatch", [case.officer])
    case.world.publish(_v2_people())
    case.assert_recovers([case.officer])


def test_shard_with_a_wrong_record_count(case: Case):
    data, custom = shard_file("officer", CIBINONG, [], epoch=TEST_EPOCH)
    custom["blt"]["records"] = 3  # the signed count says 3, the file holds 0
    case.world.repo.publish({OFFICER_SHARD: (data, custom)})
    case.assert_refused("sync_shard_mismatch", [case.officer])
    case.world.publish(_v2_people())
    case.assert_recovers([case.officer])


@pytest.mark.parametrize("damage", ["garbage_line", "duplicate_tag"])
def test_signed_but_unreadable_shard(case: Case, damage: str):
    """The signer published a broken shard: refused mid-build, nothing switched."""
    count = 1 if damage == "garbage_line" else 2
    _, custom = shard_file("officer", CIBINONG, [], epoch=TEST_EPOCH)
    custom["blt"]["records"] = count
    header = json.dumps(ShardHeader("officer", CIBINONG, count, "e1").to_dict()).encode()
    line = b'{"t":"' + b"ab" * 16 + b'","b":"AAAA"}\n'
    body = header + b"\n" + (b"{not json\n" if damage == "garbage_line" else line + line)
    case.world.repo.publish({OFFICER_SHARD: (body, custom)})
    case.assert_refused("sync_shard_invalid", [case.officer])
    case.world.publish(_v2_people())
    case.assert_recovers([case.officer])


# -- the device's own disk ---------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
def test_failing_disk_write(case: Case, monkeypatch: pytest.MonkeyPatch, backend: str):
    case.world.publish(_v2_people())
    target = BACKENDS[backend]
    original_write = type(target).write

    def failing_write(self, path, meta, records):
        def records_then_full_disk():
            yield next(iter(records))
            raise OSError(28, "No space left on device")

        return original_write(self, path, meta, records_then_full_disk())

    monkeypatch.setattr(type(target), "write", failing_write)
    if backend == "sqlite":
        import blt_status.store._sqlite as sqlite_module

        original_insert = sqlite_module._insert

        def failing_insert(connection, records, checksum):
            original_insert(connection, [next(iter(records))], checksum)
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(sqlite_module, "_insert", failing_insert)
    device = case.officer if backend == "tinydb" else case.bot
    case.assert_refused("sync_disk", [device])
    monkeypatch.undo()
    case.assert_recovers([device])


# -- killed mid-sync -----------------------------------------------------------------------------


PAUSED_SYNC = Path(__file__).parent / "support" / "paused_sync.py"


def _sync_process(device: Device, url: str, pause_at: str, marker: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(PAUSED_SYNC), str(device.data_dir), url, pause_at, str(marker)],
        env=dict(os.environ, BLT_LANG="en"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _wait_for(marker: Path, process: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not marker.exists():
        if process.poll() is not None:
            raise AssertionError(process.stderr.read().decode() if process.stderr else "exit")
        if time.monotonic() > deadline:
            raise AssertionError("the sync never reached its pause point")
        time.sleep(0.02)


@pytest.mark.parametrize("pause_at", ["metadata", "shards", "index", "switch", "switched"])
def test_killed_during_sync(case: Case, tmp_path: Path, pause_at: str):
    case.world.publish(_v2_people())
    for device in case.devices:
        marker = tmp_path / f"paused-{pause_at}-{device.config.view}"
        process = _sync_process(device, case.server.url, pause_at, marker)
        try:
            _wait_for(marker, process)
        finally:
            process.send_signal(signal.SIGKILL)
            process.communicate(timeout=30)
        assert process.returncode == -signal.SIGKILL
        if pause_at == "index" and device.config.backend == "sqlite":  # killed mid-write
            assert [p for p in device.index_dir.iterdir() if ".tmp-" in p.name]
        if pause_at == "switched":  # the switch had completed: version 2 is live, whole
            assert device_status(device)["version"] == 2
            assert answers(device)[PEOPLE[0].nik]["status"] == "collected"
        else:
            assert device_status(device)["version"] == 1
            assert answers(device) == case.before[device.data_dir]
    case.assert_recovers()
    for device in case.devices:
        assert not [p for p in device.index_dir.iterdir() if ".tmp-" in p.name]
        assert len(list(device.index_dir.glob("v*"))) <= 2


def test_a_second_sync_waits_its_turn(case: Case, tmp_path: Path):
    case.world.publish(_v2_people())
    marker = tmp_path / "paused"
    process = _sync_process(case.officer, case.server.url, "shards", marker)
    try:
        _wait_for(marker, process)
        code, err = case.sync_cli(case.officer)
        assert code == 1 and "sync_busy" in err
    finally:
        process.send_signal(signal.SIGKILL)
        process.communicate(timeout=30)
    case.assert_recovers([case.officer])


