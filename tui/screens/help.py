"""The help screen (``?`` / F1): what the app does and every key, as remapped."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from blt_status.i18n import _
from tui.actions import bindings_for
from tui.screens import STYLES


class HelpScreen(ModalScreen[None]):
    """A modal listing the keys (key, what it does, tooltip)."""

    CSS_PATH = STYLES / "help.tcss"
    BINDINGS: ClassVar = bindings_for("help")

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        body = Text()
        body.append(_("Help") + "\n", style="bold")
        body.append(_(
            "Type a recipient's NIK on the Lookup screen and press Enter. The result card "
            "shows status, amount, schedule, place, what to bring and next steps. Every "
            "action is on a key listed below; Ctrl+P opens the command palette. Keys can be "
            "remapped in tui.toml in the data directory ([keymap] id = \"key\").") + "\n\n")
        body.append(_("Keys") + "\n", style="bold")
        width = max((len(key) for key, *_words in self.keys), default=4)
        for key, description, tooltip in self.keys:
            body.append(f"  {key:<{width}}  ", style="bold")
            body.append(f"{description}")
            if tooltip and tooltip != description:
                body.append(f" — {tooltip}", style="dim")
            body.append("\n")
        body.append("\n" + _("Esc to close."), style="italic")
        with VerticalScroll(id="help-box"):
            yield Static(body, id="help-text")

    def action_close(self) -> None:
        """Close help."""
        self.dismiss(None)
