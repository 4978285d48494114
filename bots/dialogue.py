"""What the bot says: plain functions from the core's results to reply text and buttons.

No Telegram here. The same replies serve Telegram (``bots.telegram_adapter``), the terminal
(``bots.console``) and the tests, which compare the exact text a recipient receives.
Replies are plain text (no Markdown), so nothing needs escaping. A reply never contains a NIK:
at most its last four digits.
"""

from __future__ import annotations

import datetime as dt
import urllib.parse
from dataclasses import dataclass

from blt_status.errors import NikError
from blt_status.i18n import LANGUAGES, translate
from blt_status.lookup import LookupResult
from blt_status.present import (
    ADDRESS_LIMIT,
    clean_text,
    collected_parts,
    documents,
    format_date,
    format_rupiah,
    mode_label,
    next_steps,
    not_found_reasons,
    record_status_label,
    schedule_timing,
    short_text,
    slot_text,
    status_label,
    timing_lines,
)
from blt_status.records import RecordPayload

__all__ = [
    "ACTION_AGAIN",
    "ACTION_HELP",
    "ACTION_REMIND",
    "LANGUAGES",
    "Button",
    "Reply",
    "answer_reply",
    "busy_reply",
    "data_updating_reply",
    "edited_reply",
    "error_reply",
    "group_reply",
    "help_reply",
    "invalid_nik_reply",
    "language_prompt_reply",
    "language_set_reply",
    "map_search_url",
    "media_reply",
    "no_nik_reply",
    "photo_reply",
    "rate_limited_reply",
    "remind_final_reply",
    "remind_needs_lookup_reply",
    "remind_not_found_reply",
    "remind_past_reply",
    "reminder_reply",
    "reminders_off_reply",
    "reminders_on_reply",
    "several_niks_reply",
    "start_reply",
    "status_change_reply",
    "subscription_gone_reply",
    "too_long_reply",
    "unknown_command_reply",
]

ACTION_REMIND = "remind"
ACTION_HELP = "help"
ACTION_AGAIN = "again"
ACTION_LANGUAGE = "lang:"  # followed by id / en

KEMENSOS = "Kemensos 171"
CEKBANSOS = "cekbansos.kemensos.go.id"
MAP_SEARCH = "https://www.google.com/maps/search/?api=1&query="
FINAL_STATUSES = frozenset({"collected", "returned"})  # no later change to remind about


@dataclass(frozen=True)
class Button:
    """An inline button: a callback ``action`` the bot handles, or a ``url`` to open."""

    label: str
    action: str = ""
    url: str = ""


MAX_REPLY = 4000  # characters; Telegram refuses messages over 4096


@dataclass(frozen=True)
class Reply:
    """One message to send: text and rows of buttons. Text is capped below Telegram's limit."""

    text: str
    buttons: tuple[tuple[Button, ...], ...] = ()

    def __post_init__(self) -> None:
        if len(self.text) > MAX_REPLY:
            object.__setattr__(self, "text", self.text[:MAX_REPLY - 1] + "…")


# -- time ------------------------------------------------------------------------------------


def local_time_text(moment: dt.datetime, tz: dt.tzinfo) -> str:
    """``14:35 WIB``: a moment in the bot's time zone."""
    local = moment.astimezone(tz)
    zone = local.strftime("%Z")
    return f"{local:%H:%M} {zone}".strip()


def as_of_text(moment: dt.datetime, tz: dt.tzinfo, lang: str) -> str:
    """``20 November 2025 13:00 WIB``."""
    local = moment.astimezone(tz)
    return f"{format_date(local.date(), lang, weekday=False)} {local_time_text(local, tz)}"


def _data_line(result: LookupResult, tz: dt.tzinfo, lang: str) -> str:
    when = as_of_text(result.data_as_of, tz, lang)
    line = translate(
        "Data as of {when} (version {data_version}).", lang).format(
        when=when, data_version=result.data_version)
    if "insecure" in result.kdf_label:
        line += translate(' [TEST/DEMO DATA]', lang)
    if result.stale:
        line += "\n" + translate(
            "⚠️ This data is past its validity; an update is under way and it may be out "
            "of date.", lang)
    return line


