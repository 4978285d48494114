"""``blt-status central migrate``: move a store of the file-based release into the database."""

from __future__ import annotations

import argparse

from blt_status.commands._common import add_json, current_lang, print_json


def _say(id_text: str, en_text: str) -> str:
    return en_text if current_lang() == "en" else id_text


def register_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from blt_status.commands.central import _os_errors_as_one_line

    migrate = commands.add_parser(
        "migrate", help="move a store's file-based state into the database",
        description="Move the publisher's state of a store made by the file-based release "
        "(private/state/) into the database: roster, key cache, the version, and every "
        "payout status as a ledger event. One transaction: if it fails, the old store is "
        "unchanged and still usable. Also happens by itself the first time another central "
        "command opens such a store.")
    migrate.add_argument("directory", metavar="DIR")
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
    print(_say(f"Versi {report.version} dipindahkan ke basis data {database}: "
               f"{report.records} penerima di {report.kecamatan} kecamatan, {report.events} "
               "status salur menjadi catatan buku besar.",
               f"Version {report.version} moved into the database {database}: "
               f"{report.records} recipients in {report.kecamatan} kecamatan, {report.events} "
               "payout statuses became ledger events."))
    print(_say("Berkas lama disimpan di private/state.migrated/ (cadangan).",
               "The old files are kept in private/state.migrated/ (a backup)."))
    return 0
