"""``blt-status central ...`` fed what a real admin feeds it: wrong paths, damaged files, keys
and numbers. Each case must end in one coded line in the chosen language, never a traceback,
never a silently wrong result."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from central_world import write_world
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from test_inputs_strict import one_line as one_error_line
from test_inputs_strict import run

from blt_status.central.publish import publish_files
from blt_status.central.store import CentralStore
from blt_status.cli import build_parser, main
from blt_status.crypto import TEST_INDEX_KDF


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[CentralStore, Path]:
    root = tmp_path_factory.mktemp("bad-input")
    world = write_world(root / "inputs")
    store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    return store, Path(report.distribution_lists[0]).parent


@pytest.fixture()
def lists(published: tuple[CentralStore, Path], tmp_path: Path) -> Path:
    """A copy of the published version's distribution lists, free to damage."""
    target = tmp_path / "distribution" / published[1].name
    shutil.copytree(published[1], target)
    return target


def a_list(folder: Path) -> Path:
    return sorted(folder.glob("*.csv"))[0]


# -- verify-list ---------------------------------------------------------------------------


def test_verify_list_of_a_missing_file_says_so(lists: Path, capsys) -> None:
    """A mistyped path is not a tampered list (which tells the counter not to pay)."""
    code, out, err = run(capsys, "central", "verify-list", lists / "KP-TIDAKADA.csv")
    assert code == 1 and out == ""
    one_error_line(err, "file_missing")
    code, out, err = run(capsys, "central", "verify-list", lists, lang="id")
    assert code == 1
    assert "adalah folder" in one_error_line(err, "file_missing")


def test_verify_list_with_a_key_that_is_no_pem_key(lists: Path, tmp_path: Path,
                                                   capsys) -> None:
    garbage = tmp_path / "key.pem"
    garbage.write_text("not a key\n", encoding="utf-8")
    code, _out, err = run(capsys, "central", "verify-list", a_list(lists), "--key", garbage)
    assert code == 1
    assert "key.pem" in one_error_line(err, "list_key_invalid")
    code, _out, err = run(capsys, "central", "verify-list", a_list(lists), "--key",
                          tmp_path / "nowhere.pem", lang="id")
    assert code == 1
    assert "tidak ditemukan" in one_error_line(err, "file_missing")


def test_verify_list_with_a_manifest_that_is_no_object(lists: Path, capsys) -> None:
    path = a_list(lists)
    path.with_name(path.stem + ".manifest.json").write_text("[1, 2]\n", encoding="utf-8")
    code, out, err = run(capsys, "central", "verify-list", path)
    assert code == 1
    assert "[list_unreadable]" in out
    one_error_line(err, "list_tampered")


def test_verify_list_json_failure_carries_the_error(lists: Path, capsys) -> None:
    """``--json`` failures print ``{"error": ...}`` and the one line too, like every command."""
    path = a_list(lists)
    text = path.read_text(encoding="utf-8").splitlines()
    del text[1]
    path.write_text("\n".join(text) + "\n", encoding="utf-8")
    code, out, err = run(capsys, "central", "verify-list", path, "--json")
    assert code == 1
    data = json.loads(out)
    assert data["valid"] is False and data["problems"]
    assert data["error"]["code"] == "list_tampered"
    one_error_line(err, "list_tampered")
    code, out, err = run(capsys, "central", "verify-list", a_list(lists).with_name(
        sorted(lists.glob("*.csv"))[-1].name), "--json")
    assert code == 0 and err == "" and "error" not in json.loads(out)


# -- input files ---------------------------------------------------------------------------


