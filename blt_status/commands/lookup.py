"""``blt-status lookup NIK --data-dir D``: look a NIK up in the device's local index."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import TYPE_CHECKING

from blt_status.commands._common import (
    add_data_dir,
    add_json,
    current_lang,
    print_json,
    read_passphrase,
)
from blt_status.errors import NikError, NotInstalled, PassphraseRequired
from blt_status.nik import fold_digits, parse_nik

if TYPE_CHECKING:
    from blt_status.lookup import LookupResult

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
    from blt_status.audit import AuditTrail, audited, unlock
    from blt_status.device import Device
    from blt_status.lookup import LookupService

    # Invalid input fails before any passphrase prompt or KDF work, unless the device audits
    # its lookups (blt_status.audit): then the attempt is logged, as the TUI logs it.
    invalid: NikError | None = None
    args.nik = fold_digits(args.nik)  # digits of another script, a pasted no-break space
    try:
        parse_nik(args.nik)
    except NikError as error:
        invalid = error
    try:
        device = Device.load(args.data_dir)
        if invalid is not None and not audited(device):
            raise invalid
        passphrase = read_passphrase() if device.needs_passphrase else None
    except (NotInstalled, PassphraseRequired):
        if invalid is not None:
            raise invalid from None
        raise
    keyring = unlock(device, passphrase)
    trail = AuditTrail.open(device, keyring)
    unloggable = trail.check_loggable()
    if unloggable is not None:  # every lookup is audited: none that cannot be
        raise unloggable
    service = LookupService.open(device, keyring)
    try:
        try:
            result = service.lookup(args.nik)
        except NikError:
            trail.lookup(None, data_version=service.meta.version)
            raise
    finally:
        service.close()
    failure = trail.lookup(result, data_version=result.data_version)
    if failure is not None:
        raise failure
    if args.json:
        print_json(result.to_dict())
    else:
        print(render_text(result, current_lang()))
    return 0


def render_text(result: LookupResult, lang: str, now: dt.datetime | None = None) -> str:
    """A plain-text answer for the terminal (wording and layout: blt_status.present)."""
    from blt_status.present import lookup_text

    return lookup_text(result, lang, now or dt.datetime.now(dt.UTC))
