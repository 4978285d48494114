"""Every action of the officer app, once: its id, default key, what it runs, its words.

The footer bindings of the app and of each screen, the default keys that ``tui.toml``'s
``[keymap]`` overrides (by id), the command palette's entries and the labels of all of them
in the session's language come from :data:`ACTIONS` — one table, so they cannot disagree.
Words are English source texts translated through :mod:`blt_status.i18n` (``tui.po``).
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.binding import Binding, BindingType

from blt_status.i18n import N_, _

__all__ = ["ACTIONS", "DEFAULT_KEYS", "PALETTE", "Action", "bindings_for", "label"]


@dataclass(frozen=True)
class Action:
    """One action: ``where`` is ``"app"`` or the name of the screen whose footer shows it."""

    id: str
    keys: str
    action: str
    description: str
    tooltip: str
    where: str = "app"
    show: bool = True
    palette: bool = False  # offered in the command palette (run on the app)
    priority: bool = False


ACTIONS: tuple[Action, ...] = (
    Action("lookup", "f2", "show('lookup')", N_("Lookup"), N_("The NIK lookup screen"),
           palette=True),
    Action("dashboard", "f3", "show('dashboard')", N_("Dashboard"),
           N_("Payout progress per village"), palette=True),
    Action("sync", "f4", "show('sync')", N_("Sync"), N_("Sync the data from the central store"),
           palette=True),
    Action("audit", "f5", "show('audit')", N_("Audit"), N_("The audit log and its check"),
           palette=True),
    Action("language", "f6", "language", N_("Language"), N_("Switch Bahasa Indonesia/English"),
           palette=True),
    Action("lock", "f8", "lock", N_("Lock"), N_("Lock the device now"), palette=True,
           priority=True),  # over the palette and help too: a modal must not keep it open
    Action("help", "f1", "help", N_("Help"), N_("Keys and how to use the app"), palette=True),
    Action("help_alt", "question_mark", "help", N_("Help"), N_("Keys and how to use the app"),
           show=False),
    Action("palette", "ctrl+p", "command_palette", N_("Palette"),
           N_("Open the command palette"), show=False, priority=True),
    Action("quit", "ctrl+q", "quit", N_("Quit"), N_("Close the app"), priority=True),
    Action("clear", "escape", "clear", N_("Clear"), N_("Clear the NIK and result"),
           where="lookup"),
    Action("start_sync", "s", "start_sync", N_("Start"), N_("Start a sync"), where="sync",
           palette=True),
    Action("sort", "s", "sort", N_("Sort"), N_("Change the village table's sort column"),
           where="dashboard"),
    Action("verify_audit", "v", "verify_audit", N_("Verify"), N_("Check the audit log chain"),
           where="audit"),
    Action("close", "escape,q,question_mark,f1", "close", N_("Close"), N_("Close this screen"),
           where="help"),
)
_BY_ID = {action.id: action for action in ACTIONS}

DEFAULT_KEYS: dict[str, str] = {action.id: action.keys for action in ACTIONS}
"""Binding id -> its default key(s); ``[keymap]`` in ``tui.toml`` overrides them by id."""

PALETTE: tuple[Action, ...] = tuple(action for action in ACTIONS if action.palette)


def bindings_for(where: str) -> list[BindingType]:
    """The ``BINDINGS`` of the app (``"app"``) or of one screen, labelled in English source."""
    return [Binding(action.keys, action.action, action.description, show=action.show,
                    id=action.id, tooltip=action.tooltip, priority=action.priority)
            for action in ACTIONS if action.where == where]


def label(binding_id: str) -> tuple[str, str] | None:
    """(description, tooltip) of a binding id in the current language, or None if unknown."""
    action = _BY_ID.get(binding_id)
    return None if action is None else (_(action.description), _(action.tooltip))
