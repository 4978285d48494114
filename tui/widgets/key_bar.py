"""The footer of every screen: Textual's Footer, wrapped onto two lines when keys don't fit.

At 80 columns, Indonesian labels for nine actions do not fit on one line; rather than cut
words off, the bar becomes a two-row grid so every key and its word stays readable.
"""

from __future__ import annotations

import math

from textual.app import ComposeResult
from textual.widgets import Footer

PALETTE_WIDTH = 12  # "^p palette" docked on the right


class KeyBar(Footer):
    """A compact footer that takes two rows when one is too narrow."""

    DEFAULT_CSS = """
    KeyBar {
        layout: grid;
        grid-columns: auto;
        grid-rows: 1;
        grid-gutter: 0 1;
        height: 1;
        &.-compact FooterKey {
            margin: 0;
        }
    }
    """

    def __init__(self) -> None:
        super().__init__(compact=True)
        self._laid_out_width = 0

    def compose(self) -> ComposeResult:
        yield from super().compose()
        shown = [binding for (_, binding, _, _) in self.screen.active_bindings.values()
                 if binding.show]
        keys = {binding.action: binding for binding in shown}
        needed = sum(len(self.app.get_key_display(b)) + len(b.description) + 2
                     for b in keys.values())
        self._laid_out_width = self.app.size.width
        available = max(self._laid_out_width - PALETTE_WIDTH, 1)
        rows = 2 if needed > available and len(keys) > 1 else 1
        self.styles.grid_size_columns = max(math.ceil(len(keys) / rows), 1)
        self.styles.height = rows

    def on_resize(self) -> None:
        """Re-flow the keys when the terminal width changed."""
        if self.app.size.width != self._laid_out_width:
            self.refresh(recompose=True)
