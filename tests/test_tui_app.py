"""The officer TUI driven through Textual's Pilot: every screen and flow, asserted on the screen."""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import time
from pathlib import Path

import pytest
from conftest import AS_OF, KNOWN_SECRETS, NOT_LISTED_NIK, PASSPHRASE, PEOPLE, secrets_found
from textual import events

from blt_status.audit import verify
from tui.aggregates import read_aggregates, sample_aggregates
from tui.app import BltApp, main
from tui.config import TuiConfig
from tui.messages import LookupDone
from tui.screens.dashboard import DashboardScreen
from tui.screens.lookup import LookupScreen
from tui.screens.unlock import UnlockScreen, failure_delay
from tui.widgets.charts import bar

CLOCK = dt.datetime(2025, 11, 22, 3, 0, tzinfo=dt.UTC)
BOTH_KECAMATAN = ("32.01.01", "32.01.02")


def make_app(device, **options) -> BltApp:
    options.setdefault("unlock_delay", 0)
    options.setdefault("cursor_blink", False)
    options.setdefault("clock", lambda: CLOCK)
    return BltApp(device, **options)


def screen_text(app: BltApp) -> str:
    """What the terminal shows, as plain text lines (from Textual's own screenshot)."""
    svg = app.export_screenshot()
    rows: dict[float, list[tuple[float, str]]] = {}
    for match in re.finditer(r'<text class="[^"]*" x="([\d.]+)" y="([\d.]+)" '
                             r'textLength="[\d.]+" clip-path="[^"]*">(.*?)</text>', svg):
        rows.setdefault(float(match.group(2)), []).append(
            (float(match.group(1)), html.unescape(match.group(3))))
    lines = []
    for y in sorted(rows):
        line = ""
        for x, chunk in sorted(rows[y]):
            line = line.ljust(round(x / 12.2)) + chunk
        lines.append(line.replace("\xa0", " ").rstrip())
    return "\n".join(lines)


async def settle(app: BltApp, pilot) -> None:
    await pilot.pause()
    await app.workers.wait_for_complete()
    await pilot.pause()


async def screen_showing(app: BltApp, pilot, *texts: str, seconds: float = 10.0) -> str:
    """The screen once it shows all of ``texts``, or as it is after ``seconds``. A DataTable
    sizes its columns for new rows when it is next idle, which a loaded machine can delay past
    ``settle``: in one CI run the audit table's result column still had its header's width
    ("berha…" for "berhasil") when the screen was read."""
    deadline = time.monotonic() + seconds
    shown = screen_text(app)
    while not all(text in shown for text in texts) and time.monotonic() < deadline:
        await pilot.pause(0.05)
        shown = screen_text(app)
    return shown


async def type_text(pilot, value: str) -> None:
    """Key by key, as an officer types."""
    await pilot.press(*["space" if ch == " " else "full_stop" if ch == "." else
                        "minus" if ch == "-" else ch for ch in value])


async def paste(pilot, value: str) -> None:
    """As a terminal delivers pasted text: one Paste event to the focused widget."""
    pilot.app.post_message(events.Paste(value))
    await pilot.pause()


async def unlock(app: BltApp, pilot, passphrase: str = PASSPHRASE) -> None:
    await paste(pilot, passphrase)
    await pilot.press("enter")
    await settle(app, pilot)


async def look_up(app: BltApp, pilot, nik: str) -> str:
    await paste(pilot, nik)
    await pilot.press("enter")
    await settle(app, pilot)
    return screen_text(app)


@pytest.fixture()
def device(make_device):
    return make_device(regions=BOTH_KECAMATAN, extra={"aggregates": sample_aggregates()})


# -- unlock -----------------------------------------------------------------------------------

def test_failure_delay_grows_and_is_capped():
    assert [failure_delay(n, 1.0) for n in range(0, 5)] == [0.0, 1.0, 2.0, 4.0, 8.0]
    assert failure_delay(20, 1.0) == 30.0


