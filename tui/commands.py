"""The command palette (Ctrl+P): every action of the app, found by typing its name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from tui.i18n import binding_label

if TYPE_CHECKING:
    from tui.app import BltApp

# binding id -> app action run when the command is chosen
PALETTE_ACTIONS = (
    ("lookup", "show('lookup')"),
    ("dashboard", "show('dashboard')"),
    ("sync", "show('sync')"),
    ("start_sync", "start_sync"),
    ("audit", "show('audit')"),
    ("language", "language"),
    ("lock", "lock"),
    ("help", "help"),
)


class BltCommands(Provider):
    """Offers the app's actions, labelled in the session's language."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = cast("BltApp", self.app)
        commands: list[tuple[str, Callable[[], Any], str]] = []
        for binding_id, action in PALETTE_ACTIONS:
            label = binding_label(binding_id, app.lang)
            if label is None or (app.session is None and binding_id not in ("language",
                                                                           "help")):
                continue
            description, tooltip = label
            key = app.key_for(binding_id)
            commands.append((f"{description} ({key})", partial(app.run_action, action),
                             tooltip))
        return commands

    async def discover(self) -> Hits:
        """Everything, before anything is typed."""
        for label, callback, help_text in self._commands():
            yield DiscoveryHit(label, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        """Commands whose name or description matches what was typed."""
        matcher = self.matcher(query)
        for label, callback, help_text in self._commands():
            score = max(matcher.match(label), matcher.match(help_text) * 0.8)
            if score > 0:
                yield Hit(score, matcher.highlight(label), callback, help=help_text)
