"""What people read is in one language at a time: Bahasa Indonesia by default, English on request.

A sample of real outputs — the command line (answers, errors, help, progress words) and the
officer app (every screen, the footer, the help screen and the command palette) — is produced
with ``BLT_LANG`` unset and must hold no English, then with ``--lang en`` / ``BLT_LANG=en`` /
F6 and must hold no Indonesian. The words checked are ones each language's texts use and the
other's never do.
"""

from __future__ import annotations

import contextlib
import json
import re
from pathlib import Path

import pytest
from conftest import PEOPLE
from test_tui_app import make_app, screen_text, settle, type_text, unlock
from textual.binding import Binding
from textual.command import CommandPalette
from textual.widgets import Input

from blt_status.cli import main
from blt_status.commands.central import TerminalProgress, progress_line
from blt_status.i18n import LANGUAGES, current_lang, format_number, format_percent, set_lang
from tui.actions import ACTIONS, DEFAULT_KEYS, PALETTE
from tui.app import BltApp
from tui.screens.audit import AuditScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.lookup import LookupScreen
from tui.screens.sync import SyncScreen

ENGLISH = re.compile(
    r"\b(usage|options|show this help|the following|required|Birth date|Province|District|"
    r"Device|Records|Data as of|Valid until|Lookup|Dashboard|Sync data|Help|Quit|Lock|"
    r"Language|Palette|Search for commands|Village|Recipients|Paid out|Sorted by|"
    r"passphrase|Press|Source|Keys|not valid|has 16 digits|is corrupt|female|male)\b")
INDONESIAN = re.compile(
    r"\b(penggunaan|opsi|tampilkan|wajib|Tanggal lahir|Provinsi|Kecamatan|Perangkat|Catatan|"
    r"Data per|Berlaku|Cari|Dasbor|Sinkron|Bantuan|Keluar|Kunci|Bahasa|Palet|Desa|Penerima|"
    r"Tersalur|Urut|kata sandi|Tekan|Sumber|Tombol|harus|rusak|perempuan|laki-laki|belum)\b")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    with contextlib.suppress(SystemExit):  # --help
        main(list(args))
    captured = capsys.readouterr()
    return re.sub(r"error \[\w+\]", "error [code]", captured.out + captured.err)  # codes stay


def cli_sample(capsys: pytest.CaptureFixture[str], data_dir: str, *lang: str) -> str:
    return "\n".join([
        cli(capsys, *lang, "nik", PEOPLE[0].nik),
        cli(capsys, *lang, "nik", "3201014505"),
        cli(capsys, *lang, "nik", "--json", "9901014505900001"),
        cli(capsys, *lang, "status", "--data-dir", data_dir),
        cli(capsys, *lang, "init", "--data-dir", data_dir + "-missing", "--bundle", "x"),
        cli(capsys, *lang, "lookup"),
        cli(capsys, *lang, "--help"),
        cli(capsys, *lang, "sync", "--help"),
    ])


