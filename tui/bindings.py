"""Footer labels in the session's language: rebuild a node's bindings with translated words.

Bindings are declared once in ``BINDINGS`` (with ids and tooltips); this swaps in the
description and tooltip for the chosen language, keeping keys, ids and actions, so the
user's keymap (applied by id) keeps working after a language switch.
"""

from __future__ import annotations

from dataclasses import replace

from textual.binding import Binding, BindingsMap
from textual.dom import DOMNode

from tui.i18n import binding_label


def translated_bindings(node: DOMNode, lang: str) -> BindingsMap:
    """The node's bindings (declared, plus any Textual added, e.g. the palette's) in ``lang``."""
    bindings: list[Binding] = []
    for key_bindings in node._bindings.key_to_bindings.values():
        for binding in key_bindings:
            label = binding_label(binding.id, lang) if binding.id else None
            bindings.append(replace(binding, description=label[0], tooltip=label[1])
                            if label else binding)
    return BindingsMap(bindings)


def relabel(node: DOMNode, lang: str) -> None:
    """Give ``node`` its bindings in ``lang``."""
    node._bindings = translated_bindings(node, lang)
