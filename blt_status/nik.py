"""Parse, normalise and validate an Indonesian NIK (and a KK number) into a typed value.

A NIK is 16 digits: ``PP KK CC`` (kecamatan where it was first issued), ``DD MM YY`` (birth date,
40 added to the day for women), ``SSSS`` (serial, never 0000). Input may carry spaces, dots and
dashes between digits (``3201 0145 0590 0001``). The two-digit year is resolved against today:
the most recent century in which the date is not in the future.

What a person types on a device is first passed through :func:`fold_digits` (digits of other
scripts, pasted no-break spaces and long dashes read as the plain ones); ``parse_nik`` itself,
which also checks the central store's input files, takes ASCII digits only.

A :class:`Nik`'s ``repr`` and ``str`` are masked, so a NIK cannot leak through a log line or a
traceback by accident; ``.digits`` is the only way to the number itself.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Literal

from blt_status.errors import KkError, NikError
from blt_status.regions import Region, nik_region

__all__ = ["Kk", "Nik", "fold_digits", "mask_digits", "normalize", "parse_kk", "parse_nik"]

NIK_LENGTH = 16
_SEPARATED_DIGITS = re.compile(r"[0-9]+(?:[ .\-]+[0-9]+)*")
_SEPARATORS = re.compile(r"[ .\-]+")
_MAX_INPUT = 200  # longer input is rejected before any regex work


def _fold_char(char: str) -> str:
    if char.isascii():
        return char
    if char.isdecimal():  # Arabic-Indic, Persian, full-width... digits: the digit it is
        return str(unicodedata.decimal(char))
    category = unicodedata.category(char)
    if category == "Zs":  # no-break, thin, full-width spaces from a pasted text
        return " "
    if category == "Pd" or char == "\u2212":  # en/em dashes, minus sign
        return "-"
    return "." if char == "\uff0e" else char  # full-width full stop


def fold_digits(text: str) -> str:
    """``text`` with digits of any script as ASCII digits, and other spaces and dashes as the
    plain ones, so ``٣٢٠١...`` or ``３２０１ ０１４５...`` (a phone keyboard, a paste) reads as the
    NIK it is. Every other character is kept."""
    return text if text.isascii() else "".join(_fold_char(char) for char in text)


def mask_digits(digits: str) -> str:
    """All but the last four digits hidden: ``************0001``."""
    if len(digits) <= 4:
        return "*" * len(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


@dataclass(frozen=True, slots=True)
class Nik:
    """A valid NIK, decoded. ``repr``/``str`` show only the last four digits."""

    digits: str = field(repr=False)
    province: Region
    kabupaten: Region
    kecamatan: Region
    birth_date: dt.date
    sex: Literal["F", "M"]
    serial: str = field(repr=False)

    @property
    def masked(self) -> str:
        return mask_digits(self.digits)

    @property
    def last4(self) -> str:
        return self.digits[-4:]

    def __str__(self) -> str:
        return self.masked

    def __repr__(self) -> str:
        return f"Nik({self.masked}, kecamatan={self.kecamatan.code})"

    def to_dict(self) -> dict[str, object]:
        """The ``nik --json`` fields (without the NIK itself)."""
        return {
            "valid": True,
            "error": None,
            "nik_masked": self.masked,
            "province": self.province.to_dict(),
            "kabupaten": self.kabupaten.to_dict(),
            "kecamatan": self.kecamatan.to_dict(),
            "birth_date": self.birth_date.isoformat(),
            "sex": self.sex,
        }


@dataclass(frozen=True, slots=True)
class Kk:
    """A plausible KK (family card) number: 16 digits under a known kecamatan code."""

    digits: str = field(repr=False)
    kecamatan: Region

    def __repr__(self) -> str:
        return f"Kk({mask_digits(self.digits)})"

    __str__ = __repr__


def normalize(raw: str, subject: str = "NIK") -> str:
    """Strip spaces, dots and dashes between digits; raise :class:`NikError` otherwise."""
    if not isinstance(raw, str):
        raise NikError("not_digits", subject=subject)
    text = raw.strip()
    if len(text) == NIK_LENGTH and text.isascii() and text.isdigit():
        return text  # the usual cell: what the checks below would return
    if not text:
        raise NikError("empty", subject=subject)
    if len(text) > _MAX_INPUT and not text.strip("0123456789 .-"):  # digits, too many
        raise NikError("length", subject=subject, count=sum(char.isdigit() for char in text))
    if len(text) > _MAX_INPUT or _SEPARATED_DIGITS.fullmatch(text) is None:
        raise NikError("not_digits", subject=subject)
    digits = _SEPARATORS.sub("", text)
    if len(digits) != NIK_LENGTH:
        raise NikError("length", subject=subject, count=len(digits))
    return digits


def _region_prefixes(digits: str, subject: str) -> tuple[Region, Region, Region]:
    """The province, kabupaten and kecamatan of the first six digits (never echoed back)."""
    province = nik_region(digits[0:2])
    if province is None:
        raise NikError("province", subject=subject)
    kabupaten = nik_region(digits[0:4])
    kecamatan = nik_region(digits[0:6])
    if kabupaten is None or kecamatan is None:
        raise NikError("region", subject=subject)
    return province, kabupaten, kecamatan


def _birth_date(digits: str, today: dt.date) -> tuple[dt.date, Literal["F", "M"]]:
    day, month, year2 = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    sex: Literal["F", "M"] = "F" if day > 40 else "M"
    if day > 40:
        day -= 40
    for century in (2000, 1900):
        try:
            born = dt.date(century + year2, month, day)
        except ValueError:
            break
        if born <= today:
            return born, sex
    raise NikError("birth_date")  # the digits are not echoed: a NIK shows its last 4 at most


def parse_nik(raw: str, *, today: dt.date | None = None) -> Nik:
    """Normalise and validate ``raw``; raise :class:`NikError` with a stable code if invalid."""
    digits = normalize(raw)
    province, kabupaten, kecamatan = _region_prefixes(digits, "NIK")
    born, sex = _birth_date(digits, today or dt.date.today())
    serial = digits[12:16]
    if serial == "0000":
        raise NikError("serial", subject="NIK")
    return Nik(digits, province, kabupaten, kecamatan, born, sex, serial)


def parse_kk(raw: str) -> Kk:
    """Validate a KK number: 16 digits (separators allowed) under a known kecamatan."""
    try:
        digits = normalize(raw, "KK")
        _, _, kecamatan = _region_prefixes(digits, "KK")
    except NikError as error:  # empty, not_digits, length, province, region -> kk_*
        raise KkError(f"kk_{error.code}", **error.fields) from None
    if digits[12:16] == "0000":
        raise KkError("kk_serial", subject="KK")
    return Kk(digits, kecamatan)
