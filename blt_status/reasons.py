"""Why a payout failed or was returned: a closed list of reason codes with their texts.

A Kantor Pos report (or API feedback) explains a ``gagal`` or ``kembali`` in free text — which
may name people or quote NIKs. That text stays in the private ledger only. Everything that
leaves it (a published record, a device, an aggregate, a log, a reply) carries a *reason code*
from :data:`REASONS`, and frontends show the code's text in the user's language.

:func:`reason_from_note` maps a payer's note to a code by keywords (Indonesian and English);
text it does not recognise maps to ``lainnya`` ("other").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from blt_status.i18n import N_, translate

__all__ = ["OTHER", "REASONS", "Reason", "reason_from_note", "reason_label", "valid_reason"]

OTHER = "lainnya"


@dataclass(frozen=True, slots=True)
class Reason:
    code: str
    text: str  # the English source text, translated through the catalogs (reasons.po)
    keywords: tuple[str, ...]  # normalised phrases (lower case, single spaces)

    def label(self, lang: str = "id") -> str:
        return translate(self.text, lang)

    @property
    def id_text(self) -> str:
        return self.label("id")

    @property
    def en_text(self) -> str:
        return self.text


_LIST = (
    Reason("nama_tidak_sesuai", N_("name does not match the ID card"),
           ("nama tidak sesuai", "nama tidak cocok", "nama beda", "beda nama", "nama salah",
            "salah nama", "nama berbeda", "name mismatch", "wrong name")),
    Reason("nik_tidak_sesuai", N_("NIK does not match the records"),
           ("nik tidak sesuai", "nik beda", "nik salah", "nik berbeda", "tidak padan",
            "nik tidak padan", "nik tidak cocok", "nik mismatch", "wrong nik")),
    Reason("ktp_tidak_dibawa", N_("ID card not brought"),
           ("ktp tidak dibawa", "tidak bawa ktp", "tidak membawa ktp", "tanpa ktp", "lupa ktp",
            "ktp tertinggal", "no id card", "ktp hilang")),
    Reason("ktp_rusak", N_("ID card damaged or unreadable"),
           ("ktp rusak", "ktp tidak terbaca", "ktp patah", "damaged id")),
    Reason("kk_tidak_sesuai", N_("family card missing or not matching"),
           ("kk tidak sesuai", "kk beda", "kk tidak dibawa", "tidak bawa kk", "tanpa kk",
            "kartu keluarga")),
    Reason("tidak_hadir", N_("did not come at the scheduled time"),
           ("tidak hadir", "tdk hadir", "tidak datang", "tdk datang", "absen",
            "did not come", "no show", "not present")),
    Reason("meninggal", N_("recipient has died"),
           ("meninggal", "wafat", "almarhum", "almarhumah", "alm.", "died", "deceased")),
    Reason("pindah", N_("moved away"),
           ("pindah", "sudah pindah", "pindah domisili", "pindah alamat", "moved")),
    Reason("tidak_ditemukan", N_("recipient or address not found"),
           ("tidak ditemukan", "tdk ditemukan", "alamat tidak ada", "tidak dikenal",
            "not found")),
    Reason("kuasa_tidak_sah", N_("power of attorney / representative not valid"),
           ("kuasa", "diwakilkan", "perwakilan", "wakil")),
    Reason("menolak", N_("recipient declined"),
           ("menolak", "mengundurkan diri", "tidak bersedia", "declined", "refused")),
    Reason("data_ganda", N_("duplicate data"),
           ("ganda", "double", "duplikat", "duplicate")),
    Reason("gangguan_sistem", N_("system or network failure"),
           ("gangguan", "sistem error", "offline", "jaringan", "server", "system error")),
    Reason(OTHER, N_("other reason"),
           ()),
)

REASONS: dict[str, Reason] = {reason.code: reason for reason in _LIST}
"""Every reason code -> its :class:`Reason` (a closed list: anything else is ``lainnya``)."""


def _normalise(text: str) -> str:
    return " " + " ".join(re.sub(r"[^0-9a-z.]+", " ", text.casefold()).split()) + " "


def reason_from_note(note: str | None) -> str:
    """The reason code for a payer's free text (a code itself is accepted as it is).

    The first reason (in :data:`REASONS` order) one of whose keywords appears as whole words
    wins; empty or unrecognised text gives ``lainnya``.
    """
    if not note:
        return OTHER
    stripped = note.strip().casefold()
    if stripped in REASONS:
        return stripped
    text = _normalise(note)
    for reason in _LIST:
        if any(f" {keyword} " in text for keyword in reason.keywords):
            return reason.code
    return OTHER


def valid_reason(code: str | None) -> str | None:
    """``code`` when it is on the list, ``lainnya`` for any other text, None for None."""
    if code is None:
        return None
    return code if code in REASONS else OTHER


def reason_label(code: str | None, lang: str = "id") -> str | None:
    """The text of a reason code in ``lang`` (None for None; unknown codes read as lainnya)."""
    checked = valid_reason(code)
    return REASONS[checked].label(lang) if checked else None
