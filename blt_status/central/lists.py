"""Signed Kantor Pos distribution lists: CSV (formula-safe), a signed manifest, a printable PDF.

Each list (one payout point, one version) is written as ``<point>.csv`` with a manifest
``<point>.manifest.json`` next to it, signed with the central store's list key (Ed25519,
``DIR/private/lists/signing.pem``; its public part is exported as ``lists-signing.pub.pem`` in
every list folder). The manifest holds the format, point, version, program, creation time, the
column names, the row count, the total amount, a SHA-256 over all rows, and per row the amount
and a hash of the other cells — so :func:`verify_list` can say *what* was changed: an altered
amount, an added, removed or reordered row, a list of another point or version.

Every cell is escaped against spreadsheet formula injection (OWASP "CSV Injection"): a cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return gets a leading ``'``.
``excel=True`` writes UTF-8 with a BOM and ``;`` as separator (what an Indonesian-locale Excel
opens directly).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import io
import json
import os
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from blt_status._fs import write_file_unsynced
from blt_status.errors import CentralError, FileFormatError
from blt_status.i18n import _
from blt_status.nik import mask_digits
from blt_status.present import format_date, format_rupiah
from blt_status.records import PayoutPoint, Program, RecordPayload
from blt_status.regions import region_name
from blt_status.store import atomic_write_bytes

__all__ = [
    "DISTRIBUTION_COLUMNS",
    "LIST_FORMAT",
    "PUBLIC_KEY_NAME",
    "ListProblem",
    "ListRow",
    "escape_cell",
    "fingerprint",
    "list_key",
    "list_rows",
    "verify_list",
    "write_list_pdf",
    "write_point_lists",
    "write_signed_list",
]

LIST_FORMAT = "blt-distribution-list-v1"
DISTRIBUTION_COLUMNS = ("tanggal", "sampai_tanggal", "jam_mulai", "jam_selesai", "nama", "alamat",
                        "desa", "kode_desa", "nik_4_terakhir", "jumlah", "mode",
                        "kebutuhan_khusus")
AMOUNT_COLUMN = DISTRIBUTION_COLUMNS.index("jumlah")
PUBLIC_KEY_NAME = "lists-signing.pub.pem"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_SIGNED_PREFIX = b"blt-distribution-list-v1\n"


# -- keys -------------------------------------------------------------------------------------


def list_key(private_dir: Path) -> Ed25519PrivateKey:
    """The store's list-signing key (``private/lists/signing.pem``), created on first use."""
    folder = private_dir / "lists"
    path = folder / "signing.pem"
    if path.exists():
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except (ValueError, TypeError):
            raise CentralError("list_key_invalid", path=str(path)) from None
        if not isinstance(key, Ed25519PrivateKey):
            raise CentralError("list_key_invalid", path=str(path))
        return key
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = Ed25519PrivateKey.generate()
    atomic_write_bytes(path, key.private_bytes(serialization.Encoding.PEM,
                                               serialization.PrivateFormat.PKCS8,
                                               serialization.NoEncryption()), mode=0o600)
    return key


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> str:
    """A short printable fingerprint of a public key: ``AB12 CD34 EF56 7890``."""
    digest = hashlib.sha256(_public_raw(key)).hexdigest()[:16].upper()
    return " ".join(digest[i:i + 4] for i in range(0, 16, 4))


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


# -- rows -------------------------------------------------------------------------------------


