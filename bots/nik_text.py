"""Find the NIK in what a recipient writes: ``NIK saya 3201 0102 0588 0127`` or ``NIK: 3201...``.

A NIK is looked for as a *group*: digits with single spaces, dots or dashes between them,
holding exactly 16 digits. Shorter runs (dates, RT/RW, years) are ignored; a run of 32 or 48
digits is two or three NIKs written together. Nothing here keeps or logs the digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from blt_status.nik import fold_digits

__all__ = ["NikText", "find_nik", "fold_digits"]

NIK_DIGITS = 16
_GROUP = re.compile(r"\d+(?:[ .\-]\d+)*")
_SEPARATOR = re.compile(r"[ .\-]")
_NEAR_MISS = 10  # a run of at least this many digits (but not 16) is a mistyped NIK


@dataclass(frozen=True)
class NikText:
    """What a message holds: the NIK groups found, and a near miss to explain if none."""

    groups: tuple[str, ...] = field(default=(), repr=False)  # each as written (separators kept)
    near_miss: str = field(default="", repr=False)  # the longest other long run, as written

    @property
    def count(self) -> int:
        return len(self.groups)


def _one_window(written: str) -> str | None:
    """The one run of whole chunks (split at separators) holding exactly 16 digits, if one.

    Chunks are never empty, so one sliding window finds every such run in linear time (a
    message of 2,000 one-digit chunks must not stall the bot).
    """
    chunks = _SEPARATOR.split(written)
    found: list[str] = []
    stop, total = 0, 0
    for start in range(len(chunks)):
        while stop < len(chunks) and total < NIK_DIGITS:
            total += len(chunks[stop])
            stop += 1
        if total == NIK_DIGITS:
            found.append(" ".join(chunks[start:stop]))
            if len(found) > 1:
                return None
        total -= len(chunks[start])
    return found[0] if found else None


def find_nik(text: str) -> NikText:
    """The 16-digit groups of ``text`` (see the module doc)."""
    groups: list[str] = []
    near_miss = ""
    for match in _GROUP.finditer(text):
        written = match.group(0)
        digits = sum(char.isdigit() for char in written)
        if digits and digits % NIK_DIGITS == 0:
            groups += [written] * (digits // NIK_DIGITS) if digits > NIK_DIGITS else [written]
        elif (inner := _one_window(written)) is not None:
            groups.append(inner)  # "lahir 1988 3201 0102 0588 0127": the year is not the NIK
        elif digits >= _NEAR_MISS and digits > sum(char.isdigit() for char in near_miss):
            near_miss = written
    return NikText(tuple(groups), near_miss)
