"""Official Indonesian region codes (kode wilayah), shipped with the package, and their names.

The data is ``data/wilayah.csv`` (Kepmendagri 300.2.2-2138/2025 via the MIT-licensed
cahyadsn/wilayah dataset, license in ``data/LICENSE.wilayah``) plus ``wilayah_historical.csv``:
codes retired since 2016 (e.g. the 2022 Papua split). A NIK keeps the code it was issued under,
so NIK validation accepts both; residence codes (``kode_wilayah`` of a recipient) must be current.
"""

from __future__ import annotations

import csv
import functools
import io
from dataclasses import dataclass
from importlib import resources

__all__ = [
    "Region",
    "current_region",
    "dotted",
    "is_current_desa",
    "kecamatan_of",
    "nik_region",
    "region_name",
]


@dataclass(frozen=True, slots=True)
class Region:
    """One region: dotted code (``32.01.01``), name, and whether the code is retired."""

    code: str
    name: str
    historical: bool = False

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "name": self.name, "historical": self.historical}


def _read(filename: str, *, max_dots: int = 3) -> dict[str, str]:
    """``kode -> nama`` for codes with at most ``max_dots`` dots (3 = down to desa)."""
    path = resources.files("blt_status") / "data" / filename
    with io.TextIOWrapper(path.open("rb"), encoding="utf-8", newline="") as handle:
        lines = iter(handle)
        next(lines)  # header: kode,nama
        # Cheap depth filter before CSV parsing: NIK checks need ~8k of the ~92k rows.
        wanted = (line for line in lines if line.count(".", 0, line.find(",")) <= max_dots)
        return {row[0]: row[1] for row in csv.reader(wanted)}


@functools.cache
def _current() -> dict[str, str]:
    return _read("wilayah.csv")


@functools.cache
def _historical() -> dict[str, str]:
    return _read("wilayah_historical.csv")


@functools.cache
def _nik_prefixes() -> dict[str, Region]:
    """Province, kabupaten and kecamatan codes a NIK may carry (current first, then retired)."""
    table = {code: Region(code, name, historical=True)
             for code, name in _read("wilayah_historical.csv", max_dots=2).items()}
    table.update((code, Region(code, name))
                 for code, name in _read("wilayah.csv", max_dots=2).items())
    return table


# The look-ups below are pure functions of a short code over the shipped tables, called several
# times per row of a recipients file (NIK and KK prefixes, residence desa, its kecamatan):
# memoized, each bounded (a file has at most the country's ~84,000 desa codes).
_MEMO = 1 << 15


@functools.lru_cache(maxsize=_MEMO)
def dotted(code: str) -> str:
    """``3201012001`` -> ``32.01.01.2001``; dotted input is returned unchanged (stripped)."""
    code = code.strip()
    if "." in code:
        return code
    parts = [code[0:2], code[2:4], code[4:6], code[6:10]]
    return ".".join(part for part in parts if part)


@functools.lru_cache(maxsize=_MEMO)
def nik_region(code: str) -> Region | None:
    """A province/kabupaten/kecamatan code as found in a NIK, current or retired."""
    return _nik_prefixes().get(dotted(code))


def current_region(code: str) -> Region | None:
    """A region code in force today (any level), or None."""
    key = dotted(code)
    name = _current().get(key)
    return Region(key, name) if name is not None else None


@functools.lru_cache(maxsize=_MEMO)
def region_name(code: str) -> str | None:
    """The name of a current or retired code, or None."""
    key = dotted(code)
    return _current().get(key) or _historical().get(key)


@functools.lru_cache(maxsize=_MEMO)
def is_current_desa(code: str) -> bool:
    """True for a 10-digit desa/kelurahan code in force (dotted or not)."""
    key = dotted(code)
    return key.count(".") == 3 and key in _current()


@functools.lru_cache(maxsize=_MEMO)
def kecamatan_of(code: str) -> str:
    """The dotted kecamatan code of a desa code (``32.01.01.2001`` -> ``32.01.01``)."""
    return ".".join(dotted(code).split(".")[:3])
