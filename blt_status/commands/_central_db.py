"""``blt-status central migrate``: move a store of the file-based release into the database."""

from __future__ import annotations

import argparse

from blt_status.commands._common import add_json, print_json
from blt_status.i18n import _, format_number


def register_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from blt_status.commands.central import STORE_HELP, _os_errors_as_one_line

    migrate = commands.add_parser(
        "migrate", help="move a store's file-based state into the database",
        description="Move the publisher's state of a store made by the file-based release "
        "(private/state/) into the database: roster, key cache, the version, and every "
        "payout status as a ledger event. One transaction: if it fails, the old store is "
        "unchanged and still usable. Also happens by itself the first time another central "
        "command opens such a store.")
    migrate.add_argument("directory", metavar="DIR", help=STORE_HELP)
    add_json(migrate)
    migrate.set_defaults(handler=_os_errors_as_one_line(run_migrate))


def run_migrate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from blt_status.central import CentralStore
    from blt_status.central.db import database_url, describe_url
    from blt_status.central.legacy import migrate_store

    store = CentralStore.open(Path(args.directory), migrate=False)
    report = migrate_store(store)
    database = describe_url(database_url(store))
    if args.json:
        print_json({**report.to_dict(), "database": database})
        return 0
    print(_("Version {version} moved into the database {database}: {records} recipients in "
            "{kecamatan} kecamatan, {events} payout statuses became ledger events.").format(
                version=report.version, database=database,
                records=format_number(report.records),
                kecamatan=format_number(report.kecamatan), events=format_number(report.events)))
    print(_("The old files are kept in private/state.migrated/ (a backup)."))
    return 0
