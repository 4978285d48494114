"""The three commands as a person meets them: their language, usage errors, --version, pipes.

Everything runs the installed console scripts in a child process (a real pipe, a real
environment), except where the test is about ``cli.main`` itself.
"""

from __future__ import annotations

import http.server
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import pytest

from blt_status import __version__

BIN = Path(sys.executable).parent
NIK = "3201014505900001"
COMMANDS = ("blt-status", "blt-tui", "blt-bot")


def env(**extra: str) -> dict[str, str]:
    clean = {key: value for key, value in os.environ.items() if not key.startswith("BLT_")}
    return {**clean, **extra}


def run(*args: str, lang: str | None = None, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(BIN / args[0]), *args[1:]], capture_output=True, text=True,
                          env=env(**({"BLT_LANG": lang} if lang else {})), timeout=60,
                          check=False, **kwargs)  # type: ignore[call-overload]


# -- usage errors and --version ---------------------------------------------------------------

USAGE_MISTAKES = [
    ("blt-status", "lookup"),  # missing NIK and --data-dir
    ("blt-status", "sync"),  # missing --data-dir
    ("blt-status", "nik"),
    ("blt-status", "central", "publish", "x"),
    ("blt-status", "frobnicate"),
    ("blt-status", "--lang", "xx", "nik", NIK),
    ("blt-tui", "--nope"),
    ("blt-bot", "--workers", "many"),
    ("blt-status", "central", "publish", "x", "--recipients", "r", "--payout-points", "p",
     "--program", "t", "--workers", "0"),
    ("blt-status", "central", "serve", "x", "--port", "99999"),
]


@pytest.mark.parametrize("args", USAGE_MISTAKES, ids=" ".join)
def test_every_usage_error_is_one_coded_line_in_indonesian(args: tuple[str, ...]) -> None:
    done = run(*args)
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error [usage]: {args[0]}")
    assert re.search(r"wajib diisi|tidak dikenal|tidak sah|pilihan|bukan bilangan bulat dari",
                     lines[0]), lines[0]
    assert not re.search(r"required|unrecognized|invalid|usage:", lines[0]), lines[0]


def test_usage_errors_in_english_with_lang_en_or_blt_lang() -> None:
    assert run("blt-status", "--lang", "en", "lookup").stderr.startswith(
        "error [usage]: blt-status lookup: the following arguments are required: NIK")
    assert "unrecognized arguments: --nope" in run("blt-tui", "--nope", lang="en").stderr
    assert "invalid int value: 'many'" in run("blt-bot", "--workers", "many", lang="en").stderr
    assert "--port: '70000' is not a whole number from 0 to 65535" in run(
        "blt-status", "central", "serve", "x", "--port", "70000", lang="en").stderr


@pytest.mark.parametrize("command", COMMANDS)
def test_version_works_on_all_three_commands(command: str) -> None:
    done = run(command, "--version")
    assert (done.returncode, done.stdout.strip()) == (0, f"{command} {__version__}")


@pytest.mark.parametrize("command", COMMANDS)
def test_help_is_indonesian_by_default_and_english_on_request(command: str) -> None:
    indonesian = run(command, "--help")
    assert indonesian.returncode == 0
    assert indonesian.stdout.startswith(f"penggunaan: {command}")
    assert "opsi:" in indonesian.stdout and "tampilkan bantuan ini lalu keluar" in indonesian.stdout
    for english in ("usage:", "options:", "show this help message", "the device's data dir",
                    "default:"):
        assert english not in indonesian.stdout
    english = run(command, "--lang", "en", "--help")
    assert english.stdout.startswith(f"usage: {command}")
    assert "show this help message and exit" in english.stdout
    assert "penggunaan" not in english.stdout and "tampilkan" not in english.stdout
    assert run(command, "--help", lang="en").stdout == english.stdout


def test_subcommand_help_is_translated_too() -> None:
    done = " ".join(run("blt-status", "sync", "--help").stdout.split())
    assert "Unduh versi bertanda tangan terbaru" in done and "direktori data perangkat" in done
    central = " ".join(run("blt-status", "central", "init", "--help").stdout.split())
    assert "Buat penyimpanan pusat baru" in central and "BUKAN UNTUK DATA ASLI" in central


# -- a closed pipe -----------------------------------------------------------------------------

def run_into_closed_pipe(*args: str) -> tuple[int, str]:
    """Run with stdout a pipe whose reader has already gone (what ``| head`` leaves)."""
    reader, writer = os.pipe()
    os.close(reader)
    try:
        done = subprocess.run([str(BIN / args[0]), *args[1:]], stdout=writer,
                              stderr=subprocess.PIPE, text=True, env=env(), timeout=60,
                              check=False)
    finally:
        os.close(writer)
    return done.returncode, done.stderr


