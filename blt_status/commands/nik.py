"""``blt-status nik NIK``: decode and validate a NIK without any index."""

from __future__ import annotations

import argparse
import sys

from blt_status.commands._common import add_json, current_lang, print_json
from blt_status.errors import NikError
from blt_status.i18n import _
from blt_status.nik import fold_digits, parse_nik

ORDER = 10


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "nik", help="inspect a NIK without any index",
        description="Validate a NIK and decode its region, birth date and sex. Spaces, dots "
        "and dashes between digits are accepted.")
    parser.add_argument("nik", metavar="NIK", help="16 digits, e.g. '3201 0145 0590 0001'")
    add_json(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    lang = current_lang()
    try:
        nik = parse_nik(fold_digits(args.nik))
    except NikError as error:
        if args.json:
            print_json({"valid": False, "error": error.code, "message": error.message(lang)})
        print(error.line(lang), file=sys.stderr)
        return 1
    if args.json:
        print_json(nik.to_dict())
        return 0
    sex = {"F": _("female"), "M": _("male")}[nik.sex]
    labels = ("NIK", _("Province"), _("Regency/City"), _("District"), _("Birth date"), _("Sex"))
    historical = " " + _("(former code)")
    rows = [
        (labels[0], f"{nik.masked} — valid"),
        (labels[1], f"{nik.province.code} {nik.province.name}"),
        (labels[2], f"{nik.kabupaten.code} {nik.kabupaten.name}"
                    + (historical if nik.kabupaten.historical else "")),
        (labels[3], f"{nik.kecamatan.code} {nik.kecamatan.name}"
                    + (historical if nik.kecamatan.historical else "")),
        (labels[4], nik.birth_date.isoformat()),
        (labels[5], sex),
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    return 0