async def test_unlock_shows_nothing_before_and_rejects_wrong_passphrase(device):
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        shown = screen_text(app)
        assert "Buka kunci perangkat" in shown
        assert "Data v" not in shown and "Cari" not in shown.split("\n")[-1]
        await pilot.press("f2", "f3")  # data screens refuse to open while locked
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        await unlock(app, pilot, "salah sekali")
        assert "Kata sandi salah. Coba lagi dalam 0 detik." in screen_text(app)
        assert app.unlock_failures == 1 and app.session is None
        await unlock(app, pilot)
        assert isinstance(app.screen, LookupScreen)
        assert "Data v1 per 20 November 2025" in screen_text(app)
        assert app.unlock_failures == 0


async def test_a_damaged_keyring_file_is_named_on_the_unlock_screen(device):
    """A keyring.json that is no JSON: one coded line (it said device_config), the box stays
    usable, and nothing else opens."""
    (device.data_dir / "keyring.json").write_bytes(b"\x00 not json")
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        shown = screen_text(app)
        assert "error [keyring_corrupt]: Berkas kunci perangkat rusak." in shown, shown
        assert isinstance(app.screen, UnlockScreen) and app.session is None


async def test_no_card_when_the_audit_log_cannot_be_written(device):
    """The card was shown and only then a notice said the log could not be written: a lookup
    nobody can audit. Now it is refused before the lookup, on the card, in words."""
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        log = device.data_dir / "audit" / "log.jsonl"
        log.unlink()
        log.mkdir()
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Log audit tidak dapat ditulis" in shown, shown
        assert "Siti Aminah" not in shown and app.last_outcome is None
        log.rmdir()
        log.touch()
        await pilot.press("escape")  # the refused NIK is still in the box
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Siti Aminah" in shown


async def test_lock_key_hides_everything_and_idle_lock(device):
    app = make_app(device, config=TuiConfig(idle_lock_seconds=5))
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert PEOPLE[0].name in shown
        await pilot.press("f8")
        await pilot.pause()
        shown = screen_text(app)
        assert isinstance(app.screen, UnlockScreen) and app.session is None
        assert PEOPLE[0].name not in shown and "Terkunci" in shown
        await unlock(app, pilot)
        assert isinstance(app.screen, LookupScreen)
        assert PEOPLE[0].name not in screen_text(app)  # the last card was forgotten
        app.last_activity -= 10  # as if nobody touched the keyboard for 10 s
        await pilot.pause(1.2)  # the idle check runs every 0.5 s here
        await pilot.pause()
        assert isinstance(app.screen, UnlockScreen)
        assert "Terkunci otomatis" in screen_text(app)


@pytest.mark.parametrize("opened", ["ctrl+p", "f1"])
async def test_the_lock_key_locks_over_the_palette_and_help(device, opened):
    """F8 with the command palette open did nothing: an officer stepping away pressed the lock
    key and left the device unlocked, a resident's card behind the palette."""
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        await look_up(app, pilot, PEOPLE[0].nik)
        await pilot.press(opened)
        await settle(app, pilot)
        await pilot.press("f8")
        await settle(app, pilot)
        assert app.session is None and isinstance(app.screen, UnlockScreen)
        assert PEOPLE[0].name not in screen_text(app) and "Terkunci" in screen_text(app)
        await unlock(app, pilot)
        assert app.session is not None
        assert PEOPLE[0].name not in screen_text(app)


# -- lookup -----------------------------------------------------------------------------------

async def test_validate_as_you_type(device):
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        await type_text(pilot, "abc")
        await pilot.pause()
        assert "✘ NIK hanya boleh berisi 16 angka" in screen_text(app)
        await pilot.press("escape")
        await type_text(pilot, "3201 01")
        await pilot.pause()
        assert "NIK harus 16 angka, yang diberikan 6 angka." in screen_text(app)
        await pilot.press("escape")
        await type_text(pilot, "3201.0145-0590 0001")
        await pilot.pause()
        shown = screen_text(app)
        assert "✔ NIK valid:" in shown and "perempuan" in shown and "5 Mei 1990" in shown


