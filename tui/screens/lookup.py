"""The lookup screen (the main one): NIK box validated as you type, Enter looks it up.

Validation and decoding come from the core (``LookupService.check`` / ``parse_nik``); the
lookup (an Argon2id derivation) runs in a worker, and its audit entry is written there too.
"""

from __future__ import annotations

import asyncio
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Input, Static

from blt_status.errors import NikError
from blt_status.i18n import N_, _
from blt_status.nik import fold_digits, parse_nik
from blt_status.present import format_date
from tui.actions import bindings_for
from tui.messages import LookupDone
from tui.screens import STYLES
from tui.screens.base import BltScreen
from tui.session import LookupOutcome
from tui.widgets.data_bar import DataBar
from tui.widgets.key_bar import KeyBar
from tui.widgets.result_card import ResultCard, render_result

DEMO_SAMPLES: dict[str, str] = {  # the demo's sample NIK labels, in the order shown
    "scheduled": N_("scheduled"),
    "komunitas": N_("scheduled at a community point"),
    "antar": N_("delivered at home"),
    "issued_elsewhere": N_("NIK issued in another kecamatan, lives here"),
    "not_listed": N_("not listed"),
}
DEMO_SAMPLE_LABELS = tuple(DEMO_SAMPLES)
SEX = {"F": N_("female"), "M": N_("male")}


class LookupScreen(BltScreen):
    """Type a NIK, press Enter, read the card."""

    TITLE = N_("Lookup")
    CSS_PATH = STYLES / "lookup.tcss"
    BINDINGS: ClassVar = bindings_for("lookup")

    def compose(self) -> ComposeResult:
        yield self.title_bar()
        yield DataBar(id="data-bar")
        with Horizontal(id="nik-row"):
            yield Static(_("NIK:"), id="nik-label")
            yield Input(placeholder=_("e.g. 3201 0145 0590 0001"), id="nik", max_length=64,
                        compact=True)
        yield Static(_("Type a NIK, then press Enter to look it up."), id="nik-hint")
        with VerticalScroll(id="result-scroll"):
            yield ResultCard("", id="result")
        yield KeyBar()

    def on_mount(self) -> None:
        """Focus the NIK box (cursor blink off in tests/snapshots)."""
        box = self.query_one("#nik", Input)
        box.cursor_blink = self.blt.cursor_blink
        box.focus()
        super().on_mount()
        self.show_no_data_hint()

    def refresh_view(self) -> None:
        """Redraw labels, the hint and the last result in the current language."""
        super().refresh_view()
        self.query_one("#nik-label", Static).update(_("NIK:"))
        box = self.query_one("#nik", Input)
        box.placeholder = _("e.g. 3201 0145 0590 0001")
        self.validate_input(box.value)
        if self.blt.last_outcome is not None:
            self.show_outcome(self.blt.last_outcome)
        else:
            self.show_no_data_hint()

    def show_no_data_hint(self) -> None:
        session = self.session
        card = self.query_one("#result", ResultCard)
        if session is not None and session.service is None and session.open_error:
            card.update(Text(session.open_error.message() + "\n\n"
                             + _("No data on this device yet. Press {key} to sync.").format(
                                 key=self.blt.key_for("sync")), style="bold"))
        elif self.blt.last_outcome is None:
            card.update(self._demo_samples_text())

    def _demo_samples_text(self) -> str:
        """In the demo, sample NIKs to try (synthetic people), so nobody has to read docs."""
        samples = self.blt.demo_samples
        if not samples:
            return ""
        lines = [_("Demo — try these sample NIKs (synthetic people):")]
        for label in DEMO_SAMPLE_LABELS:
            if label in samples:
                nik = samples[label]
                spaced = " ".join(nik[i:i + 4] for i in range(0, 16, 4))
                lines.append(f"  {spaced}  {_(DEMO_SAMPLES[label])}")
        return "\n".join(lines)

    @on(Input.Changed, "#nik")
    def nik_changed(self, event: Input.Changed) -> None:
        """Validate as the officer types (the core decides what a valid NIK is)."""
        self.validate_input(event.value)

    def validate_input(self, raw: str) -> None:
        hint = self.query_one("#nik-hint", Static)
        hint.remove_class("invalid", "valid")
        if not raw.strip():
            hint.update(_("Type a NIK, then press Enter to look it up."))
            return
        try:
            nik = parse_nik(fold_digits(raw))
        except NikError as error:
            hint.add_class("invalid")
            hint.update(f"✘ {error.message()}")
            return
        hint.add_class("valid")
        hint.update("✔ " + _("Valid NIK: {kecamatan}, {kabupaten} · born {birth} · {sex}").format(
            kecamatan=nik.kecamatan.name, kabupaten=nik.kabupaten.name,
            birth=format_date(nik.birth_date, self.lang, weekday=False), sex=_(SEX[nik.sex])))

    @on(Input.Submitted, "#nik")
    def nik_submitted(self, event: Input.Submitted) -> None:
        """Enter: look the NIK up in a worker."""
        if self.session is None:
            return
        self.query_one("#result", ResultCard).update(_("Looking up…"))
        self.run_lookup(event.value)

    @work(exclusive=True, group="lookup")
    async def run_lookup(self, raw: str) -> None:
        """Derive the key and open the record off the event loop, show it, then audit it."""
        session = self.session
        if session is None:
            return
        now = self.blt.now()
        outcome = await asyncio.to_thread(session.lookup, raw, now=now)
        self.blt.last_outcome = outcome if outcome.result is not None else None
        self.show_outcome(outcome)
        if outcome.result is not None:
            self.query_one("#nik", Input).value = ""
        # The audit entry is written right after the card is shown (fsyncs take milliseconds).
        audit_error = await asyncio.to_thread(session.audit_lookup, outcome, now=now)
        self.update_data_bar()
        if audit_error is not None:
            self.notify(_("The audit log could not be written: {error}").format(
                error=audit_error.message()), severity="error")
        self.post_message(LookupDone(outcome))

    def show_outcome(self, outcome: LookupOutcome) -> None:
        card = self.query_one("#result", ResultCard)
        if outcome.result is not None:
            card.update(render_result(outcome.result, self.lang, self.blt.now()))
        elif outcome.nik_error is not None:
            card.update(Text(f"✘ {outcome.nik_error.message()}", style="bold red"))
        elif outcome.error is not None:
            card.update(Text(outcome.error.message(), style="bold red"))
        self.query_one("#result-scroll", VerticalScroll).scroll_home(animate=False)

    def action_clear(self) -> None:
        """Clear the NIK box and the result card."""
        self.blt.last_outcome = None
        self.query_one("#nik", Input).value = ""
        self.query_one("#result", ResultCard).update("")
        self.show_no_data_hint()

    def forget(self) -> None:
        """On lock: nothing personal stays on screen."""
        self.blt.last_outcome = None
        self.query_one("#nik", Input).value = ""
        self.query_one("#result", ResultCard).update("")
