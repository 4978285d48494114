"""``blt-tui --central DIR``: the admin mode — payout progress from Indonesia down to a payout
point, refreshed by itself when new payout data arrives.

The same look (the officer app's stylesheet, title bar, key bar, help and command palette) and
the same global keys (F1/? help, F6 language, Ctrl+Q quit). Enter opens the region under the
cursor, Backspace goes back up. A worker polls the store's change marker (never on the key
path); when it moves, the tally is rebuilt in a thread and the view redrawn.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import ClassVar

from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingsMap
from textual.containers import VerticalScroll
from textual.dom import DOMNode
from textual.screen import Screen
from textual.widgets import DataTable, Static
from textual_plotext import PlotextPlot

from blt_status.central.report import WIB
from blt_status.central.report_source import Snapshot, change_marker, load_snapshot
from blt_status.central.store import CentralStore
from blt_status.errors import BltError
from blt_status.i18n import _, format_number, format_percent, set_lang
from blt_status.present import format_rupiah
from tui.admin.model import LEVEL_OF_DEPTH, ROOT, ProgressTree, depth_of, parent_of
from tui.screens.help import HelpScreen
from tui.widgets.key_bar import KeyBar

HERE = Path(__file__).resolve().parent
TUI = HERE.parent
LEVEL_WORDS = {"nasional": "Indonesia", "provinsi": "Province", "kabupaten": "Regency/city",
               "kecamatan": "District", "desa": "Village", "titik": "Payout point"}


# English source words of the keys (translated through the catalogs on every redraw).
KEY_WORDS = {"admin_up": ("Up", "Back to the parent region"),
             "admin_reload": ("Reload", "Read the data again now"),
             "language": ("Language", "Switch language"),
             "help": ("Help", "Keys and how to use this"),
             "quit": ("Quit", "Close the app"),
             "palette": ("Palette", "Open the command palette")}


def relabel(node: DOMNode) -> None:
    """The node's key words in the current language."""
    bindings = []
    for key_bindings in node._bindings.key_to_bindings.values():
        for binding in key_bindings:
            words = KEY_WORDS.get(binding.id or "")
            bindings.append(replace(binding, description=_(words[0]), tooltip=_(words[1]))
                            if words else binding)
    node._bindings = BindingsMap(bindings)


def bar(share: float, width: int) -> str:
    """``███████░░░`` for a share 0..1."""
    filled = round(max(0.0, min(1.0, share)) * width)
    return "█" * filled + "░" * (width - filled)