# -- fixed texts -------------------------------------------------------------------------------


def _anti_scam(lang: str) -> str:
    return translate(
        "⚠️ This bot NEVER asks for a PIN, OTP, password, photo or money, and never sends links "
        'to "register". The aid is free.', lang)


def start_reply(lang: str) -> Reply:
    text = "\n\n".join([
        translate(
            "Hello! This bot tells BLT Pangan recipients (KPM) when and where to collect the "
            "aid, how much it is, and whether it has been paid out. Send your NIK (the 16 digits "
            "on the KTP); spaces, dots or dashes are fine.", lang),
        translate(
            "Checks are private: the NIK is not stored and the message holding it is deleted "
            "after the answer. Type /bantuan for official channels and /bahasa to change the "
            "language.", lang),
        _anti_scam(lang),
    ])
    return Reply(text)


def help_reply(lang: str) -> Reply:
    text = "\n".join([
        translate('How to use this bot:', lang),
        translate('• Send a NIK (16 digits) or /cek NIK — date, place, amount, status.', lang),
        translate('• /ingatkan — a reminder the day before and when the status changes.', lang),
        translate('• /berhenti — turn reminders off.', lang),
        translate('• /statistik — payout progress in your area (public figures).', lang),
        translate('• /bahasa — Bahasa Indonesia / English.', lang),
        "",
        translate('Official channels:', lang),
        translate('• Your desa/kelurahan office (village officer, social worker).', lang),
        translate('• Call centre {KEMENSOS} (free).', lang).format(KEMENSOS=KEMENSOS),
        translate('• The website {CEKBANSOS}.', lang).format(CEKBANSOS=CEKBANSOS),
        "",
        _anti_scam(lang),
    ])
    return Reply(text)


def language_prompt_reply(lang: str) -> Reply:
    return Reply(
        translate('Choose a language:', lang),
        ((Button("Bahasa Indonesia", action=ACTION_LANGUAGE + "id"),
          Button("English", action=ACTION_LANGUAGE + "en")),),
    )


def language_set_reply(lang: str) -> Reply:
    return Reply(translate('Language set to English.', lang))


def link_reply(lang: str) -> Reply:
    """A message holding a link and no NIK (often "is this site real?"): the bot opens none, and
    the one official site is named, since fake "cek bansos" links are how NIKs are harvested."""
    return Reply("\n".join([
        translate('⚠️ This bot does not open or check links, and never sends a link to "register" '
                  "or to check your aid.", lang),
        translate("The official aid check is {CEKBANSOS}: an address that differs by even one "
                  "letter is another site. Never type your NIK, PIN or OTP into a site you got "
                  "in a message.", lang).format(CEKBANSOS=CEKBANSOS),
        translate("To check your aid, send your NIK (16 digits) here.", lang),
    ]))


def no_nik_reply(lang: str) -> Reply:
    return Reply(translate(
        "Send your NIK (the 16 digits on the KTP) to see your payout. Type /bantuan for "
        "help.", lang))


def _nik_problem(error: NikError, lang: str, count: int) -> str:
    """Why a NIK is not valid, in words that repeat none of its digits."""
    if error.code == "length":
        return translate('A NIK has 16 digits; this one has {count}.', lang).format(count=count)
    if error.code in ("province", "region"):
        return translate('The region code at the start of the NIK does not exist.', lang)
    if error.code == "birth_date":
        return translate('The birth date in the NIK (digits 7 to 12) is not valid.', lang)
    if error.code == "serial":
        return translate('The last four digits of a NIK cannot be 0000.', lang)
    return translate(
        "A NIK may hold only 16 digits (spaces, dots or dashes between them are fine).", lang)


def _kk_hint(lang: str) -> str:
    """A NIK that was not found may be the KK number, sent by mistake.

    Only on "not found": a KK number is built like a NIK (region, a date, a serial), so it
    passes every NIK check; no digit pattern tells the two apart.
    """
    return translate("💡 Check that you sent the NIK on the KTP, not the KK (family card) "
                     "number.", lang)


