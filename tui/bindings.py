"""Footer labels in the session's language: rebuild a node's bindings with translated words.

Bindings are declared once, in :data:`tui.actions.ACTIONS` (with ids and tooltips); this swaps
in the description and tooltip for the current language, keeping keys, ids and actions, so the
user's keymap (applied by id) keeps working after a language switch.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode

from tui.actions import label


def translated_bindings(node: DOMNode) -> BindingsMap:
    """The node's bindings (declared, plus any Textual added) in the current language."""
    bindings: list[Binding] = []
    for key_bindings in node._bindings.key_to_bindings.values():
        for binding in key_bindings:
            words = label(binding.id) if binding.id else None
            bindings.append(replace(binding, description=words[0], tooltip=words[1])
                            if words else binding)
    return BindingsMap(bindings)


def relabel(node: DOMNode, lang: str | None = None) -> None:
    """Give ``node`` its bindings in the current language (``lang`` is kept for callers)."""
    node._bindings = translated_bindings(node)
