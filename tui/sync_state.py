"""What the sync screen shows: the state of the app's one sync worker (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blt_status.errors import BltError
from blt_status.i18n import _, format_number


@dataclass
class SyncState:
    """Running or not, progress so far, and the report or the error of the last run."""

    running: bool = False
    phase: str = ""
    done: int = 0
    total: int | None = None
    finished: bool = False
    error: BltError | None = None
    report: Any = None  # blt_status.sync.SyncReport

    def report_text(self, lang: str | None = None) -> str:
        """What the last sync did, in the current language (``lang`` is kept for callers)."""
        report = self.report
        if report is None:
            return ""
        if not getattr(report, "changed", True):
            return _("Done: the data is already up to date (v{after}).").format(
                after=getattr(report, "version_after", "?"))
        return _("Done: data v{before} → v{after}. {records} recipients, {downloaded} shards "
                 "downloaded, {reused} reused, {kib} KiB.").format(
            before=getattr(report, "version_before", None) or 0,
            after=getattr(report, "version_after", "?"),
            records=format_number(getattr(report, "records", 0) or 0),
            downloaded=getattr(report, "shards_downloaded", "?"),
            reused=getattr(report, "shards_reused", "?"),
            kib=format_number(round(int(getattr(report, "bytes_downloaded", 0) or 0) / 1024)))
