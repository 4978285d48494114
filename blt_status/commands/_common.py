"""What every subcommand shares: language, JSON output, error lines, passphrase, data dir."""

from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from pathlib import Path
from typing import Any

from blt_status.errors import BltError, PassphraseRequired
from blt_status.i18n import current_lang

__all__ = ["add_data_dir", "add_json", "current_lang", "print_error", "print_json",
           "read_passphrase"]


def print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def print_error(error: BltError, *, json_output: bool = False) -> None:
    """One line on stderr; with ``--json`` also ``{"error": {code, message}}`` on stdout."""
    lang = current_lang()
    if json_output:
        print_json({"error": error.to_dict(lang)})
    print(error.line(lang), file=sys.stderr)


def read_passphrase(prompt: str = "Kata sandi / passphrase: ") -> str:
    """From ``BLT_PASSPHRASE``, else a prompt on a terminal, else PassphraseRequired."""
    passphrase = os.environ.get("BLT_PASSPHRASE")
    if passphrase:
        return passphrase
    if not sys.stdin or not sys.stdin.isatty():
        raise PassphraseRequired()
    return getpass.getpass(prompt)


def add_data_dir(parser: argparse.ArgumentParser, *, required: bool = True) -> None:
    parser.add_argument("--data-dir", type=Path, required=required, metavar="D",
                        help="the device's data directory")


def add_json(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
