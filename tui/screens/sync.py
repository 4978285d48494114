"""The sync screen: start a sync, watch its progress bar, read what changed or what failed.

The sync itself runs in an app-level worker (``BltApp.start_sync``), so the officer can
leave this screen and keep looking people up meanwhile; the new index is switched in by
the core atomically and picked up with ``LookupService.refresh``.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import ProgressBar, Static

from tui.i18n import has_text, text
from tui.screens import STYLES
from tui.screens.base import BltScreen
from tui.widgets.data_bar import DataBar
from tui.widgets.key_bar import KeyBar


class SyncScreen(BltScreen):
    """Shows the state of the app's sync worker."""

    TITLE_KEY = "sync_title"
    CSS_PATH = STYLES / "sync.tcss"
    BINDINGS: ClassVar = [
        Binding("s", "start_sync", "Mulai", id="start_sync", tooltip="Mulai sinkronisasi"),
    ]

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield DataBar(id="data-bar")
        with VerticalScroll(id="sync-body"):
            yield Static("", id="sync-source")
            yield ProgressBar(id="sync-progress", show_eta=False)
            yield Static("", id="sync-status")
        yield KeyBar()

    def refresh_view(self) -> None:
        """Redraw from the app's sync state."""
        super().refresh_view()
        lang = self.lang
        state = self.blt.sync_state
        source = self.blt.sync_source_label()
        self.query_one("#sync-source", Static).update(
            text("sync_source", lang, source=source) if source else text("sync_no_source", lang))
        bar = self.query_one("#sync-progress", ProgressBar)
        if state.total:
            bar.update(total=state.total, progress=state.done)
        elif state.running:
            bar.update(total=None)
        else:
            bar.update(total=100, progress=100 if state.finished else 0)
        status = self.query_one("#sync-status", Static)
        status.remove_class("failed", "done")
        if state.running:
            phase_key = f"phase_{state.phase}"
            phase = text(phase_key, lang) if has_text(phase_key) else (state.phase or "…")
            if state.total:
                phase += f" {state.done}/{state.total}"
            status.update(text("sync_running", lang, phase=phase))
        elif state.error is not None:
            status.add_class("failed")
            status.update(text("sync_failed", lang, error=state.error.message(lang)))
        elif state.report is not None:
            status.add_class("done")
            status.update(state.report_text(lang))
        else:
            status.update(text("sync_idle", lang, key=self.blt.key_for("start_sync")))

    def action_start_sync(self) -> None:
        """Start a sync unless one is running."""
        self.blt.start_sync()
