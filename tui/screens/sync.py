"""The sync screen: start a sync, watch its progress bar, read what changed or what failed.

The sync itself runs in an app-level worker (``BltApp.start_sync``), so the officer can
leave this screen and keep looking people up meanwhile; the new index is switched in by
the core atomically and picked up with ``LookupService.refresh``.
"""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import ProgressBar, Static

from blt_status.i18n import N_, _, format_number
from tui.actions import bindings_for
from tui.screens import STYLES
from tui.screens.base import BltScreen
from tui.widgets.data_bar import DataBar
from tui.widgets.key_bar import KeyBar

PHASES = {
    "metadata": N_("checking signed metadata"),
    "shards": N_("downloading shards"),
    "index": N_("building the new index"),
    "switch": N_("switching to the new data"),
}


class SyncScreen(BltScreen):
    """Shows the state of the app's sync worker."""

    TITLE = N_("Sync data")
    CSS_PATH = STYLES / "sync.tcss"
    BINDINGS: ClassVar = bindings_for("sync")

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
        state = self.blt.sync_state
        source = self.blt.sync_source_label()
        self.query_one("#sync-source", Static).update(
            _("Source: {source}").format(source=source) if source
            else _("This device has no central URL configured: start blt-tui with "
                   "--sync-from URL (or a folder holding DIR/public)."))
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
            phase = _(PHASES[state.phase]) if state.phase in PHASES else (state.phase or "…")
            if state.total:
                phase += f" {format_number(state.done)}/{format_number(state.total)}"
            status.update(_("Syncing… ({phase})").format(phase=phase))
        elif state.error is not None:
            status.add_class("failed")
            message = state.error.message()
            if message.endswith(_("The previous data is still in use.")):  # sync's errors say it
                status.update(_("Sync failed: {error}").format(error=message))
            else:
                status.update(_("Sync failed: {error} The previous data is still in use.")
                              .format(error=message))
        elif state.report is not None:
            status.add_class("done")
            status.update(state.report_text())
        else:
            status.update(_("Press {key} to start. The app stays usable while syncing.").format(
                key=self.blt.key_for("start_sync")))

    def action_start_sync(self) -> None:
        """Start a sync unless one is running."""
        self.blt.start_sync()
