"""``blt-status verify-invitation TOKEN --data-dir D``: is a surat undangan's QR token genuine?"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING

from blt_status.commands._common import add_data_dir, add_json, print_json
from blt_status.errors import InputError
from blt_status.i18n import N_, _, current_lang

FIELD_NAMES = {"ref": N_("the reference"), "version": N_("the version"),
               "point": N_("the payout point"), "date": N_("the date"),
               "amount": N_("the amount"), "signature": N_("the signature")}

if TYPE_CHECKING:
    from securesystemslib.signer import Key

ORDER = 45


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "verify-invitation", help="check an invitation's QR token offline: ASLI or PALSU",
        description="Check the token of a surat undangan's QR code offline against the keys "
        "this device trusts (the central store's signing key from the TUF root it synced). "
        "Prints ASLI (genuine) with the reference, version, payout point, date and amount, "
        "or PALSU (forged) with what was altered, and exits 1. Needs no passphrase.")
    parser.add_argument("token", metavar="TOKEN")
    add_data_dir(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def trusted_keys(data_dir: Path) -> list[Key]:
    """The ``targets`` keys of the device's verified TUF root (after a sync, else bootstrap)."""
    from tuf.api.metadata import Metadata

    from blt_status.sync._state import SyncPaths

    paths = SyncPaths(data_dir)
    for path in (paths.metadata_dir / "root.json", paths.bootstrap_root):
        if path.exists():
            root = Metadata.from_file(str(path)).signed
            return [root.keys[keyid] for keyid in root.roles["targets"].keyids]
    raise InputError("invitation_no_keys")


def run(args: argparse.Namespace) -> int:
    from blt_status.invitation import check_token
    from blt_status.present import format_date, format_rupiah

    check = check_token(args.token, trusted_keys(args.data_dir))
    if check is None:
        raise InputError("invitation_token_invalid")
    invitation = check.invitation
    if args.json:
        print_json({"genuine": check.genuine, "verdict": "ASLI" if check.genuine else "PALSU",
                    "altered": list(check.altered), "problem": check.problem,
                    "ref": invitation.ref if invitation else None,
                    "version": invitation.version if invitation else None,
                    "point": invitation.point if invitation else None,
                    "date": invitation.date.isoformat() if invitation else None,
                    "amount": invitation.amount if invitation else None})
        return 0 if check.genuine else 1
    if check.genuine and invitation is not None:
        print(_("GENUINE (ASLI): reference {ref}, version {version}, payout point {point}, "
                "{date}, {amount}.").format(
            ref=invitation.ref, version=invitation.version, point=invitation.point,
            date=format_date(invitation.date, current_lang()),
            amount=format_rupiah(invitation.amount)))
        return 0
    what = _(check.problem)
    if check.altered:
        what += ": " + ", ".join(_(FIELD_NAMES.get(name, name)) for name in check.altered)
    raise InputError("invitation_forged", what=what)
