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
from blt_status.lookup import LookupResult
from blt_status.present import (
    ADDRESS_LIMIT,
    DOCUMENTS,
    clean_text,
    collected_parts,
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

LANGUAGES = ("id", "en")
ACTION_REMIND = "remind"
ACTION_HELP = "help"
ACTION_AGAIN = "again"
ACTION_LANGUAGE = "lang:"  # followed by id / en

KEMENSOS = "Kemensos 171"
CEKBANSOS = "cekbansos.kemensos.go.id"
MAP_SEARCH = "https://www.google.com/maps/search/?api=1&query="


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


def _en(lang: str) -> bool:
    return lang == "en"


def _t(lang: str, indonesian: str, english: str) -> str:
    return english if _en(lang) else indonesian


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
    line = _t(lang, f"Data per {when} (versi {result.data_version}).",
              f"Data as of {when} (version {result.data_version}).")
    if "insecure" in result.kdf_label:
        line += _t(lang, " [DATA UJI/DEMO]", " [TEST/DEMO DATA]")
    if result.stale:
        line += "\n" + _t(
            lang,
            "⚠️ Masa berlaku data ini sudah lewat; data sedang diperbarui dan mungkin belum "
            "terbaru.",
            "⚠️ This data is past its validity; an update is under way and it may be out "
            "of date.",
        )
    return line


# -- fixed texts -------------------------------------------------------------------------------


def _anti_scam(lang: str) -> str:
    return _t(
        lang,
        "⚠️ Bot ini TIDAK PERNAH meminta PIN, OTP, kata sandi, foto, atau uang, dan tidak pernah "
        "mengirim tautan untuk \"pendaftaran\". Bantuan ini gratis.",
        "⚠️ This bot NEVER asks for a PIN, OTP, password, photo or money, and never sends links "
        "to \"register\". The aid is free.",
    )


def start_reply(lang: str) -> Reply:
    text = "\n\n".join([
        _t(lang,
           "Halo! Bot ini memberi tahu penerima BLT Pangan (KPM) kapan dan di mana bantuan "
           "diambil, berapa jumlahnya, dan apakah sudah disalurkan. Kirim NIK Anda (16 angka di "
           "KTP), boleh dengan spasi, titik atau tanda hubung.",
           "Hello! This bot tells BLT Pangan recipients (KPM) when and where to collect the "
           "aid, how much it is, and whether it has been paid out. Send your NIK (the 16 "
           "digits on the KTP); spaces, dots or dashes are fine."),
        _t(lang,
           "Pengecekan bersifat pribadi: NIK tidak disimpan dan pesan berisi NIK dihapus "
           "setelah dijawab. Ketik /bantuan untuk jalur resmi dan /bahasa untuk mengganti "
           "bahasa.",
           "Checks are private: the NIK is not stored and the message holding it is deleted "
           "after the answer. Type /bantuan for official channels and /bahasa to change the "
           "language."),
        _anti_scam(lang),
    ])
    return Reply(text)


def help_reply(lang: str) -> Reply:
    text = "\n".join([
        _t(lang, "Cara memakai bot ini:", "How to use this bot:"),
        _t(lang, "• Kirim NIK (16 angka) atau /cek NIK — jadwal, tempat, jumlah, status.",
           "• Send a NIK (16 digits) or /cek NIK — date, place, amount, status."),
        _t(lang, "• /ingatkan — pengingat sehari sebelum jadwal dan saat status berubah.",
           "• /ingatkan — a reminder the day before and when the status changes."),
        _t(lang, "• /berhenti — matikan pengingat.", "• /berhenti — turn reminders off."),
        _t(lang, "• /bahasa — Bahasa Indonesia / English.",
           "• /bahasa — Bahasa Indonesia / English."),
        "",
        _t(lang, "Jalur resmi:", "Official channels:"),
        _t(lang, "• Kantor desa/kelurahan Anda (operator desa, pendamping sosial).",
           "• Your desa/kelurahan office (village officer, social worker)."),
        _t(lang, f"• Call center {KEMENSOS} (gratis).", f"• Call centre {KEMENSOS} (free)."),
        _t(lang, f"• Situs {CEKBANSOS}.", f"• The website {CEKBANSOS}."),
        "",
        _anti_scam(lang),
    ])
    return Reply(text)


def language_prompt_reply(lang: str) -> Reply:
    return Reply(
        _t(lang, "Pilih bahasa:", "Choose a language:"),
        ((Button("Bahasa Indonesia", action=ACTION_LANGUAGE + "id"),
          Button("English", action=ACTION_LANGUAGE + "en")),),
    )


def language_set_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Bahasa diganti ke Bahasa Indonesia.", "Language set to English."))


def no_nik_reply(lang: str) -> Reply:
    return Reply(_t(lang,
                    "Kirim NIK Anda (16 angka di KTP) untuk melihat jadwal bantuan. "
                    "Ketik /bantuan untuk petunjuk.",
                    "Send your NIK (the 16 digits on the KTP) to see your payout. "
                    "Type /bantuan for help."))


def _nik_problem(error: NikError, lang: str, count: int) -> str:
    """Why a NIK is not valid, in words that repeat none of its digits."""
    if error.code == "length":
        return _t(lang, f"NIK harus 16 angka, yang diberikan {count} angka.",
                  f"A NIK has 16 digits; this one has {count}.")
    if error.code in ("province", "region"):
        return _t(lang, "Kode wilayah di awal NIK tidak dikenal.",
                  "The region code at the start of the NIK does not exist.")
    if error.code == "birth_date":
        return _t(lang, "Tanggal lahir pada NIK (angka ke-7 sampai ke-12) tidak valid.",
                  "The birth date in the NIK (digits 7 to 12) is not valid.")
    if error.code == "serial":
        return _t(lang, "Empat angka terakhir NIK tidak boleh 0000.",
                  "The last four digits of a NIK cannot be 0000.")
    return _t(lang, "NIK hanya boleh berisi 16 angka (spasi, titik atau tanda hubung di "
              "antaranya boleh).",
              "A NIK may hold only 16 digits (spaces, dots or dashes between them are fine).")


def invalid_nik_reply(error: NikError, lang: str, digit_count: int = 0) -> Reply:
    """A NIK that is not valid: why, without repeating any of the digits sent."""
    return Reply("\n".join([
        f"⚠️ {_nik_problem(error, lang, digit_count)}",
        _t(lang, "Periksa lagi 16 angka NIK di KTP lalu kirim ulang.",
           "Check the 16 digits of the NIK on the KTP and send it again."),
    ]))


def several_niks_reply(lang: str) -> Reply:
    """More than one NIK in a message: none is looked up or repeated."""
    return Reply(_t(lang,
                    "Pesan Anda berisi lebih dari satu NIK. Kirim satu NIK saja per pesan; "
                    "pesan tadi sudah dihapus.",
                    "Your message holds more than one NIK. Send one NIK per message; that "
                    "message was deleted."))


def too_long_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Pesan terlalu panjang. Kirim hanya 16 angka NIK.",
                    "That message is too long. Send only the 16 digits of the NIK."))


