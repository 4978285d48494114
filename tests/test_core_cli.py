"""`blt-status nik` and `blt-status lookup` as a user runs them: real processes, real files."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import NOT_LISTED_NIK, PASSPHRASE, PEOPLE


def run(*args: str, env: dict[str, str] | None = None, stdin: str | None = None,
        ) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BLT_")}
    environment.update(env or {})
    return subprocess.run([sys.executable, "-m", "blt_status.cli", *args], capture_output=True,
                          text=True, env=environment, input=stdin, timeout=60)


def assert_one_line_error(result: subprocess.CompletedProcess[str], code: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error [{code}]: ")


def test_nik_text_and_json() -> None:
    text = run("nik", "3201 0145 0590 0001")
    assert text.returncode == 0
    assert "Cibinong" in text.stdout and "perempuan" in text.stdout
    assert "3201014505900001" not in text.stdout
    data = json.loads(run("nik", "3201014505900001", "--json").stdout)
    assert data["valid"] is True and data["error"] is None
    assert data["province"]["code"] == "32" and data["kabupaten"]["name"] == "Kabupaten Bogor"
    assert data["kecamatan"] == {"code": "32.01.01", "name": "Cibinong", "historical": False}
    assert data["birth_date"] == "1990-05-05" and data["sex"] == "F"
    english = run("--lang", "en", "nik", "3201010505900001")
    assert "male" in english.stdout and "Birth date" in english.stdout


@pytest.mark.parametrize(("raw", "code"), [("320101450590001", "length"),
                                           ("32010145059O0001", "not_digits"),
                                           ("9901014505900001", "province"),
                                           ("3201013202900001", "birth_date")])
def test_nik_rejections(raw: str, code: str) -> None:
    result = run("nik", raw, "--json")
    assert_one_line_error(result, code)
    data = json.loads(result.stdout)
    assert data["valid"] is False and data["error"] == code and data["message"]


def test_lookup_found_and_not_found(make_device) -> None:
    device = make_device(backend="sqlite")
    env = {"BLT_PASSPHRASE": PASSPHRASE}
    found = run("lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir), "--json", env=env)
    assert found.returncode == 0, found.stderr
    data = json.loads(found.stdout)
    assert (data["found"], data["status"], data["amount"]) == (True, "scheduled", 600_000)
    assert data["schedule"]["mode"] == "kantor_pos" and data["payout_point"]["name"]
    text = run("lookup", "3201-0145-0590-0001", "--data-dir", str(device.data_dir), env=env)
    assert "Siti Aminah" in text.stdout and "Rp600.000" in text.stdout
    assert "Senin, 24 November 2025, 08:00–09:00" in text.stdout
    assert "BUKAN UNTUK DATA ASLI" in text.stdout  # the test KDF profile is labelled
    missing = run("lookup", NOT_LISTED_NIK, "--data-dir", str(device.data_dir), "--json",
                  env=env)
    assert missing.returncode == 0 and json.loads(missing.stdout)["found"] is False
    missing_text = run("--lang", "en", "lookup", NOT_LISTED_NIK, "--data-dir",
                       str(device.data_dir), env=env)
    assert "not found" in missing_text.stdout and "Possible reasons" in missing_text.stdout


def test_lookup_failures_are_one_line_with_a_code(make_device, tmp_path: Path) -> None:
    device = make_device()
    data_dir = str(device.data_dir)
    good = {"BLT_PASSPHRASE": PASSPHRASE}

    def unchanged_state() -> dict:
        """Every file but the audit records (attempts are audited: blt_status.audit)."""
        files = {p: p.read_bytes() for p in device.data_dir.rglob("*") if p.is_file()
                 and "audit" not in p.relative_to(device.data_dir).parts
                 and p.name not in ("keyring.json", "unlock-failures.json")}
        keyring = json.loads((device.data_dir / "keyring.json").read_bytes())
        keyring.pop("audit_mark", None)
        return {**files, "keyring": keyring}

    before = unchanged_state()

    assert_one_line_error(run("lookup", "1234", "--data-dir", data_dir, env=good), "length")
    invalid_json = run("lookup", "1234", "--data-dir", data_dir, "--json", env=good)
    assert json.loads(invalid_json.stdout)["error"]["code"] == "length"
    assert_one_line_error(run("lookup", PEOPLE[0].nik, "--data-dir", data_dir,
                              env={"BLT_PASSPHRASE": "salah"}), "wrong_passphrase")
    assert_one_line_error(run("lookup", PEOPLE[0].nik, "--data-dir", data_dir, stdin=""),
                          "passphrase_required")
    assert_one_line_error(run("lookup", PEOPLE[0].nik, "--data-dir", str(tmp_path / "none"),
                              env=good), "not_installed")
    a_file = tmp_path / "a-file"  # a file named as D (it was "device.json is corrupt")
    a_file.write_text("x")
    for command in (["lookup", PEOPLE[0].nik], ["status"], ["sync", "--from", str(tmp_path)]):
        assert_one_line_error(run(*command, "--data-dir", str(a_file), env=good),
                              "not_installed")
    # nothing on disk changed through all of that, but the audit of the attempts
    assert unchanged_state() == before

    device.current_index_path().write_bytes(b"\x00garbage")
    assert_one_line_error(run("lookup", PEOPLE[0].nik, "--data-dir", data_dir, env=good),
                          "index_corrupt")
    device.current_index_path().unlink()
    assert_one_line_error(run("lookup", PEOPLE[0].nik, "--data-dir", data_dir, env=good),
                          "index_missing")


def test_every_command_has_help() -> None:
    from blt_status.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    assert {"nik", "lookup"} <= set(commands)
    for name in commands:
        result = run(name, "--help")
        assert result.returncode == 0 and "penggunaan: blt-status" in result.stdout


def test_status_says_what_is_wrong_with_the_index_in_the_readers_language(make_device) -> None:
    """`status` of a device whose index is gone or damaged: the reason in Indonesian by default
    (it printed the English sentence whatever the language), in English with --lang en; one
    coded line on stderr and exit 1 (it exited 0, so a script saw a healthy device)."""
    device = make_device()
    data_dir = str(device.data_dir)
    healthy = run("status", "--data-dir", data_dir)
    assert healthy.returncode == 0 and healthy.stderr == "", healthy.stderr
    device.current_index_path().write_bytes(b"\x00garbage")
    damaged = run("status", "--data-dir", data_dir)
    assert_one_line_error(damaged, "index_corrupt")
    assert damaged.returncode == 1 and "error [index_corrupt]: Berkas data " in damaged.stderr
    assert "Perangkat:" in damaged.stdout and "error" not in damaged.stdout, damaged.stdout
    damaged_json = run("status", "--data-dir", data_dir, "--json")
    assert_one_line_error(damaged_json, "index_corrupt")
    assert json.loads(damaged_json.stdout)["index_error"]["code"] == "index_corrupt"
    device.current_index_path().unlink()
    missing = run("status", "--data-dir", data_dir)
    assert_one_line_error(missing, "index_missing")
    assert "error [index_missing]: Belum ada data" in missing.stderr, missing.stderr
    english = run("--lang", "en", "status", "--data-dir", data_dir)
    assert "error [index_missing]: No index in" in english.stderr, english.stderr
    as_json = run("status", "--data-dir", data_dir, "--json")
    assert as_json.returncode == 1
    assert json.loads(as_json.stdout)["index_error"]["code"] == "index_missing"


def test_status_of_a_flipped_byte_in_the_index_exits_1(make_device) -> None:
    """One byte changed inside a record (found by the build-time checksum on open): `status`
    exited 0 with the error buried in its report."""
    device = make_device()
    path = device.current_index_path()
    raw = bytearray(path.read_bytes())
    middle = raw.index(b'"b": "') + 10 if b'"b": "' in raw else raw.index(b'"b":"') + 10
    raw[middle] = ord("A") if raw[middle] != ord("A") else ord("B")
    path.write_bytes(bytes(raw))
    result = run("status", "--data-dir", str(device.data_dir))
    assert_one_line_error(result, "index_corrupt")
    assert result.returncode == 1
    # How it is damaged is said in the reader's language too (it was English in either).
    assert "(catatannya tidak cocok dengan checksum" in result.stderr, result.stderr
    english = run("--lang", "en", "status", "--data-dir", str(device.data_dir))
    assert "(its records do not match the checksum" in english.stderr, english.stderr


def test_digits_of_another_script_or_pasted_spaces_are_the_nik(make_device) -> None:
    """`lookup`/`nik` with a NIK pasted with no-break spaces or typed in full-width digits said
    "only 16 digits" although the officer saw exactly the NIK."""
    device = make_device()
    env = {"BLT_PASSPHRASE": PASSPHRASE}
    for written in ("3201\u00a00145\u00a00590\u00a00001", "３２０１０１４５０５９００００１"):
        found = run("lookup", written, "--data-dir", str(device.data_dir), "--json", env=env)
        assert found.returncode == 0, found.stderr
        assert json.loads(found.stdout)["found"] is True
        checked = run("nik", written, "--json")
        assert checked.returncode == 0 and json.loads(checked.stdout)["valid"] is True


@pytest.mark.parametrize("timeout", ["0", "-5", "nan", "inf"])
def test_a_sync_timeout_that_is_no_positive_number_is_a_usage_error(make_device,
                                                                    timeout: str) -> None:
    """`sync --timeout 0` said "the sync source is not recognised" (sync_source, exit 1)."""
    device = make_device()
    result = run("sync", "--data-dir", str(device.data_dir), f"--timeout={timeout}")
    assert result.returncode == 2, result.stderr
    assert_one_line_error(result, "usage")
    assert "--timeout" in result.stderr and "bukan jumlah detik yang positif" in result.stderr


@pytest.mark.parametrize("source", ["notaurl", "ftp://x", "http://", "https://", "http://[::1",
                                    "http://a b/", "http://127.0.0.1:99999/", "http://:80/",
                                    "http://x\n/"])
def test_a_malformed_sync_source_is_one_translated_sync_source_line(make_device,
                                                                    source: str) -> None:
    """`sync --from` with no usable address: `http://`, a bad port or bracket reached httpx and
    came back as sync_network with an English exception name; `notaurl` said "is not a URL"
    in English inside the Indonesian sentence."""
    device = make_device()
    result = run("sync", "--from", source, "--data-dir", str(device.data_dir), "--timeout", "5")
    assert_one_line_error(result, "sync_source")
    assert result.returncode == 1 and "Data lama tetap dipakai." in result.stderr
    assert "is not a URL" not in result.stderr and "Error" not in result.stderr, result.stderr
    english = run("--lang", "en", "sync", "--from", source, "--data-dir", str(device.data_dir))
    assert_one_line_error(english, "sync_source")
    assert "The previous data is still in use." in english.stderr


def test_sync_without_any_source_names_the_option(make_device) -> None:
    device = make_device()
    result = run("sync", "--data-dir", str(device.data_dir))
    assert_one_line_error(result, "sync_source")
    assert "Tidak ada sumber sinkronisasi" in result.stderr and "--from" in result.stderr


@pytest.mark.parametrize("damage", [b"", b"xx{", b"\x00\xff\xfe", b'{"format": "blt-wr'])
def test_a_damaged_keyring_file_is_keyring_corrupt(make_device, damage: bytes) -> None:
    """keyring.json that is no JSON at all said device_config ("the device file keyring.json
    is corrupt"), the code for device.json; only a well-formed but wrong one said
    keyring_corrupt."""
    device = make_device()
    (device.data_dir / "keyring.json").write_bytes(damage)
    env = {"BLT_PASSPHRASE": PASSPHRASE}
    for argv in (["lookup", PEOPLE[0].nik], ["audit", "verify"]):
        result = run(*argv, "--data-dir", str(device.data_dir), env=env)
        assert_one_line_error(result, "keyring_corrupt")
        assert result.returncode == 1


def test_a_lookup_the_audit_log_cannot_take_is_refused(make_device) -> None:
    """Every lookup on an officer device is audited: when the log cannot be written the
    result is not shown, in one coded line with the reason in the reader's language."""
    device = make_device()
    env = {"BLT_PASSPHRASE": PASSPHRASE}
    assert run("lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir), env=env) \
        .returncode == 0  # the log exists now
    log = device.data_dir / "audit" / "log.jsonl"
    log.unlink()
    log.mkdir()  # what a broken disk or a stray copy can leave
    result = run("lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir), env=env)
    assert_one_line_error(result, "audit_write")
    assert result.stdout == "" and "Siti" not in result.stderr
    assert "itu folder, bukan berkas" in result.stderr, result.stderr  # not "Is a directory"


def test_a_lookup_is_refused_before_it_runs_when_the_audit_disk_is_full(
        make_device, monkeypatch, capsys) -> None:
    """A full disk: the lookup was made and only its audit entry failed afterwards; now
    `check_loggable` refuses it first (the real command; only the free-space figure of the
    file system is faked)."""
    import os as os_module

    from blt_status.cli import main

    device = make_device()
    monkeypatch.setenv("BLT_PASSPHRASE", PASSPHRASE)
    assert main(["lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir)]) == 0
    log = device.data_dir / "audit" / "log.jsonl"

    def lookups() -> int:
        return sum(b'"action":"lookup"' in line for line in log.read_bytes().splitlines())

    before = lookups()
    capsys.readouterr()
    real = os_module.statvfs

    class Full:
        def __init__(self, path: object) -> None:
            self._real = real(path)  # type: ignore[arg-type]

        def __getattr__(self, name: str) -> object:
            return 0 if name == "f_bavail" else getattr(self._real, name)

    monkeypatch.setattr(os_module, "statvfs", Full)
    code = main(["--lang", "en", "lookup", PEOPLE[0].nik, "--data-dir", str(device.data_dir)])
    captured = capsys.readouterr()
    assert code == 1 and captured.out == "", captured.out
    assert captured.err == "error [audit_write]: The audit log cannot be written (no space " \
        "left on the disk).\n", captured.err
    assert lookups() == before  # refused, so nothing was looked up


@pytest.mark.parametrize("source", ["", "  "])
def test_a_blank_sync_source_is_refused_not_replaced_by_the_enrolled_url(make_device,
                                                                         source: str) -> None:
    """`sync --from ""` (an empty variable in a script) silently synced from the bundle's
    central URL instead of the source the officer meant to give."""
    device = make_device()
    config = device.data_dir / "device.json"
    document = json.loads(config.read_text(encoding="utf-8"))
    document["central_url"] = "http://127.0.0.1:9/public"  # nothing listens: sync_network
    config.write_text(json.dumps(document), encoding="utf-8")
    result = run("sync", "--from", source, "--data-dir", str(device.data_dir), "--timeout", "5")
    assert_one_line_error(result, "sync_source")
    assert result.returncode == 1 and '""' in result.stderr, result.stderr