class AdminScreen(Screen[None]):
    """The drill-down table with a bar per row, the per-day plot, worst regions, flags."""

    BINDINGS: ClassVar = [
        Binding("backspace", "up", "Up", id="admin_up"),
        Binding("r", "reload", "Reload", id="admin_reload"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.code = ROOT
        self.frame_seconds: list[float] = []  # key handled -> frame composed, per drill step
        self._labelled_in: str | None = None  # the language the key words are in

    @property
    def admin(self) -> AdminApp:
        assert isinstance(self.app, AdminApp)
        return self.app

    def compose(self) -> ComposeResult:
        yield Static("", id="title-bar", classes="title-bar")
        yield Static("", id="admin-summary")
        with VerticalScroll(id="admin-body"):
            yield DataTable(id="region-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="days-title", classes="section")
            yield PlotextPlot(id="days-plot")
            yield Static("", id="worst-title", classes="section")
            yield Static("", id="worst")
            yield Static("", id="flagged-title", classes="section")
            yield Static("", id="flagged")
        yield KeyBar()

    def on_mount(self) -> None:
        self.refresh_view()
        self.query_one("#region-table", DataTable).focus()

    def on_resize(self) -> None:
        if self.is_mounted:
            self.refresh_view()

    # -- drawing ----------------------------------------------------------------------------

    def refresh_view(self) -> None:
        """Redraw everything for the node ``self.code`` from the app's tree."""
        set_lang(self.admin.lang)  # the app's language, whatever else ran in this process
        if self._labelled_in != self.admin.lang:
            # The key bar is rebuilt (its keys mounted anew) when the bindings change: only
            # when the language did, not at every drill step.
            relabel(self)
            relabel(self.app)
            self.refresh_bindings()
            self._labelled_in = self.admin.lang
        tree = self.admin.progress
        path = tree.path(self.code) if tree else [ROOT]
        names = [tree.row(code).name if tree else "Indonesia" for code in path]
        self.query_one("#title-bar", Static).update(
            f"BLT Pangan · {_('Admin')} · " + " › ".join(names))
        summary = self.query_one("#admin-summary", Static)
        if tree is None:
            summary.update(self.admin.problem or _("Loading…"))
            return
        row = tree.row(self.code)
        when = tree.as_of.astimezone(WIB).strftime("%Y-%m-%d %H:%M WIB") if tree.as_of else "-"
        summary.update(
            _("Data version {version} · as of {time}").format(version=tree.version, time=when)
            + "\n" + _("Collected {collected} of {recipients} ({share}) · {amount} · held "
                       "{held} · flagged {flagged}").format(
                collected=format_number(row.collected), recipients=format_number(row.recipients),
                share=format_percent(row.share), amount=format_rupiah(row.collected_amount),
                held=format_number(row.held), flagged=format_number(row.flagged)))
        # The summary grows from one line ("Loading…") to two. Its update asks for a layout,
        # but CI twice caught the two lines drawn in the old one-line height for good (a busy
        # machine; never reproduced here): ask once more after the next refresh.
        self.call_after_refresh(summary.refresh, layout=True)
        self.fill_table(tree)
        self.draw_plot(tree)
        self.draw_lists(tree)

    def fill_table(self, tree: ProgressTree) -> None:
        table = self.query_one("#region-table", DataTable)
        keep = table.cursor_row if table.row_count else 0
        table.clear(columns=True)
        width = self.app.size.width or 80  # the terminal: the same at every redraw
        bar_width = max(6, min(24, width - 70))
        name_width = max(12, min(32, width - bar_width - 58))
        child_depth = depth_of(self.code) + 1
        level = LEVEL_OF_DEPTH[min(child_depth, 5)]
        table.add_column(_(LEVEL_WORDS[level]), key="name", width=name_width)
        for key, label, size in (("recipients", _("Recipients"), 9),
                                 ("collected", _("Paid out"), 10), ("percent", "%", 7),
                                 ("bar", "", bar_width), ("held", _("Held"), 7),
                                 ("flagged", _("Flagged"), 8)):
            table.add_column(label[:size], key=key, width=size)
        for code in tree.child_codes(self.code):
            row = tree.rows[code]
            table.add_row(row.name[:name_width], format_number(row.recipients),
                          format_number(row.collected), format_percent(row.share),
                          bar(row.share, bar_width), format_number(row.held),
                          format_number(row.flagged), key=code)
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))

    def draw_plot(self, tree: ProgressTree) -> None:
        days = tree.days(self.code)
        self.query_one("#days-title", Static).update(_("Collected per day and cumulative"))
        plot = self.query_one("#days-plot", PlotextPlot)
        plt = plot.plt
        plt.clear_data()
        plt.clear_figure()
        if days:
            labels = [day.date.strftime("%d/%m") for day in days]
            positions = [float(index) for index in range(1, len(days) + 1)]
            plt.bar(positions, [day.collected for day in days], label=_("per day"),
                    width=0.5)
            plt.xlim(0.0, len(days) + 1.0)
            plt.plot(positions, [day.cumulative for day in days], label=_("cumulative"),
                     marker="dot")
            step = max(1, len(days) // 8)
            plt.xticks(positions[::step], labels[::step])
        else:
            plt.title(_("No payouts yet."))
        plot.refresh()

    def draw_lists(self, tree: ProgressTree) -> None:
        worst = tree.worst(self.code)
        self.query_one("#worst-title", Static).update(_("Furthest behind"))
        self.query_one("#worst", Static).update("\n".join(
            f"{row.name[:28]:<28} {format_percent(row.share):>8}  "
            f"{format_number(row.collected)}/{format_number(row.recipients)}"
            for row in worst) or "-")
        flagged = tree.flagged_in(self.code)
        self.query_one("#flagged-title", Static).update(
            _("Flagged payouts ({count})").format(count=format_number(len(flagged))))
        self.query_one("#flagged", Static).update("\n".join(
            f"{flag.occurred_at.astimezone(WIB):%d/%m %H:%M} {flag.point_id[:16]:<16} "
            f"…{flag.nik_last4} {flag.code} ({flag.severity})" for flag in flagged[:20]) or "-")

    # -- keys -------------------------------------------------------------------------------

    @on(DataTable.RowSelected, "#region-table")
    def drill(self, event: DataTable.RowSelected) -> None:
        """Enter: open the region (or payout point) under the cursor."""
        code = event.row_key.value
        tree = self.admin.progress
        if code is None or tree is None or not tree.child_codes(code):
            return
        started = time.perf_counter()
        self.code = code
        self.query_one("#region-table", DataTable).move_cursor(row=0)
        self.refresh_view()
        self._time_frame(started)

    def action_up(self) -> None:
        """Backspace: back to the parent region, with the cursor on where we were."""
        if self.code == ROOT:
            return
        started = time.perf_counter()
        came_from = self.code
        self.code = parent_of(self.code)
        self.refresh_view()
        table = self.query_one("#region-table", DataTable)
        codes = self.admin.progress.child_codes(self.code) if self.admin.progress else []
        if came_from in codes:
            table.move_cursor(row=codes.index(came_from))
        self._time_frame(started)

    def _time_frame(self, started: float) -> None:
        """Remember how long a drill step took until its frame was on screen (the bench)."""
        def drawn() -> None:
            self.frame_seconds.append(time.perf_counter() - started)
        self.call_after_refresh(drawn)

    def action_reload(self) -> None:
        self.admin.reload(force=True)


class AdminApp(App[None]):
    """The admin dashboard over a central store."""

    TITLE = "BLT Pangan"
    CSS_PATH: ClassVar = [TUI / "app.tcss", HERE / "admin.tcss"]
    BINDINGS: ClassVar = [
        Binding("f6", "language", "Language", id="language"),
        Binding("f1", "help", "Help", id="help"),
        Binding("question_mark", "help", "Help", id="help_alt", show=False),
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("ctrl+p", "command_palette", "Palette", id="palette", show=False, priority=True),
    ]

    def __init__(self, store: CentralStore, *, lang: str = "id", poll_seconds: float = 2.0,
                 loader: Callable[[CentralStore], Snapshot] | None = None) -> None:
        super().__init__()
        self.store = store
        self.lang = lang
        self.poll_seconds = poll_seconds
        self.loader = loader or (lambda store: load_snapshot(store))
        self.progress: ProgressTree | None = None
        self.problem: str | None = None
        self.marker: tuple[int, int] | None = None
        self.loads = 0
        self._busy = False
        set_lang(lang)

    def on_mount(self) -> None:
        self.title = "BLT Pangan · Admin"
        self.push_screen(AdminScreen())
        self.reload(force=True)
        self.set_interval(self.poll_seconds, self.reload)

    @property
    def admin_screen(self) -> AdminScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, AdminScreen):
                return screen
        return None

    def reload(self, force: bool = False) -> None:
        """Start a check of the change marker unless one runs (keys never wait for it)."""
        if self._busy:
            return
        self._busy = True
        self._load(force)

    @work(thread=True, group="poll", exit_on_error=False)
    def _load(self, force: bool) -> None:
        """Off the event loop: check the change marker; rebuild the tree when it moved."""
        try:
            marker = change_marker(self.store)
            if force or marker != self.marker:
                tree = ProgressTree.from_snapshot(self.loader(self.store))
                self.call_from_thread(self._apply, tree, marker)
        except BltError as error:
            self.call_from_thread(self._show_problem, error.message(self.lang))
        finally:
            self._busy = False

    def _apply(self, tree: ProgressTree, marker: tuple[int, int]) -> None:
        self.progress = tree
        self.marker = marker
        self.problem = None
        self.loads += 1
        screen = self.admin_screen
        if screen is not None and screen.is_mounted:
            screen.refresh_view()

    def _show_problem(self, message: str) -> None:
        self.problem = message
        screen = self.admin_screen
        if screen is not None and screen.is_mounted:
            screen.refresh_view()

    def action_language(self) -> None:
        self.lang = "en" if self.lang == "id" else "id"
        set_lang(self.lang)
        screen = self.admin_screen
        if screen is not None:
            screen.refresh_view()

    def action_help(self) -> None:
        if isinstance(self.screen, HelpScreen):
            return
        set_lang(self.lang)
        keys = [("Enter", _("Open the region under the cursor"), ""),
                ("Backspace", _("Back to the parent region"), ""),
                ("r", _("Reload"), ""), ("F6", "Bahasa / Language", ""),
                ("Ctrl+P", _("Command palette"), ""), ("Ctrl+Q", _("Quit"), "")]
        self.push_screen(HelpScreen(keys))


def run_admin(directory: Path, lang: str) -> int:
    """Open the store and run the dashboard; a bad store is one error line."""
    import sys

    try:
        store = CentralStore.open(directory)
    except BltError as error:
        print(error.line(lang), file=sys.stderr)
        return 1
    app = AdminApp(store, lang=lang)
    app.run()
    return int(app.return_code or 0)