def media_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Bot ini hanya membaca teks. Kirim NIK (16 angka) sebagai pesan teks.",
                    "This bot reads text only. Send the NIK (16 digits) as a text message."))


def photo_reply(lang: str) -> Reply:
    return Reply(_t(lang,
                    "Jangan kirim foto atau berkas KTP/KK ke siapa pun. Bot ini tidak membaca "
                    "foto; pesan Anda sudah dihapus. Ketik NIK (16 angka) sebagai teks.",
                    "Never send photos or files of your KTP/KK to anyone. This bot does not "
                    "read photos; your message was deleted. Type the NIK (16 digits) as text."))


def edited_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Pesan yang diubah tidak diproses. Kirim NIK sebagai pesan baru.",
                    "Edited messages are not processed. Send the NIK as a new message."))


def group_reply(lang: str, bot_username: str = "") -> Reply:
    where = f" @{bot_username}" if bot_username else ""
    return Reply(_t(lang,
                    f"Demi privasi, pengecekan NIK hanya lewat chat pribadi dengan bot{where}. "
                    "Jangan kirim NIK di grup.",
                    f"For privacy, NIK checks work only in a private chat with the bot{where}. "
                    "Do not post a NIK in a group."))


def unknown_command_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Perintah tidak dikenal. Ketik /bantuan untuk daftar perintah.",
                    "Unknown command. Type /bantuan for the list of commands."))


def error_reply(lang: str) -> Reply:
    return Reply(_t(lang,
                    "Maaf, terjadi gangguan saat memproses pesan Anda. Silakan coba lagi "
                    "beberapa saat lagi.",
                    "Sorry, something went wrong while handling your message. Please try again "
                    "in a little while."))


def rate_limited_reply(retry_at: dt.datetime, tz: dt.tzinfo, lang: str) -> Reply:
    when = local_time_text(retry_at, tz)
    return Reply(_t(lang,
                    "Demi melindungi data penerima, jumlah pengecekan dibatasi. Silakan coba "
                    f"lagi pukul {when}.",
                    "To protect recipients' data, the number of checks is limited. Please try "
                    f"again at {when}."))


