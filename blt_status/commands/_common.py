"""What every command shares: the parser, language, JSON output, error lines, passphrase, data dir.

:class:`CliParser` is the argument parser of all three commands (``blt-status``, ``blt-tui``,
``blt-bot``): its texts — argparse's own ("usage:", "options", "the following arguments are
required") and every ``help``/``description`` — are translated through :mod:`blt_status.i18n`
when shown, a usage mistake is one line ``error [usage]: …`` (exit 2), ``--lang`` is applied
before anything is printed, and ``--version`` is always there.
"""

from __future__ import annotations

import argparse
import getpass
import json
import os
import re
import sys
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from blt_status.errors import BltError, PassphraseRequired
from blt_status.i18n import LANGUAGES, N_, _, current_lang, set_lang

__all__ = ["ARGPARSE_ERRORS", "ARGPARSE_TEXTS", "CliParser", "LocalisedHelpFormatter",
           "add_data_dir", "add_json", "add_lang", "current_lang", "int_range", "port_number",
           "print_error", "print_json", "read_passphrase", "translate_argparse_error",
           "usage_line"]

# argparse's own texts (Python 3.11), so the catalog carries them; argparse fills them in with
# ``%`` before :meth:`CliParser.error` sees them, so errors are matched back to their template.
ARGPARSE_TEXTS = (
    N_("usage: "),
    N_("positional arguments"),
    N_("options"),
    N_("show this help message and exit"),
    N_("show program's version number and exit"),
)
ARGPARSE_ERRORS = (
    N_("the following arguments are required: %s"),
    N_("unrecognized arguments: %s"),
    N_("argument %(argument_name)s: %(message)s"),
    N_("invalid choice: %(value)r (choose from %(choices)s)"),
    N_("invalid %(type)s value: %(value)r"),
    N_("expected one argument"),
    N_("expected at least one argument"),
    N_("expected at most one argument"),
    N_("not allowed with argument %s"),
    N_("one of the arguments %s is required"),
    N_("ambiguous option: %(option)s could match %(matches)s"),
    N_("ignored explicit argument %r"),
)
_PLACEHOLDER = re.compile(r"%(?:\((\w+)\))?[sr]")


def _template_pattern(template: str) -> re.Pattern[str]:
    parts: list[str] = []
    position = 0
    for index, match in enumerate(_PLACEHOLDER.finditer(template)):
        parts.append(re.escape(template[position:match.start()]))
        parts.append(f"(?P<{match.group(1) or f'p{index}'}>.+?)")
        position = match.end()
    parts.append(re.escape(template[position:]))
    return re.compile("".join(parts) + r"\Z", re.DOTALL)


_ERROR_PATTERNS = [(template, _template_pattern(template)) for template in ARGPARSE_ERRORS]


def translate_argparse_error(message: str) -> str:
    """An argparse error message (already filled in) in the current language."""
    for template, pattern in _ERROR_PATTERNS:
        match = pattern.match(message)
        if match is None:
            continue
        values = {name: translate_argparse_error(value) if name == "message" else value
                  for name, value in match.groupdict().items()}
        translated = _(template)
        if "%(" in template:
            return translated % {name: _Raw(value) for name, value in values.items()}
        return translated % tuple(_Raw(value) for value in values.values())
    return message


class _Raw(str):
    """A value already formatted by argparse: ``%r`` must not quote it a second time."""

    def __repr__(self) -> str:
        return str(self)


