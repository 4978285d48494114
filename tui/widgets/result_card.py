"""The result card: one lookup's answer laid out for the officer (words from blt_status.present).

Status is shown with a colour *and* a word, never colour alone.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from blt_status.lookup import LookupResult
from blt_status.present import (
    DOCUMENTS,
    format_date,
    format_rupiah,
    mode_label,
    next_steps,
    not_found_reasons,
    status_label,
)
from tui.i18n import text

STATUS_STYLES = {
    "scheduled": "bold white on dark_blue",
    "collected": "bold black on green3",
    "held": "bold black on yellow3",
    "returned": "bold white on red3",
}
STATUS_MARKS = {"scheduled": "◷", "collected": "✔", "held": "!", "returned": "✘"}


def _field(out: Text, label: str, value: str) -> None:
    out.append(f"{label}: ", style="bold")
    out.append(value + "\n")


def render_result(result: LookupResult, lang: str) -> Text:
    """The card's content for ``result`` in ``lang``."""
    out = Text()
    record = result.record
    if record is None:
        out.append(f" {text('found_none', lang).upper()} ", style="bold white on grey35")
        out.append(f"  NIK {result.nik.masked}\n\n")
        for line in not_found_reasons(lang):
            out.append(f"• {line}\n")
        return out
    out.append(f" {STATUS_MARKS.get(record.status, '•')} {status_label(record.status, lang)} ",
               style=STATUS_STYLES.get(record.status, "bold reverse"))
    out.append("\n")
    out.append(record.name, style="bold")
    out.append(f"  ·  NIK {result.nik.masked}\n")
    if record.address:
        _field(out, text("label_address", lang), record.address)
    extras = []
    if record.household_size:
        extras.append(f"{text('label_household', lang)}: {record.household_size}")
    if record.special_needs:
        extras.append(f"{text('label_needs', lang)}: {record.special_needs}")
    if extras:
        out.append(" · ".join(extras) + "\n")
    _field(out, text("label_amount", lang), format_rupiah(record.amount))
    _field(out, text("label_program", lang),
           f"{record.program.name} ({record.program.period})")
    schedule = record.schedule
    when = format_date(schedule.date, lang)
    if schedule.mode == "antar" and schedule.window_end:
        when += " – " + format_date(schedule.window_end, lang)
    elif schedule.start and schedule.end:
        when += f", {schedule.start:%H:%M}–{schedule.end:%H:%M}"
    _field(out, text("label_when", lang), when)
    place = mode_label(schedule.mode, lang)
    if record.payout_point:
        place += f": {record.payout_point.name}, {record.payout_point.address}"
    _field(out, text("label_where", lang), place)
    if record.collected_at:
        _field(out, text("label_collected", lang),
               f"{format_date(record.collected_at.date(), lang)}, "
               f"{record.collected_at:%H:%M} UTC")
    if record.status_note:
        _field(out, text("label_note", lang), record.status_note)
    if record.status == "scheduled":
        _field(out, text("label_bring", lang), ", ".join(DOCUMENTS["en" if lang == "en"
                                                                   else "id"]))
    out.append(f"{text('label_next', lang)}:\n", style="bold")
    for line in next_steps(record, lang):
        out.append(f"• {line}\n")
    return out


class ResultCard(Static):
    """Shows the last lookup (or a message)."""

    DEFAULT_CSS = """
    ResultCard {
        padding: 0 1;
        height: auto;
    }
    """
