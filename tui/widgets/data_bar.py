"""The line that always says which data is in use: version, as-of date, stale, test KDF."""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.widgets import Static

from blt_status.i18n import _, format_number
from blt_status.present import format_date
from blt_status.store import IndexMeta


def render_data_bar(meta: IndexMeta | None, lang: str, *, now: dt.datetime,
                    today_count: int | None = None) -> Text:
    """``Data v3 per 20 November 2025 · KEDALUWARSA … · PARAMETER KUNCI UJI …``."""
    out = Text()
    if meta is None:
        out.append(_("Data: none yet"), style="bold")
    else:
        out.append(_("Data v{version} as of {as_of}").format(
            version=meta.version, as_of=format_date(meta.data_as_of.date(), lang, weekday=False)))
        if today_count is not None:
            out.append("  ·  " + _("Today: {count}").format(count=format_number(today_count)))
        if meta.is_stale(now):
            out.append("  ")
            out.append(" " + _("EXPIRED — may be out of date") + " ", style="bold black on yellow3")
        if meta.kdf.insecure:
            out.append("  ")
            out.append(" " + _("TEST KEYS — NOT REAL DATA") + " ", style="bold white on magenta")
    return out


class DataBar(Static):
    """Always visible under the title: the data in use."""

    DEFAULT_CSS = """
    DataBar {
        height: auto;
        padding: 0 1;
        background: $boost;
    }
    """