def escape_cell(value: object) -> str:
    """A cell that no spreadsheet runs as a formula (OWASP CSV injection guidance)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _hh_mm(moment: dt.time | None) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}" if moment else ""  # strftime("%H:%M")


@dataclass(frozen=True)
class ListRow:
    """One recipient on a list (NIK only as its last four digits)."""

    nik_last4: str
    payload: RecordPayload = field(repr=False)

    def cells(self) -> list[str]:
        """The row's cells, each as :func:`escape_cell` makes it (inlined: a national list has
        a quarter of a billion cells)."""
        payload = self.payload
        schedule = payload.schedule
        return [("'" + text if text.startswith(_FORMULA_START) else text) for text in (
            schedule.date.isoformat(), (schedule.window_end or schedule.date).isoformat(),
            _hh_mm(schedule.start), _hh_mm(schedule.end), payload.name, payload.address or "",
            region_name(payload.kode_wilayah) or "", payload.kode_wilayah, self.nik_last4,
            str(payload.amount), schedule.mode, payload.special_needs or "")]

    def order(self) -> tuple[str, str, str, str]:
        schedule = self.payload.schedule
        start = schedule.start.isoformat() if schedule.start else "99"
        return (schedule.date.isoformat(), start, self.payload.name.casefold(), self.nik_last4)


def list_rows(records: Iterable[tuple[str, RecordPayload]]) -> dict[str, list[ListRow]]:
    """``(nik digits, officer payload)`` pairs -> rows per payout point, in list order."""
    by_point: dict[str, list[ListRow]] = {}
    for nik, payload in records:
        if payload.payout_point is not None:
            by_point.setdefault(payload.payout_point.id, []).append(ListRow(nik[-4:], payload))
    for rows in by_point.values():
        rows.sort(key=ListRow.order)
    return by_point


_COMPACT_JSON = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""``json.dumps(data, ensure_ascii=False, separators=(",", ":"))`` without making an encoder
for every call (one per row of every list)."""


def _hash(data: object) -> str:
    return hashlib.sha256(_COMPACT_JSON(data).encode("utf-8")).hexdigest()


def _row_hash(cells: Sequence[str]) -> str:
    """The hash of a row without its amount (the amount is in the manifest as it is)."""
    return _hash([cell for index, cell in enumerate(cells) if index != AMOUNT_COLUMN])[:32]


def _amount(cells: Sequence[str]) -> int | None:
    text = cells[AMOUNT_COLUMN] if len(cells) > AMOUNT_COLUMN else ""
    return int(text) if text.isdigit() else None


def _signed_bytes(manifest: dict[str, Any]) -> bytes:
    body = {key: value for key, value in manifest.items() if key != "signature"}
    return _SIGNED_PREFIX + json.dumps(body, sort_keys=True, ensure_ascii=False,
                                       separators=(",", ":")).encode("utf-8")


def manifest_path(list_path: Path) -> Path:
    return list_path.with_name(list_path.stem + ".manifest.json")


