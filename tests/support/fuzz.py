"""Shared pieces of the fuzz suite (tests/test_fuzz_*.py): hostile values and the property.

The property every parser must keep: any input gives a result or a coded refusal (a
:class:`~blt_status.errors.BltError` whose ``line()`` is one line in both languages), never
another exception: nothing a user could see as a traceback or exit 70.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hypothesis import settings
from hypothesis import strategies as st

from blt_status.errors import BltError

T = TypeVar("T")

FUZZ = settings(max_examples=max(2_000, settings.default.max_examples))
"""``@FUZZ`` on a fuzz property: at least 2,000 examples (``--hypothesis-profile=long``: more)."""

# Values that broke or nearly broke a parser once, or are classic trouble for one.
NASTY = [
    "", " ", "0", "1", "4", "10", "99", "100000", "²", "٣", "١٢", "𝟗", "1" * 5000, "-1", "+3",
    "1e3", "0x10", "1_000", "3.5", "nan", "inf", "\x00", "\n", "\r\n", '"', '""', "'", ",", ";",
    "\t", "aktif", "nonaktif", "AKTIF", "lansia", "disabilitas", "salur", "gagal", "kembali",
    "kantor_pos", "komunitas", "08:00", "15:00", "24:00", "٠٨:٠٠", "8.00", "23:59",
    "32.01.01", "32.01.01.1001", "3201011001", "32.01.99", "99.99.99.9999", "32.01.01;32.01.02",
    "3201014505900001", "3201 0145 0590 0001", "3201010101100001", "0000000000000000",
    "2025-11-24T09:15:00+07:00", "2025-11-24", "9999-12-31T23:59:59", "0001-01-01T00:00:00",
    "2025-02-30T10:00:00", "KP-CIBINONG", "../etc", "Ｋ", "\u202e", "\ufeff", "😀", "𝕏" * 40,
]
# The few that crashed a parser before (exit 70), drawn more often than the rest.
CRASHED_BEFORE = ["²", "1" * 5000, "٣", "9999-12-31", "1" * 100_000]
nasty_text = st.one_of(st.sampled_from(CRASHED_BEFORE), st.sampled_from(NASTY),
                       st.text(max_size=24), st.from_regex(r"[0-9 .\-]{0,40}", fullmatch=True))


def coded(call: Callable[[], T]) -> T | BltError:
    """``call()``'s result, or the BltError it raised after checking it is one coded line."""
    try:
        return call()
    except BltError as error:
        assert error.code and error.code not in ("error", "internal"), error.code
        for lang in ("id", "en"):
            line = error.line(lang)
            assert line.startswith(f"error [{error.code}]: ")
            assert "\n" not in line and "\r" not in line, line
        return error
