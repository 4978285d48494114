"""The issue's "Done when", end to end with real processes on loopback.

central publish -> ``pos push`` (a process) -> the payer simulator pays -> signed callbacks to
``pos listen`` (a process) -- or ``pos pull`` (a process) -- -> ``central refresh`` -> a device
``sync`` from ``python -m http.server`` -> ``lookup --json`` shows ``collected`` (time and
point) for a paid recipient and ``held`` for a failed one.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from central_world import write_world
from conftest import PEOPLE
from support.pos_payer import PosPayer

PASSPHRASE = "kata sandi e2e pos"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _env() -> dict[str, str]:
    return dict(os.environ, BLT_PASSPHRASE=PASSPHRASE, BLT_LANG="en")


def _cli(*args: object, check: bool = True) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "blt_status.cli", *map(str, args)],
                            env=_env(), capture_output=True, text=True, timeout=120)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def _json(*args: object) -> dict:
    return json.loads(_cli(*args, "--json").stdout)


def _wait_port(port: int, process: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or process.poll() is not None:
                raise
            time.sleep(0.05)


@pytest.fixture()
def central(tmp_path: Path):
    """A published store served by ``python -m http.server``, and a configured payer."""
    files = write_world(tmp_path / "inputs")
    directory = tmp_path / "central"
    _cli("central", "init", directory, "--kdf", "test")
    _cli("central", "publish", directory, "--recipients", files.recipients,
         "--payout-points", files.payout_points, "--program", files.program)
    payer = PosPayer(_cli("central", "pos", "public-key", directory).stdout).start()
    (tmp_path / "payer.pem").write_text(payer.public_pem)
    (tmp_path / "token").write_text(payer.token)
    (tmp_path / "cbtoken").write_text(payer.callback_token)
    _cli("central", "pos", "configure", directory, "--payer-id", payer.payer_id, "--payer-key",
         tmp_path / "payer.pem", "--token-file", tmp_path / "token", "--callback-token-file",
         tmp_path / "cbtoken")
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind",
                               "127.0.0.1", "-d", str(directory / "public")],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _wait_port(port, server)
    yield directory, payer, f"http://127.0.0.1:{port}"
    payer.stop()
    server.terminate()
    server.wait(timeout=10)


def _device_answers(tmp_path: Path, directory: Path, url: str) -> dict[str, dict]:
    bundle = tmp_path / "officer.bundle"
    device = tmp_path / "officer"
    _cli("central", "enroll", directory, "--region", "32.01.01", "32.01.02", "--out", bundle)
    _cli("init", "--data-dir", device, "--bundle", bundle, "--insecure-test-kdf")
    _json("sync", "--from", url, "--data-dir", device)
    return {person.nik: _json("lookup", person.nik, "--data-dir", device)
            for person in (PEOPLE[0], PEOPLE[3])}


def _check(answers: dict[str, dict]) -> None:
    paid, failed = answers[PEOPLE[0].nik], answers[PEOPLE[3].nik]
    assert paid["status"] == "collected"
    assert paid["collected_point_id"] == paid["payout_point"]["id"]
    scheduled = f"{paid['schedule']['date']}T{paid['schedule']['start']}"
    assert paid["collected_at"].startswith(scheduled[:13])  # the slot's hour, +15 min
    assert paid["collected_at"][14:16] == "15"
    assert failed["status"] == "held"


@pytest.mark.parametrize("feedback", ["callbacks", "pull"])
def test_push_pay_feedback_publish_sync_lookup(central, tmp_path: Path, feedback: str) -> None:
    directory, payer, url = central
    payer.outcomes = {PEOPLE[3].nik: ("RJCT", "RJCT_PAYEE_NAME_MISMATCH")}
    if feedback == "callbacks":
        port = _free_port()
        listener = subprocess.Popen(
            [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen",
             str(directory), "--port", str(port), "--publish-every", "0.5"],
            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_port(port, listener)
            pushed = _json("central", "pos", "push", directory, "--endpoint", payer.url,
                           "--callback-url", f"http://127.0.0.1:{port}/on-disburse")
            assert pushed["complete"] and pushed["sent"] == len(list(payer.all_instructions()))
            answers = payer.send_callbacks()
            assert [answer.status_code for answer in answers] == [200] * len(answers)
            replay = payer.send_callbacks(mode="duplicate")
            assert {answer.status_code for answer in replay} == {200}
            time.sleep(1.0)  # one --publish-every period
        finally:
            listener.send_signal(signal.SIGTERM)
            out, err = listener.communicate(timeout=30)
        assert listener.returncode == 0, err
        assert "Listening on http://127.0.0.1:" in out
        for person in PEOPLE:
            assert person.nik not in out + err and person.name not in out + err
        assert payer.token not in err and payer.callback_token not in err
        assert _json("central", "status", directory)["version"] >= 2  # --publish-every
    else:
        pushed = _json("central", "pos", "push", directory, "--endpoint", payer.url)
        assert pushed["complete"]
        pulled = _json("central", "pos", "pull", directory, "--endpoint", payer.url,
                       "--publish")
        assert pulled["recorded"] == len(list(payer.all_instructions()))
        assert pulled["open_after"] == 0
    refreshed = _json("central", "refresh", directory)
    assert refreshed["version"] >= 2
    _check(_device_answers(tmp_path, directory, url))