@pytest.mark.parametrize("pasted", [
    "3201\u00a00145\u00a00590\u00a00001",  # from a spreadsheet or a PDF: no-break spaces
    "３２０１ ０１４５ ０５９０ ０００１",  # full-width digits
    "٣٢٠١٠١٤٥٠٥٩٠٠٠٠١",  # Arabic-Indic digits
])
async def test_a_pasted_nik_that_looks_right_is_read(device, pasted):
    """A NIK pasted with no-break spaces looks exactly like "3201 0145 0590 0001" on screen,
    yet the box said it "may hold only 16 digits" and Enter looked nothing up."""
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        await paste(pilot, pasted)
        assert "✔ NIK valid:" in screen_text(app)
        await pilot.press("enter")
        await settle(app, pilot)
        assert "Siti Aminah" in screen_text(app)


async def test_three_residents_scheduled_held_returned(device):
    app = make_app(device)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot)
        shown = await look_up(app, pilot, "3201 0145 0590 0001")  # pasted with spaces
        assert "Terjadwal — belum diambil" in shown and "Siti Aminah" in shown
        assert "Rp600.000" in shown and "Senin, 24 November 2025, 08:00–09:00" in shown
        assert "Kantor Pos: Kantor Pos Cibinong, Jl. Raya Bogor No. 12, Cibinong" in shown
        assert "Bawa: KTP-el asli, Kartu Keluarga (KK) asli" in shown
        assert "KUNCI UJI — BUKAN DATA ASLI" in shown
        shown = await look_up(app, pilot, PEOPLE[3].nik)
        assert "Ditahan — perlu tindakan" in shown and "nama tidak sesuai KTP" in shown
        assert "Bawa KTP-el dan KK ke kantor desa" in shown
        shown = await look_up(app, pilot, PEOPLE[4].nik)
        assert "Dikembalikan ke kas negara" in shown and "Kemensos di 171" in shown
        shown = await look_up(app, pilot, PEOPLE[2].nik)
        assert "Diantar ke rumah" in shown and "Sabtu, 29 November 2025" in shown
        assert "Hari ini: 4" in shown


async def test_not_found_and_invalid_enter_are_explained_and_audited(device):
    seen: list[LookupDone] = []
    app = make_app(device)

    def hook(message) -> None:
        if isinstance(message, LookupDone) and all(m is not message for m in seen):
            seen.append(message)

    async with app.run_test(size=(100, 30), message_hook=hook) as pilot:
        await unlock(app, pilot)
        shown = await look_up(app, pilot, NOT_LISTED_NIK)
        assert "TIDAK DITEMUKAN" in shown and "terdaftar di" in shown
        assert "Periksa tanggal data" in shown
        shown = await look_up(app, pilot, "1234 hello")
        assert "✘ NIK hanya boleh berisi 16 angka" in shown
    assert [m.outcome.result.found if m.outcome.result else "invalid" for m in seen] == \
        [False, "invalid"]
    keyring = device.unlock(PASSPHRASE)
    report = verify(device.data_dir, keyring)
    assert report.ok and report.count == 3  # the unlock, then the two lookups
    logged = [(json.loads(line)["action"], json.loads(line)["result"]) for line in
              (device.data_dir / "audit" / "log.jsonl").read_bytes().splitlines()]
    assert logged == [("unlock", "ok"), ("lookup", "not_found"), ("lookup", "invalid")]


async def test_expired_data_is_flagged(make_device):
    device = make_device(expires=AS_OF + dt.timedelta(days=1))
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        assert "KEDALUWARSA" in screen_text(app)
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Siti Aminah" in shown  # the last good data keeps answering


async def test_missing_and_corrupt_index_offer_sync(make_device):
    device = make_device()
    (device.index_dir / "CURRENT").unlink()
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        shown = screen_text(app)
        assert "Data: belum ada" in shown and "Tekan f4 untuk sinkronisasi" in shown
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Belum ada data" in shown
    device = make_device()
    device.current_index_path().write_bytes(b"{not json")
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        assert "rusak" in screen_text(app)


# -- dashboard, language, keys, palette, help, audit -----------------------------------------------

def test_aggregates_reader_tolerates_garbage():
    assert read_aggregates(None).empty
    assert read_aggregates({"aggregates": "x"}).empty
    assert read_aggregates({"aggregates": {"32.01.01": {"desa": [{"kode": 5}, "x"]}}}).empty
    data = read_aggregates({"aggregates": {**sample_aggregates(), "bad": None}})
    assert data.kecamatans[0].recipients == 355 and len(data.days) == 4
    assert bar(0.5, 4) == "██··" and bar(2, 3) == "███"


