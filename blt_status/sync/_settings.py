"""The defaults of a sync that ``blt-status sync --help`` shows: kept apart from the sync client
so that building the command line does not import httpx and python-tuf."""

from __future__ import annotations

DEFAULT_TIMEOUT = 900.0  # seconds a whole sync may take (``blt-status sync --timeout S``)
