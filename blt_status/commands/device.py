"""``blt-status init --data-dir D --bundle BUNDLE``: install a device from an enrollment bundle."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from blt_status.commands._common import add_data_dir, add_json, print_json
from blt_status.errors import PassphraseRequired
from blt_status.i18n import _
from blt_status.store import BACKENDS

ORDER = 40


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "init", help="install a device from an enrollment bundle",
        description="Install a device in D from the bundle made by `central enroll`. The "
        "passphrase that protects the pepper comes from BLT_PASSPHRASE or a prompt (asked "
        "twice); a bot device may keep its pepper in a secret file instead (--pepper-file). "
        "An installed data directory is never overwritten. Delete the bundle afterwards: it "
        "holds the pepper.")
    add_data_dir(parser)
    parser.add_argument("--bundle", type=Path, required=True, metavar="BUNDLE",
                        help="the enrollment bundle file")
    parser.add_argument("--backend", choices=sorted(BACKENDS), default=None,
                        help="index storage (default: tinydb for officers, sqlite for the bot)")
    parser.add_argument("--pepper-file", type=Path, default=None, metavar="F",
                        help="bot only: write the pepper to this secret file (0600) instead of "
                        "wrapping it under a passphrase")
    parser.add_argument("--insecure-test-kdf", action="store_true",
                        help="protect the passphrase with the cheap test KDF (tests and demos "
                        "only; NOT FOR REAL DATA)")
    add_json(parser)
    parser.set_defaults(handler=run)


def _new_passphrase() -> str:
    passphrase = os.environ.get("BLT_PASSPHRASE")
    if passphrase:
        return passphrase
    if not sys.stdin or not sys.stdin.isatty():
        raise PassphraseRequired()
    import getpass

    first = getpass.getpass(_("New passphrase: "))
    second = getpass.getpass(_("Repeat it: "))
    if not first or first != second:
        raise PassphraseRequired()
    return first


def run(args: argparse.Namespace) -> int:
    from blt_status.crypto import PRODUCTION_WRAP_KDF, TEST_WRAP_KDF
    from blt_status.sync import install_bundle

    passphrase = None if args.pepper_file else _new_passphrase()
    device = install_bundle(
        args.data_dir, args.bundle, passphrase, backend=args.backend,
        pepper_file=args.pepper_file,
        wrap_profile=TEST_WRAP_KDF if args.insecure_test_kdf else PRODUCTION_WRAP_KDF)
    config = device.config
    if args.json:
        print_json({"installed": True, "data_dir": str(device.data_dir), "view": config.view,
                    "regions": list(config.regions), "backend": config.backend,
                    "central_url": config.central_url, "device_id": config.device_id})
        return 0
    where = ", ".join(config.regions) if config.regions else _("the whole country")
    print(_("Device installed: {data_dir}").format(data_dir=device.data_dir))
    print("  " + _("View: {view} ({where}), backend {backend}").format(
        view=config.view, where=where, backend=config.backend))
    hint = (f"blt-status sync --data-dir {device.data_dir}"
            + ("" if config.central_url else " --from URL"))
    print(_("Next: {command}").format(command=hint))
    if not args.pepper_file:
        print(_("Delete the bundle file now: it holds the pepper."))
    return 0
