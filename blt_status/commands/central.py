"""``blt-status central ...``: create the central store, publish, ingest payouts, enroll, serve."""

from __future__ import annotations

import argparse
import functools
import http.server
import importlib
import pkgutil
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blt_status.commands._common import CliParser, add_json, current_lang, print_json
from blt_status.errors import CentralError, InputError
from blt_status.i18n import _

ORDER = 50


def _say(id_text: str, en_text: str) -> str:
    return en_text if current_lang() == "en" else id_text


class TerminalProgress:
    """``sealing 12000/20000`` on one rewritten stderr line, at most a few times a second."""

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
        sys.stderr.write(f"\r{stage} {done}/{total}\033[K")
        sys.stderr.flush()
        self._shown = True

    def close(self) -> None:
        if self._shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self._shown = False


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
            where = f" ({error.filename})" if error.filename else ""
            reason = error.strerror or type(error).__name__
            raise CentralError("io_error", where=where, reason=reason) from None

    return run


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
    init.add_argument("directory", type=Path, metavar="DIR")
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
    publish.add_argument("directory", type=Path, metavar="DIR")
    publish.add_argument("--recipients", type=Path, required=True, metavar="CSV")
    publish.add_argument("--payout-points", type=Path, required=True, metavar="CSV")
    publish.add_argument("--program", type=Path, required=True, metavar="TOML")
    publish.add_argument("--workers", type=int, default=None, metavar="N",
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
    ingest.add_argument("directory", type=Path, metavar="DIR")
    ingest.add_argument("report", type=Path, metavar="REPORT_CSV")
    ingest.add_argument("--workers", type=int, default=None, metavar="N",
                        help=argparse.SUPPRESS)
    add_json(ingest)
    ingest.set_defaults(handler=_os_errors_as_one_line(run_ingest))

    refresh = commands.add_parser(
        "refresh", help="re-sign the current data as the next version (new expiry dates)",
        description="Re-sign the published data as the next version with fresh expiry dates "
        "(the timestamp expires after a few days). No input files needed; no shard changes.")
    refresh.add_argument("directory", type=Path, metavar="DIR")
    add_json(refresh)
    refresh.set_defaults(handler=_os_errors_as_one_line(run_refresh))

    status = commands.add_parser(
        "status", help="what is published: version, expiry dates, counts, KDF",
        description="Show the published version, when its timestamp and targets expire, the "
        "number of records and kecamatan, the key epoch and the KDF profile.")
    status.add_argument("directory", type=Path, metavar="DIR")
    add_json(status)
    status.set_defaults(handler=_os_errors_as_one_line(run_status))

    rotate = commands.add_parser(
        "rotate-keys", help="replace signing keys (root N -> N+1) and re-sign the data",
        description="Replace the keys of the given roles with new Ed25519 keys: writes root "
        "N+1 signed by the old and new root keys (devices follow it on their next sync), "
        "retires the old private keys to private/keys/retired/, and re-signs the data.")
    rotate.add_argument("directory", type=Path, metavar="DIR")
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
    enroll.add_argument("directory", type=Path, metavar="DIR")
    who = enroll.add_mutually_exclusive_group(required=True)
    who.add_argument("--region", nargs="+", metavar="KODE", default=[],
                     help="kecamatan code(s) of an officer device, e.g. 32.01.01")
    who.add_argument("--bot", action="store_true", help="the recipient-view bundle for the bot")
    enroll.add_argument("--out", type=Path, required=True, metavar="BUNDLE")
    add_json(enroll)
    enroll.set_defaults(handler=_os_errors_as_one_line(run_enroll))

    demo = commands.add_parser(
        "demo-data", help="write a synthetic demo world (recipients, points, program, report)",
        description="Write a synthetic but realistic world on real region codes: "
        "recipients.csv, payout_points.csv, program.toml and a sample payout report.")
    demo.add_argument("out_dir", type=Path, metavar="OUTDIR")
    demo.add_argument("--kabupaten", default="32.01", metavar="KODE")
    demo.add_argument("--recipients", type=int, default=2000, metavar="N")
    demo.add_argument("--seed", type=int, default=7, metavar="S")
    add_json(demo)
    demo.set_defaults(handler=_os_errors_as_one_line(run_demo_data))

    serve = commands.add_parser(
        "serve", help="serve DIR/public over HTTP (a convenience; any static server works)",
        description="Serve DIR/public (never DIR/private) as static files, like "
        "`python -m http.server -d DIR/public`.")
    serve.add_argument("directory", type=Path, metavar="DIR")
    serve.add_argument("--port", type=int, default=8000, metavar="P")
    serve.add_argument("--host", default="127.0.0.1")
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
    print(_say(f"Penyimpanan pusat dibuat: {store.directory}",
               f"Central store created: {store.directory}"))
    print(_say(f"  publik (disajikan): {store.public_dir}",
               f"  public (served):    {store.public_dir}"))
    print(_say(f"  privat (RAHASIA):   {store.private_dir}",
               f"  private (SECRET):   {store.private_dir}"))
    print(f"  KDF: {store.config.kdf.label}")
    print(_say(f"  basis data: {database}", f"  database: {database}"))
    print(_say(f"  kunci root: {root.roles['root'].threshold} dari "
               f"{len(root.roles['root'].keyids)}",
               f"  root keys: {root.roles['root'].threshold} of "
               f"{len(root.roles['root'].keyids)}"))
    if store.config.kdf.insecure:
        print(_say("PERINGATAN: profil KDF uji — HANYA UNTUK DEMO/UJI, BUKAN DATA NYATA.",
                   "WARNING: test KDF profile — FOR DEMOS AND TESTS ONLY, NOT FOR REAL DATA."),
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
        print(_say(f"UJI COBA (tidak ada yang ditulis): versi {report.version} akan berisi "
                   f"{report.published} penerima, {len(report.rejected)} ditolak dari "
                   f"{report.input_rows} baris.",
                   f"DRY RUN (nothing written): version {report.version} would hold "
                   f"{report.published} recipients, {len(report.rejected)} rejected of "
                   f"{report.input_rows} rows."))
        _print_changes(report.changes)
        _print_rejections(report.rejected)
        return 0
    print(_say(f"Versi {report.version} diterbitkan: {report.published} penerima, "
               f"{len(report.rejected)} ditolak dari {report.input_rows} baris.",
               f"Version {report.version} published: {report.published} recipients, "
               f"{len(report.rejected)} rejected of {report.input_rows} rows."))
    _print_changes(report.changes)
    print(_say(f"  shard baru: {report.shards_written}, tidak berubah: "
               f"{report.shards_unchanged}; kunci baru: {report.keys_derived}, dipakai ulang: "
               f"{report.keys_reused}",
               f"  shards written: {report.shards_written}, unchanged: "
               f"{report.shards_unchanged}; keys derived: {report.keys_derived}, reused: "
               f"{report.keys_reused}"))
    print(f"  KDF: {report.kdf}")
    _print_rejections(report.rejected)
    for warning in report.warnings:  # roster warnings: published anyway, worth a look
        print(_say("  PERINGATAN", "  WARNING") + f" [{warning['code']}] {warning['reason']}")
    if report.distribution_lists:
        folder = Path(report.distribution_lists[0]).parent
        print(_say(f"  daftar salur Kantor Pos (RAHASIA): {folder}",
                   f"  Kantor Pos distribution lists (SECRET): {folder}"))
    return 0


def _print_changes(changes: dict[str, dict[str, int]], limit: int = 20) -> None:
    """The change per kecamatan: added, removed, changed, unchanged (kecamatan with changes
    first; the rest summed)."""
    from blt_status.central.publish import change_totals

    totals = change_totals(changes)
    print(_say(f"  perubahan: {totals['added']} ditambah, {totals['removed']} dihapus, "
               f"{totals['changed']} berubah, {totals['unchanged']} tetap",
               f"  changes: {totals['added']} added, {totals['removed']} removed, "
               f"{totals['changed']} changed, {totals['unchanged']} unchanged"))
    moved = [(kec, counts) for kec, counts in sorted(changes.items())
             if counts["added"] or counts["removed"] or counts["changed"]]
    for kec, counts in moved[:limit]:
        print(f"    {kec}: +{counts['added']} -{counts['removed']} ~{counts['changed']} "
              f"={counts['unchanged']}")
    if len(moved) > limit:
        print(_say(f"    ... dan {len(moved) - limit} kecamatan lagi (lihat --json)",
                   f"    ... and {len(moved) - limit} more kecamatan (see --json)"))


def _print_rejections(rejected: list[dict[str, Any]], limit: int = 10) -> None:
    counts: dict[str, int] = {}
    for item in rejected:
        counts[str(item.get("code"))] = counts.get(str(item.get("code")), 0) + 1
    if counts:
        summary = ", ".join(f"{code} {count}" for code, count in sorted(counts.items()))
        print(_say(f"  ditolak per kode: {summary}", f"  rejected by code: {summary}"))
    for item in rejected[:limit]:
        print(f"  - {_say('baris', 'line')} {item.get('line')}: {item.get('nik_masked')} "
              f"[{item.get('code')}] {item.get('reason')}")
    if len(rejected) > limit:
        print(_say(f"  ... dan {len(rejected) - limit} lagi (lihat --json)",
                   f"  ... and {len(rejected) - limit} more (see --json)"))


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
    print(_say(f"Versi {report.version} diterbitkan: {report.applied} baris diterapkan, "
               f"{len(report.rejected)} ditolak dari {report.input_rows}; "
               f"{report.changed_records} data berubah, shard baru: {report.shards_written}.",
               f"Version {report.version} published: {report.applied} rows applied, "
               f"{len(report.rejected)} rejected of {report.input_rows}; "
               f"{report.changed_records} records changed, shards written: "
               f"{report.shards_written}."))
    if report.duplicates:
        print(_say(f"  {report.duplicates} baris sudah ada di buku besar (tidak diterapkan "
                   "lagi)", f"  {report.duplicates} rows were already in the ledger (not "
                   "applied again)"))
    _print_rejections(report.rejected)
    return 0


def run_status(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore

    summary = CentralStore.open(args.directory).summary()
    if args.json:
        print_json(summary)
        return 0
    print(_say(f"Penyimpanan pusat {summary['directory']}",
               f"Central store {summary['directory']}"))
    if not summary["version"]:
        print(_say("  belum ada versi yang diterbitkan", "  nothing published yet"))
    else:
        print(_say(f"  versi {summary['version']}: {summary['records']} penerima di "
                   f"{len(summary['kecamatan'])} kecamatan (epoch {summary['epoch']})",
                   f"  version {summary['version']}: {summary['records']} recipients in "
                   f"{len(summary['kecamatan'])} kecamatan (epoch {summary['epoch']})"))
        expired = _say(" — KEDALUWARSA: jalankan `central refresh`",
                       " — EXPIRED: run `central refresh`") if summary["expired"] else ""
        print(_say(f"  timestamp berlaku sampai {summary['timestamp_expires']}{expired}",
                   f"  timestamp expires {summary['timestamp_expires']}{expired}"))
        print(_say(f"  targets berlaku sampai {summary['targets_expires']}",
                   f"  targets expire {summary['targets_expires']}"))
    print(_say(f"  root versi {summary['root_version']} ({summary['root_threshold']} tanda "
               f"tangan), berlaku sampai {summary['root_expires']}",
               f"  root version {summary['root_version']} (threshold "
               f"{summary['root_threshold']}), expires {summary['root_expires']}"))
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
    print(_say(f"Versi {result.version} ditandatangani ulang ({result.published} penerima); "
               f"timestamp berlaku sampai {expires}.",
               f"Version {result.version} re-signed ({result.published} recipients); the "
               f"timestamp expires {expires}."))
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
    print(_say(f"Kunci {', '.join(sorted(set(args.role)))} diganti: root versi {root_version}"
               + (f", data ditandatangani ulang sebagai versi {data_version}."
                  if data_version else "."),
               f"Keys of {', '.join(sorted(set(args.role)))} replaced: root version "
               f"{root_version}" + (f", data re-signed as version {data_version}."
                                    if data_version else ".")))
    print(_say("Bundel baru memakai root ini; perangkat lama mengikutinya saat sinkron.",
               "New bundles pin this root; enrolled devices follow it on their next sync."))
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
    regions = ", ".join(bundle.regions) or _say("seluruh negeri", "the whole country")
    print(_say(f"Bundel {bundle.view} ditulis: {args.out} (wilayah: {regions})",
               f"Bundle for the {bundle.view} view written: {args.out} (regions: {regions})"))
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


def run_demo_data(args: argparse.Namespace) -> int:
    from blt_status.central.demodata import write_demo_world

    if args.recipients < 1:
        raise InputError("demo_recipients")
    files = write_demo_world(args.out_dir, kabupaten=args.kabupaten,
                             recipients=args.recipients, seed=args.seed)
    paths = {"recipients": str(files.recipients_csv),
             "payout_points": str(files.payout_points_csv),
             "program": str(files.program_toml),
             "payout_report": str(files.payout_report_csv)}
    if args.json:
        print_json({**paths, "sample_niks": files.sample_niks})
        return 0
    print(_say(f"Data demo (sintetis) ditulis ke {args.out_dir}:",
               f"Synthetic demo data written to {args.out_dir}:"))
    for name, path in paths.items():
        print(f"  {name}: {path}")
    # Synthetic people: showing their NIKs is what makes the demo usable.
    print(_say("NIK contoh (sintetis) untuk dicoba:", "Sample NIKs (synthetic) to try:"))
    for label, nik in sorted(files.sample_niks.items()):
        print(f"  {label:<18} {nik}")
    return 0


class _PublicHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        sys.stderr.write(f"{self.address_string()} {format % args}\n")


def run_serve(args: argparse.Namespace) -> int:
    from blt_status.central import CentralStore

    store = CentralStore.open(args.directory)
    handler = functools.partial(_PublicHandler, directory=str(store.public_dir))
    try:
        server = http.server.ThreadingHTTPServer((args.host, args.port), handler)
    except OSError as error:
        raise CentralError("serve_port", host=args.host, port=args.port,
                           reason=error.strerror or type(error).__name__) from None
    host, port = args.host, server.server_address[1]
    print(_say(f"Menyajikan {store.public_dir} di http://{host}:{port}/ (Ctrl-C untuk berhenti)",
               f"Serving {store.public_dir} at http://{host}:{port}/ (Ctrl-C to stop)"),
          flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0
