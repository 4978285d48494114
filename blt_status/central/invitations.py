"""Signed invitations (surat undangan): a printable PDF whose QR token devices verify offline.

One half A4 page per recipient of a desa who still has to collect (scheduled or held): name,
masked NIK, address, date and slot, place and its address, the amount with "wajib diterima
utuh, tanpa potongan", what to bring, the line "petugas tidak pernah meminta PIN/OTP/uang", and
a QR code (segno) with the token of :mod:`blt_status.invitation` — reference, version, point,
date and amount, signed with the store's TUF ``targets`` key; no NIK and no name in it. The
reference is a keyed hash of the NIK (key ``private/lists/reference.key``), printed too so an
officer can quote it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import os
import re
from pathlib import Path
from typing import Any

from blt_status.central.lists import pdf_text
from blt_status.central.publish import published_info
from blt_status.central.roster import current_roster
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError
from blt_status.invitation import Invitation, make_token
from blt_status.nik import mask_digits
from blt_status.present import documents, format_date, format_rupiah, mode_label
from blt_status.records import RecordPayload
from blt_status.regions import dotted, is_current_desa, kecamatan_of, region_name
from blt_status.store import atomic_write_bytes

__all__ = ["reference_of", "write_invitations"]

WAITING = ("scheduled", "held")


def _reference_key(store: CentralStore) -> bytes:
    """The key of the printed references, made by the store's first invitations (which
    therefore need a store that can be written: ``store_read_only`` otherwise)."""
    path = store.private_dir / "lists" / "reference.key"
    if path.exists():
        return path.read_bytes()
    store.require_writable()
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    key = os.urandom(32)
    atomic_write_bytes(path, key, mode=0o600)
    return key


def reference_of(key: bytes, nik_digits: str) -> str:
    """A 10-letter reference for a person (base32 of a keyed hash: reveals nothing)."""
    digest = hmac.new(key, nik_digits.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:10]


def write_invitations(store: CentralStore, desa: str, out: Path) -> dict[str, Any]:
    """Write the invitations of ``desa``; returns what was written (no personal data)."""
    import segno
    from fpdf import FPDF

    if not re.fullmatch(r"[0-9.]{10,13}", desa) or not is_current_desa(desa):
        raise CentralError("invitation_desa_unknown", desa=desa[:20])
    code = dotted(desa)
    info = published_info(store)
    if info is None:
        raise CentralError("nothing_published")
    version = info[0]
    people = sorted(((entry.nik_digits, entry.payload)
                     for entry in current_roster(store, version=version,
                                                 kecamatan=kecamatan_of(code))
                     if entry.desa == code and entry.payload.status in WAITING),
                    key=lambda item: (item[1].schedule.date, item[1].name.casefold(), item[0]))
    signer = store.signer("targets")
    ref_key = _reference_key(store)
    pdf = FPDF(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_title("Surat undangan")
    for number, (nik, payload) in enumerate(people):
        if number % 2 == 0:
            pdf.add_page()
        top = 10 + (number % 2) * 148.5
        point = payload.payout_point
        invitation = Invitation(reference_of(ref_key, nik), version,
                                point.id if point else "-", payload.schedule.date,
                                payload.amount)
        token = make_token(invitation, signer)
        _half_page(pdf, top, nik, payload, invitation, token, segno)
        if number % 2 == 0:
            pdf.set_draw_color(150)
            pdf.set_dash_pattern(dash=2, gap=2)
            pdf.line(5, 148.5, 205, 148.5)
            pdf.set_dash_pattern()
            pdf.set_draw_color(0)
    if not people:
        pdf.add_page()
        pdf.set_font("Helvetica", "", 12)
        pdf.cell(0, 10, pdf_text(f"Tidak ada undangan untuk desa {code}."))
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(out, bytes(pdf.output()), mode=0o600)
    return {"desa": code, "desa_name": region_name(code) or "", "version": version,
            "invitations": len(people), "file": str(out)}


def _half_page(pdf: Any, top: float, nik: str, payload: RecordPayload, invitation: Invitation,
               token: str, segno: Any) -> None:
    schedule = payload.schedule
    point = payload.payout_point
    pdf.set_xy(12, top)
    pdf.set_font("Helvetica", "B", 13)
    pdf.cell(140, 7, pdf_text(f"SURAT UNDANGAN - {payload.program.name}"),
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(12)
    pdf.set_font("Helvetica", "", 9)
    pdf.cell(140, 5, pdf_text(f"Periode {payload.program.period} - Referensi "
                              f"{invitation.ref} - Versi {invitation.version}"),
             new_x="LMARGIN", new_y="NEXT")
    slot = format_date(schedule.date)
    if schedule.window_end:
        slot += f" s.d. {format_date(schedule.window_end)}"
    if schedule.start and schedule.end:
        slot += f", pukul {schedule.start:%H:%M}-{schedule.end:%H:%M}"
    lines = [
        ("Nama", payload.name),
        ("NIK", mask_digits(nik)),
        ("Alamat", f"{payload.address or ''}, {region_name(payload.kode_wilayah) or ''}"),
        ("Jadwal", slot),
        ("Tempat", f"{point.name if point else mode_label(schedule.mode)}"),
        ("Alamat tempat", point.address if point else ""),
        ("Jumlah", f"{format_rupiah(payload.amount, 'id')} - wajib diterima utuh, tanpa potongan"),
    ]
    pdf.ln(2)
    for label, value in lines:
        pdf.set_x(12)
        pdf.set_font("Helvetica", "B", 10)
        pdf.cell(32, 6, pdf_text(label))
        pdf.set_font("Helvetica", "", 10)
        pdf.multi_cell(108, 6, pdf_text(value), new_x="LMARGIN", new_y="NEXT")
    pdf.set_x(12)
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(140, 6, "Yang dibawa:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", "", 10)
    for item in documents("id"):
        pdf.set_x(16)
        pdf.cell(136, 5, pdf_text(f"- {item}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_x(12)
    pdf.set_font("Helvetica", "B", 10)
    pdf.multi_cell(140, 6, pdf_text("Petugas tidak pernah meminta PIN/OTP/uang. Laporkan "
                                    "setiap permintaan ke kantor desa atau Kemensos 171."),
                   new_x="LMARGIN", new_y="NEXT")
    image = io.BytesIO()
    segno.make(token, error="m").save(image, kind="png", scale=4, border=2)
    image.seek(0)
    pdf.image(image, x=155, y=top + 2, w=48, h=48)
    pdf.set_xy(155, top + 51)
    pdf.set_font("Helvetica", "", 7)
    pdf.multi_cell(48, 3, pdf_text(f"Pindai untuk memeriksa keaslian. Ref {invitation.ref}"),
                   new_x="LEFT", new_y="NEXT")
    pdf.set_font("Courier", "", 5)
    pdf.multi_cell(48, 2.2, f"Kode: {token}", new_x="LEFT", new_y="NEXT")
