"""The village dashboard: payout progress per desa and per day, from the published aggregates.

The data is ``meta.extra["aggregates"]`` of the index in use, so it changes with the index,
atomically, after a sync (the app calls :meth:`refresh_view`).
"""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import DataTable, Static

from blt_status.i18n import N_, _, format_number, format_percent
from blt_status.present import format_rupiah
from tui.actions import bindings_for
from tui.aggregates import DashboardData, DesaRow, read_aggregates, shown_count
from tui.screens import STYLES
from tui.screens.base import BltScreen
from tui.widgets.charts import day_chart, desa_chart
from tui.widgets.data_bar import DataBar
from tui.widgets.key_bar import KeyBar

# Sortable columns: (column key, interface word, sort key, descending first?)
SORT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("desa", N_("Village")),
    ("recipients", N_("Recipients")),
    ("collected", N_("Paid out")),
    ("percent", "%"),
    ("amount", N_("Amount paid")),
    ("held", N_("Held")),
)


def sort_rows(rows: tuple[DesaRow, ...], column: str) -> list[DesaRow]:
    """Villages ordered by ``column`` (names A–Z, numbers largest first)."""
    if column == "desa":
        return sorted(rows, key=lambda row: (row.nama.lower(), row.kode))
    keys = {
        "recipients": lambda row: row.recipients,
        "collected": lambda row: row.collected,
        "percent": lambda row: row.percent,
        "amount": lambda row: row.amount_collected,
        "held": lambda row: row.held,
    }
    return sorted(rows, key=lambda row: (-keys[column](row), row.nama.lower()))


class DashboardScreen(BltScreen):
    """Per desa table (sortable), bar chart per desa, payout per day, kecamatan summary."""

    TITLE = N_("Village dashboard")
    CSS_PATH = STYLES / "dashboard.tcss"
    BINDINGS: ClassVar = bindings_for("dashboard")

    def __init__(self) -> None:
        super().__init__()
        self.sort_column = "desa"
        self.data = DashboardData((), (), ())

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield DataBar(id="data-bar")
        with VerticalScroll(id="dash-scroll"):
            yield Static("", id="dash-summary")
            yield Static("", id="dash-sorted")
            yield DataTable(id="desa-table", cursor_type="row", zebra_stripes=True)
            yield Static("", id="chart-title", classes="section")
            yield Static("", id="desa-chart")
            yield Static("", id="days-title", classes="section")
            yield Static("", id="days-chart")
        yield KeyBar()

    def refresh_view(self) -> None:
        """Re-read the aggregates of the index in use and redraw everything."""
        super().refresh_view()
        session = self.session
        meta = session.meta if session else None
        self.data = read_aggregates(meta.extra if meta else None)
        lang = self.lang
        summary = self.query_one("#dash-summary", Static)
        if self.data.empty:
            summary.update(_("This data version carries no aggregates yet. Sync to update."))
        else:
            summary.update("\n".join(
                _("Kec. {name}: {collected}/{recipients} paid out ({percent}) · "
                  "{amount_collected} of {amount_total}").format(
                    name=kec.name,
                    collected=shown_count(kec, "collected", format_number(kec.collected)),
                    recipients=shown_count(kec, "recipients", format_number(kec.recipients)),
                    percent=format_percent(kec.percent / 100),
                    amount_collected=format_rupiah(kec.amount_collected),
                    amount_total=format_rupiah(kec.amount_total))
                + (f" · {_('Flagged').lower()} {kec.flagged}" if kec.flagged else "")
                for kec in self.data.kecamatans))
        self.fill_table()
        width = max(10, min(40, self.size.width - 40)) if self.size.width else 30
        self.query_one("#chart-title", Static).update(
            "" if self.data.empty else _("Progress per village"))
        self.query_one("#desa-chart", Static).update(desa_chart(self.data, width=width))
        self.query_one("#days-title", Static).update(
            "" if not self.data.days else _("Payout per day"))
        self.query_one("#days-chart", Static).update(
            day_chart(self.data, width=width, lang=lang))

    def on_resize(self) -> None:
        """Fit the bars to the new width."""
        if self.is_mounted:
            self.refresh_view()

    def fill_table(self) -> None:
        table = self.query_one("#desa-table", DataTable)
        table.clear(columns=True)
        table.display = not self.data.empty
        rows = [(row.kode, (row.nama,
                             shown_count(row, "recipients", format_number(row.recipients)),
                             shown_count(row, "collected", format_number(row.collected)),
                             format_number(row.percent, decimals=1)
                             if not row.hidden & {"recipients", "collected"} else "-",
                             format_rupiah(row.amount_collected)
                             if "collected" not in row.hidden else "-",
                             shown_count(row, "held", format_number(row.held))))
                for row in sort_rows(self.data.desa, self.sort_column)]
        for index, (key, word) in enumerate(SORT_COLUMNS):
            arrow = ("▲" if key == "desa" else "▼") if key == self.sort_column else ""
            label = f"{_(word)}{arrow}"
            width = max([len(label)] + [len(cells[index]) for _, cells in rows])
            table.add_column(label, key=key, width=width)
        for kode, cells in rows:
            table.add_row(*cells, key=kode)
        word = dict(SORT_COLUMNS)[self.sort_column]
        self.query_one("#dash-sorted", Static).update(
            "" if self.data.empty else _("Sorted by: {column}").format(
                column=_(word)))

    def action_sort(self) -> None:
        """Sort the village table by the next column."""
        keys = [key for key, _ in SORT_COLUMNS]
        self.sort_column = keys[(keys.index(self.sort_column) + 1) % len(keys)]
        self.fill_table()

    @on(DataTable.HeaderSelected, "#desa-table")
    def header_selected(self, event: DataTable.HeaderSelected) -> None:
        """Clicking a column header sorts by it."""
        key = event.column_key.value
        if key in dict(SORT_COLUMNS):
            self.sort_column = key
            self.fill_table()
