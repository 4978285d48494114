"""``blt-status lookup NIK --data-dir D``: look a NIK up in the device's local index."""

from __future__ import annotations

import argparse

from blt_status.audit import AuditTrail, audited, unlock
from blt_status.commands._common import (
    add_data_dir,
    add_json,
    current_lang,
    print_json,
    read_passphrase,
)
from blt_status.device import Device
from blt_status.errors import NikError, NotInstalled, PassphraseRequired
from blt_status.lookup import LookupResult, LookupService
from blt_status.nik import parse_nik
from blt_status.present import (
    DOCUMENTS,
    format_date,
    format_rupiah,
    mode_label,
    next_steps,
    not_found_reasons,
    status_label,
)

ORDER = 30


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "lookup", help="look a NIK up in the local index",
        description="Look a NIK up in this device's encrypted index. The passphrase comes "
        "from BLT_PASSPHRASE or a prompt. Exit 0 whether found or not; non-zero for an "
        "invalid NIK or an unusable index.")
    parser.add_argument("nik", metavar="NIK")
    add_data_dir(parser)
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    # Invalid input fails before any passphrase prompt or KDF work, unless the device audits
    # its lookups (blt_status.audit): then the attempt is logged, as the TUI logs it.
    invalid: NikError | None = None
    try:
        parse_nik(args.nik)
    except NikError as error:
        invalid = error
    try:
        device = Device.load(args.data_dir)
        if invalid is not None and not audited(device):
            raise invalid
        passphrase = read_passphrase() if device.needs_passphrase else None
    except (NotInstalled, PassphraseRequired):
        if invalid is not None:
            raise invalid from None
        raise
    keyring = unlock(device, passphrase)
    service = LookupService.open(device, keyring)
    trail = AuditTrail.open(device, keyring)
    try:
        try:
            result = service.lookup(args.nik)
        except NikError:
            trail.lookup(None, data_version=service.meta.version)
            raise
    finally:
        service.close()
    failure = trail.lookup(result, data_version=result.data_version)
    if failure is not None:
        raise failure
    if args.json:
        print_json(result.to_dict())
    else:
        print(render_text(result, current_lang()))
    return 0


def render_text(result: LookupResult, lang: str) -> str:
    """A plain-text answer for the terminal."""
    en = lang == "en"
    lines: list[str] = []
    as_of = format_date(result.data_as_of.date(), lang, weekday=False)
    record = result.record
    if record is None:
        lines.append(f"NIK {result.nik.masked}: " + ("not found" if en else "tidak ditemukan"))
        lines += [f"  {line}" for line in not_found_reasons(lang)]
    else:
        schedule = record.schedule
        lines.append(f"NIK {result.nik.masked}: {record.name}")
        if record.address:
            lines.append(f"  {'Address' if en else 'Alamat'}: {record.address}")
        lines.append(f"  Status: {status_label(record.status, lang)}")
        lines.append(f"  {'Amount' if en else 'Jumlah'}: {format_rupiah(record.amount)}")
        lines.append(f"  Program: {record.program.name} ({record.program.period})")
        when = format_date(schedule.date, lang)
        if schedule.mode == "antar" and schedule.window_end:
            when += " – " + format_date(schedule.window_end, lang)
        elif schedule.start and schedule.end:
            when += f", {schedule.start:%H:%M}–{schedule.end:%H:%M}"
        lines.append(f"  {'When' if en else 'Jadwal'}: {when}")
        place = mode_label(schedule.mode, lang)
        if record.payout_point:
            place += f": {record.payout_point.name}, {record.payout_point.address}"
        lines.append(f"  {'Where' if en else 'Tempat'}: {place}")
        if record.status == "scheduled":
            lines.append(f"  {'Bring' if en else 'Bawa'}: " + ", ".join(DOCUMENTS[lang]))
        lines += [f"  {line}" for line in next_steps(record, lang)]
    stale = (" — may be out of date" if en else " — mungkin sudah tidak mutakhir") \
        if result.stale else ""
    lines.append(f"{'Data as of' if en else 'Data per'} {as_of} (v{result.data_version}){stale}")
    if "insecure" in result.kdf_label:
        lines.append("TEST KEY PARAMETERS — NOT FOR REAL DATA" if en else
                     "PARAMETER KUNCI UJI — BUKAN UNTUK DATA ASLI")
    return "\n".join(lines)