async def test_dashboard_summary_sort_and_no_aggregates(device, make_device):
    app = make_app(device)
    async with app.run_test(size=(100, 40)) as pilot:
        await unlock(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        shown = screen_text(app)
        assert "Kec. Cibinong: 211/355 tersalur (59,4 %)" in shown
        assert "Pondok Rajeg" in shown and "100,0 %" in shown and "110/120" in shown
        assert "Urut: Desa" in shown
        await pilot.press("s")
        await pilot.pause()
        shown = screen_text(app)
        assert "Urut: Penerima" in shown
        rows = [line for line in shown.splitlines() if "Rp" in line and "·" not in line]
        assert "Pakansari" in rows[0]  # 120 recipients, the most
    app = make_app(make_device())
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        await pilot.press("f3")
        await pilot.pause()
        assert "Belum ada data rekap" in screen_text(app)


async def test_language_switch_and_keymap_from_config(device):
    (device.data_dir / "tui.toml").write_text(
        'lang = "en"\n[keymap]\nlookup = "ctrl+l"\ndashboard = "ctrl+b"\n')
    app = make_app(device, config=TuiConfig.load(device.data_dir))
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        shown = screen_text(app)
        assert "Type a NIK" in shown and "^b Dashboard" in shown
        assert "Lookup" not in shown.splitlines()[-1]  # the screen shown has no key of its own
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, LookupScreen)  # f3 was remapped away
        await pilot.press("ctrl+b")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)
        shown = screen_text(app)
        assert "Kec. Cibinong: 211/355 paid out" in shown and "^l Lookup" in shown
        assert re.search(r"Rp\d{1,3}(,\d{3})+ of Rp\d{1,3}(,\d{3})+", shown)  # English digits
        await pilot.press("ctrl+l")
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Scheduled — not yet collected" in shown and "Monday, 24 November 2025" in shown
        assert "Rp600,000" in shown
        await pilot.press("f6")  # back to Bahasa Indonesia, card and footer included
        await pilot.pause()
        shown = screen_text(app)
        assert "Terjadwal — belum diambil" in shown and "^b Dasbor" in shown
        assert "Rp600.000" in shown


def test_bad_config_gives_defaults_and_problems(tmp_path: Path):
    (tmp_path / "tui.toml").write_text('lang = "fr"\nidle_lock_minutes = -1\n[keymap]\nx = 3\n')
    config = TuiConfig.load(tmp_path)
    assert config.lang is None and config.idle_lock_seconds == 300 and not config.keymap
    assert len(config.problems) == 3
    (tmp_path / "tui.toml").write_text("not = [toml")
    assert TuiConfig.load(tmp_path).problems


async def test_command_palette_and_help(device):
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Dasbor")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, DashboardScreen)
        await pilot.press("question_mark")
        await pilot.pause()
        shown = screen_text(app)
        assert "Bantuan" in shown and "f2" in shown and "Layar pencarian NIK" in shown
        assert "Ctrl+P" in shown
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)


async def test_audit_view_counts_and_verifies(device):
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        await look_up(app, pilot, PEOPLE[0].nik)
        await look_up(app, pilot, NOT_LISTED_NIK)
        await pilot.press("f5")
        await settle(app, pilot)
        shown = await screen_showing(app, pilot, "tidak ditemukan", "22-11-2025 10:00:00")
        assert "Pencarian hari ini: 2" in shown and "Entri total: 3" in shown
        assert "OK: 3 entri, rantai dan MAC utuh" in shown  # the unlock and two lookups
        # words, local time (WIB), a short tag: no hex, no UTC
        assert "tidak ditemukan" in shown and "22-11-2025 10:00:00" in shown
        assert "Waktu (WIB)" in shown and "UTC" not in shown
        log = device.data_dir / "audit" / "log.jsonl"
        log.write_bytes(log.read_bytes().splitlines(keepends=True)[0])
        await pilot.press("v")
        await settle(app, pilot)
        assert "RUSAK" in screen_text(app)


