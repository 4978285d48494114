"""Words and formats both frontends use: rupiah, Indonesian dates, status and next steps.

These are business rules (what a status means, what to bring, what to do when held), so they
live in the core; the TUI, the bot and the CLI only lay them out.
"""

from __future__ import annotations

import datetime as dt

from blt_status.reasons import reason_from_note, reason_label
from blt_status.records import RecordPayload

__all__ = [
    "DOCUMENTS",
    "format_date",
    "format_rupiah",
    "hold_reason",
    "mode_label",
    "next_steps",
    "not_found_reasons",
    "status_label",
]

_WEEKDAYS = {
    "id": ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu"),
    "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"),
}
_MONTHS = {
    "id": ("Januari", "Februari", "Maret", "April", "Mei", "Juni", "Juli", "Agustus",
           "September", "Oktober", "November", "Desember"),
    "en": ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"),
}

_STATUS = {
    "scheduled": ("Terjadwal — belum diambil", "Scheduled — not yet collected"),
    "collected": ("Sudah disalurkan", "Collected"),
    "held": ("Ditahan — perlu tindakan", "On hold — action needed"),
    "returned": ("Dikembalikan ke kas negara", "Returned"),
}
_MODE = {
    "kantor_pos": ("Kantor Pos", "Post office"),
    "komunitas": ("Titik bayar komunitas", "Community payout point"),
    "antar": ("Diantar ke rumah", "Delivered at home"),
}

DOCUMENTS = {
    "id": ("KTP-el asli", "Kartu Keluarga (KK) asli", "Surat undangan/barcode PBP (bila ada)"),
    "en": ("Original e-KTP", "Original family card (KK)", "Invitation letter/barcode (if any)"),
}


def _pick(pair: tuple[str, str], lang: str) -> str:
    return pair[1] if lang == "en" else pair[0]


def format_rupiah(amount: int) -> str:
    """``600000`` -> ``Rp600.000`` (Indonesian thousands separator)."""
    sign = "-" if amount < 0 else ""
    return f"{sign}Rp{abs(amount):,}".replace(",", ".")


def format_date(day: dt.date, lang: str = "id", *, weekday: bool = True) -> str:
    """``Senin, 24 November 2025`` / ``Monday, 24 November 2025``."""
    key = "en" if lang == "en" else "id"
    text = f"{day.day} {_MONTHS[key][day.month - 1]} {day.year}"
    return f"{_WEEKDAYS[key][day.weekday()]}, {text}" if weekday else text


def status_label(status: str, lang: str = "id") -> str:
    return _pick(_STATUS.get(status, (status, status)), lang)


def mode_label(mode: str, lang: str = "id") -> str:
    return _pick(_MODE.get(mode, (mode, mode)), lang)


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


def next_steps(record: RecordPayload, lang: str = "id") -> list[str]:
    """What the recipient should do now, given the record's status."""
    en = lang == "en"
    if record.status == "held":
        label = hold_reason(record, lang)
        reason = f" ({label})" if label else ""
        return [
            f"Payout is on hold{reason}." if en else f"Penyaluran ditahan{reason}.",
            "Bring your e-KTP and KK to the desa office so the officer can correct the data."
            if en else
            "Bawa KTP-el dan KK ke kantor desa agar operator dapat memperbaiki data.",
            "The aid is not lost: once corrected it is rescheduled." if en else
            "Bantuan tidak hilang: setelah diperbaiki akan dijadwalkan ulang.",
        ]
    if record.status == "returned":
        return [
            "The aid was not collected in time and was returned." if en else
            "Bantuan tidak diambil tepat waktu dan dikembalikan.",
            "Ask the desa office or call Kemensos at 171 about the next period." if en else
            "Tanyakan ke kantor desa atau hubungi Kemensos di 171 untuk periode berikutnya.",
        ]
    if record.status == "collected":
        return ["The aid has been paid out. Keep your receipt." if en else
                "Bantuan sudah diterima. Simpan bukti penerimaan."]
    if record.schedule.mode == "antar":
        return ["A Pos officer will come to your home in the window shown; keep your e-KTP "
                "and KK ready." if en else
                "Petugas Pos akan datang ke rumah pada rentang tanggal di atas; siapkan KTP-el "
                "dan KK."]
    return ["Come at your time slot with the documents listed; the aid is paid in full, "
            "without any deduction." if en else
            "Datang sesuai jam yang tertera dengan membawa dokumen tersebut; bantuan diterima "
            "utuh, tanpa potongan apa pun."]


def not_found_reasons(lang: str = "id") -> list[str]:
    """Why a NIK may be missing, and what to do, instead of a bare no."""
    if lang == "en":
        return [
            "This NIK is not in this period's list for the regions this data covers.",
            "Possible reasons: not eligible this period (desil or status), registered in "
            "another region, or the data here is older than the latest list.",
            "Check the data date below, then ask the desa office or call Kemensos at 171.",
        ]
    return [
        "NIK ini tidak ada dalam daftar periode ini untuk wilayah yang dicakup data ini.",
        "Kemungkinan: tidak memenuhi syarat periode ini (desil atau status), terdaftar di "
        "wilayah lain, atau data di sini lebih lama dari daftar terbaru.",
        "Periksa tanggal data di bawah, lalu tanyakan ke kantor desa atau hubungi Kemensos 171.",
    ]
