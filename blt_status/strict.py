"""Strict reading of hand-written settings: no unknown key, no odd number passes unnoticed.

Used by every configuration reader (``program.toml``, ``payout_points.csv``, the bot's and
the TUI's TOML files), so a typo such as ``holiday = [...]`` is refused with the nearest valid
key suggested instead of being silently ignored, and a number is only ever ASCII digits within
a stated range (``int("²")`` or a 5,000-digit value never reaches :func:`int`).
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

__all__ = ["first_unknown_key", "nearest_key", "whole_number"]

_DIGITS = re.compile(r"[0-9]{1,18}")


def nearest_key(key: str, allowed: Iterable[str]) -> str:
    """The valid key closest to ``key`` (difflib's ratio; ties: alphabetical)."""
    choices = sorted(allowed)
    close = difflib.get_close_matches(key, choices, n=1, cutoff=0.0)
    return close[0] if close else (choices[0] if choices else "")


def first_unknown_key(table: Mapping[str, object], allowed: Iterable[str],
                      ) -> tuple[str, str] | None:
    """``(unknown key, nearest valid key)`` for the first key of ``table`` not in ``allowed``."""
    known = set(allowed)
    for key in table:
        if key not in known:
            return key, nearest_key(key, known)
    return None


def whole_number(text: str, low: int, high: int) -> int | None:
    """The value of ``text`` when it is plain ASCII digits within ``low..high``, else None."""
    if not _DIGITS.fullmatch(text):
        return None
    value = int(text)
    return value if low <= value <= high else None
