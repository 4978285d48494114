"""The help screen (``?`` / F1): what the app does and every key, as remapped."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, cast

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

from tui.i18n import text
from tui.screens import STYLES

if TYPE_CHECKING:
    from tui.app import BltApp


class HelpScreen(ModalScreen[None]):
    """A modal listing the keys (key, what it does, tooltip)."""

    CSS_PATH = STYLES / "help.tcss"
    BINDINGS: ClassVar = [
        Binding("escape,q,question_mark,f1", "close", "Tutup", id="close",
                tooltip="Tutup layar ini"),
    ]

    def __init__(self, keys: list[tuple[str, str, str]]) -> None:
        super().__init__()
        self.keys = keys

    def compose(self) -> ComposeResult:
        app = cast("BltApp", self.app)
        lang = app.lang
        body = Text()
        body.append(text("help_title", lang) + "\n", style="bold")
        body.append(text("help_intro", lang) + "\n\n")
        body.append(text("help_keys", lang) + "\n", style="bold")
        width = max((len(key) for key, _, _ in self.keys), default=4)
        for key, description, tooltip in self.keys:
            body.append(f"  {key:<{width}}  ", style="bold")
            body.append(f"{description}")
            if tooltip and tooltip != description:
                body.append(f" — {tooltip}", style="dim")
            body.append("\n")
        body.append("\n" + text("help_close", lang), style="italic")
        with VerticalScroll(id="help-box"):
            yield Static(body, id="help-text")

    def action_close(self) -> None:
        """Close help."""
        self.dismiss(None)
