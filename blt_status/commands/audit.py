"""``blt-status audit verify --data-dir D``: check the officer audit log's chain and MACs."""

from __future__ import annotations

import argparse

from blt_status.commands._common import add_data_dir, current_lang, read_passphrase

ORDER = 80


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "audit", help="the officer audit log",
        description="Work with the device's audit log (D/audit/): every officer lookup is "
        "logged there, hash-chained under a forward-secure MAC.")
    actions = parser.add_subparsers(dest="audit_command", metavar="ACTION", required=True)
    verify_parser = actions.add_parser(
        "verify", help="verify the audit log (exit 1 if broken)",
        description="Walk the audit log from its initial key (derived from the device "
        "keyring, so the passphrase comes from BLT_PASSPHRASE or a prompt). Prints OK with the "
        "entry count, or the first broken entry and why (edited, reordered, deleted, "
        "truncated); exits 1 when the log is broken.")
    add_data_dir(verify_parser)
    verify_parser.set_defaults(handler=run_verify)


def run_verify(args: argparse.Namespace) -> int:
    from blt_status.audit import unlock, verify
    from blt_status.device import Device

    device = Device.load(args.data_dir)
    keyring = unlock(device, read_passphrase() if device.needs_passphrase else None)
    report = verify(device.data_dir, keyring)
    print(report.message(current_lang()))
    return 0 if report.ok else 1
