"""``blt-status sync [--from URL|DIR] --data-dir D``: fetch and switch to the newest index."""

from __future__ import annotations

import argparse
import math
import sys
from typing import TYPE_CHECKING

from blt_status.commands._common import add_data_dir, add_json, current_lang, print_json
from blt_status.i18n import N_, _, format_number, translate
from blt_status.sync._settings import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from blt_status.sync import SyncProgress, SyncReport

ORDER = 41

_PHASES = {"metadata": N_("metadata"), "shards": N_("download shards"),
           "index": N_("build index"), "switch": N_("switch")}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "sync", help="refresh the local index from the central store",
        description="Download the central store's newest signed version (TUF), only the "
        "shards that changed, check every signature, hash, view and region, and switch the "
        "local index over atomically. --from takes the URL of DIR/public on any static HTTP "
        "server, or a local directory (e.g. a copy on a USB stick); without it the URL from "
        "the enrollment bundle is used. On any failure the previous index stays in use.")
    parser.add_argument("--from", dest="source", default=None, metavar="URL",
                        help="URL or directory of the published repository (DIR/public)")
    parser.add_argument("--timeout", type=seconds, default=DEFAULT_TIMEOUT, metavar="S",
                        help="give up (sync_timeout) when the whole sync takes longer than S "
                        f"seconds (default {DEFAULT_TIMEOUT:g})")
    parser.add_argument("--repair", action="store_true",
                        help="rebuild the live index version from the repository even when "
                        "it is current (a damaged index is rebuilt without this too)")
    add_data_dir(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def seconds(text: str) -> float:
    """An argparse ``type``: a positive, finite number of seconds, else a one-line usage error
    (``--timeout 0`` was reported as an unusable sync source)."""
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            _("%(value)r is not a positive number of seconds") % {"value": text})
    return value


seconds.__name__ = "float"


class TerminalProgress:
    """One self-rewriting line on stderr."""

    def __init__(self, lang: str) -> None:
        self.lang = lang
        self.width = 0

    def __call__(self, event: SyncProgress) -> None:
        label = translate(_PHASES[event.phase], self.lang) if event.phase in _PHASES \
            else event.phase
        text = f"sync: {label} {event.done}/{event.total}" if event.total else f"sync: {label}"
        self.width = max(self.width, len(text))
        sys.stderr.write("\r" + text.ljust(self.width))
        sys.stderr.flush()

    def close(self) -> None:
        if self.width:
            sys.stderr.write("\r" + " " * self.width + "\r")
            sys.stderr.flush()


def render_text(report: SyncReport, lang: str) -> str:
    if not report.changed:
        return _("Already up to date: version {version} ({records} records).").format(
            version=report.version_after, records=format_number(report.records, lang))
    before = report.version_before if report.version_before is not None else "-"
    lines = [
        _("Synced: version {before} -> {after}").format(before=before,
                                                         after=report.version_after),
        "  " + _("shards downloaded {downloaded}, reused {reused}, removed {removed}").format(
            downloaded=report.shards_downloaded, reused=report.shards_reused,
            removed=report.shards_removed),
        "  " + _("records {records}, {bytes} bytes downloaded").format(
            records=format_number(report.records, lang),
            bytes=format_number(report.bytes_downloaded, lang)),
        "  " + _("data as of {as_of}, valid until {expires}").format(
            as_of=report.data_as_of, expires=report.expires),
    ]
    if getattr(report, "repaired", False):
        lines.append("  " + _("the damaged local index was rebuilt from the repository"))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from blt_status.device import Device
    from blt_status.sync import sync_device

    device = Device.load(args.data_dir)
    lang = current_lang()
    progress = TerminalProgress(lang) if not args.json and sys.stderr.isatty() else None
    try:
        report = sync_device(device, args.source, progress=progress, timeout=args.timeout,
                             repair=args.repair)
    finally:
        if progress is not None:
            progress.close()
    if args.json:
        print_json(report.to_dict())
    else:
        print(render_text(report, lang))
    return 0