def invalid_nik_reply(error: NikError, lang: str, digit_count: int = 0) -> Reply:
    """A NIK that is not valid: why, without repeating any of the digits sent."""
    return Reply("\n".join([
        f"⚠️ {_nik_problem(error, lang, digit_count)}",
        translate('Check the 16 digits of the NIK on the KTP and send it again.', lang),
    ]))


def several_niks_reply(lang: str) -> Reply:
    """More than one NIK in a message: none is looked up or repeated."""
    return Reply(translate(
        "Your message holds more than one NIK. Send one NIK per message; that message was "
        "deleted.", lang))


def too_long_reply(lang: str) -> Reply:
    return Reply(translate('That message is too long. Send only the 16 digits of the NIK.', lang))


def media_reply(lang: str) -> Reply:
    return Reply(translate(
        "This bot reads text only. Send the NIK (16 digits) as a text message.", lang))


def photo_reply(lang: str) -> Reply:
    return Reply(translate(
        "Never send photos or files of your KTP/KK to anyone. This bot does not read photos; "
        "your message was deleted. Type the NIK (16 digits) as text.", lang))


def edited_reply(lang: str) -> Reply:
    return Reply(translate(
        "Edited messages are not processed. Send the NIK as a new message.", lang))


def group_reply(lang: str, bot_username: str = "") -> Reply:
    where = f" @{bot_username}" if bot_username else ""
    return Reply(translate(
        "For privacy, NIK checks work only in a private chat with the bot{where}. Do not post a "
        "NIK in a group.", lang).format(where=where))


def unknown_command_reply(lang: str) -> Reply:
    return Reply(translate('Unknown command. Type /bantuan for the list of commands.', lang))


def error_reply(lang: str) -> Reply:
    return Reply(translate(
        "Sorry, something went wrong while handling your message. Please try again in a little "
        "while.", lang))


def _tomorrow(retry_at: dt.datetime, tz: dt.tzinfo, now: dt.datetime | None) -> bool:
    """Whether ``retry_at`` falls on a later local day than ``now`` (a daily cap: midnight)."""
    return now is not None and retry_at.astimezone(tz).date() > now.astimezone(tz).date()


def rate_limited_reply(retry_at: dt.datetime, tz: dt.tzinfo, lang: str,
                       now: dt.datetime | None = None) -> Reply:
    """'Try again at HH:MM' — 'tomorrow at' when that time is on the next day (``now``)."""
    when = local_time_text(retry_at, tz)
    if _tomorrow(retry_at, tz, now):
        return Reply(translate(
            "To protect recipients' data, the number of checks is limited. Please try again "
            "tomorrow at {when}.", lang).format(when=when))
    return Reply(translate(
        "To protect recipients' data, the number of checks is limited. Please try again at "
        "{when}.", lang).format(when=when))


def busy_reply(retry_at: dt.datetime, tz: dt.tzinfo, lang: str,
               now: dt.datetime | None = None) -> Reply:
    when = local_time_text(retry_at, tz)
    if _tomorrow(retry_at, tz, now):
        return Reply(translate(
            "The service is busy. Please try again tomorrow at {when}.", lang).format(when=when))
    return Reply(translate(
        "The service is busy. Please try again at {when}.", lang).format(when=when))


def data_updating_reply(last_valid: dt.datetime | None, tz: dt.tzinfo, lang: str) -> Reply:
    text = translate('The data is being updated. Please try again in a little while.', lang)
    if last_valid is not None:
        when = as_of_text(last_valid, tz, lang)
        text += " " + translate('Last valid data: as of {when}.', lang).format(when=when)
    return Reply(text)


# -- the answer ------------------------------------------------------------------------------


def map_search_url(name: str, address: str) -> str:
    """A map search link built from the address (only text: the bot never fetches it)."""
    return MAP_SEARCH + urllib.parse.quote_plus(
        f"{short_text(name)}, {short_text(address, ADDRESS_LIMIT)}")


def _slot(record: RecordPayload, lang: str) -> str | None:
    slot = slot_text(record)
    if not slot:
        return None
    return translate('🕗 Time: {slot}', lang).format(slot=slot)


