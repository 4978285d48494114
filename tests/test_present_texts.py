"""What people read, checked through every frontend: a slot against now, local times with
their zone, names cleaned of control and bidi characters, long names shortened, replies capped.

The core rules (``blt_status.present``, ``blt_status.timezones``) are checked directly; then the
real CLI process, the real Textual app (Pilot) and the bot engine show the same wording.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import os
import subprocess
import sys

from conftest import PASSPHRASE, PEOPLE, Person, _person
from test_tui_app import look_up, make_app, unlock

from blt_status.present import (
    clean_text,
    collected_text,
    next_steps,
    record_status_label,
    schedule_timing,
    short_text,
    timing_lines,
)
from blt_status.records import PayoutPoint, Schedule
from blt_status.timezones import WIB, WIT, WITA, local_label, zone_for_region
from bots import dialogue
from bots.engine import BotEngine, EngineSettings
from bots.limits import LimitSettings
from bots.state import BotState

SITI, BUDI, MARYAM, AGUS, DEWI = PEOPLE
PROGRAM_END = dt.date(2025, 12, 11)
EVIL = "\x1b[2J\x1b]0;pwned\x07Siti\u202e\u2066 Am\u200binah\r\nX"


def at(day: int, hour: int, minute: int = 0, tz: dt.tzinfo = WIB) -> dt.datetime:
    return dt.datetime(2025, 11, day, hour, minute, tzinfo=tz)


def with_window(record):
    return dataclasses.replace(record, program=dataclasses.replace(record.program,
                                                                   end=PROGRAM_END))


# -- the core rules --------------------------------------------------------------------------


def test_zones_follow_the_province():
    assert zone_for_region("32.01.01.1001") is WIB and zone_for_region("3201014505900001") is WIB
    assert zone_for_region("73.71.01") is WITA and zone_for_region("51") is WITA
    assert zone_for_region("91.01") is WIT and zone_for_region("96") is WIT
    assert zone_for_region("") is WIB and zone_for_region("00") is WIB
    moment = dt.datetime(2025, 11, 21, 2, 31, tzinfo=dt.UTC)
    assert [local_label(moment, code) for code in ("32", "73", "94")] == \
        ["09:31 WIB", "10:31 WITA", "11:31 WIT"]


def test_a_slot_in_time_from_upcoming_to_after_the_window():
    siti = with_window(SITI.payload)  # Monday 24 November 2025, 08:00-09:00 WIB
    phases = [schedule_timing(siti, moment).phase for moment in (
        at(23, 20), at(24, 7, 59), at(24, 8), at(24, 8, 59), at(24, 9), dt.datetime(
            2025, 12, 11, 23, 59, tzinfo=WIB), dt.datetime(2025, 12, 12, 0, 0, tzinfo=WIB))]
    assert phases == ["upcoming", "today", "now", "now", "missed", "missed", "closed"]
    # the comparison is in the payout point's zone: 08:30 WIB is 01:30 UTC
    assert schedule_timing(siti, dt.datetime(2025, 11, 24, 1, 30, tzinfo=dt.UTC)).phase == "now"
    assert record_status_label(siti, at(23, 20)) == "Terjadwal — belum diambil"
    assert record_status_label(siti, at(25, 9)) == "Jadwal sudah lewat — belum diambil"
    assert record_status_label(siti, at(25, 9), "en") == "Slot passed — not collected"
    assert next_steps(siti, "id", at(25, 9)) == [
        "Jadwal Anda (Senin, 24 November 2025, 08:00–09:00 WIB) sudah lewat dan bantuan belum "
        "diambil.",
        "Anda masih bisa datang sampai Kamis, 11 Desember 2025 ke Kantor Pos Cibinong (Jl. Raya "
        "Bogor No. 12, Cibinong) pada jam buka, dengan membawa dokumen yang disebutkan."]
    after = dt.datetime(2025, 12, 15, 10, tzinfo=WIB)
    assert record_status_label(siti, after) == "Belum diambil — masa penyaluran berakhir"
    assert next_steps(siti, "en", after)[1] == (
        "The payout period ended on Thursday, 11 December 2025. Contact the desa officer or "
        "the Kantor Pos, or call Kemensos 171 (free).")
    # a collected, held or returned record is not 'late'
    assert timing_lines(with_window(BUDI.payload), after) == []
    assert record_status_label(with_window(AGUS.payload), after) == "Ditahan — perlu tindakan"


def test_home_delivery_window_and_a_slot_in_another_zone():
    maryam = with_window(MARYAM.payload)  # antar, 25-29 November
    assert schedule_timing(maryam, at(27, 12)).phase == "now"
    assert timing_lines(maryam, at(27, 12)) == [
        "Masa pengantaran ke rumah berlangsung sampai Sabtu, 29 November 2025."]
    assert schedule_timing(maryam, at(30, 0, 1)).phase == "missed"
    makassar = dataclasses.replace(with_window(SITI.payload), kode_wilayah="73.71.01.1001")
    # 08:30 WIB is 09:30 WITA: after a 08:00-09:00 WITA slot
    assert schedule_timing(makassar, at(24, 8, 30)).phase == "missed"
    assert "08:00–09:00 WITA" in timing_lines(makassar, at(24, 8, 30))[0]


def test_collection_time_is_local_with_its_zone():
    budi = BUDI.payload  # collected 09:17 UTC
    assert collected_text(budi) == "Jumat, 21 November 2025 16:17 WIB, Balai Desa Sukahati"
    makassar = dataclasses.replace(budi, kode_wilayah="73.71.01.1001")
    assert collected_text(makassar, "en") == (
        "Friday, 21 November 2025 17:17 WITA, Balai Desa Sukahati")


def test_control_and_bidi_characters_are_stripped_and_long_text_shortened():
    assert clean_text(EVIL) == "[2J]0;pwnedSiti Aminah X"
    assert not any(char in clean_text(EVIL) for char in "\x1b\x07\u202e\u2066\u200b\r\n")
    assert short_text("Siti " * 40, 20) == "Siti Siti Siti Siti…"
    assert len(short_text("A" * 98_000)) == 60


# -- through the frontends -------------------------------------------------------------------

MAKASSAR_POINT = PayoutPoint("KP-MARISO", f"Kantor Pos {EVIL}", f"Jl. Nusantara\u202e 1, {EVIL}",
                             "kantor_pos")


def _makassar_person() -> Person:
    return _person("7371014505900001", "7371010101100001", f"Siti {EVIL}", "73.71.01",
                   "73.71.01.1001", "collected",
                   Schedule(dt.date(2025, 11, 21), dt.time(9), dt.time(10), "kantor_pos"),
                   MAKASSAR_POINT, collected_at=dt.datetime(2025, 11, 21, 1, 31, tzinfo=dt.UTC),
                   collected_point_id="KP-MARISO")


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    environment = {k: v for k, v in os.environ.items() if not k.startswith("BLT_")}
    environment["BLT_PASSPHRASE"] = PASSPHRASE
    return subprocess.run([sys.executable, "-m", "blt_status.cli", *args], capture_output=True,
                          text=True, env=environment, timeout=60)


def test_cli_lookup_says_when_and_where_collected_in_local_time_and_prints_no_controls(
        make_device):
    device = make_device(regions=("73.71.01",), people=[_makassar_person()])
    result = _cli("lookup", "7371 0145 0590 0001", "--data-dir", str(device.data_dir))
    assert result.returncode == 0, result.stderr
    assert "  Diambil: Jumat, 21 November 2025 09:31 WITA, Kantor Pos [2J]0;pwnedSiti " \
        "Aminah X\n" in result.stdout
    assert "UTC" not in result.stdout
    assert not any(char in result.stdout for char in "\x1b\x07\u202e\u2066\u200b\r")


def test_cli_lookup_of_a_past_slot_says_so(make_device):
    device = make_device()  # the test world's 2025 dates are in the past of the real clock
    result = _cli("lookup", SITI.nik, "--data-dir", str(device.data_dir))
    assert result.returncode == 0, result.stderr
    assert "  Status: Jadwal sudah lewat — belum diambil\n" in result.stdout
    assert "  Jadwal: Senin, 24 November 2025, 08:00–09:00 WIB\n" in result.stdout
    assert "Datang sesuai jam" not in result.stdout
    assert "Tanyakan ke operator desa atau Kantor Pos apakah Anda masih bisa datang" \
        in result.stdout


async def test_tui_card_shows_local_times_the_past_slot_and_clean_names(make_device):
    device = make_device(regions=("32.01.01",))
    after_slot = dt.datetime(2025, 11, 25, 3, 0, tzinfo=dt.UTC)
    app = make_app(device, clock=lambda: after_slot)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot)
        shown = await look_up(app, pilot, BUDI.nik)
        assert "Diambil: Jumat, 21 November 2025 16:17 WIB, Balai Desa Sukahati" in shown
        assert "UTC" not in shown
        shown = await look_up(app, pilot, SITI.nik)
        assert "Jadwal sudah lewat — belum diambil" in shown
        assert "Jadwal: Senin, 24 November 2025, 08:00–09:00 WIB" in shown
        assert "Datang sesuai jam" not in shown
    makassar = make_device(regions=("73.71.01",), people=[_makassar_person()])
    app = make_app(makassar, clock=lambda: after_slot)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot)
        shown = await look_up(app, pilot, "7371014505900001")
        assert "09:31 WITA" in shown and "pwnedSiti Aminah X" in shown


def test_bot_caps_replies_shortens_names_and_cleans_them(make_device):
    giant = _person("3201014505900001", "3201010101100001", "A" * 98_000, "32.01.01",
                    "32.01.01.1001", "scheduled",
                    Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
                    dataclasses.replace(MAKASSAR_POINT, name="B" * 50_000 + EVIL))
    evil = dataclasses.replace(_makassar_person(), nik="3201011203850002")
    evil = Person(evil.nik, evil.kk, evil.name, "32.01.01",
                  dataclasses.replace(evil.payload, kode_wilayah="32.01.01.1002"))
    device = make_device(view="recipient", backend="sqlite", people=[giant, evil])
    engine = BotEngine(device, device.unlock(PASSPHRASE), BotState(None, b"k" * 32),
                       EngineSettings(limits=LimitSettings.lifted(),
                                      chatter=LimitSettings.lifted(), lookup_workers=1),
                       clock=lambda: at(23, 10).timestamp())
    try:
        reply = asyncio.run(engine.on_text(1, 1, giant.nik)).replies[0].text
        assert len(reply) < 4096
        assert f"👤 {'A' + '*' * 58}… (NIK ****0001)" in reply
        assert "B" * 60 not in reply
        reply = asyncio.run(engine.on_text(1, 1, evil.nik)).replies[0].text
        assert "👤 S*** ******************* A****** X (NIK ****0002)" in reply
        assert not any(char in reply for char in "\x1b\x07\u202e\u2066\u200b\r")
        assert "✅ Diambil pada Jumat, 21 November 2025 08:31 WIB di Kantor Pos" in reply
    finally:
        engine.close()
    assert len(dialogue.Reply("x" * 100_000).text) == dialogue.MAX_REPLY
