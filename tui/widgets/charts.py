"""Text bar charts for the dashboard (block characters; legible over SSH at 80 columns)."""

from __future__ import annotations

from rich.text import Text

from blt_status.i18n import format_number, format_percent
from tui.aggregates import DashboardData, percent

FULL, PARTIALS = "█", " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A bar of ``width`` cells filled to ``fraction`` (0..1), with eighth-cell precision."""
    fraction = min(max(fraction, 0.0), 1.0)
    eighths = round(fraction * width * 8)
    full, rest = divmod(eighths, 8)
    text = FULL * full + (PARTIALS[rest] if rest else "")
    return text.ljust(width, "·")


def desa_chart(data: DashboardData, *, width: int = 30) -> Text:
    """One line per village: name, bar of paid-out share, percentage."""
    out = Text()
    name_width = min(max((len(row.nama) for row in data.desa), default=8), 18)
    for row in data.desa:
        out.append(f"{row.nama[:name_width]:<{name_width}} ")
        out.append(bar(row.percent / 100, width), style="green3")
        out.append(f" {format_percent(row.percent / 100):>7}\n")
    return out


def day_chart(data: DashboardData, *, width: int = 30, lang: str = "id") -> Text:
    """One line per payout day: date, bar of collected/scheduled, counts."""
    out = Text()
    for day in data.days:
        share = percent(day.collected, day.scheduled) / 100
        out.append(f"{day.date:%d-%m} ")
        out.append(bar(share, width), style="dodger_blue2")
        out.append(f" {format_number(day.collected)}/{format_number(day.scheduled)}\n")
    return out
