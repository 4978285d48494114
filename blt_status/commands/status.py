"""``blt-status status --data-dir D``: the device's data version, freshness and last sync."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from typing import Any

from blt_status.commands._common import add_data_dir, add_json, current_lang, print_json
from blt_status.i18n import _, format_number

ORDER = 42


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status", help="show the local index's version, freshness and last sync",
        description="Show what this device holds: view, regions, data version, as-of date, "
        "expiry (past it the data is still shown but may be out of date), record counts per "
        "kecamatan, the key-derivation profile, and the last sync's result. Needs no "
        "passphrase.")
    parser.add_argument("--check", action="store_true",
                        help="also check the whole local index against the checksum written "
                        "when it was built (exit 1 if it is damaged; `blt-status sync` "
                        "then rebuilds it)")
    add_data_dir(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def render_text(status: dict[str, Any], lang: str) -> str:
    where = ", ".join(status["regions"]) or _("the whole country")
    lines = [_("Device: {data_dir} — {view} ({where}), {backend}").format(
        data_dir=status["data_dir"], view=status["view"], where=where, backend=status["backend"])]
    if status["index_error"]:  # said in one coded line on stderr by run()
        ...
    elif status["version"] is None:
        lines.append(_("No index yet: run `blt-status sync`."))
    else:
        from blt_status.present import format_date

        as_of = format_date(dt.datetime.fromisoformat(status["data_as_of"]).date(), lang,
                            weekday=False)
        stale = _(" — may be out of date") if status["stale"] else ""
        lines.append(_("Data as of {as_of} (v{version}){stale}").format(
            as_of=as_of, version=status["version"], stale=stale))
        if status["expires"]:
            lines.append("  " + _("Valid until: {expires}").format(expires=status["expires"]))
        lines.append("  " + _("Records: {count}").format(count=format_number(status["records"])))
        for region, count in status["counts"].items():
            lines.append(f"    {region}: {format_number(count)}")
        lines.append(f"  KDF: {status['kdf_profile']}")
        if status["checked"]:
            lines.append("  " + _("Checked: every record matches the index checksum."))
    last = status["last_sync"]
    if last:
        result = "ok" if last["ok"] else f"error [{last['code']}]"
        lines.append(_("Last sync: {time} — {result}").format(time=last["time"], result=result))
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from blt_status.device import Device
    from blt_status.sync import device_status

    status = device_status(Device.load(args.data_dir), check=args.check)
    if args.json:
        print_json(status)
    else:
        print(render_text(status, current_lang()))
    problem = status["index_error"]
    if problem:
        # A device whose index cannot answer is a failure like any other: one coded line on
        # stderr and exit 1, so scripts and monitoring see it (it exited 0).
        print(f"error [{problem['code']}]: {problem['message']}", file=sys.stderr)
        return 1
    return 1 if args.check and status["checked"] is not True else 0