def _append_column(path: Path, name: str, value: str) -> None:
    lines = path.read_text(encoding="utf-8").splitlines()
    lines = [lines[0] + "," + name, *(line + "," + value for line in lines[1:])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_a_required_column_twice_is_refused_not_guessed(published, tmp_path: Path,
                                                        capsys) -> None:
    """A second ``nama`` pasted at the end of the sheet used to win silently: every name
    replaced by that column's text, published as a dry run showed '5 changed'."""
    store, _lists = published
    world = write_world(tmp_path / "inputs")
    _append_column(world.recipients, " NAMA ", "ZZZ")
    code, out, err = run(capsys, "central", "publish", store.directory, "--recipients",
                         world.recipients, "--payout-points", world.payout_points, "--program",
                         world.program, "--dry-run")
    assert code == 1 and out == ""
    assert "nama" in one_error_line(err, "csv_duplicate_columns")
    code, _out, err = run(capsys, "central", "publish", store.directory, "--recipients",
                          world.recipients, "--payout-points", world.payout_points,
                          "--program", world.program, "--dry-run", lang="id")
    assert "lebih dari sekali" in one_error_line(err, "csv_duplicate_columns")


def test_a_report_with_the_status_column_twice_is_refused(published, tmp_path: Path,
                                                          capsys) -> None:
    store, _lists = published
    world = write_world(tmp_path / "inputs")
    _append_column(world.report, "status", "salur")
    before = store.summary()["version"]
    code, out, err = run(capsys, "central", "ingest-payouts", store.directory, world.report,
                         "--json")
    assert code == 1
    assert json.loads(out)["error"]["code"] == "csv_duplicate_columns"
    one_error_line(err, "csv_duplicate_columns")
    assert store.summary()["version"] == before


def test_a_program_toml_not_in_utf8_gets_advice_for_a_text_file(published, tmp_path: Path,
                                                                 capsys) -> None:
    store, _lists = published
    world = write_world(tmp_path / "inputs")
    world.program.write_bytes(world.program.read_text(encoding="utf-8").encode("utf-16"))
    code, _out, err = run(capsys, "central", "publish", store.directory, "--recipients",
                          world.recipients, "--payout-points", world.payout_points,
                          "--program", world.program, "--dry-run")
    line = one_error_line(err, "toml_encoding")
    assert code == 1 and "CSV" not in line and "UTF-8" in line


# -- the file system -----------------------------------------------------------------------


def test_a_failing_write_is_explained_in_the_chosen_language(published, tmp_path: Path,
                                                             capsys) -> None:
    """The operating system's reason used to come through in English inside an Indonesian
    sentence, naming the hidden temporary file rather than the path the admin gave."""
    store, _lists = published
    folder = tmp_path / "laporan.html"
    folder.mkdir()
    code, _out, err = run(capsys, "central", "report", store.directory, "--format", "html",
                          "--out", folder, lang="id")
    line = one_error_line(err, "io_error")
    assert code == 1 and "itu folder, bukan berkas" in line
    assert f"({folder})" in line and ".tmp-" not in line and "Is a directory" not in line
    code, _out, err = run(capsys, "central", "report", store.directory, "--format", "html",
                          "--out", folder)
    assert "it is a folder, not a file" in one_error_line(err, "io_error")
    a_file = tmp_path / "lists.txt"
    a_file.write_text("", encoding="utf-8")
    code, _out, err = run(capsys, "central", "lists", store.directory, "--out", a_file,
                          lang="id")
    line = one_error_line(err, "io_error")
    assert code == 1 and "File exists" not in line and "diperlukan folder" in line


# -- numbers, dates and URLs on the command line ---------------------------------------------

CLI = [sys.executable, "-m", "blt_status.cli"]


def cli(*args: object, lang: str = "id", timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, "--lang", lang, *[str(arg) for arg in args]],
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def configured(published, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The published store with the Kantor Pos exchange configured."""
    store, _lists = published
    root = tmp_path_factory.mktemp("pos")
    key = root / "payer.pem"
    key.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    for name in ("token", "callback"):
        (root / name).write_text(f"{name}-secret\n", encoding="utf-8")
    assert main(["central", "pos", "configure", str(store.directory), "--payer-id", "KP",
                 "--payer-key", str(key), "--token-file", str(root / "token"),
                 "--callback-token-file", str(root / "callback")]) == 0
    return store.directory


@pytest.mark.parametrize(("args", "words"), [
    (("push", "--endpoint", "http://127.0.0.1:9", "--timeout", "nan"), "--timeout: nan"),
    (("push", "--endpoint", "http://127.0.0.1:9", "--max-wait", "-5"), "--max-wait: -5"),
    (("pull", "--endpoint", "http://127.0.0.1:9", "--timeout", "inf"), "--timeout: inf"),
    (("listen", "--port", "0", "--publish-every", "-1"), "--publish-every: -1"),
    (("listen", "--port", "0", "--rate", "0"), "--rate: 0"),
    (("push", "--endpoint", "ftp://127.0.0.1/x"), "harus diawali http://"),
])
def test_pos_numbers_and_urls_are_checked_before_anything_runs(configured: Path, args,
                                                               words) -> None:
    """``--timeout nan`` and ``--publish-every -1`` were internal errors (exit 70), the
    latter after the listener had already said it was listening."""
    command, *rest = args
    done = cli("central", "pos", command, configured, *rest, timeout=30)
    assert done.returncode == 2 and done.stdout == ""
    line = one_error_line(done.stderr, "usage")
    assert words in line, line


def test_reconcile_since_in_indonesian(published) -> None:
    store, _lists = published
    done = cli("central", "reconcile", store.directory, "--since", "kemarin")
    assert done.returncode == 2
    assert "bukan tanggal seperti 2025-11-24" in one_error_line(done.stderr, "usage")


def test_pos_listen_tls_half_given_in_indonesian(configured: Path) -> None:
    done = cli("central", "pos", "listen", configured, "--port", "0", "--tls-cert", "x.pem")
    assert done.returncode == 1
    line = one_error_line(done.stderr, "pos_tls")
    assert "berikan --tls-cert dan --tls-key" in line and "give both" not in line


def test_pos_listen_prints_no_schema_chatter(configured: Path) -> None:
    """The admin saw alembic's 'setup plugin ...' and 'Context impl SQLiteImpl.' lines."""
    listener = subprocess.Popen([*CLI, "central", "pos", "listen", str(configured), "--port",
                                 "0"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
    try:
        assert listener.stdout is not None
        line = listener.stdout.readline()
        assert line.startswith("Mendengarkan di http://127.0.0.1:")
        url = line.split()[2]
        for _attempt in range(50):  # serving, so its signal handlers are in place
            try:
                httpx.get(url, timeout=5)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        time.sleep(0.5)
    finally:
        listener.send_signal(signal.SIGTERM)
        _out, err = listener.communicate(timeout=30)
    assert listener.returncode == 0, err
    assert "alembic" not in err and "SQLiteImpl" not in err and "plugin" not in err, err


# -- demo-data -----------------------------------------------------------------------------


def test_demo_data_never_overwrites_a_file(tmp_path: Path, capsys) -> None:
    """Pointed at the folder of the real inputs, it replaced recipients.csv with synthetic
    people without a word."""
    folder = tmp_path / "data"
    folder.mkdir()
    real = folder / "recipients.csv"
    real.write_text("nik,no_kk,nama\n", encoding="utf-8")
    code, out, err = run(capsys, "central", "demo-data", folder, "--recipients", "50",
                         lang="id")
    assert code == 1 and out == ""
    assert "recipients.csv" in one_error_line(err, "demo_exists")
    assert real.read_text(encoding="utf-8") == "nik,no_kk,nama\n"
    assert sorted(path.name for path in folder.iterdir()) == ["recipients.csv"]


@pytest.mark.parametrize(("args", "code", "words"), [
    (("--recipients", "5"), "demo_recipients", "from 20 to 10,000,000"),
    (("--recipients", "1000000000000"), "demo_recipients", "from 20 to 10,000,000"),
    (("--recipients", "100", "--per-kecamatan", "5"), "demo_too_small", "--per-kecamatan"),
])
def test_demo_data_sizes_are_named_by_their_option(tmp_path: Path, capsys, args, code,
                                                   words) -> None:
    """``--recipients 5`` answered 'must be at least 1', ``--per-kecamatan 5`` asked for more
    recipients, and ``--recipients 1000000000000`` ran until killed."""
    folder = tmp_path / "demo"
    exit_code, _out, err = run(capsys, "central", "demo-data", folder, *args)
    assert exit_code == 1
    assert words in one_error_line(err, code)
    assert not folder.exists()


# -- output in one language ----------------------------------------------------------------


def test_reconcile_prints_a_flags_severity_in_the_admins_language(tmp_path: Path,
                                                                   capsys) -> None:
    """Indonesian output showed ``[point_mismatch] high NIK ****0001 ...``."""
    from central_world import write_csv
    from conftest import PEOPLE

    from blt_status.central.publish import ingest_payouts

    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    report = write_csv(tmp_path / "report.csv", ["nik", "status", "waktu", "id_titik",
                                                 "keterangan"], [
        [PEOPLE[0].nik, "salur", "2025-11-24T09:30:00+07:00", "KP-GUNUNGPUTRI", ""]])
    ingest_payouts(store, report, workers=1)
    code, out, _err = run(capsys, "central", "reconcile", store.directory, lang="id")
    flag_line = next(line for line in out.splitlines() if "[point_mismatch]" in line)
    assert code == 0 and " tinggi " in flag_line and " high " not in flag_line
    code, out, _err = run(capsys, "central", "reconcile", store.directory)
    assert " high " in next(line for line in out.splitlines() if "[point_mismatch]" in line)
    code, out, _err = run(capsys, "central", "reconcile", store.directory, "--json", lang="id")
    assert {flag["severity"] for flag in json.loads(out)["flags"]} == {"high"}


# -- help ----------------------------------------------------------------------------------


def _arguments_without_help(parser: argparse.ArgumentParser, name: str) -> Iterator[str]:
    for action in parser._actions:  # argparse has no public API for this
        if isinstance(action, argparse._SubParsersAction):
            for sub_name, sub in action.choices.items():
                if f"{name} {sub_name}" != "central pos":  # its own area's options
                    yield from _arguments_without_help(sub, f"{name} {sub_name}")
        elif not action.help and action.dest != "help":
            yield f"{name} {'/'.join(action.option_strings) or action.metavar}"


def test_every_argument_of_central_has_help() -> None:
    """`central publish --help` listed ``--recipients CSV`` and ``DIR`` with no word on what
    they are; demo-data's options did not say their defaults."""
    central = build_parser()._subparsers._group_actions[0].choices["central"]  # type: ignore
    assert list(_arguments_without_help(central, "central")) == []


def test_help_of_publish_in_both_languages() -> None:
    for lang, words in (("id", "satu baris per penerima"), ("en", "one row per recipient")):
        done = cli("central", "publish", "--help", lang=lang)
        assert done.returncode == 0 and words in done.stdout, done.stdout


def test_a_dry_run_shows_the_spreadsheet_damage_warning(tmp_path: Path, capsys) -> None:
    """The check for a NIK column a spreadsheet rounded to 15 digits was printed after a real
    publish only: the dry run, made to catch exactly this, said nothing."""
    from blt_status.central.demodata import write_demo_world

    world = write_demo_world(tmp_path / "inputs", recipients=200)
    lines = world.recipients_csv.read_text(encoding="utf-8").splitlines()
    world.recipients_csv.write_text("\n".join(
        [lines[0], *(line[:15] + "0" + line[16:] for line in lines[1:])]) + "\n",
        encoding="utf-8")  # what a spreadsheet's 15 significant digits do to every NIK
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    args = ["central", "publish", store.directory, "--recipients", world.recipients_csv,
            "--payout-points", world.payout_points_csv, "--program", world.program_toml,
            "--dry-run", "--allow-rejections"]
    code, out, _err = run(capsys, *args, "--json")
    assert code == 0
    codes = [warning["code"] for warning in json.loads(out)["warnings"]]
    assert "excel_damaged_numbers" in codes
    code, out, _err = run(capsys, *args)
    assert code == 0 and "WARNING [excel_damaged_numbers]" in out
    code, out, _err = run(capsys, *args, lang="id")
    assert code == 0 and "PERINGATAN [excel_damaged_numbers]" in out


def test_lang_may_follow_the_subcommand() -> None:
    """``blt-status central status DIR --lang en`` (where an admin adds it to a command line
    already typed) was 'unrecognized arguments: --lang en'."""
    for args in (("central", "status", "nowhere", "--lang", "en"),
                 ("central", "publish", "nowhere", "--recipients", "r.csv", "--payout-points",
                  "p.csv", "--program", "p.toml", "--json", "--lang=en"),
                 ("central", "pos", "public-key", "nowhere", "--lang", "en")):
        done = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 1, done.stderr
        assert "No central store in nowhere" in one_error_line(done.stderr, "store_missing")
    done = subprocess.run([*CLI, "central", "status", "nowhere"], capture_output=True,
                          text=True, timeout=60, env={**os.environ, "BLT_LANG": "id"})
    assert "Tidak ada penyimpanan pusat" in one_error_line(done.stderr, "store_missing")
    done = subprocess.run([*CLI, "--lang", "en", "central", "status", "nowhere"],
                          capture_output=True, text=True, timeout=60)
    assert "No central store" in one_error_line(done.stderr, "store_missing")


def test_a_usage_mistake_with_json_prints_the_error_object_too() -> None:
    """``--json`` promises ``{"error": {code, message}}`` on every failure; a usage mistake
    left a script reading stdout with nothing."""
    done = subprocess.run([*CLI, "--lang", "id", "central", "publish", "nowhere", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    line = one_error_line(done.stderr, "usage")
    error = json.loads(done.stdout)["error"]
    assert error["code"] == "usage" and line.startswith(f"error [usage]: {error['message']}")
    assert "--recipients" in error["message"] and "wajib" in error["message"]
    done = subprocess.run([*CLI, "central", "publish", "nowhere"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 2 and done.stdout == ""


def test_a_database_file_overwritten_with_garbage_is_one_coded_line(tmp_path: Path) -> None:
    """central.db replaced by something that is no database (a bad restore, a truncated copy):
    every command says so in one line with a code, instead of an internal DatabaseError."""
    from central_world import write_world

    from blt_status.central import CentralStore, publish_files
    from blt_status.central.db import dispose_engines
    from blt_status.crypto import TEST_INDEX_KDF

    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    dispose_engines()
    (store.private_dir / "central.db").write_bytes(b"this is not a database\n" * 100)
    for lang, word in (("id", "rusak"), ("en", "damaged")):
        done = subprocess.run([sys.executable, "-m", "blt_status.cli", "--lang", lang,
                               "central", "reconcile", str(store.directory)],
                              capture_output=True, text=True, check=False)
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith("error [db_damaged]: ") and word in done.stderr
        assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr
