"""Sync basics against a real loopback HTTP server: install, full sync, delta, status, CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PASSPHRASE, PEOPLE
from support.repository import RepositoryServer
from sync_world import SyncWorld, answers, collected

from blt_status.cli import main
from blt_status.device import Device
from blt_status.errors import DeviceError, FileFormatError
from blt_status.layout import shard_target
from blt_status.sync import device_status, install_bundle, sync_device


@pytest.fixture()
def world(tmp_path: Path) -> SyncWorld:
    world = SyncWorld(tmp_path)
    world.publish()
    return world


@pytest.fixture()
def server(world: SyncWorld):
    with RepositoryServer(world.public_dir) as running:
        yield running


def test_officer_full_sync_answers_every_recipient_of_its_kecamatan(world, server):
    device = world.install("officer", ("32.01.01",))
    progress = []
    report = sync_device(device, server.url, progress=progress.append)
    assert report.changed and report.version_before is None and report.version_after == 1
    assert report.shards_downloaded == 1 and report.records == 3
    assert report.bytes_downloaded > 0
    assert {event.phase for event in progress} >= {"metadata", "shards", "index", "switch"}
    result = answers(device)
    for person in PEOPLE:
        found = result[person.nik]
        assert found["found"] is (person.shard == "32.01.01")
        if found["found"]:
            assert found["status"] == person.payload.status
            assert found["schedule"] == person.payload.schedule.to_dict()
            assert found["data_version"] == 1
    with device.open_index() as index:
        assert index.meta.extra["aggregates"]["32.01.01"]["recipients"] == 3
        assert "32.01.02" not in index.meta.extra["aggregates"]
    assert not any(path.startswith("/targets/shards/recipient") for path in server.requests)
    assert not any("32.01.02" in path for path in server.requests)


def test_recipient_sqlite_sync_covers_every_kecamatan(world, server):
    device = world.install("recipient", backend=None)
    assert device.config.backend == "sqlite"
    report = sync_device(device, server.url)
    assert report.records == len(PEOPLE) and report.shards_downloaded == 2
    result = answers(device)
    for person in PEOPLE:
        assert result[person.nik]["found"]
        assert result[person.nik]["view"] == "recipient"
        assert person.name not in json.dumps(result[person.nik])
    assert not any("/shards/officer/" in path for path in server.requests)


@pytest.mark.parametrize("view", ["officer", "recipient"])
def test_resync_downloads_only_the_changed_shard(world, server, view):
    device = world.install(view, ("32.01.01", "32.01.02"))
    sync_device(device, server.url)
    unchanged = sync_device(device, server.url)
    assert not unchanged.changed and unchanged.shards_downloaded == 0

    people = [collected(p) if p.nik == PEOPLE[3].nik else p for p in PEOPLE]  # in 32.01.02
    world.publish(people)
    server.requests.clear()
    report = sync_device(device, server.url)
    assert report.changed and (report.version_before, report.version_after) == (1, 2)
    assert report.shards_downloaded == 1 and report.shards_reused == 1
    shard_requests = [path for path in server.requests if "/shards/" in path]
    assert len(shard_requests) == 1 and "32.01.02" in shard_requests[0]
    result = answers(device)
    assert result[PEOPLE[3].nik]["status"] == "collected"
    assert result[PEOPLE[0].nik]["status"] == PEOPLE[0].payload.status
    previous = device.previous_index_path()
    assert previous is not None and previous.exists()


def test_sync_from_a_local_directory_and_file_url(world):
    device = world.install("officer", ("32.01.01",))
    report = sync_device(device, str(world.root))  # DIR holding public/
    assert report.records == 3
    world.publish([collected(p) if p.nik == PEOPLE[0].nik else p for p in PEOPLE])
    report = sync_device(device, world.public_dir.as_uri())
    assert report.version_after == 2
    assert answers(device)[PEOPLE[0].nik]["status"] == "collected"


def test_sync_uses_the_enrolled_central_url(world, server):
    device = world.install("officer", ("32.01.01",), central_url=server.url)
    assert sync_device(device).version_after == 1


def test_a_kecamatan_that_disappears_is_dropped(world, server):
    device = world.install("recipient")
    sync_device(device, server.url)
    world.repo.targets.pop(shard_target("recipient", "32.01.02"))
    world.repo.publish({})
    report = sync_device(device, server.url)
    assert report.shards_removed == 1 and report.records == 3
    assert not answers(device)[PEOPLE[3].nik]["found"]


def test_status_before_and_after_sync(world, server):
    device = world.install("officer", ("32.01.01",))
    status = device_status(device)
    assert status["version"] is None and status["last_sync"] is None
    sync_device(device, server.url)
    status = device_status(device)
    assert status["version"] == 1 and status["counts"] == {"32.01.01": 3}
    assert status["stale"] is False and status["expires"]
    assert "NOT FOR REAL DATA" in status["kdf_profile"]
    assert status["last_sync"]["ok"] is True and status["last_sync"]["version"] == 1
    assert status["data_as_of"].startswith("2025-11-20")


def test_install_refuses_an_installed_directory_and_a_forged_root(world, tmp_path):
    device = world.install("officer")
    bundle_path = tmp_path / "bundle.json"
    world.bundle().write(bundle_path)
    with pytest.raises(DeviceError) as caught:
        install_bundle(device.data_dir, bundle_path, PASSPHRASE)
    assert caught.value.code == "already_installed"
    forged = world.bundle()
    forged.root["signed"]["expires"] = "2099-01-01T00:00:00Z"
    forged.write(bundle_path)
    with pytest.raises(FileFormatError) as caught:
        install_bundle(tmp_path / "other", bundle_path, PASSPHRASE)
    assert caught.value.code == "bundle_root"
    assert not (tmp_path / "other" / "device.json").exists()


def test_bot_device_keeps_its_pepper_in_a_secret_file(world, server, tmp_path):
    bundle_path = tmp_path / "bot-bundle.json"
    world.bundle("recipient").write(bundle_path)
    pepper_file = tmp_path / "secrets" / "bot.pepper"
    device = install_bundle(tmp_path / "bot", bundle_path, None, pepper_file=pepper_file)
    assert oct(pepper_file.stat().st_mode & 0o777) == "0o600"
    assert not (tmp_path / "bot" / "keyring.json").exists()
    sync_device(device, server.url)
    from blt_status.lookup import LookupService
    service = LookupService.open(Device.load(device.data_dir), device.unlock())
    assert service.lookup(PEOPLE[0].nik).found
    service.close()


def test_cli_init_sync_status_lookup(world, server, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    bundle_path = tmp_path / "cli-bundle.json"
    world.bundle("officer", ("32.01.01",)).write(bundle_path)
    data_dir = tmp_path / "cli-device"
    assert main(["init", "--data-dir", str(data_dir), "--bundle", str(bundle_path),
                 "--insecure-test-kdf"]) == 0
    assert main(["init", "--data-dir", str(data_dir), "--bundle", str(bundle_path)]) == 1
    assert "already_installed" in capsys.readouterr().err
    assert main(["sync", "--from", server.url, "--data-dir", str(data_dir), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["version_after"] == 1 and report["records"] == 3
    assert main(["status", "--data-dir", str(data_dir), "--json"]) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["version"] == 1 and status["last_sync"]["ok"]
    assert main(["status", "--data-dir", str(data_dir)]) == 0
    assert "v1" in capsys.readouterr().out
    assert main(["lookup", PEOPLE[0].nik, "--data-dir", str(data_dir), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "scheduled"


def test_cli_errors_are_one_coded_line(world, tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("BLT_PASSPHRASE", raising=False)
    device = world.install("officer", ("32.01.01",))  # no central URL in its bundle
    cases = [
        (["sync", "--data-dir", str(device.data_dir)], "sync_source"),
        (["sync", "--from", str(tmp_path / "nowhere"), "--data-dir", str(device.data_dir)],
         "sync_source"),
        (["sync", "--from", "http://127.0.0.1:9/", "--data-dir", str(device.data_dir)],
         "sync_network"),
        (["sync", "--from", "http://x", "--data-dir", str(tmp_path / "none")], "not_installed"),
        (["status", "--data-dir", str(tmp_path / "none")], "not_installed"),
        (["init", "--data-dir", str(tmp_path / "new"), "--bundle", str(tmp_path / "no.json")],
         "passphrase_required"),
    ]
    for argv, code in cases:
        capsys.readouterr()
        assert main(argv) == 1, argv
        lines = capsys.readouterr().err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"error [{code}]"), (argv, lines)
    assert device_status(device)["last_sync"]["code"] == "sync_network"
    assert device_status(device)["version"] is None


def test_sync_json_error_object(world, tmp_path, capsys):
    device = world.install("officer", ("32.01.01",))
    assert main(["sync", "--from", str(tmp_path / "nowhere"), "--data-dir",
                 str(device.data_dir), "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["error"]["code"] == "sync_source"


def test_terminal_progress_rewrites_one_line(capsys):
    from blt_status.commands.sync import TerminalProgress
    from blt_status.sync import SyncProgress

    progress = TerminalProgress("en")
    progress(SyncProgress("metadata", 0, 1))
    progress(SyncProgress("shards", 3, 7))
    progress.close()
    err = capsys.readouterr().err
    assert "\n" not in err and "sync: download shards 3/7" in err
    assert err.endswith("\r")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BLT_")}
    return subprocess.run([sys.executable, "-m", "blt_status.cli", *args], capture_output=True,
                          text=True, env=environment, timeout=60)


def _one_line(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert result.returncode == 1 and "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error [{code}]: "), result.stderr


def _free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_refused_connection_is_said_in_the_readers_language(world) -> None:
    """Nothing listening: it said "(cannot reach http://…: ConnectError)" in English inside the
    Indonesian sentence."""
    device = world.install("officer", ("32.01.01",))
    url = f"http://127.0.0.1:{_free_port()}/"
    result = _cli("sync", "--from", url, "--data-dir", str(device.data_dir), "--timeout", "20")
    _one_line(result, "sync_network")
    assert "menolak sambungan" in result.stderr and "ConnectError" not in result.stderr
    english = _cli("--lang", "en", "sync", "--from", url, "--data-dir", str(device.data_dir))
    _one_line(english, "sync_network")
    assert "refused the connection" in english.stderr, english.stderr


def test_https_to_a_plain_http_server_is_a_tls_failure_in_words(world) -> None:
    import http.server
    import threading

    device = world.install("officer", ("32.01.01",))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{server.server_address[1]}/"
        result = _cli("sync", "--from", url, "--data-dir", str(device.data_dir), "--timeout",
                      "20")
    finally:
        server.shutdown()
        server.server_close()
    _one_line(result, "sync_network")
    assert "Sambungan aman (HTTPS/TLS)" in result.stderr, result.stderr
    assert "SSL" not in result.stderr and "Error" not in result.stderr


@pytest.mark.parametrize(("failure", "words"), [
    ("dns", "The server name blt-central.example cannot be found"),
    ("timeout", "did not answer in time"),
])
def test_dns_and_connect_timeout_failures_are_said_in_words(world, monkeypatch, capsys,
                                                            failure: str, words: str) -> None:
    """The real command and httpx, with the resolver (or the connect) failing the way it does
    offline; nothing leaves the machine."""
    import socket

    from blt_status.cli import main

    def fail(*_args: object, **_kwargs: object) -> object:
        if failure == "dns":
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        raise TimeoutError("timed out")

    monkeypatch.setattr(socket, "getaddrinfo" if failure == "dns" else "create_connection",
                        fail)
    device = world.install("officer", ("32.01.01",))
    code = main(["--lang", "en", "sync", "--from", "http://blt-central.example:8000/",
                 "--data-dir", str(device.data_dir), "--timeout", "60"])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1 and err.startswith("error [sync_network]: "), err
    assert words in err and "Error" not in err, err
