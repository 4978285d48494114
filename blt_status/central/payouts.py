"""Apply a Kantor Pos payout report (``nik, status, waktu, id_titik, keterangan``) to records.

:func:`read_payout_report` checks each row on its own; :func:`apply_payouts` checks it against
the current records, the payout points and the program, and returns only the records whose
payload changed. Every report row is either applied or rejected with a code.

Report status -> record status: ``salur`` -> ``collected`` (``collected_at`` = waktu,
``collected_point_id`` = id_titik), ``gagal`` -> ``held`` (``status_note`` = keterangan),
``kembali`` -> ``returned`` (``status_note`` = keterangan).

Transitions (current record status down, report status across)::

                 salur               gagal               kembali
    scheduled    collected           held                returned
    held         collected (fixed)   held (note update)  returned
    collected    already_collected   already_collected   already_collected
    returned     already_returned    already_returned    already_returned

A held record can still be paid out once the data is fixed; a collected or returned record is
final — a second ``salur`` is refused as ``already_collected`` (paid out twice).

Row codes: ``row_extra_fields``, ``nik_<code>`` (invalid NIK), ``status_invalid``,
``waktu_invalid``, ``point_missing``, ``duplicate`` (same NIK earlier in the report),
``unknown_nik``, ``unknown_point``, ``outside_program`` (waktu not within the program's
start..end dates: a report of another program or period), ``already_collected``,
``already_returned``. A ``waktu`` without a UTC offset is taken as WIB (UTC+07:00); the date
checked against the window is the date as written in the report.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from blt_status.central.inputs import REPORT_COLUMNS, PayoutPointRow, ProgramConfig, read_csv_rows
from blt_status.central.plan import Rejection, mask_raw_nik, number_reason, safe_code_text
from blt_status.errors import NikError
from blt_status.nik import mask_digits, parse_nik
from blt_status.records import RecordPayload

__all__ = ["REPORT_STATUSES", "WIB", "PayoutEvent", "apply_payouts", "read_payout_report"]

REPORT_STATUSES = {"salur": "collected", "gagal": "held", "kembali": "returned"}
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_MAX_NOTE = 200


@dataclass(frozen=True)
class PayoutEvent:
    """One valid report row."""

    line: int
    nik_digits: str = field(repr=False)
    status: str  # salur | gagal | kembali
    waktu: dt.datetime  # timezone-aware
    id_titik: str
    keterangan: str

    @property
    def nik_masked(self) -> str:
        return mask_digits(self.nik_digits)


def _parse_waktu(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=WIB)


def read_payout_report(path: Path) -> tuple[list[PayoutEvent], list[Rejection], int]:
    """The valid events, the rejected rows and the number of input rows of a report file.

    Raises :class:`FileFormatError` for the file as a whole (missing, not UTF-8, empty,
    missing columns).
    """
    rows = read_csv_rows(path, REPORT_COLUMNS)
    events: list[PayoutEvent] = []
    rejected: list[Rejection] = []
    first_line: dict[str, int] = {}
    for row in rows:
        values = row.values
        masked = mask_raw_nik(values["nik"])
        if row.extra:
            rejected.append(Rejection(row.line, masked, "row_extra_fields",
                                      "the row has more fields than the header"))
            continue
        try:
            nik = parse_nik(values["nik"])
        except NikError as error:
            rejected.append(Rejection(row.line, masked, f"nik_{error.code}",
                                      number_reason("NIK", error.code)))
            continue
        masked = nik.masked
        status = values["status"].lower()
        if status not in REPORT_STATUSES:
            rejected.append(Rejection(row.line, masked, "status_invalid",
                                      "status must be salur, gagal or kembali"))
            continue
        waktu = _parse_waktu(values["waktu"])
        if waktu is None:
            rejected.append(Rejection(row.line, masked, "waktu_invalid",
                                      "waktu must be an ISO 8601 time like "
                                      "2025-11-24T09:15:00+07:00"))
            continue
        if not values["id_titik"]:
            rejected.append(Rejection(row.line, masked, "point_missing", "id_titik is empty"))
            continue
        winner = first_line.setdefault(nik.digits, row.line)
        if winner != row.line:
            rejected.append(Rejection(row.line, masked, "duplicate",
                                      f"the same NIK is on line {winner} of this report, which "
                                      "is used"))
            continue
        events.append(PayoutEvent(row.line, nik.digits, status, waktu, values["id_titik"],
                                  values["keterangan"][:_MAX_NOTE]))
    return events, rejected, len(rows)


def _transition(current: RecordPayload, event: PayoutEvent) -> RecordPayload | tuple[str, str]:
    """The new payload, or ``(code, reason)`` when the transition is not allowed."""
    if current.status == "collected":
        when = current.collected_at.isoformat() if current.collected_at else "earlier"
        return ("already_collected", f"already collected ({when}); a payout is final")
    if current.status == "returned":
        return ("already_returned", "the aid was already returned; a return is final")
    note = event.keterangan or None
    if event.status == "salur":
        return replace(current, status="collected", collected_at=event.waktu,
                       collected_point_id=event.id_titik, status_note=note)
    if event.status == "gagal":
        return replace(current, status="held", status_note=note or "gagal salur")
    return replace(current, status="returned", status_note=note)


def apply_payouts(current: Mapping[str, RecordPayload], events: Sequence[PayoutEvent],
                  payout_points: Mapping[str, PayoutPointRow], program: ProgramConfig,
                  ) -> tuple[dict[str, RecordPayload], list[Rejection]]:
    """Apply events in order; return the changed records (by NIK digits) and the rejections."""
    state: dict[str, RecordPayload] = {}
    rejected: list[Rejection] = []
    for event in events:
        def reject(code: str, reason: str, event: PayoutEvent = event) -> None:
            rejected.append(Rejection(event.line, event.nik_masked, code, reason))

        record = state.get(event.nik_digits) or current.get(event.nik_digits)
        if record is None:
            reject("unknown_nik", "this NIK is not a recipient of the published program")
            continue
        if event.id_titik not in payout_points:
            shown = safe_code_text(event.id_titik, r"[A-Za-z0-9_.-]{1,40}")
            reject("unknown_point", f"id_titik {shown} is not a payout point")
            continue
        if not program.start <= event.waktu.date() <= program.end:
            reject("outside_program",
                   f"waktu {event.waktu.date()} is outside the program {program.program.id} "
                   f"({program.start} to {program.end}): a report of another program?")
            continue
        outcome = _transition(record, event)
        if isinstance(outcome, tuple):
            reject(*outcome)
            continue
        state[event.nik_digits] = outcome
    changed = {nik: payload for nik, payload in state.items() if payload != current[nik]}
    rejected.sort(key=lambda rejection: rejection.line)
    return changed, rejected