async def test_small_terminals_never_crash(device):
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        for size in ((60, 16), (30, 8)):
            await pilot.resize_terminal(*size)
            await look_up(app, pilot, PEOPLE[3].nik)
            for key in ("f3", "s", "f4", "f5", "f1", "escape", "f2"):
                await pilot.press(key)
            await pilot.pause()
        await pilot.resize_terminal(24, 6)
        await pilot.pause()
        assert app.is_running and app.return_code is None


async def test_sync_without_source_says_so_and_app_stays_usable(device):
    app = make_app(device)
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        await pilot.press("f4")
        await pilot.pause()
        hint = " ".join(line.strip() for line in screen_text(app).splitlines())
        assert "Belum ada alamat pusat" in hint and "--sync-from" in hint, hint
        await pilot.press("s")
        await settle(app, pilot)
        shown = " ".join(line.strip() for line in screen_text(app).splitlines())
        assert "Sinkronisasi gagal:" in shown and "Data lama tetap dipakai." in shown
        assert shown.count("Data lama tetap dipakai.") == 1, shown  # said once, not twice
        # the app's own option, in the reader's language (it said "no --from given ...",
        # the command line's option, in English)
        assert "--sync-from" in shown and "--from " not in shown, shown
        assert "Tidak ada sumber sinkronisasi" in shown, shown
        await pilot.press("f6")
        await pilot.pause()
        shown = " ".join(line.strip() for line in screen_text(app).splitlines())
        assert shown.count("The previous data is still in use.") == 1, shown
        assert "There is no sync source" in shown and "--sync-from" in shown, shown
        await pilot.press("f2")
        shown = await look_up(app, pilot, PEOPLE[0].nik)
        assert "Siti Aminah" in shown


def test_command_line_help_and_errors(tmp_path: Path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    assert "--demo" in capsys.readouterr().out
    assert main(["--data-dir", str(tmp_path / "none")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error [not_installed]:") and "Traceback" not in error


async def test_nothing_personal_written_by_a_session(device):
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        for person in PEOPLE:
            await look_up(app, pilot, person.nik)
    written = b"".join(p.read_bytes() for p in device.data_dir.rglob("*") if p.is_file())
    assert secrets_found(written, KNOWN_SECRETS) == []


async def test_an_unexpected_error_is_one_line_not_a_traceback(device, monkeypatch):
    """Fault injection: a bug inside the lookup must not kill the app or print a traceback."""
    from tui.session import Session

    def broken(self, outcome, *, now=None):
        raise RuntimeError("injected")

    monkeypatch.setattr(Session, "audit_lookup", broken)
    app = make_app(device)
    async with app.run_test(size=(100, 30), notifications=True) as pilot:
        await unlock(app, pilot)
        await paste(pilot, PEOPLE[0].nik)
        await pilot.press("enter")
        await settle(app, pilot)
        await pilot.pause(0.3)  # the toast is drawn on the next refresh
        shown = screen_text(app)
        assert "Terjadi kesalahan internal (RuntimeError)" in shown
        assert "Siti Aminah" in shown  # the card had been shown before the audit step
        assert app.is_running and "Traceback" not in shown
        await pilot.press("f3")
        await pilot.pause()
        assert isinstance(app.screen, DashboardScreen)  # still usable


async def test_garbage_and_pasted_junk_never_crash(device):
    junk = ["", " ", "٣٢٠١٠١٤٥٠٥٩٠٠٠٠١", "3201014505900001\n3201011203850002", "😀" * 40,
            "1" * 500, "3201-0145-0590-0001", "\x1b[31m3201014505900001", "NIK: 3201014505900001",
            "0000000000000000", "3201019999999999", "-- ..", "3201 0145 0590 000１"]
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)
        for text in junk:
            await pilot.press("escape")
            await paste(pilot, text)
            await pilot.press("enter")
            await settle(app, pilot)
            shown = screen_text(app)
            assert "Traceback" not in shown and app.is_running
        await pilot.press("escape")
        shown = await look_up(app, pilot, "3201-0145-0590-0001")
        assert "Siti Aminah" in shown