class LocalisedHelpFormatter(argparse.HelpFormatter):
    """argparse's help, with every text (headings, help, descriptions) in the current language."""

    def add_usage(self, usage: str | None, actions: Iterable[argparse.Action],
                  groups: Iterable[argparse._MutuallyExclusiveGroup],
                  prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, _("usage: ") if prefix is None else prefix)

    def start_section(self, heading: str | None) -> None:
        super().start_section(_(heading) if heading else heading)

    def add_text(self, text: str | None) -> None:
        super().add_text(_(text) if text and text is not argparse.SUPPRESS else text)

    def _get_help_string(self, action: argparse.Action) -> str | None:
        return _(action.help) if action.help else action.help


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number from ``low`` to ``high``, else a one-line usage error.

    ``--workers 0`` or ``--port 99999`` is refused while parsing, before anything runs.
    """
    def parse(text: str) -> int:
        try:
            value = int(text, 10)
        except ValueError:
            value = None
        if value is None or not low <= value <= high:
            raise argparse.ArgumentTypeError(
                _("%(value)r is not a whole number from %(low)s to %(high)s")
                % {"value": text, "low": low, "high": high})
        return value

    parse.__name__ = "int"
    return parse


port_number = int_range(0, 65535)
"""An argparse ``type`` for a TCP port (0: any free port)."""


def usage_line(prog: str, message: str) -> str:
    """The one line a usage mistake prints."""
    return f"error [usage]: {prog}: {message} (--help)"


class CliParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that speaks the user's language and errs in one line.

    ``version=True`` adds ``--version`` (``PROG 0.1.0``; top-level parsers only);
    subparsers inherit the class.
    """

    def __init__(self, *args: Any, version: bool = False, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", LocalisedHelpFormatter)
        super().__init__(*args, **kwargs)
        if version:
            from blt_status import __version__

            self.add_argument("--version", action="version", version=f"{self.prog} {__version__}")

    def parse_known_args(  # type: ignore[override]  # one signature for argparse's overloads
            self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None,
    ) -> tuple[argparse.Namespace, list[str]]:
        """``--lang`` first (so ``--lang en --help`` is in English), then everything."""
        argv = list(sys.argv[1:] if args is None else args)
        lang = _lang_in(argv)
        if lang is not None:
            set_lang(lang)
        self._json = "--json" in argv[:argv.index("--")] if "--" in argv else "--json" in argv
        return super().parse_known_args(argv, namespace)

    def error(self, message: str) -> NoReturn:
        text = translate_argparse_error(message)
        if getattr(self, "_json", False):  # the contract of --json: the error as JSON too
            print_json({"error": {"code": "usage", "message": f"{self.prog}: {text}"}})
        self.exit(2, usage_line(self.prog, text) + "\n")


def _lang_in(argv: Sequence[str]) -> str | None:
    for index, word in enumerate(argv):
        if word == "--":
            break
        if word.startswith("--lang="):
            value = word.split("=", 1)[1]
            return value if value in LANGUAGES else None
        if word == "--lang" and index + 1 < len(argv):
            return argv[index + 1] if argv[index + 1] in LANGUAGES else None
    return None


def add_lang(parser: argparse.ArgumentParser, help_text: str = N_(
        "language of messages (default: $BLT_LANG, else id)")) -> None:
    """``--lang`` with the one list of languages."""
    parser.add_argument("--lang", choices=LANGUAGES, default=None, help=help_text)


_SCALAR_JSON = json.JSONEncoder(ensure_ascii=False, default=str).encode
_SCALARS = (str, int, float, bool, type(None))


def indented_json(value: Any) -> str:
    """``json.dumps(value, ensure_ascii=False, indent=2, default=str)``. A flat dict of plain
    values (a rejected row: a publish prints millions) is composed by the C encoder, value by
    value; json's indenting encoder is pure Python."""
    if isinstance(value, dict) and value and all(
            type(key) is str and type(item) in _SCALARS for key, item in value.items()):
        return "{\n" + ",\n".join(f"  {_SCALAR_JSON(key)}: {_SCALAR_JSON(item)}"
                                   for key, item in value.items()) + "\n}"
    return json.dumps(value, ensure_ascii=False, indent=2, default=str)


def print_json(data: Any) -> None:
    """``data`` as indented JSON. A top-level value that is a sequence but not a list (e.g. a
    publish's rejected rows, kept on disk) is written item by item, never held as one text."""
    streamed = [key for key, value in data.items() if isinstance(value, Sequence)
                and not isinstance(value, (list, tuple, str, bytes))] \
        if isinstance(data, dict) else []
    if not streamed:
        print(json.dumps(data, ensure_ascii=False, indent=2, default=str))
        return

    def dumps(value: Any, indent: str) -> str:
        return indented_json(value).replace("\n", "\n" + indent)

    write = sys.stdout.write
    write("{")
    for number, (key, value) in enumerate(data.items()):
        write(("," if number else "") + "\n  " + json.dumps(key, ensure_ascii=False) + ": ")
        if key not in streamed:
            write(dumps(value, "  "))
            continue
        write("[")
        empty = True
        for item in value:
            write(("\n    " if empty else ",\n    ") + dumps(item, "    "))
            empty = False
        write("]" if empty else "\n  ]")
    write("\n}\n" if data else "}\n")


def print_error(error: BltError, *, json_output: bool = False) -> None:
    """One line on stderr; with ``--json`` also ``{"error": {code, message}}`` on stdout."""
    lang = current_lang()
    if json_output:
        print_json({"error": error.to_dict(lang)})
    print(error.line(lang), file=sys.stderr)


def read_passphrase(prompt: str | None = None) -> str:
    """From ``BLT_PASSPHRASE``, else a prompt on a terminal, else PassphraseRequired."""
    passphrase = os.environ.get("BLT_PASSPHRASE")
    if passphrase:
        return passphrase
    if not sys.stdin or not sys.stdin.isatty():
        raise PassphraseRequired()
    return getpass.getpass(prompt if prompt is not None else _("Passphrase: "))


def add_data_dir(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--data-dir", type=Path, required=required, metavar="D",
                        help=N_("the device's data directory"))


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help=N_("print one JSON object"))

