"""The ``blt-status`` command: parses arguments, calls the library, prints; one line per error.

Subcommands live in ``blt_status.commands``: each module there has ``ORDER`` and
``register(subparsers)``, and is found automatically.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Iterator, Sequence
from typing import Any, TextIO

from blt_status import commands
from blt_status.commands._common import CliParser, add_lang, print_error
from blt_status.errors import BltError
from blt_status.i18n import LANGUAGES, N_, _, set_lang

__all__ = ["CliParser", "PipeSafeStdout", "add_lang", "build_parser", "internal_error_line",
           "main", "pipe_safe_stdout"]

DESCRIPTION = N_(
    "BLT Pangan status from a NIK: inspect NIKs, look up recipients in the local encrypted "
    "index, sync it from the central store, and run the central store.")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(prog="blt-status", description=DESCRIPTION, version=True)
    add_lang(parser)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [importlib.import_module(f"blt_status.commands.{info.name}")
               for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_")]
    for module in sorted(modules, key=lambda module: module.ORDER):
        module.register(subparsers)
    _lang_everywhere(subparsers)
    return parser


def _lang_everywhere(subparsers: argparse._SubParsersAction[Any]) -> None:
    """``--lang`` after the subcommand too (``blt-status central publish … --lang en``, the
    place an admin adds it to a command line they already have): given there, it wins;
    absent, the top-level value (or $BLT_LANG) stands."""
    for parser in set(subparsers.choices.values()):
        if not any("--lang" in action.option_strings for action in parser._actions):
            parser.add_argument("--lang", choices=LANGUAGES, default=argparse.SUPPRESS,
                                help=N_("language of messages (default: $BLT_LANG, else id)"))
        for action in parser._actions:  # argparse has no public API for this
            if isinstance(action, argparse._SubParsersAction):
                _lang_everywhere(action)


def internal_error_line(error: BaseException) -> str:
    """A bug, in one line: its type only (a message could hold personal data)."""
    return "error [internal]: {name} ({hint})".format(
        name=type(error).__name__, hint=_("run again with BLT_DEBUG=1 for details"))


class PipeSafeStdout:
    """``sys.stdout`` that goes quiet once its reader has left (``blt-status … | head``).

    The first write or flush that meets a closed pipe points the file descriptor at
    ``/dev/null`` and carries on, so the command finishes its work and exits with its own
    status, and Python's final flush has nothing left to fail on.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_pipe = False

    def write(self, text: str) -> int:
        try:
            return self._stream.write(text)
        except BrokenPipeError:
            self._go_quiet()
            return len(text)

    def flush(self) -> None:
        try:
            self._stream.flush()
        except BrokenPipeError:
            self._go_quiet()
            self._stream.flush()

    def _go_quiet(self) -> None:
        self.closed_pipe = True
        devnull = os.open(os.devnull, os.O_WRONLY)
        try:
            os.dup2(devnull, self._stream.fileno())
        finally:
            os.close(devnull)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


@contextlib.contextmanager
def pipe_safe_stdout() -> Iterator[PipeSafeStdout]:
    """Give the body a :class:`PipeSafeStdout`; flush it (quietly) and restore on the way out."""
    original = sys.stdout
    safe = PipeSafeStdout(original)
    sys.stdout = safe
    try:
        yield safe
    finally:
        try:
            safe.flush()
        finally:
            sys.stdout = original


def main(argv: Sequence[str] | None = None) -> int:
    with pipe_safe_stdout():
        parser = build_parser()
        args = parser.parse_args(argv)
        set_lang(args.lang)
        try:
            return int(args.handler(args) or 0)
        except BltError as error:
            print_error(error, json_output=getattr(args, "json", False))
            return 1
        except KeyboardInterrupt:
            print(_("cancelled"), file=sys.stderr)
            return 130
        except Exception as error:
            if os.environ.get("BLT_DEBUG"):
                traceback.print_exc()
            print(internal_error_line(error), file=sys.stderr)
            return 70


if __name__ == "__main__":
    raise SystemExit(main())
