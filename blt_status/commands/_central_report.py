"""``blt-status central report DIR``: payout progress per region (table, CSV, JSON, HTML, PDF)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from blt_status.commands.central import STORE_HELP, _os_errors_as_one_line
from blt_status.errors import CentralError
from blt_status.store import atomic_write_bytes


def register_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from blt_status.central.report import LEVELS
    from blt_status.central.report_format import FORMATS

    report = commands.add_parser(
        "report", help="payout progress per region: table, csv, json, html or pdf",
        description="Count the roster and the payout ledger per provinsi, kabupaten, "
        "kecamatan, desa or payout point (titik): recipients, entitled rupiah, collected "
        "(count, %, rupiah), held, returned, pending and flagged, with payouts per day and "
        "per payout mode. html is one self-contained file (charts and a province map "
        "embedded, works offline); pdf has the same content.")
    report.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    report.add_argument("--level", choices=LEVELS, default="kabupaten",
                        help="one row per region of this level (default: kabupaten)")
    report.add_argument("--region", metavar="KODE", default=None,
                        help="only this region, e.g. 32 or 32.01 (coarser than --level)")
    report.add_argument("--format", choices=FORMATS, default="table", dest="fmt",
                        help="table (default), csv, json, html or pdf")
    report.add_argument("--out", type=Path, metavar="F", default=None,
                        help="write to F instead of standard output")
    report.set_defaults(handler=_os_errors_as_one_line(run_report))


def run_report(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.report_format import render
    from blt_status.central.report_source import load_report

    if args.fmt == "pdf" and args.out is None and sys.stdout.isatty():
        raise CentralError("report_binary_stdout")
    store = CentralStore.open(args.directory)
    data = render(load_report(store, level=args.level, region=args.region), args.fmt)
    if args.out is not None:
        atomic_write_bytes(args.out, data, mode=0o644)
        return 0
    sys.stdout.flush()
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return 0
