"""``blt-tui``: the village officer's terminal app — assembles the screens, keys and workers.

    blt-tui --demo                 build (once) a demo world and open it
    blt-tui --data-dir D           open the device installed in D

Nothing is shown before the passphrase unlocks the device. Every action is on a key (ids
remappable in ``D/tui.toml``), in the command palette (Ctrl+P) and in help (F1 / ``?``).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, ClassVar, cast

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.command import CommandPalette
from textual.screen import Screen
from textual.worker import WorkerFailed

from blt_status.commands._common import CliParser
from blt_status.device import Device
from blt_status.errors import BltError, SyncError
from blt_status.i18n import LANGUAGES, _, current_lang, set_lang
from blt_status.store import IndexStore, utcnow
from tui.actions import DEFAULT_KEYS, bindings_for
from tui.bindings import relabel
from tui.commands import BltCommands
from tui.config import TuiConfig
from tui.screens.audit import AuditScreen
from tui.screens.dashboard import DashboardScreen
from tui.screens.help import HelpScreen
from tui.screens.lookup import LookupScreen
from tui.screens.sync import SyncScreen
from tui.screens.unlock import UnlockScreen
from tui.session import LookupOutcome, Session
from tui.sync_state import SyncState

DATA_SCREENS: dict[str, type[Screen[None]]] = {
    "lookup": LookupScreen,
    "dashboard": DashboardScreen,
    "sync": SyncScreen,
    "audit": AuditScreen,
}
UNLOCKED_ONLY = {"show", "lock", "start_sync", "command_palette"}


class BltApp(App[None]):
    """The officer app: unlock, then lookup / dashboard / sync / audit screens."""

    TITLE = "BLT Pangan"
    CSS_PATH = "app.tcss"
    COMMANDS: ClassVar = {BltCommands}
    BINDINGS: ClassVar = bindings_for("app")

    def __init__(self, device: Device, *, config: TuiConfig | None = None,
                 lang: str | None = None, demo_passphrase: str | None = None,
                 demo_samples: dict[str, str] | None = None,
                 sync_source: str | None = None, unlock_delay: float = 1.0,
                 cursor_blink: bool = True,
                 clock: Callable[[], dt.datetime] | None = None) -> None:
        super().__init__()
        self.device = device
        self.config = config or TuiConfig()
        self.lang = lang if lang in LANGUAGES else (self.config.lang or current_lang())
        self.demo_passphrase = demo_passphrase
        self.demo_samples = demo_samples or {}
        self.sync_source = sync_source
        self.unlock_delay = unlock_delay
        self.cursor_blink = cursor_blink
        self._clock = clock or utcnow
        self.session: Session | None = None
        self.unlock_failures = 0
        self.last_outcome: LookupOutcome | None = None
        self.sync_state = SyncState()
        self.last_activity = time.monotonic()
        self._installed = False
        self._prefetch: asyncio.Future[tuple[str, IndexStore | None]] | None = None

    # -- clock, keys, language --------------------------------------------------------------

    @property
    def lang(self) -> str:
        """The interface language: the process's language (``blt_status.i18n``)."""
        return current_lang()

    @lang.setter
    def lang(self, lang: str) -> None:
        set_lang(lang)

    def now(self) -> dt.datetime:
        return self._clock()

    def key_for(self, binding_id: str) -> str:
        """How the key of ``binding_id`` is shown (after the user's keymap)."""
        keys = self._keymap.get(binding_id) or DEFAULT_KEYS.get(binding_id, "")
        first = keys.split(",")[0].strip()
        return self.get_key_display(Binding(first, "")) if first else "?"

    def on_mount(self) -> None:
        """Apply the keymap, label the keys, ask for the passphrase, start the idle check."""
        self.title = _("BLT Pangan — Village Officer")
        if self.config.keymap:
            self.set_keymap(self.config.keymap)
        relabel(self)
        self.push_screen(UnlockScreen())
        self.call_after_refresh(self.prefetch_index)  # after the first frame is on screen
        for problem in self.config.problems:
            self.notify(problem, severity="warning", timeout=8)
        interval = max(0.5, min(5.0, self.config.idle_lock_seconds / 10))
        self.set_interval(interval, self.check_idle_lock)

    def on_unmount(self) -> None:
        """Forget the keyring and close the index on the way out."""
        if self.session is not None:
            self.session.close()
            self.session = None

    async def on_event(self, event: events.Event) -> None:
        """Any key, click or paste counts as activity for the idle lock."""
        if isinstance(event, events.Key | events.MouseDown | events.Paste):
            self.last_activity = time.monotonic()
        await super().on_event(event)

    def check_idle_lock(self) -> None:
        """Lock after the configured idle time."""
        idle = time.monotonic() - self.last_activity
        if self.session is not None and idle >= self.config.idle_lock_seconds:
            self.run_worker(self.action_lock("unlock_idle_note"), exclusive=True,
                            group="lock")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Before unlocking only help, language and quit work."""
        if self.session is None and action in UNLOCKED_ONLY:
            return False
        if action == "show" and self._installed and parameters:
            name = str(parameters[0])  # hide the key of the screen already shown
            return not (name in DATA_SCREENS and self.screen is self.get_screen(name))
        return True

    # -- session ----------------------------------------------------------------------------

    def prefetch_index(self) -> None:
        """Open the index file while the passphrase is typed (records stay sealed)."""
        if self._prefetch is not None:
            return

        def open_quietly() -> tuple[str, IndexStore | None]:
            pointer = self.device.pointer_state()
            try:
                return pointer, self.device.open_index()
            except (BltError, OSError):
                return pointer, None  # the session reports it after unlocking

        self._prefetch = asyncio.get_running_loop().run_in_executor(None, open_quietly)

    async def prefetched_index(self) -> IndexStore | None:
        """The index opened ahead of time, if still the live one (used once)."""
        future, self._prefetch = self._prefetch, None
        if future is None:
            return None
        pointer, index = await future
        if index is not None and pointer != self.device.pointer_state():
            index.close()  # a sync switched versions meanwhile: open the new one instead
            return None
        return index

    async def session_started(self, session: Session) -> None:
        """The passphrase was right: show the data screens."""
        self.session = session
        self.last_activity = time.monotonic()
        if not self._installed:
            for name, screen_type in DATA_SCREENS.items():
                self.install_screen(screen_type(), name)
            self._installed = True
            await self.switch_screen("lookup")
        elif isinstance(self.screen, UnlockScreen):
            await self.pop_screen()
        self.refresh_bindings()
        self.broadcast_refresh()

    async def action_lock(self, note_key: str = "unlock_locked_note") -> None:
        """Forget the keyring and hide everything behind the unlock screen."""
        if self.session is None:
            return
        self.session.close()
        self.session = None
        self.last_outcome = None
        lookup = self.get_screen("lookup")
        if isinstance(lookup, LookupScreen) and lookup.is_mounted:
            lookup.forget()
        while isinstance(self.screen, HelpScreen):
            await self.pop_screen()
        await self.push_screen(UnlockScreen(note_key))
        self.refresh_bindings()
        self.prefetch_index()

    def broadcast_refresh(self) -> None:
        """Redraw every mounted screen (after a language switch or a new index)."""
        screens: list[Screen[Any]] = []
        if self._installed:
            screens += [self.get_screen(name) for name in DATA_SCREENS]
        screens += [screen for screen in self.screen_stack if screen not in screens]
        for screen in screens:
            refresh_view = getattr(screen, "refresh_view", None)
            if screen.is_mounted and refresh_view is not None:
                refresh_view()

    # -- actions ----------------------------------------------------------------------------

    async def action_show(self, name: str) -> None:
        """Go to one of the data screens."""
        if self.session is None or name not in DATA_SCREENS:
            return
        while isinstance(self.screen, HelpScreen):
            await self.pop_screen()
        if self.screen is not self.get_screen(name):
            await self.switch_screen(name)

    def action_language(self) -> None:
        """Switch between Bahasa Indonesia and English."""
        self.lang = LANGUAGES[(LANGUAGES.index(self.lang) + 1) % len(LANGUAGES)]  # the next one
        self.title = _("BLT Pangan — Village Officer")
        relabel(self)
        self.refresh_bindings()
        self.broadcast_refresh()
        self.notify(_("Language: English"), timeout=2)

    def action_help(self) -> None:
        """Show every key and what it does."""
        if isinstance(self.screen, HelpScreen):
            return
        keys: list[tuple[str, str, str]] = []
        seen: set[str] = set()
        for key, active in self.screen.active_bindings.items():
            binding = active.binding
            listed = binding.show or binding.id == "palette"  # Ctrl+P sits apart in the footer
            if not listed or not binding.description or binding.id in seen:
                continue
            seen.add(binding.id or key)
            keys.append((self.get_key_display(binding), binding.description,
                         binding.tooltip))
        self.push_screen(HelpScreen(keys))

    def action_command_palette(self) -> None:
        """Textual's command palette, with its prompt in the session's language."""
        if self.use_command_palette and not CommandPalette.is_open(cast("App[object]", self)):
            self.push_screen(CommandPalette(id="--command-palette",
                                            placeholder=_("Search for commands…")))

    # -- sync -------------------------------------------------------------------------------

    def sync_source_label(self) -> str:
        return self.sync_source or self.device.config.central_url or ""

    def action_start_sync(self) -> None:
        """Start a sync (also from the palette)."""
        self.start_sync()

    def start_sync(self) -> None:
        """Start the sync worker unless one runs; the officer may keep working meanwhile."""
        if self.sync_state.running or self.session is None:
            return
        self.sync_state = SyncState(running=True)
        self.refresh_sync_screen()
        self.run_sync()

    def refresh_sync_screen(self) -> None:
        if self._installed:
            screen = self.get_screen("sync")
            if screen.is_mounted and isinstance(screen, SyncScreen):
                screen.refresh_view()

    def _sync_progress(self, progress: Any) -> None:
        state = self.sync_state
        state.phase = str(getattr(progress, "phase", "") or "")
        state.done = int(getattr(progress, "done", 0) or 0)
        total = getattr(progress, "total", None)
        state.total = int(total) if total else None
        self.refresh_sync_screen()

    @work(exclusive=True, group="sync", exit_on_error=False)
    async def run_sync(self) -> None:
        """Fetch and verify the new index off the event loop, then switch to it."""
        from blt_status.sync import sync_device  # imported when needed: a quicker start

        def progress(update: Any) -> None:
            self.call_from_thread(self._sync_progress, update)

        try:
            report = await asyncio.to_thread(sync_device, self.device, self.sync_source,
                                             progress=progress, source_option="--sync-from")
        except BltError as error:
            self.sync_state = SyncState(error=error)
        except Exception as error:  # never a traceback: say what failed, keep the old data
            self.sync_state = SyncState(error=SyncError("sync_internal",
                                                        name=type(error).__name__))
        else:
            self.sync_state = SyncState(finished=True, report=report)
            if self.session is not None:
                await asyncio.to_thread(self.session.refresh)
        self.broadcast_refresh()

    # -- never a traceback ------------------------------------------------------------------

    def _handle_exception(self, error: Exception) -> None:
        """A bug must not show a traceback or lose the session: report it in one line."""
        if os.environ.get("BLT_DEBUG"):
            super()._handle_exception(error)
            return
        cause = error.error if isinstance(error, WorkerFailed) else error
        message = cause.message() if isinstance(cause, BltError) else _(
            "An internal error occurred ({name}); the data is safe.").format(
                name=type(cause).__name__)
        try:
            self.notify(message, severity="error", timeout=8)
        except Exception:
            super()._handle_exception(error)


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(
        prog="blt-tui", version=True,
        description="BLT Pangan for village officers: look residents up by NIK, see the "
        "village's payout progress, sync the data and check the audit log — offline, in "
        "Bahasa Indonesia (or English). Keys: F2 lookup, F3 dashboard, F4 sync, F5 audit, "
        "F6 language, F8 lock, F1 or ? help, Ctrl+P command palette, Ctrl+Q quit.")
    parser.add_argument("--data-dir", type=Path, metavar="D",
                        default=Path(os.environ["BLT_DATA_DIR"])
                        if os.environ.get("BLT_DATA_DIR") else None,
                        help="the device's data directory (default: $BLT_DATA_DIR)")
    parser.add_argument("--demo", action="store_true",
                        help="build (once, cached) a demo world with test keys and open it; "
                        "the demo passphrase is shown on screen")
    parser.add_argument("--lang", choices=LANGUAGES, default=None,
                        help="interface language (default: tui.toml, else id)")
    parser.add_argument("--sync-from", metavar="URL", default=None,
                        help="sync source (default: the device's central URL)")
    parser.add_argument("--central", type=Path, metavar="DIR", default=None,
                        help="admin mode: payout progress of the central store DIR")
    return parser


def _demo(lang: str, cache_dir: Path | None = None, recipients: int = 2000,
          ) -> tuple[Path, str, str | None, dict[str, str]]:
    """Build or reuse the demo world: its officer dir, passphrase, sync source, sample NIKs."""
    from blt_status.demo import ensure_demo_world

    def progress(update: Any) -> None:
        phase = getattr(update, "phase", update)
        print(f"  … {phase}", file=sys.stderr, flush=True)

    print(_("Preparing the demo data (once)…"), file=sys.stderr, flush=True)
    world = ensure_demo_world(cache_dir, recipients=recipients, progress=progress)
    source = None
    try:
        if not Device.load(Path(world.officer_dir)).config.central_url:
            source = str(world.public_dir)
    except BltError:
        source = str(world.public_dir)
    return Path(world.officer_dir), str(world.passphrase), source, dict(world.sample_niks)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_lang(args.lang)
    lang = current_lang()
    demo_passphrase = None
    demo_samples: dict[str, str] = {}
    sync_source = args.sync_from
    if args.central is not None:
        from tui.admin.app import run_admin

        return run_admin(args.central, args.lang or lang)
    try:
        if args.demo:
            data_dir, demo_passphrase, demo_source, demo_samples = _demo(lang)
            sync_source = sync_source or demo_source
        elif args.data_dir is None:
            raise BltError("data_dir_required")
        else:
            data_dir = args.data_dir
        device = Device.load(data_dir)
        config = TuiConfig.load(data_dir)
    except BltError as error:
        print(error.line(), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    app = BltApp(device, config=config, lang=args.lang or config.lang or lang,
                 demo_passphrase=demo_passphrase, demo_samples=demo_samples,
                 sync_source=sync_source)
    app.run()
    return int(app.return_code or 0)


if __name__ == "__main__":
    raise SystemExit(main())
