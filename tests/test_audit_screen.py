"""The officer's audit screen through Pilot: words, local time, short tags, the filter, and
failed unlocks from the unlock screen landing in the same log as the CLI's."""

from __future__ import annotations

from conftest import NOT_LISTED_NIK, PEOPLE
from test_tui_app import look_up, make_app, paste, screen_text, settle, unlock
from textual.widgets import DataTable, Input

from blt_status.audit import AuditLog, unlock_failures


async def test_audit_screen_reads_as_words_and_filters(make_device):
    device = make_device()
    app = make_app(device)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot, "salah sekali")  # not logged: no log before the first unlock
        await unlock(app, pilot)
        await look_up(app, pilot, PEOPLE[0].nik)
        await look_up(app, pilot, NOT_LISTED_NIK)
        await look_up(app, pilot, "1234 hello")
        await pilot.press("f5")
        await settle(app, pilot)
        await pilot.pause(0.1)  # the table redraws after the verification
        table = app.screen.query_one("#audit-table", DataTable)
        assert table.row_count == 4  # unlock, found, not found, invalid
        rows = [[str(cell) for cell in table.get_row_at(i)] for i in range(table.row_count)]
        entries = AuditLog.attach(device).entries()  # type: ignore[union-attr]
        tag = entries[1].tag
        assert [row[1:] for row in rows] == [  # newest first; words, a handle, the version
            ["Pencarian NIK", "—", "NIK tidak valid", "v1"],
            ["Pencarian NIK", f"#{entries[2].tag[:4]}", "tidak ditemukan", "v1"],
            ["Pencarian NIK", f"#{tag[:4]}", "ditemukan", "v1"],
            ["Buka kunci", "—", "berhasil", "—"]]
        assert {row[0] for row in rows} == {"22-11-2025 10:00:00"}  # 03:00 UTC in WIB
        assert next(str(column.label) for column in table.columns.values()) == "Waktu (WIB)"
        assert tag[:12] not in screen_text(app)  # a handle, never the hex
        box = app.screen.query_one("#audit-filter", Input)
        box.focus()
        await paste(pilot, "valid")
        await settle(app, pilot)
        await pilot.pause(0.1)  # the table redraws after the filter changed
        assert table.row_count == 1 and "NIK tidak valid" in table.get_row_at(0)
        box.value = ""
        await paste(pilot, f"#{tag[:4]}")
        await settle(app, pilot)
        await pilot.pause(0.1)
        assert table.row_count == 1
        assert table.get_row_at(0)[1:4] == ["Pencarian NIK", f"#{tag[:4]}", "ditemukan"]
        box.value = ""
        await settle(app, pilot)
        await pilot.pause(0.1)
        assert table.row_count == 4


async def test_failed_unlocks_in_the_tui_are_logged_and_counted(make_device):
    device = make_device()
    app = make_app(device)
    async with app.run_test(size=(80, 24)) as pilot:
        await unlock(app, pilot)  # the log is created by the first unlock
        await pilot.press("f8")  # lock
        await settle(app, pilot)
        await unlock(app, pilot, "salah")
        await unlock(app, pilot, "salah lagi")
        assert unlock_failures(device) == 2 and app.unlock_failures == 2
        await unlock(app, pilot)
        assert unlock_failures(device) == 0
    entries = AuditLog.attach(device).entries()  # type: ignore[union-attr]
    assert [(e.action, e.result) for e in entries] == [
        ("unlock", "ok"), ("unlock", "failed"), ("unlock", "failed"), ("unlock", "ok")]
