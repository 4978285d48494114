"""Words and formats every frontend uses: rupiah, dates, status, timing and next steps.

These are business rules (what a status means, what to bring, what to do when held, what a
slot that has passed means), so they live in the core; the TUI, the bot and the CLI only lay
them out. Times are compared and shown in the payout point's zone (:mod:`blt_status.timezones`),
and every name or address a frontend prints passes through :func:`clean_text` first.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from babel.dates import format_date as babel_date

from blt_status.i18n import N_, format_number, translate
from blt_status.reasons import reason_from_note, reason_label
from blt_status.records import RecordPayload
from blt_status.timezones import local_datetime_text, zone_for_region

if TYPE_CHECKING:
    from blt_status.lookup import LookupResult

__all__ = [
    "DOCUMENTS",
    "HELPLINE",
    "Timing",
    "clean_text",
    "collected_parts",
    "collected_text",
    "documents",
    "format_date",
    "format_rupiah",
    "hold_reason",
    "lookup_text",
    "mode_label",
    "next_steps",
    "not_found_reasons",
    "record_status_label",
    "schedule_timing",
    "short_text",
    "slot_text",
    "status_label",
    "timing_lines",
    "when_text",
]

HELPLINE = "Kemensos 171"
NAME_LIMIT = 60  # characters of a name shown to people (longer ones are shortened)
ADDRESS_LIMIT = 160

_STATUS = {
    "scheduled": N_("Scheduled — not yet collected"),
    "collected": N_("Collected"),
    "held": N_("On hold — action needed"),
    "returned": N_("Returned"),
}
_MODE = {
    "kantor_pos": N_("Post office"),
    "komunitas": N_("Community payout point"),
    "antar": N_("Delivered at home"),
}

DOCUMENTS = (N_("Original e-KTP"), N_("Original family card (KK)"),
             N_("Invitation letter/barcode (if any)"))
"""What to bring to a payout (English source texts: :func:`documents` gives them in a language)."""


def documents(lang: str = "id") -> tuple[str, ...]:
    """:data:`DOCUMENTS` in ``lang``."""
    return tuple(translate(item, lang) for item in DOCUMENTS)


def format_rupiah(amount: int, lang: str | None = None) -> str:
    """``600000`` -> ``Rp600.000`` (id) or ``Rp600,000`` (en): the thousands separator of the
    reader's language (default: the current one), as Indonesian and English papers write
    rupiah. Documents that are Indonesian whatever the admin's language pass ``"id"``."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{format_number(abs(amount), lang)}"


def format_date(day: dt.date, lang: str = "id", *, weekday: bool = True) -> str:
    """``Senin, 24 November 2025`` / ``Monday, 24 November 2025``."""
    locale = "en" if lang == "en" else "id"
    return babel_date(day, "EEEE, d MMMM y" if weekday else "d MMMM y", locale=locale)


def status_label(status: str, lang: str = "id") -> str:
    return translate(_STATUS[status], lang) if status in _STATUS else status


def mode_label(mode: str, lang: str = "id") -> str:
    return translate(_MODE[mode], lang) if mode in _MODE else mode


def hold_reason(record: RecordPayload, lang: str = "id") -> str | None:
    """Why a record is held or returned, as the text of its reason code.

    Free text is never shown: a record from an older publisher that still carries a
    ``status_note`` is shown as the reason that note maps to.
    """
    if record.reason_code is not None:
        return reason_label(record.reason_code, lang)
    if record.status_note:
        return reason_label(reason_from_note(record.status_note), lang)
    return None


def next_steps(record: RecordPayload, lang: str = "id", now: dt.datetime | None = None,
               ) -> list[str]:
    """What the recipient should do now, given the record's status (and the time, if given)."""
    if now is not None and record.status == "scheduled":
        timing = schedule_timing(record, now)
        if timing.passed:
            return timing_lines(record, now, lang)
    if record.status == "held":
        label = hold_reason(record, lang)
        reason = f" ({label})" if label else ""
        return [
            translate("Payout is on hold{reason}.", lang).format(reason=reason),
            translate("Bring your e-KTP and KK to the desa office so the officer can correct "
                      "the data.", lang),
            translate("The aid is not lost: once corrected it is rescheduled.", lang),
        ]
    if record.status == "returned":
        return [
            translate("The aid was not collected in time and was returned.", lang),
            translate("Ask the desa office or call Kemensos at 171 about the next period.",
                      lang),
        ]
    if record.status == "collected":
        return [translate("The aid has been paid out. Keep your receipt.", lang)]
    if record.schedule.mode == "antar":
        return [translate("A Pos officer will come to your home in the window shown; keep your "
                          "e-KTP and KK ready.", lang)]
    return [translate("Come at your time slot with the documents listed; the aid is paid in "
                      "full, without any deduction.", lang)]