def write_signed_list(path: Path, rows: Sequence[ListRow], *, point_id: str, version: int,
                      program: Program, key: Ed25519PrivateKey, excel: bool = False,
                      now: dt.datetime | None = None, sync: bool = True) -> Path:
    """Write ``path`` (0600) and its signed manifest; returns the manifest's path.

    ``sync=False`` writes both files whole (under a temporary name, then renamed) without
    fsync: for the many lists of one publish, which the caller makes durable together
    (:func:`blt_status._fs.sync_paths`) before the version that names them is committed.
    """
    write = atomic_write_bytes if sync else write_file_unsynced
    table = [row.cells() for row in rows]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";" if excel else ",", lineterminator="\r\n"
                        if excel else "\n")
    writer.writerow(DISTRIBUTION_COLUMNS)
    writer.writerows(table)
    data = buffer.getvalue().encode("utf-8-sig" if excel else "utf-8")
    write(path, data, 0o600)
    amounts = [int(row.payload.amount) for row in rows]
    public = key.public_key()
    manifest: dict[str, Any] = {
        "format": LIST_FORMAT,
        "point_id": point_id,
        "version": version,
        "program": program.to_dict(),
        "created_at": (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat(),
        "columns": list(DISTRIBUTION_COLUMNS),
        "rows": len(table),
        "total_amount": sum(amounts),
        "rows_sha256": _hash(table),
        "row_index": [{"hash": _row_hash(cells), "amount": amount}
                      for cells, amount in zip(table, amounts, strict=True)],
        "key_fingerprint": fingerprint(public),
    }
    manifest["signature"] = base64.b64encode(key.sign(_signed_bytes(manifest))).decode()
    target = manifest_path(path)
    write(target, manifest_bytes(manifest), 0o600)
    return target


_ROW_INDEX_SLOT = "@@row_index@@"


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    """``json.dumps(manifest, indent=1, ensure_ascii=False)``, byte for byte, with the per-row
    index (one small object per recipient) formatted by the C encoder instead of the indenting
    one, which is pure Python and was most of a large list's writing time."""
    index = manifest.get("row_index")
    if not isinstance(index, list) or not index or any(
            not isinstance(item, dict) or list(item) != ["hash", "amount"] for item in index):
        return json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    dumps = json.JSONEncoder(ensure_ascii=False).encode
    rows = ",\n".join(f'  {{\n   "hash": {dumps(item["hash"])},\n   "amount": '
                       f'{dumps(item["amount"])}\n  }}' for item in index)
    text = json.dumps({**manifest, "row_index": _ROW_INDEX_SLOT}, indent=1, ensure_ascii=False)
    slot = json.dumps(_ROW_INDEX_SLOT)
    if text.count(slot) != 1:  # the placeholder also appears elsewhere: take the slow way
        return json.dumps(manifest, indent=1, ensure_ascii=False).encode()
    return text.replace(slot, "[\n" + rows + "\n ]").encode()


def write_point_lists(by_point: dict[str, list[ListRow]], point_ids: Iterable[str],
                      out_dir: Path, *, version: int, program: Program,
                      key: Ed25519PrivateKey, excel: bool = False,
                      points: dict[str, PayoutPoint] | None = None, pdf: bool = False,
                      now: dt.datetime | None = None) -> list[Path]:
    """One signed list per payout point (an empty one when nobody is assigned), the public key
    next to them, and (``pdf``) a printable PDF per point. Returns the CSV paths."""
    out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    atomic_write_bytes(out_dir / PUBLIC_KEY_NAME, public_pem(key.public_key()), mode=0o600)
    paths = []
    for point_id in sorted(set(point_ids) | set(by_point)):
        rows = by_point.get(point_id, [])
        path = out_dir / f"{point_id}.csv"
        write_signed_list(path, rows, point_id=point_id, version=version, program=program,
                          key=key, excel=excel, now=now)
        if pdf:
            point = (points or {}).get(point_id) or PayoutPoint(point_id, point_id, "", "")
            write_list_pdf(out_dir / f"{point_id}.pdf", rows, point=point, version=version,
                           program=program, key_fingerprint=fingerprint(key.public_key()),
                           now=now)
        paths.append(path)
    return paths


# -- verification -----------------------------------------------------------------------------


@dataclass(frozen=True)
class ListProblem:
    code: str  # list_signature | list_amount_altered | list_row_added | list_row_removed |
    #            list_rows_reordered | list_row_altered | list_wrong_point | list_wrong_version
    #            | list_manifest_missing | list_unreadable
    detail: str  # in the current language; no personal data (line numbers, amounts, codes)


def _read_table(path: Path) -> list[list[str]]:
    text = path.read_bytes().decode("utf-8-sig")
    header = text.split("\n", 1)[0]
    delimiter = ";" if ";" in header and "," not in header else ","
    rows = [row for row in csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
            if row]
    return rows


def _trusted_key(path: Path) -> object:
    """The public key in ``path`` (PEM); a missing file or one that is no PEM public key is
    the admin's input error, not a tampered list."""
    if path.is_dir():
        raise FileFormatError("file_missing:folder", path=path, kind="PEM")
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise FileFormatError("file_missing", path=path) from None
    try:
        return serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise CentralError("list_key_invalid:public", path=str(path)) from None


def verify_list(path: Path, *, public_key: Path | None = None, point_id: str | None = None,
                version: int | None = None) -> tuple[dict[str, Any], list[ListProblem]]:
    """Check a list against its signed manifest; ``([], manifest)`` means genuine.

    The trusted public key is ``public_key`` or ``lists-signing.pub.pem`` next to the list.
    The point and version are those given, else the ones the file name and folder say
    (``<v>/<point>.csv``).
    """
    problems: list[ListProblem] = []
    if path.is_dir():
        raise FileFormatError("file_missing:folder", path=path, kind="CSV")
    if not path.exists():
        raise FileFormatError("file_missing", path=path)
    try:
        manifest = json.loads(manifest_path(path).read_bytes())
    except FileNotFoundError:
        return {}, [ListProblem("list_manifest_missing", _(
            "no manifest {name} next to the list").format(name=manifest_path(path).name))]
    except ValueError:
        return {}, [ListProblem("list_unreadable", _("the manifest is not valid JSON"))]
    if not isinstance(manifest, dict):
        return {}, [ListProblem("list_unreadable", _("the manifest is not a list manifest"))]
    trusted = _trusted_key(public_key or path.parent / PUBLIC_KEY_NAME)
    if not isinstance(trusted, Ed25519PublicKey):
        return manifest, [ListProblem("list_signature", _("the public key is not Ed25519"))]
    try:
        trusted.verify(base64.b64decode(str(manifest.get("signature", ""))),
                       _signed_bytes(manifest))
    except (InvalidSignature, ValueError):
        return manifest, [ListProblem("list_signature", _(
            "the manifest's signature does not verify with the trusted key {key}").format(
            key=fingerprint(trusted)))]
    expected_point = point_id or path.stem
    if manifest.get("point_id") != expected_point:
        problems.append(ListProblem("list_wrong_point", _(
            "the list is for point {found}, not {expected}").format(
            found=manifest.get("point_id"), expected=expected_point)))
    expected_version = version
    if expected_version is None and path.parent.name.isdigit():
        expected_version = int(path.parent.name)
    if expected_version is not None and manifest.get("version") != expected_version:
        problems.append(ListProblem("list_wrong_version", _(
            "the list is version {found}, not {expected}").format(
            found=manifest.get("version"), expected=expected_version)))
    try:
        table = _read_table(path)
    except (OSError, UnicodeDecodeError, csv.Error):
        return manifest, [*problems, ListProblem("list_unreadable", _("the list is unreadable"))]
    body = table[1:]
    if _hash(body) == manifest.get("rows_sha256") and len(body) == manifest.get("rows"):
        return manifest, problems
    problems.extend(_row_problems(body, manifest.get("row_index", [])))
    if not problems:  # pragma: no cover - a changed hash always shows in the row index
        problems.append(ListProblem("list_row_altered", _("the rows differ from the manifest")))
    return manifest, problems


def _row_problems(body: list[list[str]], index: list[dict[str, Any]]) -> list[ListProblem]:
    problems: list[ListProblem] = []
    signed = [(str(item.get("hash")), item.get("amount")) for item in index]
    found = [(_row_hash(cells), _amount(cells)) for cells in body]
    signed_hashes = [hash_ for hash_, _ in signed]
    found_hashes = [hash_ for hash_, _ in found]
    missing = {position for position, hash_ in enumerate(signed_hashes)
               if hash_ not in found_hashes}
    for position, (hash_, amount) in enumerate(found):
        line = position + 2
        if hash_ not in signed_hashes:
            if position in missing:
                missing.discard(position)
                problems.append(ListProblem("list_row_altered", _(
                    "line {line} differs from the signed row").format(line=line)))
            else:
                problems.append(ListProblem("list_row_added", _(
                    "line {line} is not on the signed list").format(line=line)))
            continue
        expected = signed[signed_hashes.index(hash_)][1]
        if amount != expected:
            problems.append(ListProblem("list_amount_altered", _(
                "line {line}: amount {amount}, signed {signed}").format(
                line=line, amount=amount, signed=expected)))
    problems.extend(ListProblem("list_row_removed", _(
        "signed line {line} is missing").format(line=position + 2))
                    for position in sorted(missing))
    common_signed = [hash_ for hash_ in signed_hashes if hash_ in found_hashes]
    common_found = [hash_ for hash_ in found_hashes if hash_ in signed_hashes]
    if common_signed != common_found:
        problems.append(ListProblem("list_rows_reordered", _(
            "the rows are in another order than signed")))
    return problems


# -- the printable list -----------------------------------------------------------------------


def pdf_text(text: str) -> str:
    """Text the PDF core fonts can show (Latin-1; other letters lose their accents)."""
    decomposed = unicodedata.normalize("NFKD", text)
    return decomposed.encode("latin-1", "ignore").decode("latin-1")


ROWS_PER_PAGE = 18


def write_list_pdf(path: Path, rows: Sequence[ListRow], *, point: PayoutPoint, version: int,
                   program: Program, key_fingerprint: str, now: dt.datetime | None = None,
                   ) -> Path:
    """A printable list (A4 landscape, fpdf2): header, one row per recipient with a signature
    column, a total per page and page numbers."""
    from fpdf import FPDF

    day = (now or dt.datetime.now(dt.UTC)).date()
    pages = [rows[start:start + ROWS_PER_PAGE]
             for start in range(0, len(rows), ROWS_PER_PAGE)] or [[]]
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title(pdf_text(f"Daftar salur {point.id} v{version}"))
    widths = (8, 62, 34, 40, 42, 30, 61)  # 277 mm: A4 landscape inside the margins
    headers = ("No", "Nama", "NIK", "Desa", "Jadwal", "Jumlah", "Tanda tangan / cap jempol")
    number = 0
    for page_number, page_rows in enumerate(pages, 1):
        pdf.add_page()
        pdf.set_font("Helvetica", "B", 13)
        pdf.cell(0, 7, pdf_text(f"{program.name} - {program.period}"),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", "", 10)
        pdf.cell(0, 5, pdf_text(f"Titik bayar: {point.name} ({point.id}) {point.address}"),
                 new_x="LMARGIN", new_y="NEXT")
        pdf.cell(0, 5, pdf_text(f"Tanggal cetak: {format_date(day, weekday=False)}   "
                                f"Versi: {version}   Sidik kunci tanda tangan: "
                                f"{key_fingerprint}"), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 9)
        for width, header in zip(widths, headers, strict=True):
            pdf.cell(width, 7, header, border=1)
        pdf.ln()
        pdf.set_font("Helvetica", "", 9)
        page_total = 0
        for row in page_rows:
            number += 1
            payload = row.payload
            schedule = payload.schedule
            slot = schedule.date.strftime("%d-%m-%Y")
            if schedule.start and schedule.end:
                slot += f" {schedule.start:%H:%M}-{schedule.end:%H:%M}"
            cells = (str(number), payload.name[:40], mask_digits("0" * 12 + row.nik_last4),
                     (region_name(payload.kode_wilayah) or payload.kode_wilayah)[:24], slot,
                     format_rupiah(payload.amount, "id"), "")
            for width, text in zip(widths, cells, strict=True):
                pdf.cell(width, 9, pdf_text(text), border=1)
            pdf.ln()
            page_total += payload.amount
        pdf.set_font("Helvetica", "B", 9)
        pdf.cell(sum(widths[:5]), 7, pdf_text(f"Jumlah halaman ini ({len(page_rows)} penerima)"),
                 border=1)
        pdf.cell(widths[5], 7, pdf_text(format_rupiah(page_total, "id")), border=1)
        pdf.ln()
        if page_number == len(pages):
            grand = sum(row.payload.amount for row in rows)
            pdf.cell(sum(widths[:5]), 7, pdf_text(f"Jumlah seluruhnya ({len(rows)} penerima)"),
                     border=1)
            pdf.cell(widths[5], 7, pdf_text(format_rupiah(grand, "id")), border=1)
            pdf.ln()
        pdf.set_y(-12)
        pdf.set_font("Helvetica", "", 8)
        pdf.cell(0, 5, f"Halaman {page_number} dari {len(pages)}", align="C")
    data = bytes(pdf.output())
    atomic_write_bytes(path, data, mode=0o600)
    os.chmod(path, 0o600)
    return path
