"""``blt-status central ...``: create the central store, publish, ingest payouts, enroll, serve."""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import importlib
import pkgutil
import re
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from blt_status.commands._common import CliParser, add_json, int_range, port_number, print_json
from blt_status.errors import CentralError, InputError, os_reason
from blt_status.i18n import N_, _, format_number

ORDER = 50
STORE_HELP = N_("the central store's folder (made by `central init`)")
MAX_WORKERS = 256  # --workers: processes for key derivation on one machine

# The stages a long command reports (``progress(stage, done, total)``) -> words for a person.
STAGES: dict[str, str] = {
    "sealing": N_("sealing"),
    "resealing": N_("resealing"),
    "shards": N_("writing shards"),
    "checking": N_("checking"),
    "push": N_("sending"),
}


class TerminalProgress:
    """``menyegel 12.000/20.000`` on one rewritten stderr line, at most a few times a second."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = 0.0
        self._shown = False

    @classmethod
    def for_args(cls, args: argparse.Namespace) -> TerminalProgress:
        return cls(not getattr(args, "json", False) and sys.stderr.isatty())

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        if done < total and now - self._last < 0.2:
            return
        self._last = now
        sys.stderr.write(f"\r{progress_line(stage, done, total)}\033[K")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False


def progress_line(stage: str, done: int, total: int) -> str:
    """``sealing``, 1716, 27469 -> ``menyegel 1.716/27.469`` (in the current language)."""
    label = _(STAGES[stage]) if stage in STAGES else stage
    return f"{label} {format_number(done)}/{format_number(total)}"


Handler = Callable[[argparse.Namespace], int]


def _os_errors_as_one_line(handler: Handler) -> Handler:
    """A failing disk or permission becomes ``error [io_error]: ...`` instead of a traceback."""

    @functools.wraps(handler)
    def run(args: argparse.Namespace) -> int:
        try:
            return handler(args)
        except BrokenPipeError:
            raise  # stdout closed (e.g. `| head`): not a disk problem
        except OSError as error:
            where = f" ({_shown_path(error.filename)})" if error.filename else ""
            raise CentralError("io_error", where=where, reason=os_reason(error)) from None

    return run


_TEMPORARY_NAME = re.compile(r"\.(?P<name>.+)\.tmp-[0-9]+-[0-9a-f]{8}")


def _shown_path(filename: object) -> str:
    """The path an admin gave, not the temporary name a write goes through first
    (``report.html``, not ``.report.html.tmp-4242-1a2b3c4d``)."""
    path = Path(str(filename))
    match = _TEMPORARY_NAME.fullmatch(path.name)
    return str(path.with_name(match["name"])) if match else str(path)


class OneLineErrorParser(CliParser):
    """Usage mistakes as one line with a code (``error [usage]: ...``), exit status 2.

    Every parser of the command line is a :class:`~blt_status.commands._common.CliParser`
    now; this name stays for the central subcommand modules that use it.
    """


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    central = subparsers.add_parser(
        "central", help="the central store: init, publish, ingest payouts, enroll, serve",
        description="Run the central store: a folder whose public/ part is a signed static "
        "repository any HTTP server can serve, and whose private/ part (keys, peppers, the "
        "publisher's encrypted state, Kantor Pos lists) is never served.")
    commands = central.add_subparsers(dest="central_command", metavar="SUBCOMMAND",
                                      required=True, parser_class=OneLineErrorParser)

    init = commands.add_parser(
        "init", help="create a new central store: signing keys, peppers, config",
        description="Create a new central store in DIR: Ed25519 TUF keys (root 2-of-3, "
        "targets, snapshot, timestamp), the master pepper, an epoch salt and config, and the "
        "first root metadata. Refuses a non-empty DIR.")
    init.add_argument("directory", type=Path, metavar="DIR",
                      help="the new store's folder (absent or empty)")
    init.add_argument("--kdf", choices=("production", "test"), default="production",
                      help="index KDF profile (test is cheap and NOT FOR REAL DATA)")
    init.add_argument("--url", metavar="URL", default=None,
                      help="public URL devices sync from (written into enrollment bundles)")
    init.add_argument("--db", metavar="URL", default=None,
                      help="database for the publisher's state and the payout ledger, e.g. "
                      "postgresql+psycopg://user@host/blt (default: the SQLite file "
                      "DIR/private/central.db; BLT_CENTRAL_DB overrides both)")
    add_json(init)
    init.set_defaults(handler=_os_errors_as_one_line(run_init))

    publish = commands.add_parser(
        "publish", help="validate inputs and publish the next signed version",
        description="Validate recipients, payout points and the program, schedule payouts, "
        "write Kantor Pos distribution lists (private) and publish the next signed version. "
        "Every input row is published or rejected with a reason; nothing is published "
        "half-way.")
    publish.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    publish.add_argument("--recipients", type=Path, required=True, metavar="CSV",
                         help="recipients.csv: one row per recipient (docs/central-data.md)")
    publish.add_argument("--payout-points", type=Path, required=True, metavar="CSV",
                         help="payout_points.csv: the Kantor Pos and community points")
    publish.add_argument("--program", type=Path, required=True, metavar="TOML",
                         help="program.toml: amounts, eligibility and the payout window")
    publish.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=None, metavar="N",
                         help="processes for key derivation (default: all cores)")
    publish.add_argument("--dry-run", action="store_true",
                         help="validate, schedule and show what would change; write nothing")
    publish.add_argument("--allow-empty", action="store_true",
                         help="publish even if 0 recipients remain (empties every device)")
    publish.add_argument("--allow-shrink", action="store_true",
                         help="publish even if many published recipients are removed or a "
                         "kecamatan is emptied (threshold: guards in private/config.json)")
    publish.add_argument("--allow-rejections", action="store_true",
                         help="publish even if most input rows are rejected")
    add_json(publish)
    publish.set_defaults(handler=_os_errors_as_one_line(run_publish))

    ingest = commands.add_parser(
        "ingest-payouts", help="apply a Kantor Pos payout report and publish the next version",
        description="Apply a Kantor Pos payout report (salur, gagal, kembali) to the current "
        "state and publish the next version, in which only the affected shards change.")
    ingest.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    ingest.add_argument("report", type=Path, metavar="REPORT_CSV",
                        help="the report: nik, status, waktu, id_titik, keterangan")
    ingest.add_argument("--workers", type=int_range(1, MAX_WORKERS), default=None, metavar="N",
                        help=argparse.SUPPRESS)
    add_json(ingest)
    ingest.set_defaults(handler=_os_errors_as_one_line(run_ingest))

    refresh = commands.add_parser(
        "refresh", help="re-sign the current data as the next version (new expiry dates)",
        description="Re-sign the published data as the next version with fresh expiry dates "
        "(the timestamp expires after a few days). No input files needed; no shard changes.")
    refresh.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    add_json(refresh)
    refresh.set_defaults(handler=_os_errors_as_one_line(run_refresh))

    status = commands.add_parser(
        "status", help="what is published: version, expiry dates, counts, KDF",
        description="Show the published version, when its timestamp and targets expire, the "
        "number of records and kecamatan, the key epoch and the KDF profile.")
    status.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    add_json(status)
    status.set_defaults(handler=_os_errors_as_one_line(run_status))

    rotate = commands.add_parser(
        "rotate-keys", help="replace signing keys (root N -> N+1) and re-sign the data",
        description="Replace the keys of the given roles with new Ed25519 keys: writes root "
        "N+1 signed by the old and new root keys (devices follow it on their next sync), "
        "retires the old private keys to private/keys/retired/, and re-signs the data.")
    rotate.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    rotate.add_argument("--role", nargs="+", required=True, metavar="ROLE",
                        choices=("root", "targets", "snapshot", "timestamp"),
                        help="root, targets, snapshot and/or timestamp")
    add_json(rotate)
    rotate.set_defaults(handler=_os_errors_as_one_line(run_rotate))

    enroll = commands.add_parser(
        "enroll", help="write an enrollment bundle for an officer device or the bot",
        description="Write a device bundle: the pinned TUF root, the central URL, the view, "
        "regions and the view's pepper(s). The bundle is secret (0600): carry it to the "
        "device, run `blt-status init --bundle`, then delete it.")
    enroll.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    who = enroll.add_mutually_exclusive_group(required=True)
    who.add_argument("--region", nargs="+", metavar="KODE", default=[],
                     help="kecamatan code(s) of an officer device, e.g. 32.01.01")
    who.add_argument("--bot", action="store_true", help="the recipient-view bundle for the bot")
    enroll.add_argument("--out", type=Path, required=True, metavar="BUNDLE",
                        help="the bundle file to write (secret: 0600)")
    add_json(enroll)
    enroll.set_defaults(handler=_os_errors_as_one_line(run_enroll))

    demo = commands.add_parser(
        "demo-data", help="write a synthetic demo world (recipients, points, program, report)",
        description="Write a synthetic but realistic world on real region codes: "
        "recipients.csv, payout_points.csv, program.toml and a sample payout report.")
    demo.add_argument("out_dir", type=Path, metavar="OUTDIR",
                      help="folder for the four files (none of them may be there yet)")
    demo.add_argument("--kabupaten", default="32.01", metavar="KODE",
                      help="the kabupaten/kota whose kecamatan and desa are used (default "
                      "32.01)")
    demo.add_argument("--recipients", type=int, default=2000, metavar="N",
                      help="rows of recipients.csv, 20 to 10,000,000 (default 2000)")
    demo.add_argument("--seed", type=int, default=7, metavar="S",
                      help="the same seed gives the same files (default 7)")
    demo.add_argument("--per-kecamatan", type=int, default=None, metavar="N",
                      help="about N rows per kecamatan, spread over the next kabupaten of the "
                      "province as needed (default: all in the kabupaten's kecamatan)")
    demo.add_argument("--around-today", action="store_true",
                      help="date the program around today (a 21-day window, today amid its "
                      "payout days) so lookups show days to come; default: the fixed "
                      "October-December 2025 program of the documentation's examples")
    add_json(demo)
    demo.set_defaults(handler=_os_errors_as_one_line(run_demo_data))

    serve = commands.add_parser(
        "serve", help="serve DIR/public over HTTP (a convenience; any static server works)",
        description="Serve DIR/public (never DIR/private) as static files, like "
        "`python -m http.server -d DIR/public`.")
    serve.add_argument("directory", type=Path, metavar="DIR", help=STORE_HELP)
    serve.add_argument("--port", type=port_number, default=8000, metavar="P",
                       help="TCP port (default 8000; 0: any free port)")
    serve.add_argument("--host", default="127.0.0.1",
                       help="address to listen on (default 127.0.0.1: this machine only)")
    serve.set_defaults(handler=run_serve)

    for module in _central_extensions():
        module.register_central(commands)


def _central_extensions() -> list[Any]:
    """Modules ``blt_status.commands._central_*``: more ``central`` subcommands, each with
    ``register_central(commands)`` (kept apart so each area owns its own file)."""
    from blt_status import commands as package

    return [importlib.import_module(f"blt_status.commands.{info.name}")
            for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda i: i.name)
            if info.name.startswith("_central_")]


def run_init(args: argparse.Namespace) -> int:
    from blt_status.central import KDF_PROFILES, CentralStore
    from blt_status.central.db import database_url, describe_url

    store = CentralStore.init(args.directory, kdf=KDF_PROFILES[args.kdf], central_url=args.url,
                              db_url=args.db)
    root = store.root().signed
    database = describe_url(database_url(store))
    if args.json:
        print_json({"directory": str(store.directory), "public": str(store.public_dir),
                    "private": str(store.private_dir), "kdf": store.config.kdf.to_dict(),
                    "kdf_label": store.config.kdf.label, "insecure": store.config.kdf.insecure,
                    "central_url": store.config.central_url,
                    "root_threshold": root.roles["root"].threshold,
                    "root_keys": list(root.roles["root"].keyids), "database": database})
        return 0
    print(_("Central store created: {directory}").format(directory=store.directory))
    print(_("  public (served):    {path}").format(path=store.public_dir))
    print(_("  private (SECRET):   {path}").format(path=store.private_dir))
    print(f"  KDF: {store.config.kdf.label}")
    print(_("  database: {database}").format(database=database))
    print(_("  root keys: {threshold} of {keys}").format(
        threshold=root.roles["root"].threshold, keys=len(root.roles["root"].keyids)))
    if store.config.kdf.insecure:
        print(_("WARNING: test KDF profile — FOR DEMOS AND TESTS ONLY, NOT FOR REAL DATA."),
              file=sys.stderr)
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore, publish_files

    store = CentralStore.open(args.directory)
    progress = TerminalProgress.for_args(args)
    try:
        report = publish_files(store, args.recipients, args.payout_points, args.program,
                               workers=args.workers, progress=progress, dry_run=args.dry_run,
                               allow_empty=args.allow_empty, allow_shrink=args.allow_shrink,
                               allow_rejections=args.allow_rejections)
    finally:
        progress.close()
    if args.json:
        print_json(report.to_dict())
        return 0
    if report.dry_run:
        print(_("DRY RUN (nothing written): version {version} would hold {published} "
                "recipients, {rejected} rejected of {rows} rows.").format(
                    version=report.version, published=format_number(report.published),
                    rejected=format_number(len(report.rejected)),
                    rows=format_number(report.input_rows)))
        _print_changes(report.changes)
        _print_rejections(report.rejected)
        _print_warnings(report.warnings)
        return 0
    print(_("Version {version} published: {published} recipients, {rejected} rejected of "
            "{rows} rows.").format(
                version=report.version, published=format_number(report.published),
                rejected=format_number(len(report.rejected)),
                rows=format_number(report.input_rows)))
    _print_changes(report.changes)
    print(_("  shards written: {written}, unchanged: {unchanged}; keys derived: {derived}, "
            "reused: {reused}").format(
                written=format_number(report.shards_written),
                unchanged=format_number(report.shards_unchanged),
                derived=format_number(report.keys_derived),
                reused=format_number(report.keys_reused)))
    print(f"  KDF: {report.kdf}")
    _print_rejections(report.rejected)
    _print_warnings(report.warnings)
    if report.distribution_lists:
        folder = Path(report.distribution_lists[0]).parent
        print(_("  Kantor Pos distribution lists (SECRET): {folder}").format(folder=folder))
    return 0


def _print_changes(changes: dict[str, dict[str, int]], limit: int = 20) -> None:
    """The change per kecamatan, named: added, removed, changed, unchanged (kecamatan with
    changes first; the rest summed)."""
    from blt_status.central.publish import change_totals
    from blt_status.regions import region_name

    totals = change_totals(changes)
    print(_("  changes: {added} added, {removed} removed, {changed} changed, {unchanged} "
            "unchanged").format(**{key: format_number(totals[key]) for key in (
                "added", "removed", "changed", "unchanged")}))
    moved = [(kec, counts) for kec, counts in sorted(changes.items())
             if counts["added"] or counts["removed"] or counts["changed"]]
    for kec, counts in moved[:limit]:
        name = region_name(kec)
        number = {key: format_number(value) for key, value in counts.items()}
        print(f"    {kec}{' ' + name if name else ''}: +{number['added']} -{number['removed']} "
              f"~{number['changed']} ={number['unchanged']}")
    if len(moved) > limit:
        print(_("    ... and {count} more kecamatan (see --json)").format(
            count=format_number(len(moved) - limit)))


def _print_warnings(warnings: Sequence[dict[str, Any]]) -> None:
    """Roster warnings (e.g. a NIK column a spreadsheet rounded): published anyway, worth a
    look — above all in a dry run, which is where they can still be acted on."""
    for warning in warnings:
        print(_("  WARNING") + f" [{warning['code']}] {warning['reason']}")


def _print_rejections(rejected: Sequence[dict[str, Any]], limit: int = 10) -> None:
    counts: dict[str, int] = {}
    for item in rejected:
        counts[str(item.get("code"))] = counts.get(str(item.get("code")), 0) + 1
    if counts:
        summary = ", ".join(f"{code} {count}" for code, count in sorted(counts.items()))
        print(_("  rejected by code: {summary}").format(summary=summary))
    for item in rejected[:limit]:
        print("  - " + _("line {line}: {nik} [{code}] {reason}").format(
            line=item.get("line"), nik=item.get("nik_masked"), code=item.get("code"),
            reason=item.get("reason")))
    if len(rejected) > limit:
        print(_("  ... and {count} more (see --json)").format(
            count=format_number(len(rejected) - limit)))


def run_ingest(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore, ingest_payouts

    store = CentralStore.open(args.directory)
    progress = TerminalProgress.for_args(args)
    try:
        report = ingest_payouts(store, args.report, progress=progress, workers=args.workers)
    finally:
        progress.close()
    if args.json:
        print_json(report.to_dict())
        return 0
    if not report.published:
        print(_("Nothing new: no row applied ({rejected} rejected of {rows}); version {version} "
                "stays as published.").format(
                    version=report.version, rejected=format_number(len(report.rejected)),
                    rows=format_number(report.input_rows)))
    else:
        print(_("Version {version} published: {applied} rows applied, {rejected} rejected of "
                "{rows}; {changed} records changed, shards written: {written}.").format(
                    version=report.version, applied=format_number(report.applied),
                    rejected=format_number(len(report.rejected)),
                    rows=format_number(report.input_rows),
                    changed=format_number(report.changed_records),
                    written=format_number(report.shards_written)))
    if report.duplicates:
        print(_("  {count} rows were already in the ledger (not applied again)").format(
            count=format_number(report.duplicates)))
    _print_rejections(report.rejected)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore

    summary = CentralStore.open(args.directory).summary()
    if args.json:
        print_json(summary)
        return 0
    print(_("Central store {directory}").format(directory=summary["directory"]))
    if not summary["version"]:
        print(_("  nothing published yet"))
    else:
        print(_("  version {version}: {records} recipients in {kecamatan} kecamatan (epoch "
                "{epoch})").format(version=summary["version"],
                                   records=format_number(summary["records"]),
                                   kecamatan=format_number(len(summary["kecamatan"])),
                                   epoch=summary["epoch"]))
        expired = _(" — EXPIRED: run `central refresh`") if summary["expired"] else ""
        print(_("  timestamp expires {expires}{expired}").format(
            expires=summary["timestamp_expires"], expired=expired))
        print(_("  targets expire {expires}").format(expires=summary["targets_expires"]))
    print(_("  root version {version} (threshold {threshold}), expires {expires}").format(
        version=summary["root_version"], threshold=summary["root_threshold"],
        expires=summary["root_expires"]))
    print(f"  KDF: {summary['kdf_label']}")
    return 0


def run_refresh(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.publish import refresh

    store = CentralStore.open(args.directory)
    result = refresh(store)
    expires = store.config.expiry("timestamp", result.data_as_of).isoformat()
    if args.json:
        print_json({"version": result.version, "published": result.published,
                    "shards_written": result.shards_written, "timestamp_expires": expires})
        return 0
    print(_("Version {version} re-signed ({published} recipients); the timestamp expires "
            "{expires}.").format(version=result.version,
                                 published=format_number(result.published), expires=expires))
    return 0


def run_rotate(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.publish import rotate_keys

    store = CentralStore.open(args.directory)
    root_version, result = rotate_keys(store, args.role)
    data_version = result.version if result else None
    if args.json:
        print_json({"root_version": root_version, "roles": sorted(set(args.role)),
                    "version": data_version})
        return 0
    roles = ", ".join(sorted(set(args.role)))
    if data_version:
        print(_("Keys of {roles} replaced: root version {root}, data re-signed as version "
                "{version}.").format(roles=roles, root=root_version, version=data_version))
    else:
        print(_("Keys of {roles} replaced: root version {root}.").format(
            roles=roles, root=root_version))
    print(_("New bundles pin this root; enrolled devices follow it on their next sync."))
    return 0


def run_enroll(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore
    from blt_status.central.enroll import enroll

    store = CentralStore.open(args.directory)
    if args.out.is_dir():
        raise CentralError("bundle_out", path=str(args.out))
    bundle = enroll(store, regions=args.region, bot=args.bot)
    bundle.write(args.out)
    if args.json:
        print_json({"bundle": str(args.out), "view": bundle.view, "regions": list(bundle.regions),
                    "central_url": bundle.central_url, "root_version": bundle.root["signed"][
                        "version"]})
        return 0
    regions = ", ".join(bundle.regions) or _("the whole country")
    print(_("Bundle for the {view} view written: {path} (regions: {regions})").format(
        view=bundle.view, path=args.out, regions=regions))
    print(install_hint(str(args.out), bot=args.bot, has_url=bool(bundle.central_url)))
    return 0


BOT_PEPPER_FILE = "/etc/blt-bot/pepper"


def install_hint(bundle: str, *, bot: bool, has_url: bool = True) -> str:
    """How to install a bundle, complete enough that following it gives a working device."""
    if bot:
        sync = "blt-status sync --data-dir D" + ("" if has_url else " --from URL")
        return _("SECRET: the bundle holds the bot's pepper. Install it with `blt-status init "
                 "--data-dir D --bundle {bundle} --pepper-file {pepper}` (the pepper goes to "
                 "that 0600 file outside D and device.json records where it is; "
                 "BLT_BOT_PEPPER_FILE={pepper} overrides it), then `{sync}`, then delete "
                 "the bundle.").format(bundle=bundle, pepper=BOT_PEPPER_FILE, sync=sync)
    return _("SECRET: the bundle holds peppers. Install it with `blt-status init --data-dir D "
             "--bundle {bundle}`, then delete it.").format(bundle=bundle)


DEMO_MIN_ROWS = 20  # the smallest world (and kecamatan) write_demo_world builds
DEMO_MAX_RECIPIENTS = 10_000_000  # about half the country's KPM: more is a typo
DEMO_FILES = ("recipients.csv", "payout_points.csv", "program.toml", "payout_report.csv")


def run_demo_data(args: argparse.Namespace) -> int:
    from blt_status.central.demodata import write_demo_world

    if not DEMO_MIN_ROWS <= args.recipients <= DEMO_MAX_RECIPIENTS:
        raise InputError("demo_recipients", low=format_number(DEMO_MIN_ROWS),
                         high=format_number(DEMO_MAX_RECIPIENTS))
    if args.per_kecamatan is not None and args.per_kecamatan < DEMO_MIN_ROWS:
        raise InputError("demo_too_small:per_kecamatan", minimum=DEMO_MIN_ROWS)
    there = [name for name in DEMO_FILES if (args.out_dir / name).exists()]
    if there:  # OUTDIR may be where the real recipients.csv lives: never overwrite it
        raise InputError("demo_exists", folder=str(args.out_dir), files=", ".join(there))
    files = write_demo_world(args.out_dir, kabupaten=args.kabupaten,
                             recipients=args.recipients, seed=args.seed,
                             per_kecamatan=args.per_kecamatan,
                             today=dt.date.today() if args.around_today else None)
    paths = {"recipients": str(files.recipients_csv),
             "payout_points": str(files.payout_points_csv),
             "program": str(files.program_toml),
             "payout_report": str(files.payout_report_csv)}
    if args.json:
        print_json({**paths, "sample_niks": files.sample_niks})
        return 0
    print(_("Synthetic demo data written to {folder}:").format(folder=args.out_dir))
    for name, path in paths.items():
        print(f"  {name}: {path}")
    # Synthetic people: showing their NIKs is what makes the demo usable.
    print(_("Sample NIKs (synthetic) to try:"))
    for label, nik in sorted(files.sample_niks.items()):
        print(f"  {label:<18} {nik}")
    return 0


def run_serve(args: argparse.Namespace) -> int:
    import http.server  # here, not at the top: every other command starts without it

    from blt_status.central import CentralStore

    class PublicHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            sys.stderr.write(f"{self.address_string()} {format % args}\n")

    store = CentralStore.open(args.directory)
    handler = functools.partial(PublicHandler, directory=str(store.public_dir))
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as error:
        raise CentralError("serve_port", host=args.host, port=args.port,
                           reason=os_reason(error)) from None
    host, port = args.host, server.server_address[1]
    print(_("Serving {folder} at http://{host}:{port}/ (Ctrl-C to stop)").format(
        folder=store.public_dir, host=host, port=port), flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