def test_the_command_line_speaks_one_language_at_a_time(
        capsys: pytest.CaptureFixture[str], make_device, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLT_LANG", raising=False)
    data_dir = str(make_device().data_dir)
    indonesian = cli_sample(capsys, data_dir)
    assert "Tanggal lahir" in indonesian and "penggunaan:" in indonesian
    assert ENGLISH.findall(indonesian) == []
    english = cli_sample(capsys, data_dir, "--lang", "en")
    assert "Birth date" in english and "usage:" in english
    assert INDONESIAN.findall(english) == []
    monkeypatch.setenv("BLT_LANG", "en")
    assert INDONESIAN.findall(cli_sample(capsys, data_dir)) == []


# English words of the central command line's summaries, progress and rejection reasons.
CENTRAL_ENGLISH = re.compile(
    r"\b(rejected|sealing|checking|above the program's maximum|published|recipients|changes|"
    r"added|removed|unchanged|shards written|keys derived|more|line|status is|Central store|"
    r"expires?|nothing|distribution lists|DRY RUN|would hold)\b")


def test_central_publish_speaks_indonesian_by_default_and_keeps_its_codes(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLT_LANG", raising=False)
    store, world = str(tmp_path / "central"), tmp_path / "in"
    cli(capsys, "central", "demo-data", str(world), "--recipients", "60")
    cli(capsys, "central", "init", store, "--kdf", "test")
    inputs = ["--recipients", str(world / "recipients.csv"), "--payout-points",
              str(world / "payout_points.csv"), "--program", str(world / "program.toml")]
    dry = cli(capsys, "central", "publish", store, *inputs, "--dry-run")
    published = cli(capsys, "central", "publish", store, *inputs)
    status = cli(capsys, "central", "status", store)
    assert "UJI COBA" in dry and "Versi 1 diterbitkan" in published
    assert "di atas batas program 4" in published and "ditolak per kode: desil_above_max" \
        in published
    assert CENTRAL_ENGLISH.findall(dry + published + status) == []

    # --json: the code is the contract, the reason follows the language.
    by_lang = {lang: json.loads(cli(capsys, "--lang", lang, "central", "publish", store,
                                    *inputs, "--dry-run", "--json"))["rejected"]
               for lang in LANGUAGES}
    assert [item["code"] for item in by_lang["id"]] == [item["code"] for item in by_lang["en"]]
    above = [(ours["reason"], theirs["reason"])
             for ours, theirs in zip(by_lang["id"], by_lang["en"], strict=True)
             if ours["code"] == "desil_above_max"]
    assert above and all("di atas batas program" in ours and "above the program's maximum"
                         in theirs for ours, theirs in above)


def test_progress_shown_to_a_person_is_in_their_language(
        capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BLT_LANG", raising=False)
    set_lang(None)
    progress = TerminalProgress(enabled=True)
    progress("sealing", 1716, 27469)
    progress.close()
    assert "menyegel 1.716/27.469" in capsys.readouterr().err
    set_lang("en")
    try:
        assert progress_line("sealing", 1716, 27469) == "sealing 1,716/27,469"
        assert progress_line("checking", 5, 9) == "checking 5/9"
    finally:
        set_lang(None)
    assert progress_line("checking", 5, 9) == "memeriksa 5/9"


def test_numbers_for_people_use_the_languages_separators() -> None:
    assert (format_number(1234567), format_percent(0.566)) == ("1.234.567", "56,6 %")
    assert (format_number(1234567, "en"), format_percent(0.566, "en")) == ("1,234,567", "56.6%")


async def app_sample(app: BltApp, pilot) -> str:
    """Every data screen, the help screen and the command palette, as shown."""
    shown = []
    for key, screen in (("f2", LookupScreen), ("f3", DashboardScreen), ("f4", SyncScreen),
                        ("f5", AuditScreen)):
        await pilot.press(key)
        await settle(app, pilot)
        assert isinstance(app.screen, screen)
        shown.append(screen_text(app))
    await pilot.press("f1")
    await pilot.pause()
    assert isinstance(app.screen, HelpScreen)
    shown.append(screen_text(app))
    await pilot.press("escape")
    await pilot.press("ctrl+p")
    await pilot.pause(0.3)
    assert isinstance(app.screen, CommandPalette)
    shown.append(app.screen.query_one(Input).placeholder)
    shown.append(screen_text(app))
    await pilot.press("escape")
    await pilot.pause()
    return "\n".join(shown)


# The audit screen's texts (times, actions, results) are reworked elsewhere; leave them out.
AUDIT_WORDS = re.compile(r"(found|not_found|invalid|lookup)\b")


async def test_the_officer_app_speaks_one_language_at_a_time(make_device) -> None:
    app = make_app(make_device(regions=("32.01.01", "32.01.02")))
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot)
        indonesian = AUDIT_WORDS.sub("", await app_sample(app, pilot))
        assert "Cari perintah…" in indonesian and "Dasbor" in indonesian
        assert ENGLISH.findall(indonesian) == []
        await pilot.press("f6")
        await pilot.pause()
        assert current_lang() == "en"
        english = AUDIT_WORDS.sub("", await app_sample(app, pilot))
        assert "Search for commands…" in english and "Dashboard" in english
        assert INDONESIAN.findall(english.replace("Bahasa Indonesia", "")) == []


async def test_the_palette_offers_the_tables_actions_in_the_current_language(make_device):
    app = make_app(make_device())
    async with app.run_test(size=(100, 30)) as pilot:
        await unlock(app, pilot)
        await pilot.press("ctrl+p")
        await pilot.pause()
        await type_text(pilot, "Sinkron")
        await pilot.pause(0.3)
        shown = screen_text(app)
        assert "Sinkron (f4)" in shown and "Sinkronisasi data dari pusat" in shown
        assert "Sync" not in shown
        await pilot.press("enter")
        await settle(app, pilot)
        assert isinstance(app.screen, SyncScreen)


def test_one_table_of_actions_feeds_bindings_keys_palette_and_labels() -> None:
    declared: list[Binding] = list(BltApp.BINDINGS)
    for screen in (LookupScreen, DashboardScreen, SyncScreen, AuditScreen, HelpScreen):
        declared += list(screen.BINDINGS)
    ids = [binding.id for binding in declared]
    assert sorted(ids) == sorted(action.id for action in ACTIONS)  # each bound once, all bound
    for binding in declared:
        action = next(action for action in ACTIONS if action.id == binding.id)
        assert (binding.key, binding.action, binding.description) == (
            action.keys, action.action, action.description)
    assert {action.id: action.keys for action in ACTIONS} == DEFAULT_KEYS
    assert {action.id for action in PALETTE} >= {"lookup", "dashboard", "sync", "start_sync"}
    assert LANGUAGES == ("id", "en")
