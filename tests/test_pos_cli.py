"""``central pos`` as an admin meets it: one-line errors, a later version, refusals, TLS."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from central_world import write_world
from conftest import PEOPLE
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.x509.oid import NameOID
from test_pos_exchange import FAST, World, run

from blt_status.central import CentralStore
from blt_status.central.demodata import DEMO_PROGRAM_TOML
from blt_status.central.publish import publish_files


@pytest.fixture()
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    world = World(tmp_path, capsys)
    yield world
    world.payer.stop()


def one_error_line(err: str, code: str) -> None:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error [{code}]: "), err
    assert "Traceback" not in err


def test_configuration_errors_are_one_line(tmp_path: Path, capsys) -> None:
    store = tmp_path / "c"
    assert run(capsys, "central", "init", store, "--kdf", "test")[0] == 0
    code, _, err = run(capsys, "central", "pos", "push", store, "--endpoint", "http://x")
    assert code == 1
    one_error_line(err, "pos_not_configured")
    not_ed25519 = tmp_path / "rsa.pem"
    not_ed25519.write_text("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
    good = tmp_path / "payer.pem"
    from blt_status.central.pos.signing import public_pem

    good.write_text(public_pem(Ed25519PrivateKey.generate()))
    token = tmp_path / "token"
    token.write_text("secret-token-value\n")
    base = ["central", "pos", "configure", store, "--payer-id", "P", "--token-file", token]
    code, _, err = run(capsys, *base, "--payer-key", not_ed25519, "--callback-token-file", token)
    one_error_line(err, "pos_payer_key")
    code, _, err = run(capsys, *base, "--payer-key", good, "--callback-token-file",
                       tmp_path / "missing")
    one_error_line(err, "pos_token")
    code, out, err = run(capsys, *base, "--payer-key", good, "--callback-token-file", token)
    assert code == 0 and "secret-token-value" not in out + err
    with pytest.raises(SystemExit) as caught:
        run(capsys, "central", "pos", "push", store, "--endpoint", "ftp://x")
    assert caught.value.code == 2
    one_error_line(capsys.readouterr().err, "usage")
    code, _, err = run(capsys, "central", "pos", "push", store, "--endpoint", "http://x")
    one_error_line(err, "pos_nothing_published")
    config = json.loads((store / "private" / "pos" / "config.json").read_text())
    assert "secret-token-value" not in json.dumps(config)
    assert oct((store / "private" / "pos" / "signing.pem").stat().st_mode & 0o777) == "0o600"


def test_payer_refusal_is_reported_not_retried(world: World, tmp_path: Path) -> None:
    (tmp_path / "token").write_text("a-wrong-token\n")
    code, report, err = world.push()
    # Reached but refused: the report is printed, and the exit status says it failed (a cron
    # job that ran it would otherwise never learn that nothing went).
    assert code == 1, err
    one_error_line(err, "pos_refused")
    assert "ERR_ACCESS_DENIED" in err and report["error"]["code"] == "pos_refused"
    assert report["sent"] == 0 and report["refused"] > 0
    assert report["refused_by_code"] == {"ERR_ACCESS_DENIED": report["refused"]}
    assert world.payer.disburse_calls == report["messages_planned"]  # one try each
    # The admin fixes the token file and runs the same command: the refused messages go now
    # (before, they stayed refused for good: only a new version could deliver them).
    (tmp_path / "token").write_text(world.payer.token + "\n")
    code, again, err = world.push()
    assert code == 0, err
    assert again["refused"] == 0 and again["complete"]
    assert again["messages_sent"] == report["messages_planned"]
    assert again["sent"] == report["refused"] == len(list(world.payer.all_instructions()))
    assert all(count == 1 for count in world.payer.messages.values())
    code, third, _ = world.push()
    assert code == 0 and third["messages_sent"] == 0 and third["refused"] == 0


def test_a_later_version_sends_only_changes_and_counts_removed(world: World, tmp_path: Path,
                                                               capsys) -> None:
    code, first, _ = world.push()
    assert code == 0
    refs_v1 = {item.nik: item.reference_id for item in world.payer.all_instructions()}
    # Version 2: one recipient fewer, and the programme starts three days later (new slots).
    files = write_world(tmp_path / "inputs2", people=PEOPLE[:-1])
    files.program.write_text(DEMO_PROGRAM_TOML.replace("start = 2025-11-21",
                                                       "start = 2025-11-24"))
    published = publish_files(CentralStore.open(world.dir), files.recipients,
                              files.payout_points, files.program, workers=1, allow_shrink=True)
    assert published.version == 2
    code, second, _ = world.push()
    assert code == 0 and second["version"] == 2
    assert second["removed"] == 1
    assert second["sent"] + second["skipped_unchanged"] == first["sent"] - 1
    assert second["sent"] >= 1
    v2 = [item for item in world.payer.all_instructions() if ".v2." in item.transaction_id]
    assert len(v2) == second["sent"]
    for item in v2:  # the same recipient keeps its reference in the same epoch
        assert refs_v1[item.nik] == item.reference_id
        assert item.scheduled.date() >= dt.date(2025, 11, 24)
    code, third, _ = world.push()
    assert third["sent"] == 0


def _self_signed(tmp_path: Path) -> tuple[Path, Path]:
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    import ipaddress

    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def test_listen_serves_tls_and_stops_cleanly(world: World, tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, BLT_LANG="en")
    listener = subprocess.Popen(
        [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen", str(world.dir),
         "--port", str(port), "--tls-cert", str(cert), "--tls-key", str(key)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert listener.stdout is not None
        line = listener.stdout.readline()
        assert line.startswith(f"Listening on https://127.0.0.1:{port}")
        world.push(*FAST, "--callback-url", f"https://127.0.0.1:{port}/on-disburse")
        body = world.payer.envelope("T", [])
        with httpx.Client(verify=ssl.create_default_context(cafile=str(cert))) as client:
            answer = client.post(f"https://127.0.0.1:{port}/on-disburse", json=body,
                                 headers={"Authorization":
                                          f"Bearer {world.payer.callback_token}"})
        assert answer.status_code == 200 and answer.json()["message"]["ack"]["status"] == "ACK"
        with pytest.raises(httpx.HTTPError):
            httpx.post(f"http://127.0.0.1:{port}/on-disburse", json=body, timeout=5)
    finally:
        listener.send_signal(signal.SIGTERM)
        out, err = listener.communicate(timeout=30)
    assert listener.returncode == 0, err
    assert "Stopped:" in out
    # The receiver's own lines, and no other library's INFO chatter (the schema check's).
    assert "/on-disburse message=" in err, err
    assert "alembic" not in err and "Context impl" not in err, err
    bad = subprocess.run(
        [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen", str(world.dir),
         "--port", str(port), "--tls-cert", str(tmp_path / "none.pem"), "--tls-key",
         str(key)], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1
    one_error_line(bad.stderr, "pos_tls")


@pytest.mark.parametrize("lang", ["id", "en"])
@pytest.mark.parametrize("argv", [
    ["push", "--endpoint", "http://127.0.0.1:9", "--timeout", "-1"],
    ["push", "--endpoint", "http://127.0.0.1:9", "--max-wait", "nan"],
    ["pull", "--endpoint", "http://127.0.0.1:9", "--max-wait", "0"],
    ["listen", "--publish-every", "-1"],
    ["listen", "--rate", "0"],
    ["push", "--endpoint", "ftp://127.0.0.1:9"],
])
def test_bad_numbers_and_urls_are_usage_errors_in_the_chosen_language(
        tmp_path: Path, lang: str, argv: list[str]) -> None:
    """Before, ``--timeout -1`` and ``--publish-every -1`` ended in ``error [internal]``
    (a ValueError once running: the receiver had already said it was listening), and the
    URL refusal was English only."""
    result = subprocess.run(
        [sys.executable, "-m", "blt_status.cli", "--lang", lang, "central", "pos", argv[0],
         str(tmp_path / "c"), *argv[1:]],
        env=dict(os.environ, BLT_LANG=lang), capture_output=True, text=True, timeout=60)
    assert result.returncode == 2, result.stderr
    one_error_line(result.stderr, "usage")
    words = {"id": ("bukan angka di atas", "harus diawali"),
             "en": ("is not a number above", "must start with")}[lang]
    assert any(word in result.stderr for word in words), result.stderr


def test_a_second_push_says_everything_was_delivered_before(world: World) -> None:
    code, report, err = world.push()
    assert code == 0, err
    code, out, err = run(world.capsys, "central", "pos", "push", world.dir, "--endpoint",
                         world.payer.url, *FAST)
    assert code == 0, err
    assert f"delivered by an earlier push: {report['messages_sent']} messages" in out, out


def test_every_pos_option_says_what_it_is() -> None:
    """``--payer-key``, ``--callback-token-file``, ``--endpoint``, ``--host``, ``--port`` and the
    TLS files showed in ``--help`` with no text at all (the catalog test checks that every
    help text has its Indonesian translation)."""
    import argparse

    from blt_status.cli import build_parser

    def subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        return dict(action.choices)

    pos = subparsers(subparsers(build_parser())["central"])["pos"]
    missing = [f"{name} {action.option_strings[0]}"
               for name, parser in subparsers(pos).items() for action in parser._actions
               if action.option_strings and not action.help]
    assert missing == []


def test_an_older_version_pushed_later_does_not_replace_a_newer_instruction(
        world: World, tmp_path: Path) -> None:
    """Version 2 (programme moved three days later) is pushed; then the admin pushes the
    never-pushed version 1 with --version 1. Before, its stale 21 November slots went out after
    the 24 November ones and, the payer keeping the last instruction it gets, replaced them."""
    files = write_world(tmp_path / "inputs2", people=PEOPLE)
    files.program.write_text(DEMO_PROGRAM_TOML.replace("start = 2025-11-21",
                                                       "start = 2025-11-24"))
    published = publish_files(CentralStore.open(world.dir), files.recipients,
                              files.payout_points, files.program, workers=1, allow_shrink=True)
    assert published.version == 2
    code, second, err = world.push()
    assert code == 0 and second["version"] == 2 and second["sent"] > 0, err
    calls = world.payer.disburse_calls
    code, first, err = world.push("--version", "1")
    assert code == 0, err
    assert first["sent"] == 0 and first["skipped_newer"] == second["sent"]
    assert world.payer.disburse_calls == calls
    assert all(item.scheduled.date() >= dt.date(2025, 11, 24)
               for item in world.payer.all_instructions())
    code, out, _ = run(world.capsys, "central", "pos", "push", world.dir, "--endpoint",
                       world.payer.url, "--version", "1", *FAST)
    assert code == 0
    assert (f"  not sent: {second['sent']} already sent with a newer version (the payer keeps "
            "the last instruction it got)") in out.splitlines()


def _pushed_for_callbacks(world: World) -> tuple[int, str, set[str]]:
    """A free loopback port, the instructions pushed with their callback URL on it, and the
    first transaction with its recipients' NIKs."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = world.push(*FAST, "--callback-url", f"http://127.0.0.1:{port}/on-disburse")
    assert code == 0, err
    transaction = sorted(world.payer.instructions)[0]
    paid = {item.nik for item in world.payer.instructions[transaction].values()}
    assert paid
    return port, transaction, paid