def _when_where(record: RecordPayload, lang: str) -> list[str]:
    schedule = record.schedule
    point = record.payout_point
    name = short_text(point.name) if point else ""
    lines: list[str] = []
    if schedule.mode == "antar":
        last = schedule.window_end or schedule.date
        lines.append(translate(
            "🏠 Delivered at home: an officer will come between {date} and {date2}.", lang).format(
            date=format_date(schedule.date, lang), date2=format_date(last, lang)))
        if point:
            lines.append(translate('Served by: {name}.', lang).format(name=name))
        return lines
    lines.append(translate("📅 Date: {date}", lang).format(date=format_date(schedule.date, lang)))
    slot = _slot(record, lang)
    if slot:
        lines.append(slot)
    if point:
        lines.append(translate(
            "📍 Place: {name} ({mode})", lang).format(
            name=name, mode=mode_label(schedule.mode, lang)))
        lines.append(f"   {short_text(point.address, ADDRESS_LIMIT)}")
        lines.append(translate(
            "   Map: {url}", lang).format(url=map_search_url(point.name, point.address)))
    return lines


def _collected(record: RecordPayload, lang: str) -> list[str]:
    """When and where it was collected, and what to do if it was not; a home delivery was
    received at home, brought by the serving office (nobody "collected" it)."""
    when, where = collected_parts(record, lang)
    if record.schedule.mode == "antar":
        done = translate("✅ Received at home on {when}, brought by {where}.", lang) if where \
            else translate("✅ Received at home on {when}.", lang)
        warning = translate("If you did not receive it, report it at once to the desa office "
                            "or {KEMENSOS}.", lang)
    else:
        done = translate("✅ Collected on {when} at {where}.", lang) if where \
            else translate("✅ Collected on {when}.", lang)
        warning = translate("If you did not collect it, report it at once to the desa office "
                            "or {KEMENSOS}.", lang)
    lines = [done.format(when=when, where=where)] if when else []
    return [*lines, warning.format(KEMENSOS=KEMENSOS)]


def answer_buttons(result: LookupResult, lang: str, now: dt.datetime | None = None,
                   ) -> tuple[tuple[Button, ...], ...]:
    first: list[Button] = []
    record = result.record
    if record is not None:
        passed = now is not None and record.status == "scheduled" \
            and schedule_timing(record, now).passed
        if not passed and record.status not in FINAL_STATUSES:
            first.append(Button(translate('🔔 Remind me', lang),
                                action=ACTION_REMIND))
        point = record.payout_point
        if point and record.schedule.mode != "antar" and record.status == "scheduled":
            first.append(Button(translate('🗺️ Map', lang),
                                url=map_search_url(point.name, point.address)))
    second = (Button(translate('🔎 Check another NIK', lang), action=ACTION_AGAIN),
              Button(translate('❓ Help', lang), action=ACTION_HELP))
    return (tuple(first), second) if first else (second,)


def record_lines(record: RecordPayload, last4: str, tz: dt.tzinfo, lang: str,
                 now: dt.datetime | None = None) -> list[str]:
    """The body of an answer about one record (shared by answers and reminders).

    With ``now``, the slot is compared with it in the payout point's zone: a slot that has
    passed with nothing collected says so, and what the recipient can still do.
    """
    program = record.program
    sections: list[list[str]] = [[
        f"👤 {short_text(record.name)} (NIK ****{last4})",
        f"Status: {record_status_label(record, now, lang)}",
        translate('💰 Amount: {amount}', lang).format(amount=format_rupiah(record.amount, lang)),
        translate(
            "Must be received in full, without any deduction — report any deduction to the desa "
            "office or {KEMENSOS}.", lang).format(KEMENSOS=KEMENSOS),
        translate(
            "Programme: {name}, period {period}", lang).format(
            name=clean_text(program.name), period=clean_text(program.period)),
    ]]
    if record.status == "collected":
        sections.append(_collected(record, lang))
    elif record.status == "scheduled":
        sections.append(_when_where(record, lang))
        if now is not None and not schedule_timing(record, now).passed:
            sections[-1] += timing_lines(record, now, lang)
        sections.append([translate('What to bring:', lang),
                         *(f"• {item}" for item in documents(lang))])
    steps = next_steps(record, lang, now)
    if steps:
        sections.append([translate('Next steps:', lang),
                         *(f"• {step}" for step in steps)])
    lines: list[str] = []
    for section in sections:
        lines += [*(["" ] if lines else []), *section]
    return lines


