"""blt-status core: NIK validation, the encrypted local index, lookup, sync and the publisher.

This package never imports textual, telegram, tui or bots (a test enforces it).
"""

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
