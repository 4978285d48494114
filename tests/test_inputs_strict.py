"""Strict inputs: odd numbers, absurd dates and mistyped keys are coded one-line refusals.

Each case here crashed (exit 70) or was silently accepted before: a capacity of ``²`` or of
5,000 digits, ``schedule.end = 9999-12-31``, the typos ``holiday``, ``caps``, ``min_desil`` and
``[elegibility]`` in program.toml and typos in the bot's and the TUI's settings, a NIK of
100,000 digits.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from central_world import write_world

from blt_status.central.demodata import DEMO_PROGRAM_TOML as PROGRAM_TOML
from blt_status.central.inputs import MAX_WINDOW_DAYS, load_payout_points, load_program
from blt_status.cli import main
from blt_status.errors import BltError, FileFormatError
from blt_status.nik import parse_nik
from bots.config import ConfigError, load_config
from tui.config import TuiConfig

POINTS_HEADER = "id,jenis,nama,alamat,kode_wilayah,kapasitas_per_hari,jam_buka,jam_tutup\n"
TODAY = dt.date(2025, 11, 1)


def run(capsys: pytest.CaptureFixture[str], *args: object, lang: str = "en",
        ) -> tuple[int, str, str]:
    code = main(["--lang", lang, *[str(arg) for arg in args]])
    out, err = capsys.readouterr()
    return code, out, err


def one_line(err: str, code: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"error [{code}]: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture(scope="module")
def central(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("strict") / "central"
    assert main(["central", "init", str(directory), "--kdf", "test"]) == 0
    return directory


def publish(capsys, central: Path, tmp_path: Path, *, program: str | None = None,
            capacity: str | None = None) -> tuple[int, str, str]:
    world = write_world(tmp_path / "inputs")
    if program is not None:
        world.program.write_text(program, encoding="utf-8")
    if capacity is not None:
        text = world.payout_points.read_text(encoding="utf-8")
        world.payout_points.write_text(text.replace(",40,", f",{capacity},", 1),
                                       encoding="utf-8")
    capsys.readouterr()
    return run(capsys, "central", "publish", central, "--recipients", world.recipients,
               "--payout-points", world.payout_points, "--program", world.program, "--json")


# -- numbers --------------------------------------------------------------------------------


@pytest.mark.parametrize("capacity", ["²", "1" * 5000, "٣", "0", "100001", "-5", "1e3", " "])
def test_odd_capacity_is_a_coded_refusal(tmp_path, capacity):
    path = tmp_path / "payout_points.csv"
    path.write_text(POINTS_HEADER + f"KP-X,kantor_pos,Kantor X,Jl. Y,32.01.01,{capacity},"
                    "08:00,12:00\n", encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        load_payout_points(path)
    assert caught.value.code == "payout_point_number"
    line = caught.value.line("en")
    assert "line 2" in line and "kapasitas_per_hari" in line and len(line) < 300


@pytest.mark.parametrize("capacity", ["²", "1" * 5000])
def test_odd_capacity_through_the_cli_is_one_line_not_exit_70(capsys, central, tmp_path,
                                                              capacity):
    code, out, err = publish(capsys, central, tmp_path, capacity=capacity)
    assert code not in (0, 70)
    one_line(err, "payout_point_number")
    assert json.loads(out)["error"]["code"] == "payout_point_number"


def test_unicode_digits_in_opening_hours_are_refused(tmp_path):
    path = tmp_path / "payout_points.csv"
    path.write_text(POINTS_HEADER + "KP-X,kantor_pos,Kantor X,Jl. Y,32.01.01,10,٠٨:00,12:00\n",
                    encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        load_payout_points(path)
    assert caught.value.code == "payout_points_invalid" and "jam_buka" in caught.value.en_text


def test_plain_capacity_still_reads(tmp_path):
    path = tmp_path / "payout_points.csv"
    path.write_text(POINTS_HEADER + "KP-X,kantor_pos,Kantor X,Jl. Y,32.01.01,100000,"
                    "08:00,12:00\n", encoding="utf-8")
    assert load_payout_points(path)["KP-X"].kapasitas_per_hari == 100_000


# -- dates ----------------------------------------------------------------------------------


def program_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "program.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_end_9999_is_refused_at_once(tmp_path):
    path = program_file(tmp_path, PROGRAM_TOML.replace("end = 2025-12-11", "end = 9999-12-31"))
    started = time.process_time()
    with pytest.raises(FileFormatError) as caught:
        load_program(path, today=TODAY)
    assert time.process_time() - started < 1.0  # not 2.3 s and 138 MB of dates
    assert caught.value.code == "program_window_range"
    assert "schedule.end 9999-12-31" in caught.value.line("en")


def test_end_9999_through_the_cli(capsys, central, tmp_path):
    code, _, err = publish(capsys, central, tmp_path,
                           program=PROGRAM_TOML.replace("end = 2025-12-11", "end = 9999-12-31"))
    assert code not in (0, 70)
    one_line(err, "program_window_range")


def test_window_longer_than_a_year_is_refused(tmp_path):
    path = program_file(tmp_path, PROGRAM_TOML.replace("end = 2025-12-11", "end = 2026-11-22"))
    with pytest.raises(FileFormatError) as caught:
        load_program(path, today=TODAY)
    assert caught.value.code == "program_window_length"
    assert f"at most {MAX_WINDOW_DAYS} days" in caught.value.line("en")
    year = PROGRAM_TOML.replace("end = 2025-12-11", "end = 2026-11-20")  # 365 days: fine
    assert len(load_program(program_file(tmp_path, year), today=TODAY).payout_days()) > 300


@pytest.mark.parametrize(("start", "end"), [("0001-01-01", "0001-01-05"),
                                            ("2031-01-01", "2031-01-31")])
def test_window_far_from_today_is_refused(tmp_path, start, end):
    text = PROGRAM_TOML.replace("start = 2025-11-21", f"start = {start}").replace(
        "end = 2025-12-11", f"end = {end}")
    with pytest.raises(FileFormatError) as caught:
        load_program(program_file(tmp_path, text), today=TODAY)
    assert caught.value.code == "program_window_range"


# -- unknown keys ---------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "key", "suggestion"), [
    (lambda t: t.replace("holidays = []", "holiday = [2025-11-24]"), "schedule.holiday",
     "schedule.holidays"),
    (lambda t: t.replace("months = 3", "months = 3\ncaps = 100"), "entitlement.caps",
     "entitlement.cap"),
    (lambda t: t.replace("max_desil = 4", "max_desil = 4\nmin_desil = 1"),
     "eligibility.min_desil", "eligibility.max_desil"),
    (lambda t: t.replace("[eligibility]", "[elegibility]"), "elegibility", "eligibility"),
    (lambda t: "[program]\nnmae = 'x'\n" + t.split("[program]\n", 1)[1], "program.nmae",
     "program.name"),
])
def test_program_typos_are_refused_with_the_nearest_key(tmp_path, change, key, suggestion):
    with pytest.raises(FileFormatError) as caught:
        load_program(program_file(tmp_path, change(PROGRAM_TOML)), today=TODAY)
    assert caught.value.code == "config_unknown_key"
    assert caught.value.line("en").endswith(
        f"unknown key `{key}`; did you mean `{suggestion}`?")
    assert f"maksudnya `{suggestion}`?" in caught.value.line("id")


def public_bytes(central: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in sorted((central / "public").rglob("*"))
            if path.is_file()}


def test_program_typo_through_the_cli_publishes_nothing(capsys, central, tmp_path):
    before = public_bytes(central)
    code, _, err = publish(capsys, central, tmp_path, program=PROGRAM_TOML.replace(
        "holidays = []", "holiday = [2025-11-24]"))
    assert code not in (0, 70)
    assert "did you mean `schedule.holidays`?" in one_line(err, "config_unknown_key")
    assert public_bytes(central) == before


def test_entitlement_rule_typo_is_an_unknown_key(tmp_path):
    text = PROGRAM_TOML + "[[entitlement.rules]]\nper_membre = 5\n"
    with pytest.raises(FileFormatError) as caught:
        load_program(program_file(tmp_path, text), today=TODAY)
    assert caught.value.code == "config_unknown_key"
    assert caught.value.line("en").endswith("unknown key `entitlement.rules #1: per_membre`; "
                                            "did you mean `entitlement.rules #1: per_member`?")


def test_bot_config_typos_are_refused(tmp_path):
    path = tmp_path / "blt-bot.toml"
    path.write_text('data_dir = "/srv/bot"\n[limits]\nuser_lookup = 3\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.code == "config_unknown_key"
    assert caught.value.line("en").endswith(
        "unknown key `limits.user_lookup`; did you mean `limits.user_lookups`?")
    path.write_text('langauge = "en"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert "did you mean `language`?" in caught.value.line("en")
    path.write_text('[webhok]\nurl = "https://x"\n')
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert "did you mean `webhook`?" in caught.value.line("en")


@pytest.mark.parametrize("value", ['"²"', '"' + "1" * 5000 + '"', "-1", "true", "1.5",
                                   "99999999999"])
def test_bot_config_numbers_are_ascii_digits_in_range(tmp_path, value):
    path = tmp_path / "blt-bot.toml"
    path.write_text(f"[limits]\nuser_daily = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.code == "config_number" and "user_daily" in caught.value.line("en")


def test_bot_config_cli_refuses_a_typo_in_one_line(tmp_path, capsys):
    from bots.app import main as bot_main

    path = tmp_path / "blt-bot.toml"
    path.write_text("workres = 2\n")
    assert bot_main(["--config", str(path)]) != 0
    one_line(capsys.readouterr().err, "config_unknown_key")


def test_tui_config_typo_is_refused(tmp_path):
    (tmp_path / "tui.toml").write_text("idle_lock_minute = 10\n")
    with pytest.raises(BltError) as caught:
        TuiConfig.load(tmp_path)
    assert caught.value.code == "config_unknown_key"
    assert caught.value.line("en").endswith(
        "unknown key `idle_lock_minute`; did you mean `idle_lock_minutes`?")
    (tmp_path / "tui.toml").write_text("idle_lock_minutes = 1e300\n")
    assert TuiConfig.load(tmp_path).problems  # absurd value: ignored, shown


def test_tui_refuses_a_typo_before_starting(make_device, capsys):
    from tui.app import main as tui_main

    device = make_device()
    (device.data_dir / "tui.toml").write_text('[keymp]\nlookup = "ctrl+l"\n')
    assert tui_main(["--lang", "en", "--data-dir", str(device.data_dir)]) == 1
    assert "did you mean `keymap`?" in one_line(capsys.readouterr().err, "config_unknown_key")


# -- NIK ------------------------------------------------------------------------------------


def test_a_nik_of_100000_digits_reports_length(capsys):
    with pytest.raises(BltError) as caught:
        parse_nik("1" * 100_000)
    assert caught.value.code == "length" and "100000" in caught.value.en_text
    code, out, _ = run(capsys, "nik", "1" * 100_000, "--json")
    assert code == 1 and json.loads(out)["error"] == "length"
    with pytest.raises(BltError) as caught:
        parse_nik("1" * 300 + "x")
    assert caught.value.code == "not_digits"


@pytest.mark.parametrize(("key", "value"), [("concurrent_updates", "0"),
                                            ("lookup_workers", "100000"), ("workers", "0"),
                                            ("reminder_hour", "24")])
def test_bot_config_counts_have_sane_ranges(tmp_path, key, value):
    path = tmp_path / "blt-bot.toml"
    path.write_text(f"{key} = {value}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, {})
    assert caught.value.code == "config_number" and key in caught.value.line("en")