def answer_reply(result: LookupResult, tz: dt.tzinfo, lang: str,
                 now: dt.datetime | None = None) -> Reply:
    """The answer to a lookup: found (by status) or not found, always with the data date."""
    last4 = result.nik.last4
    if result.record is None:
        lines = [translate(
            "❌ NIK ****{last4} was not found in the recipients' data.", lang).format(last4=last4)]
        lines += [f"• {reason}" for reason in not_found_reasons(lang)]
        lines.append(_kk_hint(lang))
    else:
        program = clean_text(result.record.program.name)
        lines = [translate('✅ Listed as a recipient of {program}.', lang).format(program=program)]
        lines += record_lines(result.record, last4, tz, lang, now)
    lines += ["", _data_line(result, tz, lang)]
    return Reply("\n".join(lines), answer_buttons(result, lang, now))


# -- reminders -------------------------------------------------------------------------------


def remind_needs_lookup_reply(lang: str) -> Reply:
    return Reply(translate(
        'Send your NIK first, then type /ingatkan (or press "Remind me" under the answer).', lang))


def remind_past_reply(lang: str) -> Reply:
    return Reply(translate(
        "This payout date has passed, so no reminder was set. See the answer above for what to "
        "do next.", lang))


def remind_final_reply(status: str, lang: str) -> Reply:
    """``/ingatkan`` for aid already collected or returned: nothing will ever be sent."""
    if status == "collected":
        return Reply(translate(
            "This aid has already been collected, so there is nothing to remind you about. No "
            "reminder was set.", lang))
    return Reply(translate(
        "This aid was returned (it was not collected in time), so there is nothing to remind "
        "you about. No reminder was set. Ask the desa office or {KEMENSOS} about the next "
        "period.", lang).format(KEMENSOS=KEMENSOS))


def remind_not_found_reply(lang: str) -> Reply:
    return Reply("\n".join([translate('Reminders can be set only for a NIK that is listed.',
                                      lang), _kk_hint(lang)]))


def reminders_on_reply(masked_name: str, last4: str, lang: str) -> Reply:
    masked_name = short_text(masked_name)
    return Reply(translate(
        "🔔 Reminders are on for {masked_name} (NIK ****{last4}): a message the day before the "
        "date and whenever the status changes. Turn off with /berhenti.", lang).format(
        masked_name=masked_name, last4=last4))


def reminders_off_reply(count: int, lang: str) -> Reply:
    if count == 0:
        return Reply(translate('No reminders are on.', lang))
    return Reply(translate('Reminders are off and their data has been deleted.', lang))


def reminder_reply(record: RecordPayload, last4: str, tz: dt.tzinfo, lang: str,
                   now: dt.datetime | None = None) -> Reply:
    """The day-before reminder."""
    day = format_date(record.schedule.date, lang)
    head = translate('🔔 Reminder: tomorrow, {day}, is your payout date.', lang).format(day=day)
    return Reply("\n".join([head, "", *record_lines(record, last4, tz, lang, now)]))


def status_change_reply(record: RecordPayload, old_status: str, last4: str, tz: dt.tzinfo,
                        lang: str, now: dt.datetime | None = None) -> Reply:
    head = translate(
        "🔔 Payout status changed: {status} → {status2}.", lang).format(
        status=status_label(old_status, lang), status2=status_label(record.status, lang))
    return Reply("\n".join([head, "", *record_lines(record, last4, tz, lang, now)]))


def subscription_gone_reply(last4: str, lang: str) -> Reply:
    return Reply(translate(
        "🔔 The data for NIK ****{last4} changed (a new period or an update). Reminders stopped; "
        "send the NIK again for the latest.", lang).format(last4=last4))
