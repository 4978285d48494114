"""``blt-status lookup NIK --data-dir D``: look a NIK up in the device's local index."""

from __future__ import annotations

import argparse
import datetime as dt

from blt_status.commands._common import (
    add_data_dir,
    add_json,
    current_lang,
    print_json,
    read_passphrase,
)
from blt_status.device import Device
from blt_status.lookup import LookupResult, LookupService
from blt_status.nik import parse_nik
from blt_status.present import lookup_text

ORDER = 30


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lookup", help="look a NIK up in the local index",
        description="Look a NIK up in this device's encrypted index. The passphrase comes "
        "from BLT_PASSPHRASE or a prompt. Exit 0 whether found or not; non-zero for an "
        "invalid NIK or an unusable index.")
    parser.add_argument("nik", metavar="NIK")
    add_data_dir(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    parse_nik(args.nik)  # invalid input fails before any passphrase prompt or KDF work
    device = Device.load(args.data_dir)
    keyring = device.unlock(read_passphrase() if device.needs_passphrase else None)
    service = LookupService.open(device, keyring)
    try:
        result = service.lookup(args.nik)
    finally:
        service.close()
    if device.config.view == "officer":  # every officer lookup is audited (blt_status.audit)
        from blt_status.audit import AuditLog

        AuditLog.open(device, keyring).append(
            action="lookup", tag=result.tag_hex, result="found" if result.found else "not_found",
            data_version=result.data_version)
    if args.json:
        print_json(result.to_dict())
    else:
        print(render_text(result, current_lang()))
    return 0


def render_text(result: LookupResult, lang: str, now: dt.datetime | None = None) -> str:
    """A plain-text answer for the terminal (wording and layout: blt_status.present)."""
    return lookup_text(result, lang, now or dt.datetime.now(dt.UTC))
