"""The command palette (Ctrl+P): every action of the app, found by typing its name."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

from textual.command import DiscoveryHit, Hit, Hits, Provider

from blt_status.i18n import _
from tui.actions import PALETTE

if TYPE_CHECKING:
    from tui.app import BltApp

BEFORE_UNLOCK = ("language", "help")  # the only commands offered while locked


class BltCommands(Provider):
    """Offers the app's actions, labelled in the session's language."""

    def _commands(self) -> list[tuple[str, Callable[[], Any], str]]:
        app = cast("BltApp", self.app)
        commands: list[tuple[str, Callable[[], Any], str]] = []
        for action in PALETTE:
            if app.session is None and action.id not in BEFORE_UNLOCK:
                continue
            key = app.key_for(action.id)
            commands.append((f"{_(action.description)} ({key})",
                             partial(app.run_action, action.action), _(action.tooltip)))
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
