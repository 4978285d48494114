"""The result card: one lookup's answer laid out for the officer (words from blt_status.present).

Status is shown with a colour *and* a word, never colour alone. The slot is compared with the
screen's clock in the payout point's zone (a slot that has passed says so, and what the
recipient can still do); times carry their zone (WIB/WITA/WIT). Names and addresses are
cleaned of control and bidi characters before they reach the terminal.
"""

from __future__ import annotations

import datetime as dt

from rich.text import Text
from textual.widgets import Static

from blt_status.i18n import translate
from blt_status.lookup import LookupResult
from blt_status.present import (
    ADDRESS_LIMIT,
    clean_text,
    collected_text,
    documents,
    format_rupiah,
    hold_reason,
    mode_label,
    next_steps,
    not_found_reasons,
    record_status_label,
    schedule_timing,
    short_text,
    timing_lines,
    when_text,
)

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


OFFICER_NAME_LIMIT = 80


def render_result(result: LookupResult, lang: str, now: dt.datetime | None = None) -> Text:
    """The card's content for ``result`` in ``lang``, with the slot compared with ``now``."""
    out = Text()
    record = result.record
    if record is None:
        out.append(f" {translate('Not found', lang).upper()} ", style="bold white on grey35")
        out.append(f"  NIK {result.nik.masked}\n\n")
        for line in not_found_reasons(lang):
            out.append(f"• {line}\n")
        return out
    out.append(f" {STATUS_MARKS.get(record.status, '•')} "
               f"{record_status_label(record, now, lang)} ",
               style=STATUS_STYLES.get(record.status, "bold reverse"))
    out.append("\n")
    out.append(short_text(record.name, OFFICER_NAME_LIMIT), style="bold")
    out.append(f"  ·  NIK {result.nik.masked}\n")
    if record.address:
        _field(out, translate("Address", lang), short_text(record.address, ADDRESS_LIMIT))
    extras = []
    if record.household_size:
        extras.append(f"{translate('Household', lang)}: {record.household_size}")
    if record.special_needs:
        extras.append(f"{translate('Special needs', lang)}: {clean_text(record.special_needs)}")
    if extras:
        out.append(" · ".join(extras) + "\n")
    _field(out, translate("Amount", lang), format_rupiah(record.amount, lang))
    _field(out, translate("Program", lang),
           f"{clean_text(record.program.name)} ({clean_text(record.program.period)})")
    schedule = record.schedule
    _field(out, translate("When", lang), when_text(record, lang))
    place = mode_label(schedule.mode, lang)
    if record.payout_point:
        place += (f": {short_text(record.payout_point.name)}, "
                  f"{short_text(record.payout_point.address, ADDRESS_LIMIT)}")
    _field(out, translate("Where", lang), place)
    if record.collected_at:
        _field(out, translate("Collected on", lang), collected_text(record, lang))
    reason = hold_reason(record, lang)  # a reason code's words, never the payer's free text
    if reason:
        _field(out, translate("Note", lang), short_text(reason, ADDRESS_LIMIT))
    if now is not None and record.status == "scheduled" \
            and not schedule_timing(record, now).passed:
        for line in timing_lines(record, now, lang):
            out.append(f"◷ {line}\n", style="bold")
    if record.status == "scheduled":
        _field(out, translate("Bring", lang), ", ".join(documents(lang)))
    out.append(f"{translate('Next steps', lang)}:\n", style="bold")
    for line in next_steps(record, lang, now):
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
