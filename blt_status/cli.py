"""The ``blt-status`` command: parses arguments, calls the library, prints; one line per error.

Subcommands live in ``blt_status.commands``: each module there has ``ORDER`` and
``register(subparsers)``, and is found automatically.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
import traceback
from collections.abc import Sequence

from blt_status import __version__, commands
from blt_status.commands._common import current_lang, print_error
from blt_status.errors import BltError

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="blt-status",
        description="BLT Pangan status from a NIK: inspect NIKs, look up recipients in the "
        "local encrypted index, sync it from the central store, and run the central store.",
    )
    parser.add_argument("--version", action="version", version=f"blt-status {__version__}")
    parser.add_argument("--lang", choices=("id", "en"), default=None,
                        help="language of messages (default: $BLT_LANG or id)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    modules = [importlib.import_module(f"blt_status.commands.{info.name}")
               for info in pkgutil.iter_modules(commands.__path__) if not info.name.startswith("_")]
    for module in sorted(modules, key=lambda module: module.ORDER):
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.lang:
        os.environ["BLT_LANG"] = args.lang
    try:
        return int(args.handler(args) or 0)
    except BltError as error:
        print_error(error, json_output=getattr(args, "json", False))
        return 1
    except KeyboardInterrupt:
        print("dibatalkan / cancelled", file=sys.stderr)
        return 130
    except Exception as error:
        if os.environ.get("BLT_DEBUG"):
            traceback.print_exc()
        lang = current_lang()
        hint = ("jalankan lagi dengan BLT_DEBUG=1 untuk detail" if lang == "id"
                else "run again with BLT_DEBUG=1 for details")
        print(f"error [internal]: {type(error).__name__} ({hint})", file=sys.stderr)
        return 70


if __name__ == "__main__":
    raise SystemExit(main())
