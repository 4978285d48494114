"""blt-status core: NIK validation, the encrypted local index, lookup, sync and the publisher.

This package never imports textual, telegram, tui or bots (a test enforces it). The names below
are imported on first use (:mod:`blt_status._lazy`): importing any part of the package loads
only that part.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blt_status._lazy import lazy_exports

if TYPE_CHECKING:
    from blt_status.errors import BltError, IndexStoreError, InputError, NikError
    from blt_status.lookup import LookupResult, LookupService
    from blt_status.nik import Nik, parse_nik

__version__ = "0.1.0"

__all__ = [
    "BltError",
    "IndexStoreError",
    "InputError",
    "LookupResult",
    "LookupService",
    "Nik",
    "NikError",
    "__version__",
    "parse_nik",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    "BltError": "blt_status.errors", "IndexStoreError": "blt_status.errors",
    "InputError": "blt_status.errors", "NikError": "blt_status.errors",
    "LookupResult": "blt_status.lookup", "LookupService": "blt_status.lookup",
    "Nik": "blt_status.nik", "parse_nik": "blt_status.nik"})
