"""``blt-status status --data-dir D``: the device's data version, freshness and last sync."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from blt_status.commands._common import add_data_dir, add_json, current_lang, print_json
from blt_status.device import Device
from blt_status.present import format_date
from blt_status.sync import device_status

ORDER = 42


def register(subparsers: argparse._SubParsersAction) -> None:
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
    en = lang == "en"
    where = ", ".join(status["regions"]) or ("whole country" if en else "seluruh negeri")
    lines = [f"{'Device' if en else 'Perangkat'}: {status['data_dir']} — {status['view']} "
             f"({where}), {status['backend']}"]
    if status["index_error"]:
        lines.append(f"error [{status['index_error']['code']}]: "
                     f"{status['index_error']['message']}")
    elif status["version"] is None:
        lines.append("No index yet: run `blt-status sync`." if en else
                     "Belum ada data: jalankan `blt-status sync`.")
    else:
        as_of = format_date(dt.datetime.fromisoformat(status["data_as_of"]).date(), lang,
                            weekday=False)
        stale = (" — may be out of date" if en else " — mungkin sudah tidak mutakhir") \
            if status["stale"] else ""
        lines.append(f"{'Data as of' if en else 'Data per'} {as_of} "
                     f"(v{status['version']}){stale}")
        if status["expires"]:
            lines.append(f"  {'Valid until' if en else 'Berlaku sampai'}: {status['expires']}")
        lines.append(f"  {'Records' if en else 'Catatan'}: {status['records']}")
        for region, count in status["counts"].items():
            lines.append(f"    {region}: {count}")
        lines.append(f"  KDF: {status['kdf_profile']}")
        if status["checked"]:
            lines.append("  Checked: every record matches the index checksum." if en else
                         "  Diperiksa: semua catatan cocok dengan checksum indeks.")
    last = status["last_sync"]
    if last:
        result = "ok" if last["ok"] else f"error [{last['code']}]"
        lines.append(f"{'Last sync' if en else 'Sinkron terakhir'}: {last['time']} — {result}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    status = device_status(Device.load(args.data_dir), check=args.check)
    if args.json:
        print_json(status)
    else:
        print(render_text(status, current_lang()))
    return 1 if args.check and status["checked"] is not True else 0