def not_found_reasons(lang: str = "id") -> list[str]:
    """Why a NIK may be missing, and what to do, instead of a bare no."""
    return [
        translate("This NIK is not in this period's list for the regions this data covers.",
                  lang),
        translate("Possible reasons: not eligible this period (desil or status), registered in "
                  "another region, or the data here is older than the latest list.", lang),
        translate("Check the data date below, then ask the desa office or call Kemensos at "
                  "171.", lang),
    ]


# -- text from outside: names and addresses ----------------------------------------------------


def clean_text(text: str | None) -> str:
    """``text`` without control, format (bidi, zero-width) or line-separator characters.

    Names and addresses come from data files; a terminal escape or a right-to-left override in
    one must not reach a screen. Runs of whitespace become one space.
    """
    if not text:
        return ""
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            kept.append(" " if char in "\t\n\r\x0b\x0c\x85\u2028\u2029" else "")
        else:
            kept.append(char)
    return " ".join("".join(kept).split())


def short_text(text: str | None, limit: int = NAME_LIMIT) -> str:
    """:func:`clean_text`, shortened to ``limit`` characters with ``…`` when longer."""
    cleaned = clean_text(text)
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[:max(1, limit - 1)].rstrip() + "…"


# -- a schedule in time ------------------------------------------------------------------------

PHASES = ("upcoming", "today", "now", "missed", "closed", "passed")


@dataclass(frozen=True)
class Timing:
    """Where ``now`` stands against a scheduled record's slot, in the payout point's zone.

    ``phase``: ``upcoming`` (a later day), ``today`` (later today), ``now`` (inside the slot or
    the home-delivery window), ``missed`` (after the slot, the programme window still open until
    ``window_end``), ``closed`` (after the programme window), ``passed`` (after the slot, the
    programme window unknown: records of an older publisher).
    """

    phase: str
    start: dt.datetime  # the slot (or delivery window) in local time
    end: dt.datetime
    window_end: dt.date | None

    @property
    def passed(self) -> bool:
        return self.phase in ("missed", "closed", "passed")


def _zone_region(record: RecordPayload) -> str:
    return record.kode_wilayah


def schedule_timing(record: RecordPayload, now: dt.datetime) -> Timing:
    """The slot of ``record`` compared with ``now`` (aware) in the payout point's zone."""
    zone = zone_for_region(_zone_region(record))
    local_now = now.astimezone(zone)
    schedule = record.schedule
    if schedule.mode == "antar" or schedule.start is None:
        last = schedule.window_end or schedule.date
        start = dt.datetime.combine(schedule.date, dt.time(0), tzinfo=zone)
        end = dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    else:
        start = dt.datetime.combine(schedule.date, schedule.start, tzinfo=zone)
        end = dt.datetime.combine(schedule.date, schedule.end, tzinfo=zone) if schedule.end \
            else dt.datetime.combine(schedule.date + dt.timedelta(days=1), dt.time(0),
                                     tzinfo=zone)
    window_end = record.program.end
    if local_now < start:
        phase = "today" if local_now.date() == start.date() else "upcoming"
    elif local_now < end:
        phase = "now"
    elif window_end is None:
        phase = "passed"
    elif local_now.date() <= window_end:
        phase = "missed"
    else:
        phase = "closed"
    return Timing(phase, start, end, window_end)


def slot_text(record: RecordPayload) -> str:
    """``08:00–09:00 WIB`` (the slot in the payout point's zone), or '' without a slot."""
    schedule = record.schedule
    if schedule.start is None:
        return ""
    zone = zone_for_region(_zone_region(record)).tzname(None)
    end = f"–{schedule.end:%H:%M}" if schedule.end else ""
    return f"{schedule.start:%H:%M}{end} {zone}"


def when_text(record: RecordPayload, lang: str = "id") -> str:
    """``Senin, 24 November 2025, 08:00–09:00 WIB``, or the home-delivery date range."""
    schedule = record.schedule
    text = format_date(schedule.date, lang)
    if schedule.mode == "antar" and schedule.window_end:
        return text + " – " + format_date(schedule.window_end, lang)
    slot = slot_text(record)
    return f"{text}, {slot}" if slot else text


def collected_parts(record: RecordPayload, lang: str = "id") -> tuple[str, str]:
    """When (in the payout point's zone) and where a payout was collected; '' if unknown."""
    if record.collected_at is None:
        return "", ""
    when = local_datetime_text(record.collected_at, _zone_region(record), lang)
    point = record.payout_point
    where = record.collected_point_id or ""
    if point is not None and (not where or where == point.id):
        where = point.name
    return when, short_text(where)


def collected_text(record: RecordPayload, lang: str = "id") -> str:
    """``Senin, 24 November 2025 09:31 WIB, Kantor Pos Cibinong`` ('' if not collected)."""
    when, where = collected_parts(record, lang)
    return f"{when}, {where}" if when and where else when


