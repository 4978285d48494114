"""``blt-status central reconcile, verify-list, lists, invitations``: money, flags, paper."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from blt_status.commands._common import add_json, print_json
from blt_status.commands.central import STORE_HELP, _os_errors_as_one_line
from blt_status.errors import CentralError
from blt_status.i18n import N_, _, current_lang, format_number

__all__ = ["register_central"]


def _date(text: str) -> dt.datetime:
    """``--since``: a date (start of that day, WIB) or a timezone-aware time."""
    from blt_status.central.payouts import WIB

    try:
        if len(text) == 10:
            return dt.datetime.combine(dt.date.fromisoformat(text), dt.time(0), tzinfo=WIB)
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            _("{text!r} is not a date like 2025-11-24").format(text=text)) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=WIB)


def register_central(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    reconcile = commands.add_parser(
        "reconcile", help="money per kecamatan (entitled = paid + held + returned + pending) "
        "and flagged payouts",
        description="Reconcile the current roster: per kecamatan and in total the money "
        "entitled, paid, held, returned and pending (whole rupiah; entitled always equals the "
        "sum of the other four), and every flagged payout (code, severity, last four NIK "
        "digits, point, time, detail). See docs/reconcile.md for what each code means.")
    reconcile.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    reconcile.add_argument("--since", type=_date, default=None, metavar="DATE",
                           help="only flags of payouts at or after DATE (YYYY-MM-DD)")
    add_json(reconcile)
    reconcile.set_defaults(handler=_os_errors_as_one_line(run_reconcile))

    verify = commands.add_parser(
        "verify-list", help="check a distribution list against its signed manifest",
        description="Check a Kantor Pos distribution list (CSV) against its signed manifest "
        "(<point>.manifest.json next to it) and the store's list key (lists-signing.pub.pem "
        "next to it, or --key). Reports an altered amount, an added, removed, altered or "
        "reordered row, a list of another point or version; exits 1 when anything is wrong.")
    verify.add_argument("file", type=Path, metavar="FILE",
                        help="the list: <point>.csv, with <point>.manifest.json beside it")
    verify.add_argument("--key", type=Path, default=None, metavar="PUB_PEM",
                        help="the trusted public key (default: lists-signing.pub.pem next to "
                        "FILE)")
    verify.add_argument("--point", default=None, metavar="ID",
                        help="the payout point the list must be for (default: the file name)")
    verify.add_argument("--version", type=int, default=None, metavar="V",
                        help="the version the list must be (default: the folder name)")
    add_json(verify)
    verify.set_defaults(handler=_os_errors_as_one_line(run_verify_list))

    lists = commands.add_parser(
        "lists", help="write the signed distribution lists of the current version (CSV, PDF)",
        description="Write the signed Kantor Pos distribution lists of the current version "
        "again from the private state: one CSV and signed manifest per payout point, "
        "optionally for Excel (UTF-8 with BOM, ';') and as printable PDFs. The lists hold "
        "names: keep them private.")
    lists.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    lists.add_argument("--out", type=Path, default=None, metavar="FOLDER",
                       help="where to write (default: DIR/private/lists/<version>)")
    lists.add_argument("--excel", action="store_true",
                       help="UTF-8 with BOM and ';' (opens directly in an Indonesian Excel)")
    lists.add_argument("--pdf", action="store_true", help="also a printable PDF per point")
    add_json(lists)
    lists.set_defaults(handler=_os_errors_as_one_line(run_lists))

    invitations = commands.add_parser(
        "invitations", help="printable signed invitations (surat undangan) for one desa",
        description="Write one half page per recipient of a desa: name, masked NIK, address, "
        "date and slot, place, amount, what to bring, and a QR code with a signed token "
        "(reference, version, point, date, amount; no NIK, no name) that `blt-status "
        "verify-invitation` checks offline.")
    invitations.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    invitations.add_argument("--desa", required=True, metavar="KODE",
                             help="desa code, e.g. 32.01.01.2001")
    invitations.add_argument("--out", type=Path, required=True, metavar="FILE.pdf",
                             help="the PDF to write (it holds names: keep it private)")
    add_json(invitations)
    invitations.set_defaults(handler=_os_errors_as_one_line(run_invitations))


# A flag's severity as printed (``--json`` keeps the stable words low, medium, high).
SEVERITY_LABELS = {"low": N_("low"), "medium": N_("medium"), "high": N_("high")}


def _money_line(name: str, money: dict[str, int]) -> str:
    return (f"  {name:<28} " + "  ".join(f"{format_number(money[key]):>15}"
                                        for key in ("entitled", "paid", "held", "returned",
                                                    "pending")))


def run_reconcile(args: argparse.Namespace) -> int:
    from blt_status.central.reconcile import reconcile_store
    from blt_status.central.store import CentralStore

    result = reconcile_store(CentralStore.open(args.directory), since=args.since)
    data = result.to_dict()
    if args.json:
        print_json(data)
        return 0
    headers = (_("entitled"), _("paid"), _("held"), _("returned"), _("pending"))
    print(_("Money in whole rupiah (entitled = paid + held + returned + pending):"))
    print(f"  {'':<28} " + "  ".join(f"{header:>15}" for header in headers))
    for item in data["by_kecamatan"]:
        print(_money_line(f"{item['code']} {item['name']}"[:28], item))
    print(_money_line(_("Total"), data["totals"]))
    flags = result.flags
    print(_("Flagged payouts: {count}").format(count=format_number(len(flags))))
    for flag in flags[:50]:
        severity = _(SEVERITY_LABELS[flag.severity]) if flag.severity in SEVERITY_LABELS \
            else flag.severity
        print(f"  [{flag.code}] {severity:<6} NIK ****{flag.nik_last4} {flag.point_id} "
              f"{flag.time.isoformat()} {flag.detail}")
    if len(flags) > 50:
        print(_("  ... and {count} more (see --json)").format(count=len(flags) - 50))
    return 0


def run_verify_list(args: argparse.Namespace) -> int:
    from blt_status.central.lists import verify_list

    manifest, problems = verify_list(args.file, public_key=args.key, point_id=args.point,
                                     version=args.version)
    error = CentralError("list_tampered", file=args.file.name, count=len(problems)) \
        if problems else None
    if args.json:
        print_json({"valid": not problems, "point_id": manifest.get("point_id"),
                    "version": manifest.get("version"), "rows": manifest.get("rows"),
                    "total_amount": manifest.get("total_amount"),
                    "problems": [{"code": p.code, "detail": p.detail} for p in problems],
                    **({"error": error.to_dict(current_lang())} if error else {})})
        if error is not None:
            print(error.line(current_lang()), file=sys.stderr)
            return 1
        return 0
    if not problems:
        print(_("Genuine: list of point {point}, version {version}: {rows} rows, total "
                "{total} rupiah; signed by key {key}.").format(
            point=manifest["point_id"], version=manifest["version"],
            rows=format_number(manifest["rows"]),
            total=format_number(manifest["total_amount"]), key=manifest["key_fingerprint"]))
        return 0
    for problem in problems:
        print(f"  [{problem.code}] {problem.detail}")
    assert error is not None  # there are problems
    raise error


def run_lists(args: argparse.Namespace) -> int:
    from blt_status.central.inputs import load_payout_points
    from blt_status.central.lists import list_key, list_rows, write_point_lists
    from blt_status.central.publish import published_info
    from blt_status.central.roster import current_roster
    from blt_status.central.store import CentralStore

    store = CentralStore.open(args.directory)
    if args.out is None:  # into the store: a read-only copy says so (`--out` elsewhere works)
        store.require_writable()
    info = published_info(store)
    if info is None:
        raise CentralError("nothing_published")
    version, program, inputs, _epoch = info
    points = load_payout_points(store.input_path(inputs["payout_points"]))
    out_dir = args.out or store.private_dir / "lists" / str(version)
    rows = list_rows((entry.nik_digits, entry.payload)
                     for entry in current_roster(store, version=version))
    paths = write_point_lists(rows, points, out_dir, version=version, program=program,
                              key=list_key(store.private_dir), excel=args.excel,
                              points={pid: row.point for pid, row in points.items()},
                              pdf=args.pdf)
    if args.json:
        print_json({"version": version, "folder": str(out_dir),
                    "lists": [path.name for path in paths], "excel": args.excel,
                    "pdf": args.pdf})
        return 0
    print(_("{count} signed lists of version {version} in {folder} (they hold names: keep "
            "them private).").format(count=len(paths), version=version, folder=out_dir))
    return 0


def run_invitations(args: argparse.Namespace) -> int:
    from blt_status.central.invitations import write_invitations
    from blt_status.central.store import CentralStore

    store = CentralStore.open(args.directory)
    result = write_invitations(store, args.desa, args.out)
    if args.json:
        print_json(result)
        return 0
    print(_("{count} invitations for desa {desa} written to {file}.").format(
        count=result["invitations"], desa=result["desa"], file=args.out))
    if result["invitations"] == 0:
        print(_("Nobody of this desa is waiting for a payout."), file=sys.stderr)
    return 0