def busy_reply(retry_at: dt.datetime, tz: dt.tzinfo, lang: str) -> Reply:
    when = local_time_text(retry_at, tz)
    return Reply(_t(lang, f"Layanan sedang ramai. Silakan coba lagi pukul {when}.",
                    f"The service is busy. Please try again at {when}."))


def data_updating_reply(last_valid: dt.datetime | None, tz: dt.tzinfo, lang: str) -> Reply:
    text = _t(lang, "Data sedang diperbarui. Silakan coba lagi beberapa saat lagi.",
              "The data is being updated. Please try again in a little while.")
    if last_valid is not None:
        when = as_of_text(last_valid, tz, lang)
        text += " " + _t(lang, f"Data terakhir yang valid: per {when}.",
                         f"Last valid data: as of {when}.")
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
    return _t(lang, f"🕗 Jam: {slot}", f"🕗 Time: {slot}")


def _when_where(record: RecordPayload, lang: str) -> list[str]:
    schedule = record.schedule
    point = record.payout_point
    name = short_text(point.name) if point else ""
    lines: list[str] = []
    if schedule.mode == "antar":
        last = schedule.window_end or schedule.date
        lines.append(_t(
            lang,
            f"🏠 Diantar ke rumah: petugas akan datang antara {format_date(schedule.date, lang)} "
            f"dan {format_date(last, lang)}.",
            f"🏠 Delivered at home: an officer will come between "
            f"{format_date(schedule.date, lang)} and {format_date(last, lang)}."))
        if point:
            lines.append(_t(lang, f"Dilayani oleh: {name}.", f"Served by: {name}."))
        return lines
    lines.append(_t(lang, f"📅 Tanggal: {format_date(schedule.date, lang)}",
                    f"📅 Date: {format_date(schedule.date, 'en')}"))
    slot = _slot(record, lang)
    if slot:
        lines.append(slot)
    if point:
        lines.append(_t(lang, f"📍 Tempat: {name} ({mode_label(schedule.mode, lang)})",
                        f"📍 Place: {name} ({mode_label(schedule.mode, lang)})"))
        lines.append(f"   {short_text(point.address, ADDRESS_LIMIT)}")
        lines.append(_t(lang, f"   Peta: {map_search_url(point.name, point.address)}",
                        f"   Map: {map_search_url(point.name, point.address)}"))
    return lines


def _collected(record: RecordPayload, lang: str) -> list[str]:
    lines: list[str] = []
    when, where = collected_parts(record, lang)
    if when:
        lines.append(_t(lang, f"✅ Diambil pada {when}" + (f" di {where}." if where else "."),
                        f"✅ Collected on {when}" + (f" at {where}." if where else ".")))
    lines.append(_t(lang,
                    f"Jika Anda tidak merasa mengambilnya, segera lapor ke kantor desa atau "
                    f"{KEMENSOS}.",
                    f"If you did not collect it, report it at once to the desa office or "
                    f"{KEMENSOS}."))
    return lines


