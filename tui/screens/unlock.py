"""The unlock screen: the passphrase opens the wrapped peppers; nothing else is shown before.

A wrong passphrase gives a clear message and a delay that doubles with each failure (capped),
during which the box is disabled. The rule, the count of failures and the audit entries are the
core's (:func:`blt_status.audit.unlock`), shared with the command line: quitting the app does
not reset the delay. The same screen is shown when the app locks (on a key or after the idle
timeout).
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Center, Vertical
from textual.screen import Screen
from textual.widgets import Input, Static

from blt_status.audit import failure_delay as core_failure_delay
from blt_status.audit import unlock, unlock_failures, unlock_wait
from blt_status.errors import BltError, WrongPassphrase
from blt_status.i18n import N_, _
from tui.bindings import relabel
from tui.screens import STYLES
from tui.session import Session
from tui.widgets.key_bar import KeyBar

if TYPE_CHECKING:
    from tui.app import BltApp

NOTES = {  # why the screen is shown again (UnlockScreen(note_key))
    "unlock_locked_note": N_("Locked. No data is shown until unlocked."),
    "unlock_idle_note": N_("Locked automatically after inactivity."),
}


def failure_delay(failures: int, base: float) -> float:
    """Seconds to wait after ``failures`` wrong passphrases (the core's rule)."""
    return core_failure_delay(failures, base)


class UnlockScreen(Screen[None]):
    """Asks for the passphrase; on success hands a :class:`Session` to the app."""

    CSS_PATH = STYLES / "unlock.tcss"

    def __init__(self, note_key: str | None = None) -> None:
        super().__init__()
        self.note_key = note_key

    @property
    def blt(self) -> BltApp:
        return cast("BltApp", self.app)

    def _note(self) -> str:
        return _(NOTES[self.note_key]) if self.note_key in NOTES else ""

    def compose(self) -> ComposeResult:
        with Center(), Vertical(id="unlock-box"):
            yield Static(_("BLT Pangan — Village Officer"), id="unlock-app-title")
            yield Static(_("Unlock this device"), id="unlock-title")
            yield Static(self._note(), id="unlock-note")
            yield Static(_("Type the device passphrase and press Enter."), id="unlock-prompt")
            yield Input(password=True, placeholder=_("passphrase"), id="passphrase")
            yield Static("", id="unlock-message")
            yield Static(self._demo_text(), id="demo-hint")
        yield KeyBar()

    def _demo_text(self) -> str:
        passphrase = self.blt.demo_passphrase
        return _("Demo — passphrase: {passphrase}").format(passphrase=passphrase) \
            if passphrase else ""

    def on_mount(self) -> None:
        """Focus the passphrase box; label the footer."""
        box = self.query_one("#passphrase", Input)
        box.cursor_blink = self.blt.cursor_blink
        box.focus()
        self.refresh_view()

    def refresh_view(self) -> None:
        """Redraw the words in the current language."""
        relabel(self)
        self.refresh_bindings()
        self.query_one("#unlock-app-title", Static).update(_("BLT Pangan — Village Officer"))
        self.query_one("#unlock-title", Static).update(_("Unlock this device"))
        self.query_one("#unlock-note", Static).update(self._note())
        self.query_one("#unlock-prompt", Static).update(
            _("Type the device passphrase and press Enter."))
        self.query_one("#passphrase", Input).placeholder = _("passphrase")
        self.query_one("#demo-hint", Static).update(self._demo_text())

    @on(Input.Submitted, "#passphrase")
    def submit_passphrase(self, event: Input.Submitted) -> None:
        """Try the passphrase (in a worker: the key derivation is slow on purpose)."""
        if event.input.disabled or not event.value:
            return
        event.input.disabled = True
        self.query_one("#unlock-message", Static).update(_("Unlocking…"))
        self.unlock(event.value)

    @work(exclusive=True, group="unlock")
    async def unlock(self, passphrase: str) -> None:
        """Unwrap the keyring and open the session off the event loop."""
        device = self.blt.device
        box = self.query_one("#passphrase", Input)
        message = self.query_one("#unlock-message", Static)
        base = self.blt.unlock_delay
        try:
            keyring = await asyncio.to_thread(unlock, device, passphrase, base_delay=base,
                                              now=self.blt.now())
            index = await self.blt.prefetched_index()
            session = await asyncio.to_thread(Session, device, keyring, index)
        except WrongPassphrase:
            self.blt.unlock_failures = unlock_failures(device)
            delay = unlock_wait(device, base=base)
            message.update(_("Wrong passphrase. Try again in {seconds} s.").format(
                seconds=f"{delay:.0f}"))
            box.value = ""
            self.set_timer(delay, self._ready_again) if delay else self._ready_again()
            return
        except BltError as error:
            message.update(Text(error.line()))  # plain: "[code]" is no markup tag
            box.value = ""
            box.disabled = False
            box.focus()
            return
        box.value = ""
        self.blt.unlock_failures = 0
        # Not awaited here: leaving this screen ends this worker.
        self.app.call_later(self.blt.session_started, session)

    def _ready_again(self) -> None:
        box = self.query_one("#passphrase", Input)
        box.disabled = False
        box.focus()
