"""The audit view: today's lookups, the log's verification state, the latest entries.

Entries carry a lookup tag, never a NIK or a name; the view shows it as a short handle
(``#a1b2``: enough to see the same person looked up twice), the time in the local zone of the
device's region (WIB/WITA/WIT), and the action and result in words. A filter box narrows the
list by any of those words. Verification walks the whole chain from the initial key (derived
from the unlocked keyring) in a worker.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Input, Static

from blt_status.audit import (
    AuditEntry,
    AuditReport,
    describe,
    local_time,
    short_tag,
    verify,
)
from blt_status.i18n import N_, translate
from tui.actions import bindings_for
from tui.screens import STYLES
from tui.screens.base import BltScreen
from tui.widgets.data_bar import DataBar
from tui.widgets.key_bar import KeyBar

SHOWN_ENTRIES = 50


class AuditScreen(BltScreen):
    """Counts, verification state, and the last entries of the audit log."""

    TITLE = N_("Audit log")
    AUTO_FOCUS = "#audit-table"  # keys act on the screen; Tab reaches the filter
    CSS_PATH = STYLES / "audit.tcss"
    BINDINGS: ClassVar = bindings_for("audit")  # the one table: tui/actions.py

    def __init__(self) -> None:
        super().__init__()
        self.report: AuditReport | None = None
        self.verifying = False
        self.filter_text = ""

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield DataBar(id="data-bar")
        with VerticalScroll(id="audit-body"):
            yield Static("", id="audit-summary")
            yield Static("", id="audit-state")
            yield Input(placeholder=translate("Filter: action, result or #tag", self.lang),
                        id="audit-filter")
            yield DataTable(id="audit-table", cursor_type="row", zebra_stripes=True)
        yield KeyBar()

    def on_screen_resume(self) -> None:
        """Every visit re-checks the log."""
        self.action_verify_audit()

    def refresh_view(self) -> None:
        """Redraw counts, state and entries."""
        super().refresh_view()
        lang = self.lang
        session = self.session
        entries = session.audit.entries() if session and session.audit else []
        today = self.blt.now().astimezone().date()
        self.query_one("#audit-summary", Static).update(
            translate("Lookups today: {count}", lang).format(
                count=sum(1 for e in entries if e.day == today and e.action == "lookup"))
            + "   " + translate("Entries in total: {count}", lang).format(
                count=len(entries)))
        state = self.query_one("#audit-state", Static)
        state.remove_class("ok", "broken")
        if self.verifying or self.report is None:
            state.update(translate("Checking the log chain…", lang))
        else:
            state.add_class("ok" if self.report.ok else "broken")
            state.update(translate("Verification: {state}", lang).format(
                state=self.report.message(lang)))
        self.query_one("#audit-filter", Input).placeholder = translate(
            "Filter: action, result or #tag", lang)
        region = next(iter(session.device.config.regions), None) if session else None
        zone = local_time(self.blt.now(), region).tzname() or "WIB"
        table = self.query_one("#audit-table", DataTable)
        table.clear(columns=True)
        table.add_column(translate("Time ({zone})", lang).format(zone=zone), key="col_time")
        for key, title in (("col_action", N_("Action")), ("col_tag", N_("Tag")),
                           ("col_result", N_("Result")), ("col_version", N_("Version"))):
            table.add_column(translate(title, lang), key=key)
        rows = [self._row(entry, region) for entry in reversed(entries)]
        wanted = self.filter_text.strip().lower()
        shown = [row for row in rows if not wanted or wanted in " ".join(row).lower()]
        for row in shown[:SHOWN_ENTRIES]:
            table.add_row(*row)

    def _row(self, entry: AuditEntry, region: str | None) -> tuple[str, str, str, str, str]:
        moment = entry.moment
        when = local_time(moment, region).strftime("%d-%m-%Y %H:%M:%S") if moment else "?"
        action, result = describe(entry, self.lang)
        version = f"v{entry.data_version}" if entry.data_version else "—"
        return when, action, short_tag(entry.tag), result, version

    @on(Input.Changed, "#audit-filter")
    def filter_changed(self, event: Input.Changed) -> None:
        """Narrow the list as the officer types."""
        self.filter_text = event.value
        self.refresh_view()

    def action_verify_audit(self) -> None:
        """Verify the whole chain now."""
        self.verifying = True
        self.refresh_view()
        self.run_verify()

    @work(exclusive=True, group="audit-verify")
    async def run_verify(self) -> None:
        """Walk the chain off the event loop."""
        session = self.session
        keyring = session.keyring if session else None
        if session is None or keyring is None:
            self.verifying = False
            return
        self.report = await asyncio.to_thread(verify, session.device.data_dir, keyring)
        self.verifying = False
        self.refresh_view()
