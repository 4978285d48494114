"""What the sync screen shows: the state of the app's one sync worker (plain data)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from blt_status.errors import BltError
from tui.i18n import text


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

    def report_text(self, lang: str) -> str:
        report = self.report
        if report is None:
            return ""
        if not getattr(report, "changed", True):
            return text("sync_done_same", lang, after=getattr(report, "version_after", "?"))
        return text("sync_done_changed", lang,
                    before=getattr(report, "version_before", None) or 0,
                    after=getattr(report, "version_after", "?"),
                    records=getattr(report, "records", "?"),
                    downloaded=getattr(report, "shards_downloaded", "?"),
                    reused=getattr(report, "shards_reused", "?"),
                    kib=round(int(getattr(report, "bytes_downloaded", 0) or 0) / 1024))