def record_status_label(record: RecordPayload, now: dt.datetime | None, lang: str = "id") -> str:
    """The status word, saying so when a scheduled slot has passed with nothing collected."""
    if now is not None and record.status == "scheduled":
        phase = schedule_timing(record, now).phase
        if phase in ("missed", "passed"):
            return translate("Slot passed — not collected", lang)
        if phase == "closed":
            return translate("Not collected — payout period over", lang)
    return status_label(record.status, lang)


def timing_lines(record: RecordPayload, now: dt.datetime, lang: str = "id") -> list[str]:
    """What the time means for a scheduled record: today, now, or what to do after the slot."""
    if record.status != "scheduled":
        return []
    timing = schedule_timing(record, now)
    point = record.payout_point
    place = short_text(point.name) if point else ""
    if point is not None and point.address:
        place += f" ({short_text(point.address, ADDRESS_LIMIT)})"
    antar = record.schedule.mode == "antar"
    if timing.phase == "today":
        if antar:
            return [translate("The home delivery starts today.", lang)]
        return [translate("Your slot is today, {slot}.", lang).format(slot=slot_text(record))]
    if timing.phase == "now":
        if antar:
            return [translate("The home delivery window is open until {date}.", lang).format(
                date=format_date(timing.end.date() - dt.timedelta(days=1), lang))]
        return [translate("Your slot is now, until {time}.", lang).format(
            time=f"{timing.end:%H:%M} {timing.end.tzname()}")]
    if not timing.passed:
        return []
    lines = [translate("Your payout date ({when}) has passed and nothing has been collected.",
                       lang).format(when=when_text(record, lang))]
    if timing.phase == "missed" and timing.window_end is not None:
        lines.append(translate(
            "You can still come until {date}, to {place}, during opening hours, with the "
            "documents listed.", lang).format(date=format_date(timing.window_end, lang),
                                              place=place or mode_label("kantor_pos", lang)))
    elif timing.phase == "closed" and timing.window_end is not None:
        lines.append(translate(
            "The payout period ended on {date}. Contact the desa officer or the Kantor Pos, or "
            "call {helpline} (free).", lang).format(date=format_date(timing.window_end, lang),
                                                   helpline=HELPLINE))
    else:
        lines.append(translate(
            "Ask the desa officer or the Kantor Pos whether you can still come, or call "
            "{helpline} (free).", lang).format(helpline=HELPLINE))
    return lines


# -- the terminal's answer ---------------------------------------------------------------------


def lookup_text(result: LookupResult, lang: str, now: dt.datetime) -> str:
    """``blt-status lookup``'s plain-text answer: the record, its slot against ``now``, when
    and where it was collected (local time with its zone), cleaned of control characters."""
    lines: list[str] = []
    as_of = format_date(result.data_as_of.date(), lang, weekday=False)
    record = result.record

    def field(label: str, value: str) -> str:
        return f"  {translate(label, lang)}: {value}"

    if record is None:
        lines.append(f"NIK {result.nik.masked}: " + translate("not found", lang))
        lines += [f"  {line}" for line in not_found_reasons(lang)]
    else:
        schedule = record.schedule
        lines.append(f"NIK {result.nik.masked}: {short_text(record.name, 80)}")
        if record.address:
            lines.append(field(N_("Address"), short_text(record.address, ADDRESS_LIMIT)))
        lines.append(f"  Status: {record_status_label(record, now, lang)}")
        lines.append(field(N_("Amount"), format_rupiah(record.amount, lang)))
        lines.append(f"  Program: {clean_text(record.program.name)} "
                     f"({clean_text(record.program.period)})")
        lines.append(field(N_("When"), when_text(record, lang)))
        place = mode_label(schedule.mode, lang)
        if record.payout_point:
            place += (f": {short_text(record.payout_point.name)}, "
                      f"{short_text(record.payout_point.address, ADDRESS_LIMIT)}")
        lines.append(field(N_("Where"), place))
        collected = collected_text(record, lang)
        if collected:
            lines.append(field(N_("Collected on"), collected))
        if record.status == "scheduled":
            if not schedule_timing(record, now).passed:
                lines += [f"  {line}" for line in timing_lines(record, now, lang)]
            lines.append(field(N_("Bring"), ", ".join(documents(lang))))
        lines += [f"  {line}" for line in next_steps(record, lang, now)]
    stale = translate(" — may be out of date", lang) if result.stale else ""
    lines.append(translate("Data as of {date} (v{version}){stale}", lang).format(
        date=as_of, version=result.data_version, stale=stale))
    if "insecure" in result.kdf_label:
        lines.append(translate("TEST KEY PARAMETERS — NOT FOR REAL DATA", lang))
    return "\n".join(lines)