@contextlib.contextmanager
def _listening(world: World, port: int) -> Iterator[subprocess.Popen[str]]:
    """``central pos listen`` on ``port`` (publishing only when it stops), past its ready
    line; killed on the way out if a test left it running."""
    listener = subprocess.Popen(
        [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen", str(world.dir),
         "--port", str(port), "--publish-every", "3600"],
        env=dict(os.environ, BLT_LANG="en"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True)
    try:
        assert listener.stdout is not None
        assert listener.stdout.readline().startswith("Listening on")
        yield listener
    finally:
        if listener.poll() is None:
            listener.kill()
            listener.wait()


def test_listen_stops_cleanly_when_signalled_as_soon_as_it_says_listening(
        world: World, tmp_path: Path) -> None:
    """A supervisor may stop the receiver the moment it prints its ready line. Before, the line
    came before the SIGINT/SIGTERM handlers were installed: a signal sent right then killed
    the process (-15, nothing flushed, no "Stopped:" line) or ended it as "cancelled" (130).
    Now the line comes only once the socket accepts and the handlers are in place. The race
    is run several times, with SIGTERM and SIGINT; in one round a callback acknowledged just
    before the signal must be in the ledger and in the totals."""
    port, transaction, paid = _pushed_for_callbacks(world)
    env = dict(os.environ, BLT_LANG="en")
    for round_, signum in enumerate([signal.SIGTERM, signal.SIGINT] * 3):
        listener = subprocess.Popen(
            [sys.executable, "-m", "blt_status.cli", "central", "pos", "listen",
             str(world.dir), "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            assert listener.stdout is not None
            line = listener.stdout.readline()  # unbuffered: the signal follows at once
            if round_ == 1:
                answers = world.payer.send_callbacks(transaction)
                assert [answer.status_code for answer in answers] == [200]
            listener.send_signal(signum)
            out_bytes, err_bytes = listener.communicate(timeout=30)
        finally:
            if listener.poll() is None:
                listener.kill()
                listener.wait()
        out, err = out_bytes.decode(), err_bytes.decode()
        assert line.decode().startswith(f"Listening on http://127.0.0.1:{port}"), (line, err)
        assert listener.returncode == 0, (round_, signum, listener.returncode, err)
        recorded = len(paid) if round_ == 1 else 0
        assert f"Stopped: {recorded} payout facts recorded" in out, (round_, out, err)
        assert "Traceback" not in err and "cancelled" not in err, err
    state = world.state()
    assert {nik for nik, (status, _, _) in state.items() if status == "collected"} == paid


def test_listen_told_twice_to_stop_stops_now_and_loses_nothing(world: World, tmp_path: Path
                                                                ) -> None:
    """Ctrl-C, then Ctrl-C again while a callback waits for another process's ingest (up to
    30 s): the receiver stops at once instead of waiting out that callback -- which is not
    recorded and not acknowledged, so the payer sends it again -- and skips its final
    publish. Nothing is lost: the message sent again is recorded by the next receiver."""
    from blt_status._fs import try_lock

    port, transaction, paid = _pushed_for_callbacks(world)
    version = world.version()
    answers: list[object] = []

    def send() -> None:
        try:
            answers.extend(world.payer.send_callbacks(transaction))
        except httpx.HTTPError as error:  # the connection closed under it: no ACK either
            answers.append(error)

    with _listening(world, port) as listener, \
            try_lock(world.dir / "private" / "pos" / "ingest.lock") as held:
        assert held
        sender = threading.Thread(target=send)
        sender.start()
        time.sleep(1.0)  # the callback is checked and waits for the lock
        listener.send_signal(signal.SIGINT)
        time.sleep(0.5)
        assert listener.poll() is None  # the first stop waits for it
        asked = time.monotonic()
        listener.send_signal(signal.SIGINT)
        out, err = listener.communicate(timeout=20)
        stopped_in = time.monotonic() - asked
        assert listener.returncode == 0, err
        sender.join(timeout=30)
    assert stopped_in < 10, (stopped_in, err)  # not the 30 s the lock wait allows
    assert "Stopped: 0 payout facts recorded" in out, (out, err)
    assert "stopping now" in err and "Traceback" not in err, err
    assert [getattr(answer, "status_code", None) for answer in answers] in ([503], [None])
    assert world.version() == version  # no final publish
    assert not any(status == "collected" for status, _, _ in world.state().values())

    # The payer sends it again to the next receiver: recorded.
    with _listening(world, port) as again:
        assert [answer.status_code for answer in world.payer.send_callbacks(transaction)] \
            == [200]
        again.send_signal(signal.SIGTERM)
        out, err = again.communicate(timeout=60)
    assert f"Stopped: {len(paid)} payout facts recorded" in out, (out, err)
    state = world.state()
    assert {nik for nik, (status, _, _) in state.items() if status == "collected"} == paid


def test_listen_answers_a_callback_in_flight_before_it_stops(world: World, tmp_path: Path
                                                              ) -> None:
    """SIGTERM while a callback waits for the ingest lock (another process's ingest): the
    receiver stops accepting, lets that callback finish -- recorded, acknowledged, counted,
    published -- and only then exits. Before, its connection was closed under it: the payer
    got no ACK, and the fact was missing from the totals and the final publish."""
    from blt_status._fs import try_lock

    port, transaction, paid = _pushed_for_callbacks(world)
    version = world.version()
    answers: list[httpx.Response] = []
    with _listening(world, port) as listener:
        with try_lock(world.dir / "private" / "pos" / "ingest.lock") as held:
            assert held
            sender = threading.Thread(
                target=lambda: answers.extend(world.payer.send_callbacks(transaction)))
            sender.start()
            time.sleep(1.0)  # the callback is checked and waits for the lock
            listener.send_signal(signal.SIGTERM)
            time.sleep(0.5)  # the receiver has begun to stop
            assert listener.poll() is None
        sender.join(timeout=30)
        out, err = listener.communicate(timeout=30)
    assert [answer.status_code for answer in answers] == [200], err
    assert listener.returncode == 0, err
    assert f"Stopped: {len(paid)} payout facts recorded" in out, (out, err)
    state = world.state()
    assert {nik for nik, (status, _, _) in state.items() if status == "collected"} == paid
    assert world.version() == version + 1  # the final publish took the fact along