@pytest.mark.parametrize(("args", "status"), [
    (("blt-status", "nik", NIK), 0),
    (("blt-status", "nik", "--json", NIK), 0),
    (("blt-status", "--help"), 0),
    (("blt-status", "nik", "--json", "123"), 1),
])
def test_a_closed_pipe_ends_quietly_with_the_normal_status(args: tuple[str, ...],
                                                           status: int) -> None:
    returncode, stderr = run_into_closed_pipe(*args)
    assert returncode == status
    assert "BrokenPipe" not in stderr and "Traceback" not in stderr and "internal" not in stderr
    if status:
        assert stderr.startswith("error [length]: ")  # the error itself still reaches stderr


def test_a_long_answer_cut_by_head_ends_quietly(tmp_path: Path) -> None:
    """``blt-status central demo-data … | head -1``: more output than a pipe buffer holds."""
    shell = (f"{shlex.quote(str(BIN / 'blt-status'))} central demo-data "
             f"{shlex.quote(str(tmp_path / 'demo'))} --kabupaten 32.01 --recipients 40 --json "
             "| head -c 1; echo \" ${PIPESTATUS[0]}\"")
    done = subprocess.run(["bash", "-c", shell], capture_output=True, text=True, env=env(),
                          timeout=120, check=False)
    assert done.stdout == "{ 0\n"
    assert done.stderr == ""


# -- cli.main and the process environment --------------------------------------------------

def test_cli_main_chooses_the_language_without_writing_os_environ(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    from blt_status.cli import main
    from blt_status.i18n import current_lang

    monkeypatch.delenv("BLT_LANG", raising=False)
    before = dict(os.environ)
    assert main(["--lang", "en", "nik", NIK]) == 0
    assert "Birth date" in capsys.readouterr().out
    assert dict(os.environ) == before
    assert main(["nik", NIK]) == 0  # the next call without --lang is Indonesian again
    assert "Tanggal lahir" in capsys.readouterr().out and current_lang() == "id"


# -- central enroll --bot: the hint gives a bot that starts -------------------------------------

@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A published central store (test KDF) served on loopback: (store, URL)."""
    public = tmp_path / "central" / "public"  # made by `central init` below
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(public))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield tmp_path / "central", f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_following_the_enroll_bot_hint_gives_a_bot_that_starts(
        tmp_path: Path, served: tuple[Path, str]) -> None:
    from bots.app import make_engine
    from bots.config import BotConfig

    central, url = served
    demo = tmp_path / "demo"
    for args in (["central", "demo-data", str(demo), "--kabupaten", "32.01", "--recipients",
                  "30"],
                 ["central", "init", str(central), "--kdf", "test", "--url", url, "--json"]):
        assert run("blt-status", *args).returncode == 0
    published = run("blt-status", "central", "publish", str(central), "--recipients",
                    str(demo / "recipients.csv"), "--payout-points",
                    str(demo / "payout_points.csv"), "--program", str(demo / "program.toml"))
    assert published.returncode == 0, published.stderr
    bundle = tmp_path / "bot.bundle"
    done = run("blt-status", "central", "enroll", str(central), "--bot", "--out", str(bundle))
    assert done.returncode == 0, done.stderr
    assert "BLT_BOT_PEPPER_FILE" in done.stdout and "--pepper-file" in done.stdout
    commands = re.findall(r"`(blt-status [^`]+)`", done.stdout)
    assert [shlex.split(command)[1] for command in commands] == ["init", "sync"]
    device_dir, pepper = tmp_path / "bot", tmp_path / "secret" / "pepper"
    pepper.parent.mkdir()
    for command in commands:  # exactly as printed, with D and the pepper path filled in
        words = [word if word != "D" else str(device_dir) for word in shlex.split(command)]
        words = [str(pepper) if word == "/etc/blt-bot/pepper" else word for word in words]
        step = run(*words)
        assert step.returncode == 0, (command, step.stderr)
    engine = make_engine(BotConfig(), device_dir, console=True)  # no passphrase: it starts
    engine.close()


def test_the_bot_hint_says_where_to_sync_from_when_the_bundle_has_no_url() -> None:
    from blt_status.commands.central import install_hint

    assert "`blt-status sync --data-dir D --from URL`" in install_hint("b", bot=True,
                                                                      has_url=False)
    assert "`blt-status sync --data-dir D`" in install_hint("b", bot=True, has_url=True)
    assert "--pepper-file" not in install_hint("b", bot=False)
