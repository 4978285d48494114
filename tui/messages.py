"""Messages the officer app posts about itself (tests hook them via ``message_hook``)."""

from __future__ import annotations

from textual.message import Message

from tui.session import LookupOutcome


class LookupDone(Message):
    """A lookup finished (found, not found, invalid or failed)."""

    def __init__(self, outcome: LookupOutcome) -> None:
        super().__init__()
        self.outcome = outcome


class DataChanged(Message):
    """A sync switched in a new index version (screens redraw from it)."""

    def __init__(self, version: int | None) -> None:
        super().__init__()
        self.version = version