def answer_buttons(result: LookupResult, lang: str, now: dt.datetime | None = None,
                   ) -> tuple[tuple[Button, ...], ...]:
    first: list[Button] = []
    record = result.record
    if record is not None:
        passed = now is not None and record.status == "scheduled" \
            and schedule_timing(record, now).passed
        if not passed:
            first.append(Button(_t(lang, "🔔 Ingatkan saya", "🔔 Remind me"),
                                action=ACTION_REMIND))
        point = record.payout_point
        if point and record.schedule.mode != "antar" and record.status == "scheduled":
            first.append(Button(_t(lang, "🗺️ Peta", "🗺️ Map"),
                                url=map_search_url(point.name, point.address)))
    second = (Button(_t(lang, "🔎 Cek NIK lain", "🔎 Check another NIK"), action=ACTION_AGAIN),
              Button(_t(lang, "❓ Bantuan", "❓ Help"), action=ACTION_HELP))
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
        _t(lang, f"💰 Jumlah: {format_rupiah(record.amount)}",
           f"💰 Amount: {format_rupiah(record.amount)}"),
        _t(lang,
           "Wajib diterima utuh, tanpa potongan apa pun — laporkan setiap potongan ke kantor "
           f"desa atau {KEMENSOS}.",
           "Must be received in full, without any deduction — report any deduction to the "
           f"desa office or {KEMENSOS}."),
        _t(lang, f"Program: {clean_text(program.name)}, periode {clean_text(program.period)}",
           f"Programme: {clean_text(program.name)}, period {clean_text(program.period)}"),
    ]]
    if record.status == "collected":
        sections.append(_collected(record, lang))
    elif record.status == "scheduled":
        sections.append(_when_where(record, lang))
        if now is not None and not schedule_timing(record, now).passed:
            sections[-1] += timing_lines(record, now, lang)
        sections.append([_t(lang, "Yang dibawa:", "What to bring:"),
                         *(f"• {item}" for item in DOCUMENTS["en" if _en(lang) else "id"])])
    steps = next_steps(record, lang, now)
    if steps:
        sections.append([_t(lang, "Langkah berikutnya:", "Next steps:"),
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
        lines = [_t(lang, f"❌ NIK ****{last4} tidak ditemukan dalam data penerima.",
                    f"❌ NIK ****{last4} was not found in the recipients' data.")]
        lines += [f"• {reason}" for reason in not_found_reasons(lang)]
    else:
        program = clean_text(result.record.program.name)
        lines = [_t(lang, f"✅ Terdaftar sebagai penerima {program}.",
                    f"✅ Listed as a recipient of {program}.")]
        lines += record_lines(result.record, last4, tz, lang, now)
    lines += ["", _data_line(result, tz, lang)]
    return Reply("\n".join(lines), answer_buttons(result, lang, now))


# -- reminders -------------------------------------------------------------------------------


def remind_needs_lookup_reply(lang: str) -> Reply:
    return Reply(_t(lang,
                    "Kirim NIK Anda dulu, lalu ketik /ingatkan (atau tekan tombol "
                    "\"Ingatkan saya\" di bawah jawaban).",
                    "Send your NIK first, then type /ingatkan (or press \"Remind me\" under the "
                    "answer)."))


def remind_past_reply(lang: str) -> Reply:
    return Reply(_t(lang,
                    "Jadwal ini sudah lewat, jadi tidak ada pengingat yang dipasang. Lihat "
                    "jawaban di atas untuk langkah berikutnya.",
                    "This payout date has passed, so no reminder was set. See the answer above "
                    "for what to do next."))


def remind_not_found_reply(lang: str) -> Reply:
    return Reply(_t(lang, "Pengingat hanya bisa dipasang untuk NIK yang terdaftar.",
                    "Reminders can be set only for a NIK that is listed."))


def reminders_on_reply(masked_name: str, last4: str, lang: str) -> Reply:
    masked_name = short_text(masked_name)
    return Reply(_t(lang,
                    f"🔔 Pengingat aktif untuk {masked_name} (NIK ****{last4}): pesan dikirim "
                    "sehari sebelum jadwal dan saat status berubah. Matikan dengan /berhenti.",
                    f"🔔 Reminders are on for {masked_name} (NIK ****{last4}): a message the day "
                    "before the date and whenever the status changes. Turn off with /berhenti."))


def reminders_off_reply(count: int, lang: str) -> Reply:
    if count == 0:
        return Reply(_t(lang, "Tidak ada pengingat yang aktif.", "No reminders are on."))
    return Reply(_t(lang, "Pengingat dimatikan dan datanya sudah dihapus.",
                    "Reminders are off and their data has been deleted."))


def reminder_reply(record: RecordPayload, last4: str, tz: dt.tzinfo, lang: str,
                   now: dt.datetime | None = None) -> Reply:
    """The day-before reminder."""
    day = format_date(record.schedule.date, lang)
    head = _t(lang, f"🔔 Pengingat: besok, {day}, jadwal bantuan Anda.",
              f"🔔 Reminder: tomorrow, {day}, is your payout date.")
    return Reply("\n".join([head, "", *record_lines(record, last4, tz, lang, now)]))


def status_change_reply(record: RecordPayload, old_status: str, last4: str, tz: dt.tzinfo,
                        lang: str, now: dt.datetime | None = None) -> Reply:
    head = _t(lang,
              f"🔔 Status bantuan berubah: {status_label(old_status, lang)} → "
              f"{status_label(record.status, lang)}.",
              f"🔔 Payout status changed: {status_label(old_status, lang)} → "
              f"{status_label(record.status, lang)}.")
    return Reply("\n".join([head, "", *record_lines(record, last4, tz, lang, now)]))


def subscription_gone_reply(last4: str, lang: str) -> Reply:
    return Reply(_t(lang,
                    f"🔔 Data untuk NIK ****{last4} berubah (periode baru atau data diperbarui). "
                    "Pengingat dihentikan; kirim NIK lagi untuk cek terbaru.",
                    f"🔔 The data for NIK ****{last4} changed (a new period or an update). "
                    "Reminders stopped; send the NIK again for the latest."))
