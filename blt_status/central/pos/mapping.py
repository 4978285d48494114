"""Ids and statuses between our roster and the spec: reference ids, transaction ids, outcomes.

- ``reference_id``: ``R`` + 32 hex digits of an HMAC of the key epoch and the NIK under a key
  derived from the master pepper: stable for one recipient in one programme epoch, and it
  reveals nothing about the NIK.
- ``transaction_id``: ``{program}.v{version}.{id_titik}`` — one per payout point and version.
- Feedback status -> ledger status: ``SUCC`` -> ``salur``; ``RJCT`` with a ``status_reason_code``
  beginning ``RTRN_`` -> ``kembali``; any other ``RJCT`` -> ``gagal``; ``RCVD``/``PDNG`` -> nothing.
  The payer's reason code becomes one of :data:`REASONS` (a closed list with Indonesian texts).
"""

from __future__ import annotations

import hashlib
import hmac
import re
from typing import Final

from blt_status.i18n import N_

__all__ = ["FINAL_STATUSES", "REASONS", "ledger_status", "reason_code", "reference_id",
           "reference_key", "transaction_id"]

FINAL_STATUSES: Final = frozenset({"salur", "kembali"})
"""Ledger statuses after which nothing changes (``gagal`` may still be paid later)."""

REASONS: Final[dict[str, str]] = {
    "identitas_tidak_valid": N_("identity (payee address) not valid"),
    "nama_tidak_sesuai": N_("name does not match the ID card"),
    "jumlah_tidak_valid": N_("amount not valid"),
    "jadwal_tidak_valid": N_("schedule not valid"),
    "tidak_diambil": N_("not collected in the window; returned"),
    "penerima_meninggal": N_("recipient deceased"),
    "lainnya": N_("other reason"),
}
"""The closed list of reason codes a payer's feedback maps to (English source texts)."""

_REASON_OF: Final[dict[str, str]] = {
    "RJCT_PAYEE_FA_INVALID": "identitas_tidak_valid",
    "RJCT_PAYER_FA_INVALID": "lainnya",
    "RJCT_AMOUNT_INVALID": "jumlah_tidak_valid",
    "RJCT_SHCHEDULE_TIMESTAMP_INVALID": "jadwal_tidak_valid",
    "RJCT_SCHEDULE_TIMESTAMP_INVALID": "jadwal_tidak_valid",
    "RJCT_CURRENCY_CODE_INVALID": "lainnya",
    "RJCT_PAYEE_NAME_MISMATCH": "nama_tidak_sesuai",
    "RJCT_NAME_MISMATCH": "nama_tidak_sesuai",
    "RJCT_PAYEE_DECEASED": "penerima_meninggal",
}
_SAFE = re.compile(r"[^A-Za-z0-9_.-]")


def reference_key(master_pepper: bytes) -> bytes:
    """The HMAC key of reference ids (derived; the pepper itself never leaves the store)."""
    return hmac.new(master_pepper, b"blt-pos-reference-v1", hashlib.sha256).digest()


def reference_id(key: bytes, epoch_id: str, nik_digits: str) -> str:
    mac = hmac.new(key, f"{epoch_id}|{nik_digits}".encode(), hashlib.sha256).hexdigest()
    return f"R{mac[:32]}"


def transaction_id(program_id: str, version: int, point_id: str) -> str:
    text = f"{_SAFE.sub('-', program_id)}.v{version}.{_SAFE.sub('-', point_id)}"
    return text[:99]


def ledger_status(status: str, status_reason_code: str | None) -> str | None:
    """The ledger status of a feedback status (None: record nothing)."""
    if status == "SUCC":
        return "salur"
    if status == "RJCT":
        return "kembali" if (status_reason_code or "").startswith("RTRN_") else "gagal"
    return None


def reason_code(status: str, status_reason_code: str | None) -> str | None:
    """The closed-list reason of a ``gagal``/``kembali`` outcome (None for ``salur``)."""
    if status == "salur":
        return None
    code = status_reason_code or ""
    if code.startswith("RTRN_"):
        return "penerima_meninggal" if "DECEASED" in code else "tidak_diambil"
    return _REASON_OF.get(code, "lainnya")
