"""From recipients.csv, payout_points.csv and program.toml to a publication plan.

:func:`plan_publication` reads and checks the three files (file-level problems raise
:class:`FileFormatError` before anything is written), validates every recipient row, applies
eligibility and the duplicate rules, computes the entitlement and the schedule, and returns a
:class:`PublicationPlan` in which every input row is either a :class:`PlannedRecipient` or a
:class:`Rejection` — ``input_rows == len(recipients) + len(rejected)`` always.

Row checks, in order (the first failing one is the row's rejection code):

    row_extra_fields   more fields than the header
    nik_<code>         parse_nik failed (nik_length, nik_not_digits, nik_empty, nik_province,
                       nik_region, nik_birth_date, nik_serial)
    kk_<code>          parse_kk failed (kk_length, kk_not_digits, kk_region, ...)
    name_missing, address_missing
    desa_unknown       kode_wilayah is not a current desa/kelurahan code
    household_invalid  jumlah_anggota is not a whole number 1..99
    desil_invalid      desil is not a whole number 1..10
    status_invalid     status is not aktif/nonaktif
    special_needs_invalid  kebutuhan_khusus is not empty/lansia/disabilitas
    duplicate_nik      the NIK is on an earlier valid row (that row is used)
    not_active         status nonaktif
    desil_above_max    desil above the program's max_desil
    duplicate_kk       the household (KK) already has an eligible recipient on an earlier row
    no_payout_point    no payout point serves the desa or its kecamatan

Reasons name line numbers, codes and values of non-personal fields, never a NIK, KK or name.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import os
import re
import sqlite3
from array import array
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any
from urllib.parse import quote

from blt_status.central.db import subject_from_key
from blt_status.central.entitlement import SPECIAL_NEEDS, entitlement_amount
from blt_status.central.inputs import (
    RECIPIENT_COLUMNS,
    CsvRow,
    PayoutPointRow,
    ProgramConfig,
    csv_row,
    csv_row_estimate,
    iter_csv_records,
    iter_csv_rows,
    load_payout_points,
    load_program,
)
from blt_status.central.rowmemo import (
    PlanKeys,
    attach_memo,
    memo_context,
    memo_salt,
    plan_keys,
    raw_hasher,
    save_memo,
)
from blt_status.central.schedule import CapacityShortError, ScheduleRequest, build_schedule
from blt_status.errors import KkError, NikError
from blt_status.i18n import N_, _
from blt_status.layout import AGGREGATES_FORMAT
from blt_status.nik import mask_digits, parse_kk, parse_nik
from blt_status.records import Program, RecordPayload, Schedule
from blt_status.regions import dotted, is_current_desa, kecamatan_of, region_name

__all__ = [
    "DISTRIBUTION_COLUMNS",
    "Aggregates",
    "PayoutPointRow",
    "PlannedRecipient",
    "PlannedRow",
    "ProgramConfig",
    "PublicationPlan",
    "Rejection",
    "RosterWarning",
    "StreamedPlan",
    "compute_aggregates",
    "load_payout_points",
    "load_program",
    "mask_raw_nik",
    "number_reason",
    "plan_in_memory",
    "plan_publication",
    "roster_warnings",
    "safe_code_text",
    "write_distribution_lists",
]

PROGRESS_EVERY = 1000
DISTRIBUTION_COLUMNS = ("tanggal", "sampai_tanggal", "jam_mulai", "jam_selesai", "nama", "alamat",
                        "desa", "kode_desa", "nik_4_terakhir", "jumlah", "mode",
                        "kebutuhan_khusus")  # the same as blt_status.central.lists


@dataclass(frozen=True)
class Rejection:
    """An input row that is not published, and why (masked NIK only)."""

    line: int
    nik_masked: str
    code: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {"line": self.line, "nik_masked": self.nik_masked, "code": self.code,
                "reason": self.reason}


@dataclass(frozen=True)
class RosterWarning:
    """Something in the roster an admin should check; the rows are published anyway.

    ``same_person_two_niks``: two published rows with the same normalised name, birth date
    (from the NIK) and desa. ``excel_damaged_numbers``: NIK or KK cells whose last digit is 0
    far more often than chance, or written like ``3.20101E+15`` — what a spreadsheet's
    15-digit precision does to 16-digit numbers.
    """

    code: str
    lines: tuple[int, ...]
    reason: str  # English; line numbers and counts only

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "lines": list(self.lines), "reason": self.reason}


@dataclass(frozen=True, slots=True)
class PlannedRecipient:
    """One recipient to publish: the officer-view payload and its shard (kecamatan of residence).

    ``payload.for_recipient()`` gives the recipient-view copy.
    """

    nik_digits: str = field(repr=False)
    kk_digits: str = field(repr=False)
    shard: str
    payload: RecordPayload
    line: int = 0
    desil: int = 0


@dataclass
class PublicationPlan:
    program: ProgramConfig
    recipients: list[PlannedRecipient]  # sorted by (shard, nik_digits)
    rejected: list[Rejection]  # sorted by line
    input_rows: int
    payout_points: dict[str, PayoutPointRow]
    warnings: list[RosterWarning] = field(default_factory=list)  # published anyway

    def rejected_counts(self) -> dict[str, int]:
        """How many rows were rejected per code."""
        counts: dict[str, int] = defaultdict(int)
        for rejection in self.rejected:
            counts[rejection.code] += 1
        return dict(sorted(counts.items()))


_NUMBER_PROBLEMS = {
    "length": N_("the {subject} does not have 16 digits"),
    "not_digits": N_("the {subject} may hold only digits (spaces, dots or dashes between them "
                     "are fine)"),
    "empty": N_("the {subject} is empty"),
    "province": N_("the {subject} starts with an unknown province code"),
    "region": N_("the {subject} starts with an unknown kabupaten/kecamatan code"),
    "birth_date": N_("the {subject} has a birth date part that is not a valid date"),
    "serial": N_("the {subject} has 0000 as its serial (last four digits)"),
}


def number_reason(subject: str, code: str) -> str:
    """Why a NIK or KK number (``subject``) is invalid, without echoing any of its digits."""
    problem = _NUMBER_PROBLEMS.get(code.removeprefix("kk_"))
    if problem is None:
        return _("the {subject} is not valid ({code})").format(subject=subject, code=code)
    return _(problem).format(subject=subject)


NOT_A_CODE = N_("(not a code)")  # shown translated: ``_(safe_code_text(...))``


def safe_code_text(text: str, pattern: str = r"[0-9.]{1,13}") -> str:
    """A code value to show in a reason, or a placeholder when it may be something personal."""
    if re.fullmatch(pattern, text) and not re.search(r"[0-9]{14}", text):
        return text
    return NOT_A_CODE


def mask_raw_nik(raw: str) -> str:
    """The masked form of whatever was in a NIK cell: its digits, all but the last four hidden."""
    return mask_digits(re.sub(r"\D", "", raw)[:32])


@dataclass(frozen=True, slots=True)
class _ValidRow:
    line: int
    nik_digits: str = field(repr=False)
    kk_digits: str = field(repr=False)
    name: str = field(repr=False)
    address: str = field(repr=False)
    desa: str
    household_size: int
    desil: int
    active: bool
    special_needs: str | None


def _whole_number(text: str, low: int, high: int) -> int | None:
    if not re.fullmatch(r"[0-9]{1,3}", text):
        return None
    value = int(text)
    return value if low <= value <= high else None


def _validate_row(row: CsvRow, today: dt.date | None) -> _ValidRow | Rejection:
    values = row.values
    masked: str | None = None  # the masked NIK cell, made only for a rejection

    def reject(code: str, reason: str) -> Rejection:
        return Rejection(row.line, masked if masked is not None else mask_raw_nik(values["nik"]),
                         code, reason)

    if row.extra:
        return reject("row_extra_fields", _("the row has more fields than the header "
                                            "(an unquoted comma in a name or address?)"))
    try:
        nik = parse_nik(values["nik"], today=today)
    except NikError as error:
        return reject(f"nik_{error.code}", number_reason("NIK", error.code))
    masked = nik.masked
    try:
        kk = parse_kk(values["no_kk"])
    except KkError as error:
        code = error.code if error.code.startswith("kk_") else f"kk_{error.code}"
        return reject(code, number_reason(_("KK number"), code))
    if not values["nama"]:
        return reject("name_missing", _("nama is empty"))
    if not values["alamat"]:
        return reject("address_missing", _("alamat is empty"))
    desa_text = values["kode_wilayah"]
    if not re.fullmatch(r"[0-9.]{10,13}", desa_text) or not is_current_desa(desa_text):
        return reject("desa_unknown", _("kode_wilayah {code} is not a current desa/kelurahan "
                                        "code").format(code=_(safe_code_text(desa_text))))
    household_size = _whole_number(values["jumlah_anggota"], 1, 99)
    if household_size is None:
        return reject("household_invalid",
                      _("jumlah_anggota must be a whole number from 1 to 99"))
    desil = _whole_number(values["desil"], 1, 10)
    if desil is None:
        return reject("desil_invalid", _("desil must be a whole number from 1 to 10"))
    status = values["status"].lower()
    if status not in ("aktif", "nonaktif"):
        return reject("status_invalid", _("status must be aktif or nonaktif"))
    special = values["kebutuhan_khusus"].lower() or None
    if special is not None and special not in SPECIAL_NEEDS:
        return reject("special_needs_invalid",
                      _("kebutuhan_khusus must be empty, lansia or disabilitas"))
    return _ValidRow(row.line, nik.digits, kk.digits, values["nama"], values["alamat"],
                     dotted(desa_text), household_size, desil, status == "aktif", special)


class _NumberCells:
    """What the ``excel_damaged_numbers`` warning needs of the NIK and KK cells, gathered row
    by row: line numbers of suspicious cells and counts, never the cells themselves."""

    def __init__(self) -> None:
        self.scientific: dict[str, list[int]] = {"nik": [], "no_kk": []}
        # About one 16-digit cell in ten ends in 0 by chance: a national file's line numbers
        # are kept as machine integers (8 bytes each, not a 36-byte Python int in a list).
        self.zeros: dict[str, array[int]] = {"nik": array("q"), "no_kk": array("q")}
        self.numbers: dict[str, int] = {"nik": 0, "no_kk": 0}

    def add(self, row: CsvRow) -> None:
        self.add_flags(row.line, cell_flags(row))

    def add_flags(self, line: int, flags: int) -> None:
        """Count one row by its :func:`cell_flags` (a cell ending in 0 has 16 digits)."""
        for column, shift in _FLAG_SHIFTS:
            if flags >> shift & _SIXTEEN:
                self.numbers[column] += 1
            if flags >> shift & _ENDS_IN_ZERO:
                self.zeros[column].append(line)
            if flags >> shift & _SCIENTIFIC_CELL:
                self.scientific[column].append(line)

    @classmethod
    def of_scratch(cls, db: sqlite3.Connection) -> _NumberCells:
        """The cells of every row of a :class:`StreamedPlan`'s scratch file, from the flags
        its ``rows`` and ``rejected`` tables keep (the common 16-digit cells only counted)."""
        cells = cls()
        for column, shift in _FLAG_SHIFTS:
            for table in ("rows", "rejected"):
                (count,) = db.execute(f"SELECT count(*) FROM {table}"
                                      f" WHERE cells >> {shift} & {_SIXTEEN}").fetchone()
                cells.numbers[column] += int(count)
        unusual = sum((_ENDS_IN_ZERO | _SCIENTIFIC_CELL) << shift for _, shift in _FLAG_SHIFTS)
        for line, flags in db.execute(
                f"SELECT line, cells FROM rows WHERE cells & {unusual} UNION ALL SELECT line,"
                f" cells FROM rejected WHERE cells & {unusual} ORDER BY 1"):
            cells.add_flags(line, flags & unusual)  # the 16-digit ones are counted above
        return cells


_SIXTEEN, _ENDS_IN_ZERO, _SCIENTIFIC_CELL = 1, 2, 4
_FLAG_SHIFTS = (("nik", 0), ("no_kk", 3))


def cell_flags(row: CsvRow) -> int:
    """What :class:`_NumberCells` counts of a row's NIK and KK cells, as bits: per column (NIK
    in bits 0-2, KK in bits 3-5) 16 digits, 16 digits ending in 0, written like 3.2E+15."""
    flags = 0
    for column, shift in _FLAG_SHIFTS:
        cell = row.values.get(column, "").strip()
        if ("e" in cell or "E" in cell) and _SCIENTIFIC.fullmatch(cell):
            flags |= _SCIENTIFIC_CELL << shift
        # the usual cell is plain ASCII digits: no regex for it
        digits = cell if cell.isascii() and cell.isdigit() else re.sub(r"[^0-9]", "", cell)
        if len(digits) == 16:
            flags |= (_SIXTEEN | (_ENDS_IN_ZERO if digits.endswith("0") else 0)) << shift
    return flags


_SCIENTIFIC = re.compile(r"[0-9]+([.,][0-9]+)?[eE]\+?[0-9]+")


def _select_eligible(rows: Iterable[CsvRow], program: ProgramConfig, today: dt.date | None,
                     progress: Callable[[int, int], None] | None, *, total: int = 0,
                     cells: _NumberCells | None = None,
                     ) -> tuple[list[_ValidRow], list[Rejection], int]:
    """Validate rows, then the NIK duplicate, eligibility and KK (household) rules.

    ``rows`` is consumed once (a stream of the file); returns the eligible rows, the rejections
    and how many rows there were. ``total`` is an estimate for ``progress`` only.
    """
    rejected: list[Rejection] = []
    eligible: list[_ValidRow] = []
    first_nik: dict[str, int] = {}
    first_kk: dict[str, int] = {}
    done = 0
    for done, row in enumerate(rows, start=1):
        if progress is not None and done % PROGRESS_EVERY == 0:
            progress(done, max(total, done))
        if cells is not None:
            cells.add(row)
        checked = _validate_row(row, today)
        if isinstance(checked, Rejection):
            rejected.append(checked)
            continue
        masked = mask_digits(checked.nik_digits)
        winner = first_nik.setdefault(checked.nik_digits, checked.line)
        if winner != checked.line:
            rejected.append(Rejection(checked.line, masked, "duplicate_nik",
                                      _("the same NIK is on line {line}, which is "
                                        "used").format(line=winner)))
            continue
        if not checked.active:
            rejected.append(Rejection(checked.line, masked, "not_active",
                                      _("status is nonaktif")))
            continue
        if checked.desil > program.max_desil:
            rejected.append(Rejection(checked.line, masked, "desil_above_max",
                                      _("desil {desil} is above the program's maximum "
                                        "{maximum}").format(desil=checked.desil,
                                                            maximum=program.max_desil)))
            continue
        household_winner = first_kk.setdefault(checked.kk_digits, checked.line)
        if household_winner != checked.line:
            rejected.append(Rejection(checked.line, masked, "duplicate_kk",
                                      _("this household (KK) already has a recipient on "
                                        "line {line}; one recipient per KK").format(
                                            line=household_winner)))
            continue
        eligible.append(checked)
    if progress is not None and done:
        progress(done, done)
    return eligible, rejected, done


def plan_publication(recipients_csv: Path, payout_points_csv: Path, program_toml: Path, *,
                     progress: Callable[[int, int], None] | None = None,
                     today: dt.date | None = None) -> PublicationPlan:
    """Read the inputs and decide, for every row, what is published and what is rejected.

    The whole plan in memory (for tests, tools and small files): the rows are checked by
    :class:`StreamedPlan`, which a publish uses directly, one kecamatan at a time.
    """
    with StreamedPlan.build(recipients_csv, payout_points_csv, program_toml,
                            progress=progress, today=today) as streamed:
        recipients = [recipient for kec in streamed.kecamatan
                      for recipient in streamed.recipients(kec)]
        plan = PublicationPlan(streamed.program, recipients, list(streamed.rejections()),
                               streamed.input_rows, streamed.payout_points,
                               list(streamed.warnings))
    if plan.input_rows != len(plan.recipients) + len(plan.rejected):  # pragma: no cover
        raise AssertionError("every input row must be published or rejected")
    return plan


def plan_in_memory(recipients_csv: Path, payout_points_csv: Path, program_toml: Path, *,
                   progress: Callable[[int, int], None] | None = None,
                   today: dt.date | None = None) -> PublicationPlan:
    """Read the inputs and decide, for every row, what is published and what is rejected.

    The recipients file is read as a stream (one row in memory at a time; what is kept is the
    checked fields of eligible rows). Raises :class:`FileFormatError` for an unusable file and
    :class:`~blt_status.central.schedule.CapacityShortError` when the payout points cannot hold
    everyone eligible; both before the caller has written anything.
    """
    program = load_program(program_toml, today=today)
    payout_points = load_payout_points(payout_points_csv)
    estimate = csv_row_estimate(recipients_csv)
    cells = _NumberCells()
    eligible, rejected, input_rows = _select_eligible(
        iter_csv_rows(recipients_csv, RECIPIENT_COLUMNS, encoding_checked=True), program,
        today or dt.date.today(), progress, total=estimate, cells=cells)

    requests = [ScheduleRequest(row.nik_digits, row.desa, row.special_needs) for row in eligible]
    result = build_schedule(requests, payout_points, program)
    unserved = set(result.unserved)
    recipients: list[PlannedRecipient] = []
    for row in eligible:
        if row.nik_digits in unserved:
            rejected.append(Rejection(
                row.line, mask_digits(row.nik_digits), "no_payout_point",
                _("no payout point serves desa {desa} or kecamatan {kecamatan}").format(
                    desa=row.desa, kecamatan=kecamatan_of(row.desa))))
            continue
        assignment = result.assignments[row.nik_digits]
        amount = entitlement_amount(program.base_amount, program.rules,
                                    household_size=row.household_size, desil=row.desil,
                                    special_needs=row.special_needs)
        payload = RecordPayload(
            view="officer", status="scheduled", amount=amount, program=program.program,
            schedule=assignment.schedule, payout_point=assignment.point.point, name=row.name,
            kode_wilayah=row.desa, address=row.address, household_size=row.household_size,
            special_needs=row.special_needs)
        recipients.append(PlannedRecipient(row.nik_digits, row.kk_digits,
                                           kecamatan_of(row.desa), payload, row.line, row.desil))
    recipients.sort(key=lambda recipient: (recipient.shard, recipient.nik_digits))
    rejected.sort(key=lambda rejection: rejection.line)
    plan = PublicationPlan(program, recipients, rejected, input_rows, payout_points,
                           _warnings(cells, recipients))
    if plan.input_rows != len(plan.recipients) + len(plan.rejected):  # pragma: no cover
        raise AssertionError("every input row must be published or rejected")
    return plan


def _normal_name(name: str) -> str:
    return " ".join(re.sub(r"[^a-z ]+", " ", name.casefold()).split())


def roster_warnings(rows: Iterable[CsvRow], recipients: list[PlannedRecipient],
                    ) -> list[RosterWarning]:
    """The publish report's warnings (see :class:`RosterWarning`): never rejections."""
    cells = _NumberCells()
    for row in rows:
        cells.add(row)
    return _warnings(cells, recipients)


def _warnings(cells: _NumberCells, recipients: list[PlannedRecipient]) -> list[RosterWarning]:
    seen: dict[tuple[str, str, str], list[PlannedRecipient]] = defaultdict(list)
    for recipient in recipients:
        born = recipient.nik_digits[6:12]  # DDMMYY (+40 on DD for women)
        seen[(_normal_name(recipient.payload.name), born, recipient.payload.kode_wilayah)] \
            .append(recipient)
    twice = sorted((group[0].shard, tuple(sorted(member.line for member in group)))
                   for group in seen.values() if len(group) > 1)
    warnings = [_same_person_warning(lines) for _kec, lines in twice]
    for column in ("nik", "no_kk"):
        scientific = cells.scientific[column]
        zeros = cells.zeros[column]
        numbers = cells.numbers[column]
        expected = 0.1 * numbers
        suspicious = len(zeros) >= 5 and len(zeros) > expected + 4 * (0.09 * numbers) ** 0.5
        if suspicious or scientific:
            lines = tuple(sorted(set(zeros if suspicious else ()) | set(scientific)))
            warnings.append(RosterWarning(
                "excel_damaged_numbers", lines[:50],
                _("column {column}: {zeros} of {numbers} numbers end in 0 (about {expected} "
                  "expected by chance) and {scientific} are written like 3.2E+15: the file may "
                  "have been saved by a spreadsheet that rounds numbers to 15 digits; export it "
                  "again with the column formatted as text").format(
                      column=column, zeros=len(zeros), numbers=numbers,
                      expected=round(expected), scientific=len(scientific))))
    return warnings


def write_distribution_lists(plan: PublicationPlan, out_dir: Path) -> list[Path]:
    """One private signed CSV (0600) per payout point, ``<point id>.csv``, sorted by date, slot,
    name, with its signed manifest (see :mod:`blt_status.central.lists`).

    Every payout point gets a file, an empty one (header only) when nobody is assigned to it.
    NIKs appear only as their last four digits. When ``out_dir`` is a store's
    ``private/distribution/<version>`` folder the list key is the store's
    (``private/lists/signing.pem``) and the version is the folder's.
    """
    from blt_status.central.lists import list_key, list_rows, write_point_lists

    if out_dir.parent.name == "distribution" and out_dir.name.isdigit():
        private_dir, version = out_dir.parent.parent, int(out_dir.name)
    else:
        private_dir, version = out_dir, 0
    rows = list_rows((recipient.nik_digits, recipient.payload) for recipient in plan.recipients)
    return write_point_lists(rows, plan.payout_points, out_dir, version=version,
                             program=plan.program.program, key=list_key(private_dir))


class Aggregates:
    """:func:`compute_aggregates` as a publish's aggregator, with :meth:`input_key`: the text of
    everything it reads for one kecamatan, so that a kecamatan whose aggregate inputs did not
    change (an address corrected, a name fixed) keeps its published aggregates file."""

    def __init__(self, program: Program, flagged: Mapping[str, int]) -> None:
        self.program = program
        self.flagged = dict(flagged)

    def __call__(self, records: Iterable[tuple[str, RecordPayload]]) -> dict[str, dict[str, Any]]:
        return compute_aggregates(records, self.program, flagged=self.flagged)

    def input_key(self, kecamatan: str, payloads: Iterable[RecordPayload]) -> bytes:
        return self.input_key_of_rows(kecamatan, map(aggregate_input, payloads))

    def input_key_of_rows(self, kecamatan: str, rows: Iterable[tuple[Any, ...]]) -> bytes:
        """:meth:`input_key` from each recipient's :func:`aggregate_input` (a publish knows
        them without building the payloads of recipients nothing changed)."""
        return json.dumps([AGGREGATES_FORMAT, kecamatan, self.program.to_dict(),
                           self.flagged.get(kecamatan, 0), sorted(rows)], sort_keys=True,
                          separators=(",", ":")).encode()


def aggregate_input(payload: RecordPayload) -> tuple[str, str, int, str, str]:
    """What :func:`compute_aggregates` reads of one payload: desa, status, amount, schedule
    date and (collected ones) the day collected."""
    return (payload.kode_wilayah, payload.status, payload.amount,
            payload.schedule.date.isoformat(),
            payload.collected_at.date().isoformat()
            if payload.status == "collected" and payload.collected_at is not None else "")


def compute_aggregates(records: Iterable[tuple[str, RecordPayload]], program: Program, *,
                       flagged: Mapping[str, int] | None = None, suppress: bool = True,
                       ) -> dict[str, dict[str, Any]]:
    """Public per-kecamatan aggregates (format ``blt-aggregates-v1``): counts, no personal data.

    ``records`` are ``(kecamatan, officer or recipient payload)`` pairs. Per desa: recipients,
    collected, held, returned, pending, amount_total, amount_collected; per payout day: how many
    are scheduled that day (home deliveries on their window's first day) and how many collected;
    ``flagged`` (flagged payouts per kecamatan) goes into the totals when given. Small cells
    are suppressed (:func:`blt_status.central.disclosure.suppress`) unless ``suppress=False``.
    """
    from blt_status.central.disclosure import suppress as suppress_small_cells

    desa_counts: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    day_counts: dict[str, dict[str, dict[str, int]]] = defaultdict(dict)
    for kecamatan, payload in records:
        desa = desa_counts[kecamatan].setdefault(payload.kode_wilayah, {
            "recipients": 0, "collected": 0, "held": 0, "returned": 0, "amount_total": 0,
            "amount_collected": 0})
        desa["recipients"] += 1
        desa["amount_total"] += payload.amount
        if payload.status in ("collected", "held", "returned"):
            desa[payload.status] += 1
        if payload.status == "collected":
            desa["amount_collected"] += payload.amount
        days = day_counts[kecamatan]
        scheduled_day = days.setdefault(payload.schedule.date.isoformat(),
                                        {"scheduled": 0, "collected": 0})
        scheduled_day["scheduled"] += 1
        if payload.status == "collected" and payload.collected_at is not None:
            collected_day = days.setdefault(payload.collected_at.date().isoformat(),
                                            {"scheduled": 0, "collected": 0})
            collected_day["collected"] += 1
    result: dict[str, dict[str, Any]] = {}
    for kecamatan in sorted(desa_counts):
        desa_list: list[dict[str, Any]] = [
            {"kode": code, "nama": region_name(code) or "", **counts,
             "pending": counts["recipients"] - counts["collected"] - counts["held"]
             - counts["returned"]}
                     for code, counts in sorted(desa_counts[kecamatan].items())]
        totals: dict[str, Any] = {
            key: sum(int(item[key]) for item in desa_list)
            for key in ("recipients", "collected", "held", "returned", "pending",
                        "amount_total", "amount_collected")}
        if flagged is not None:
            totals["flagged"] = int(flagged.get(kecamatan, 0))
        result[kecamatan] = {
            "format": AGGREGATES_FORMAT,
            "region": kecamatan,
            "region_name": region_name(kecamatan) or "",
            "program": program.to_dict(),
            "totals": totals,
            "desa": desa_list,
            "days": [{"date": day, **counts}
                     for day, counts in sorted(day_counts[kecamatan].items())],
        }
        if suppress:
            result[kecamatan] = suppress_small_cells(result[kecamatan])
    return result


# -- the streamed plan: checked rows in a private scratch database --------------------------------
#
# A national file does not fit in memory as rows. The streamed plan checks each row as it is
# read and puts what it needs of it into a scratch SQLite file in a private temporary folder:
# line, the NIK's and KK's keyed hashes (for the duplicate rules), the kecamatan and desa, the
# masked NIK and the rest of the row sealed (AES-GCM). Hashes and seal use keys that live in
# this process (and, for a large file, the processes that check its rows) only and die with it,
# so the file is unreadable without them (and it is deleted when the plan closes). The
# duplicate rules then run as SQL over indexes, the schedule runs per group of kecamatan that
# share payout points, and a publish reads the recipients back one kecamatan at a time.

_decode_json = json.JSONDecoder().decode  # of a str: no guessing of the bytes' encoding
_INSERT_BATCH = 2000
PARALLEL_CHECK_ROWS = 20_000
"""A file this long is checked by a process pool when a publish has more than one worker:
below it, starting the pool costs more than it saves."""


def _keyed_hash(key: bytes, text: str) -> bytes:
    return hashlib.blake2b(text.encode(), key=key, digest_size=16).digest()


SOURCE_FORMAT = "blt-source-v1"
"""Part of every source hash (:meth:`StreamedPlan.source_of`), with the package's version:
change it when what a recipient's payload is made from, or how, changes, so that no re-publish
takes an old payload for the new one."""


def source_key_of(subject_key: bytes) -> bytes:
    """The key of the row and source hashes, derived from the store's subject key (the
    processes that check rows have that key already; they are given no other)."""
    return hmac.digest(subject_key, b"blt-row-source-v1", "sha256")


@dataclass(slots=True)
class PlannedRow:
    """One published recipient as the scratch file holds it: the personal part still sealed
    (:meth:`StreamedPlan.recipient` opens it). Not frozen: one is made for every published
    row twice a publish, and a frozen dataclass costs five times as much to make."""

    line: int
    subject: str | None
    kecamatan: str
    desa: str
    desil: int
    point_id: str
    schedule: Schedule
    sched_text: str = field(repr=False)
    body: bytes = field(repr=False)
    row_hash: bytes | None = field(repr=False)


_Records = tuple[Sequence[str], list[tuple[int, Sequence[str]]]]
"""The header and ``(line, fields)`` records of up to :data:`_INSERT_BATCH` rows."""
_Checked = tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]
"""A checked batch: its ``rows`` and ``rejected`` tuples."""


class _RowChecker:
    """What pass 1 writes for a batch of rows: each valid row as a ``rows`` tuple (NIK and KK
    as keyed hashes, the rest sealed), each invalid one as a ``rejected`` tuple (masked). Holds
    only bytes, so it is sent as it is to the processes of :func:`_check_in_pool`."""

    def __init__(self, seal_key: bytes, hash_key: bytes, subject_key: bytes | None,
                 today: dt.date) -> None:
        self.seal_key = seal_key
        self.hash_key = hash_key
        self.subject_key = subject_key
        self.source_key = source_key_of(subject_key) if subject_key is not None else None
        self.today = today
        self._aead: Any = None

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_aead": None}  # an AESGCM is made again where it is used

    def __call__(self, header: Sequence[str], records: Iterable[tuple[int, Sequence[str]]],
                 ) -> _Checked:
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(self.seal_key)
        valid: list[tuple[Any, ...]] = []
        rejected: list[tuple[Any, ...]] = []
        for line, fields in records:
            row = csv_row(header, line, fields)
            flags = cell_flags(row)
            checked = _validate_row(row, self.today)
            if isinstance(checked, Rejection):
                rejected.append((checked.line, checked.nik_masked, checked.code, checked.reason,
                                 flags))
                continue
            body = json.dumps([checked.nik_digits, checked.kk_digits, checked.name,
                               checked.address, checked.household_size, checked.special_needs],
                              separators=(",", ":")).encode()
            nonce = os.urandom(12)
            valid.append((checked.line, _keyed_hash(self.hash_key, checked.nik_digits),
                          _keyed_hash(self.hash_key, checked.kk_digits),
                          subject_from_key(self.subject_key, checked.nik_digits)
                          if self.subject_key is not None else None,
                          kecamatan_of(checked.desa), checked.desa, int(checked.active),
                          checked.desil, mask_digits(checked.nik_digits),
                          nonce + self._aead.encrypt(nonce, body, None),
                          hashlib.blake2b(b"%s|%d|%s" % (checked.desa.encode(), checked.desil,
                                                          body), key=self.source_key,
                                          digest_size=16).digest()
                          if self.source_key is not None else None, flags,
                          _keyed_hash(self.hash_key,
                                      f"{checked.nik_digits}|{checked.special_needs or ''}"),
                          _keyed_hash(self.hash_key, "|".join((
                              _normal_name(checked.name), checked.nik_digits[6:12],
                              checked.desa)))))
        return valid, rejected


_pool_checker: _RowChecker | None = None


def _init_check_worker(checker: _RowChecker) -> None:
    global _pool_checker
    _pool_checker = checker


def _check_batch(batch: _Records) -> _Checked:
    assert _pool_checker is not None
    return _pool_checker(*batch)


def _check_in_pool(checker: _RowChecker, batches: Iterable[_Records],
                   write: Callable[[_Checked], None], workers: int, *,
                   in_process_first: int = 0) -> None:
    """``write(checker(*batch))`` for every batch, in order, the checks done by ``workers``
    processes while this one reads the next batches and writes the finished ones. At most
    two batches a worker are in flight, so memory stays bounded whatever the file's length.
    An error (a malformed row further on, Ctrl-C) cancels what is queued.

    ``in_process_first``: rows checked here before the pool is started (none is started when
    there are no more), for a publish that expects few rows to check."""
    from collections import deque
    from concurrent.futures import Future, ProcessPoolExecutor

    pool: ProcessPoolExecutor | None = None
    pending: deque[Future[_Checked]] = deque()
    checked = 0
    try:
        for batch in batches:
            if pool is None and checked < in_process_first:
                write(checker(*batch))
                checked += len(batch[1])
                continue
            if pool is None:
                pool = ProcessPoolExecutor(max_workers=workers, initializer=_init_check_worker,
                                           initargs=(checker,))
            pending.append(pool.submit(_check_batch, batch))
            if len(pending) >= 2 * workers:
                write(pending.popleft().result())
        while pending:
            write(pending.popleft().result())
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)


class _Groups:
    """Kecamatan joined when a payout point serves more than one (they share its capacity)."""

    def __init__(self, points: Mapping[str, PayoutPointRow]) -> None:
        self.parent: dict[str, str] = {}
        self.point_kecamatan: dict[str, set[str]] = {}
        for pid, point in points.items():
            kecs = {kecamatan_of(code) for code in point.serves}
            self.point_kecamatan[pid] = kecs
            first = min(kecs) if kecs else None
            for kec in kecs:
                if first is not None:
                    self.union(first, kec)

    def find(self, kec: str) -> str:
        root = kec
        while self.parent.get(root, root) != root:
            root = self.parent[root]
        while kec != root:  # path compression
            self.parent[kec], kec = root, self.parent.get(kec, kec)
        return root

    def union(self, first: str, second: str) -> None:
        a, b = self.find(first), self.find(second)
        if a != b:
            self.parent[max(a, b)] = min(a, b)
        self.parent.setdefault(min(a, b), min(a, b))

    def points_of(self, kecamatan: set[str]) -> list[str]:
        return sorted(pid for pid, kecs in self.point_kecamatan.items() if kecs & kecamatan)


class StreamedPlan:
    """The checked recipients of one publish, held on disk; one kecamatan in memory at a time.

    Same answers as :func:`plan_in_memory` (tests compare them). ``build`` reads and checks the
    files (raising :class:`FileFormatError` or :class:`CapacityShortError` before anything is
    written); the plan is a context manager that deletes its scratch folder on exit.
    """

    def __init__(self, program: ProgramConfig, payout_points: dict[str, PayoutPointRow],
                 subject_key: bytes | None = None, memo: Path | None = None) -> None:
        import tempfile

        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        self.program = program
        self.payout_points = payout_points
        self._subject_key = subject_key
        self._folder = Path(tempfile.mkdtemp(prefix="blt-plan-"))  # 0700
        # With the store's subject key, the scratch file's keys are the memo's (rowmemo): a
        # re-publish takes over the rows it checked before, sealed and hashed as they were.
        self._keys: PlanKeys | None = None
        self._memo: Path | None = None
        if subject_key is not None:
            salt = memo_salt(memo) if memo is not None else None
            self._keys = plan_keys(subject_key, salt)
            self._memo = memo if salt is not None else None
            self._seal_key, self._hash_key = self._keys.seal, self._keys.hash
        else:
            self._seal_key = AESGCM.generate_key(bit_length=256)
            self._hash_key = AESGCM.generate_key(bit_length=256)
        self._aead = AESGCM(self._seal_key)
        self._context: bytes | None = None  # what the rows were checked under (rowmemo)
        self._memo_attached = False
        self.memo_rows = 0  # rows taken from the memo instead of checked
        self.memo_groups = 0  # groups of kecamatan whose schedule the memo gave
        self._db: sqlite3.Connection | None = None
        self._pid = self._owner = os.getpid()
        self._inherited: sqlite3.Connection | None = None  # a forked child: its parent's
        self.db.execute(
            "CREATE TABLE rows (line INTEGER PRIMARY KEY, nik_h BLOB, kk_h BLOB, subject TEXT,"
            " kec TEXT, desa TEXT, active INTEGER, desil INTEGER, masked TEXT, body BLOB,"
            " row_h BLOB, cells INTEGER, sched_h BLOB, person_h BLOB, status TEXT,"
            " winner INTEGER, point TEXT, sched TEXT, grp BLOB, raw_h BLOB)")
        self.db.execute("CREATE TABLE rejected (line INTEGER PRIMARY KEY, masked TEXT,"
                        " code TEXT, reason TEXT, cells INTEGER)")
        self.input_rows = 0
        self.published = 0
        self.rejected_count = 0
        self.kecamatan: list[str] = []
        self.counts: dict[str, int] = {}
        self.warnings: list[RosterWarning] = []
        self._groups = _Groups(payout_points)
        self._subject_index = False
        self._source_key = source_key_of(subject_key) if subject_key is not None else None
        self._source_context: dict[tuple[str, str], Any] = {}  # per point and kecamatan

    # -- life cycle

    @property
    def db(self) -> sqlite3.Connection:
        """The scratch file's connection, one per process: a process forked from the publisher
        (the distribution lists are written by one while the shards are built) opens its own
        instead of using its parent's, which SQLite does not allow across a fork."""
        if self._db is None or self._pid != os.getpid():
            if self._db is not None:  # the parent's: kept, never closed (nor used) here
                self._inherited = self._db
            # URIs on: the memo is attached read-only by one (rowmemo.read_only)
            self._db = sqlite3.connect(f"file:{quote(str(self._folder / 'plan.db'))}",
                                       uri=True, isolation_level=None)
            self._pid = os.getpid()
            for pragma in ("journal_mode=OFF", "synchronous=OFF", "temp_store=FILE",
                           "cache_size=-16000"):
                self._db.execute(f"PRAGMA {pragma}")
        return self._db

    def __enter__(self) -> StreamedPlan:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        import shutil

        if os.getpid() != self._owner:  # a forked process never removes its parent's plan
            return
        if self._db is not None and self._pid == self._owner:
            self._db.close()
        self._db = None
        shutil.rmtree(self._folder, ignore_errors=True)

    @classmethod
    def build(cls, recipients_csv: Path, payout_points_csv: Path, program_toml: Path, *,
              progress: Callable[[int, int], None] | None = None,
              today: dt.date | None = None, subject_key: bytes | None = None,
              workers: int = 1, memo: Path | None = None) -> StreamedPlan:
        """Read and check the three files into a new plan.

        ``subject_key``: each valid row gets its store subject (:func:`subject_from_key`).
        ``workers``: processes that check the rows of a large file (see :meth:`_check_rows`).
        ``memo``: the store's memo of checked rows (:mod:`~blt_status.central.rowmemo`; with
        ``subject_key`` only), whose rows are taken over instead of checked again.
        """
        program = load_program(program_toml, today=today)
        payout_points = load_payout_points(payout_points_csv)
        estimate = csv_row_estimate(recipients_csv)
        plan = cls(program, payout_points, subject_key, memo)
        try:
            plan._check_rows(iter_csv_records(recipients_csv, RECIPIENT_COLUMNS,
                                              encoding_checked=True),
                             today or dt.date.today(), progress, estimate, workers)
            plan._apply_duplicate_rules()
            plan._schedule()
            if plan._memo_attached:
                plan.db.execute("DETACH DATABASE memo")
                plan._memo_attached = False
        except BaseException:
            plan.close()
            raise
        return plan

    # -- sealing inside the scratch file

    def _unseal(self, data: bytes) -> Any:
        return _decode_json(self._aead.decrypt(data[:12], data[12:], None).decode())

    # -- pass 1: check every row, keep the valid ones on disk

    def _check_rows(self, records: Iterable[tuple[list[str], int, list[str]]], today: dt.date,
                    progress: Callable[[int, int], None] | None, total: int,
                    workers: int = 1) -> None:
        """Check every record of :func:`iter_csv_records` into the scratch file. With
        ``workers`` > 1 and a file of at least :data:`PARALLEL_CHECK_ROWS` rows, this process
        reads the CSV and writes the results while a process pool names, checks, hashes and
        seals the rows, batch by batch, in order; the same :class:`_RowChecker` either way,
        so the scratch file says the same.

        With a memo (:mod:`~blt_status.central.rowmemo`) made under the same keys, code and
        header, a row whose raw hash it holds is copied from it, and only the others are
        checked (here, unless there turn out to be many)."""
        checker = _RowChecker(self._seal_key, self._hash_key, self._subject_key, today)
        done = 0
        records = iter(records)
        first = next(records, None)
        if first is None:
            self.input_rows, self._cells = 0, _NumberCells()
            return
        header = first[0]
        keys = self._keys
        if keys is not None:
            self._context = memo_context(keys, header)
        memo = self._memo is not None and self._context is not None \
            and attach_memo(self.db, self._memo, self._context)
        raws: dict[int, bytes | None] = {}  # raw hashes of the rows the checker has
        raw_hash = raw_hasher(keys) if keys is not None else None
        columns = ("line, nik_h, kk_h, subject, kec, desa, active, desil, masked, body, row_h,"
                   " cells, sched_h, person_h, raw_h")
        if memo:
            self.db.execute("CREATE TABLE incoming (line INTEGER PRIMARY KEY, raw_h BLOB)")
            # looked up in hash order, i.e. all over the file: a larger cache than SQLite's
            # 2 MB, bounded (a national memo is gigabytes; mapping it would count in RSS)
            self.db.execute("PRAGMA memo.cache_size=-32000")

        def report() -> None:
            if progress is not None:
                progress(done, max(total, done))

        def sift(batch: list[tuple[int, list[str]]]) -> list[tuple[int, Sequence[str]]]:
            """The rows of ``batch`` to check: all of them, or those the memo does not hold
            (the others are copied into the scratch file here)."""
            nonlocal done
            hashed = [(line, raw_hash(fields)) for line, fields in batch] \
                if raw_hash is not None else [(line, None) for line, _fields in batch]
            if not memo:
                raws.update(hashed)
                return list(batch)
            db = self.db
            db.executemany("INSERT INTO incoming VALUES (?, ?)", hashed)
            # with where the memo's plan placed it: the schedule keeps that when the row's
            # group is as it was (_schedule_from_memo). A memo may hold the same row twice
            # (a file with a repeated line): both were checked alike, either will do.
            db.execute(f"INSERT OR IGNORE INTO rows ({columns}, point, sched, grp) SELECT i.line,"
                       " m.nik_h, m.kk_h, m.subject, m.kec, m.desa, m.active, m.desil, m.masked,"
                       " m.body, m.row_h, m.cells, m.sched_h, m.person_h, m.raw_h, m.point,"
                       " m.sched, m.grp FROM incoming i JOIN memo.rows m ON m.raw_h = i.raw_h")
            missing = {line for (line,) in db.execute(
                "SELECT line FROM incoming i WHERE NOT EXISTS"
                " (SELECT 1 FROM rows r WHERE r.line = i.line)")}
            db.execute("DELETE FROM incoming")
            raws.update((line, raw) for line, raw in hashed if line in missing)
            self.memo_rows += len(batch) - len(missing)
            done += len(batch) - len(missing)
            report()
            return [(line, fields) for line, fields in batch if line in missing]

        def batches() -> Iterator[_Records]:
            waiting: list[tuple[int, Sequence[str]]] = []  # rows for the checker
            batch: list[tuple[int, list[str]]] = []
            for _header, line, fields in chain([first], records):
                batch.append((line, fields))
                if len(batch) == _INSERT_BATCH:
                    waiting.extend(sift(batch))
                    batch = []
                    if len(waiting) >= _INSERT_BATCH:
                        yield header, waiting
                        waiting = []
            waiting.extend(sift(batch))
            if waiting:
                yield header, waiting

        def write(checked: _Checked) -> None:
            nonlocal done
            valid, rejected = checked
            self.db.executemany(f"INSERT INTO rows ({columns})"
                                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                                [(*row, raws.pop(row[0])) for row in valid])
            self.db.executemany("INSERT INTO rejected VALUES (?,?,?,?,?)", rejected)
            for row in rejected:
                del raws[row[0]]
            done += len(valid) + len(rejected)
            report()

        self.db.execute("BEGIN")
        if workers > 1 and total >= PARALLEL_CHECK_ROWS:
            # With a memo, most rows are usually not checked at all: a pool is started only
            # when many are (a memo of another file).
            _check_in_pool(checker, batches(), write, workers,
                           in_process_first=PARALLEL_CHECK_ROWS // 4 if memo else 0)
        else:
            for batch in batches():
                write(checker(*batch))
        if memo:
            self.db.execute("DROP TABLE incoming")
        self.db.execute("COMMIT")
        self._memo_attached = memo  # until the schedule has read it (build)
        if progress is not None and done:
            progress(done, done)  # the estimate was a guess: the count is known now
        self.input_rows = done
        self._cells = _NumberCells.of_scratch(self.db)

    def save_memo(self, path: Path) -> bool:
        """Keep the rows this plan checked as the memo at ``path`` for the next publish (see
        :mod:`~blt_status.central.rowmemo`); False for a plan that cannot make one (built
        without the store's subject key, or from a file without rows)."""
        if self._keys is None or self._context is None:
            return False
        save_memo(self.db, self._folder / "plan.db", path, self._keys, self._context)
        return True

    # -- pass 2: the duplicate and eligibility rules, in the database

    def _apply_duplicate_rules(self) -> None:
        """Each rule as one scan of the rows: the first line of each NIK (and then of each
        eligible household) found by one GROUP BY, and only the later lines of those few
        groups updated (a correlated subquery per row took twice as long)."""
        db = self.db
        db.execute("BEGIN")
        # The first valid row of a NIK is used (even when it is not eligible).
        db.execute("CREATE TEMP TABLE first_nik (nik_h BLOB PRIMARY KEY, winner INTEGER)"
                   " WITHOUT ROWID")
        db.execute("INSERT INTO first_nik SELECT nik_h, min(line) FROM rows GROUP BY nik_h"
                   " HAVING count(*) > 1")
        db.execute("UPDATE rows SET status = 'duplicate_nik', winner = (SELECT f.winner FROM"
                   " first_nik f WHERE f.nik_h = rows.nik_h) WHERE nik_h IN (SELECT nik_h FROM"
                   " first_nik) AND line > (SELECT f.winner FROM first_nik f"
                   " WHERE f.nik_h = rows.nik_h)")
        db.execute("UPDATE rows SET status = CASE WHEN active = 0 THEN 'not_active'"
                   " ELSE 'desil_above_max' END WHERE status IS NULL"
                   " AND (active = 0 OR desil > ?)", (self.program.max_desil,))
        # One recipient per household: the first eligible row of a KK.
        db.execute("CREATE TEMP TABLE first_kk (kk_h BLOB PRIMARY KEY, winner INTEGER)"
                   " WITHOUT ROWID")
        db.execute("INSERT INTO first_kk SELECT kk_h, min(line) FROM rows WHERE status IS NULL"
                   " GROUP BY kk_h HAVING count(*) > 1")
        db.execute("UPDATE rows SET status = 'duplicate_kk', winner = (SELECT f.winner FROM"
                   " first_kk f WHERE f.kk_h = rows.kk_h) WHERE status IS NULL AND kk_h IN"
                   " (SELECT kk_h FROM first_kk) AND line > (SELECT f.winner FROM first_kk f"
                   " WHERE f.kk_h = rows.kk_h)")
        db.execute("DROP TABLE first_nik")
        db.execute("DROP TABLE first_kk")
        db.execute("CREATE INDEX rows_kec ON rows (kec, status)")
        db.execute("COMMIT")

    # -- pass 3: the schedule, per group of kecamatan sharing payout points

    def _eligible(self, kecamatan: Iterable[str]) -> list[tuple[int, str, list[Any]]]:
        chosen = sorted(kecamatan)
        marks = ",".join("?" * len(chosen))
        query = (f"SELECT line, desa, body FROM rows WHERE status IS NULL AND kec IN ({marks})")
        return [(line, desa, self._unseal(body))
                for line, desa, body in self.db.execute(query, chosen)]

    def _group_key(self, group: list[str], points: Mapping[str, PayoutPointRow]) -> bytes | None:
        """What a group's schedule is made from, hashed: the program, the group's payout
        points and every eligible recipient's desa and :attr:`sched_h` (NIK and special
        needs). Two plans that give a group the same key schedule it alike. None without the
        store's keys."""
        if self._keys is None:
            return None
        # Every field of ProgramConfig and PayoutPointRow is in its repr (as for source_of).
        digest = hashlib.blake2b(repr((self.program, sorted(points.items()))).encode(),
                                 key=self._keys.raw[:32], digest_size=16)
        marks = ",".join("?" * len(group))
        for desa, sched_h in self.db.execute(
                f"SELECT desa, sched_h FROM rows WHERE status IS NULL AND kec IN ({marks})"
                " ORDER BY desa, sched_h", sorted(group)):
            digest.update(desa.encode() + b"|" + sched_h)
        return digest.digest()

    def _schedule_from_memo(self, group: list[str], key: bytes) -> bool:
        """Give the group the places the memo's plan gave it, when that plan had the same
        :meth:`_group_key`; False (nothing changed) when it had not.

        A row's ``point``, ``sched`` and ``grp`` always say where a group of key ``grp``
        places its ``sched_h`` (the schedule depends on nothing else), and a row copied from
        the memo comes with the memo's: only the group's other rows (new or edited ones) are
        looked up. The values of a row that is not published (``status`` set) are never read.
        """
        if self.db.execute("SELECT 1 FROM memo.rows WHERE grp = ? LIMIT 1",
                           (key,)).fetchone() is None:
            return False
        marks = ",".join("?" * len(group))
        chosen = sorted(group)
        self.db.execute("SAVEPOINT memo_group")
        self.db.execute(
            "UPDATE rows SET (point, sched, grp) = (SELECT p.point, p.sched, p.grp FROM"
            " memo.rows p WHERE p.grp = ?1 AND p.sched_h = rows.sched_h)"
            f" WHERE status IS NULL AND kec IN ({marks}) AND grp IS NOT ?1", (key, *chosen))
        (unplaced,) = self.db.execute("SELECT count(*) FROM rows WHERE status IS NULL AND grp"
                                      f" IS NULL AND kec IN ({marks})", chosen).fetchone()
        if unplaced:  # only if two different groups hashed alike: scheduled as without it
            self.db.execute("ROLLBACK TO memo_group")
            self.db.execute("RELEASE memo_group")
            return False
        self.db.execute("UPDATE rows SET status = 'no_payout_point' WHERE status IS NULL"
                        f" AND point IS NULL AND kec IN ({marks})", chosen)
        self.db.execute("RELEASE memo_group")
        return True

    def _schedule(self) -> None:
        present = [kec for (kec,) in self.db.execute(
            "SELECT DISTINCT kec FROM rows WHERE status IS NULL ORDER BY kec")]
        groups: dict[str, list[str]] = defaultdict(list)
        for kec in present:
            groups[self._groups.find(kec)].append(kec)
        shortages: list[dict[str, Any]] = []
        self.db.execute("BEGIN")
        for group in sorted(groups.values()):
            points = {pid: self.payout_points[pid]
                      for pid in self._groups.points_of(set(group))}
            key = self._group_key(group, points)
            if self._memo_attached and key is not None \
                    and self._schedule_from_memo(group, key):
                self.memo_groups += 1
                continue
            rows = self._eligible(group)
            requests = [ScheduleRequest(body[0], desa, body[5]) for _, desa, body in rows]
            try:
                result = build_schedule(requests, points, self.program)
            except CapacityShortError as error:
                shortages.extend(error.shortages)
                continue
            unserved = set(result.unserved)
            # Two statements: only the unserved change ``status``, which two indexes hold; an
            # UPDATE naming it rewrites those index entries for every row (a third of the time
            # of scheduling 100,000 rows), even where the value stays NULL.
            unserved_lines: list[tuple[bytes | None, int]] = []
            placed: list[tuple[str, str, bytes | None, int]] = []
            texts: dict[Schedule, str] = {}  # a slot's schedule is shared by its recipients
            for line, _desa, body in rows:
                if body[0] in unserved:
                    unserved_lines.append((key, line))
                    continue
                assignment = result.assignments[body[0]]
                text = texts.get(assignment.schedule)
                if text is None:
                    text = texts[assignment.schedule] = json.dumps(
                        assignment.schedule.to_dict(), separators=(",", ":"))
                placed.append((assignment.point.id, text, key, line))
            self.db.executemany("UPDATE rows SET status = 'no_payout_point', point = NULL,"
                                " sched = NULL, grp = ? WHERE line = ?", unserved_lines)
            self.db.executemany("UPDATE rows SET point = ?, sched = ?, grp = ? WHERE line = ?",
                                placed)
            del rows, requests, result, unserved_lines, placed
        self.db.execute("COMMIT")
        if shortages:
            shortages.sort(key=lambda short: short["desa"])
            raise CapacityShortError(shortages, f"{self.program.start}..{self.program.end}")
        self.counts = {kec: 0 for kec in present}
        self.counts.update(self.db.execute(
            "SELECT kec, count(*) FROM rows WHERE status IS NULL AND point IS NOT NULL"
            " GROUP BY kec"))
        self.kecamatan = sorted(kec for kec, count in self.counts.items() if count)
        self.published = sum(self.counts.values())
        self.rejected_count = self.input_rows - self.published
        self.warnings = self._same_person() + _number_warnings(self._cells)

    def _same_person(self) -> list[RosterWarning]:
        """The ``same_person_two_niks`` warnings: published rows of one kecamatan with the
        same :attr:`person_h` (name, birth date and desa) under different NIKs (a NIK is
        published once), by kecamatan and first line."""
        found = []
        for kec, lines in self.db.execute(
                "SELECT kec, group_concat(line) FROM rows WHERE status IS NULL"
                " AND point IS NOT NULL GROUP BY kec, person_h HAVING count(*) > 1"):
            found.append((kec, tuple(sorted(int(line) for line in lines.split(",")))))
        found.sort()
        return [_same_person_warning(lines) for _kec, lines in found]

    # -- reading the plan

    def recipients(self, kec: str) -> Iterator[PlannedRecipient]:
        """The recipients of one kecamatan, sorted by NIK (as :class:`PublicationPlan`)."""
        for _subject, recipient in self.recipients_with_subjects(kec):
            yield recipient

    def recipients_with_subjects(self, kec: str,
                                 ) -> Iterator[tuple[str | None, PlannedRecipient]]:
        """:meth:`recipients` with each one's store subject as computed when the row was
        checked (None when the plan was built without a ``subject`` function)."""
        planned = [(row.subject, self.recipient(row)) for row in self.planned_rows(kec)]
        planned.sort(key=lambda item: item[1].nik_digits)
        yield from planned

    def planned_rows(self, kec: str) -> list[PlannedRow]:
        """One kecamatan's recipients as the scratch file holds them, nothing unsealed, in
        line order."""
        query = ("SELECT line, desa, desil, point, sched, body, subject, row_h FROM rows"
                 " WHERE kec = ? AND status IS NULL AND point IS NOT NULL ORDER BY line")
        schedules: dict[str, Schedule] = {}  # a slot's schedule is shared by its recipients
        rows: list[PlannedRow] = []
        for line, desa, desil, point_id, sched, body, subject, row_hash in self.db.execute(
                query, (kec,)):
            schedule = schedules.get(sched)
            if schedule is None:
                schedule = schedules[sched] = Schedule.from_dict(json.loads(sched))
            rows.append(PlannedRow(line, subject, kec, desa, desil, point_id, schedule, sched,
                                   body, row_hash))
        return rows

    def recipient(self, row: PlannedRow) -> PlannedRecipient:
        """The recipient of one planned row: its sealed part opened, its payload built."""
        program = self.program
        nik, kk, name, address, household_size, special = self._unseal(row.body)
        amount = entitlement_amount(program.base_amount, program.rules,
                                    household_size=household_size, desil=row.desil,
                                    special_needs=special)
        payload = RecordPayload(
            view="officer", status="scheduled", amount=amount, program=program.program,
            schedule=row.schedule, payout_point=self.payout_points[row.point_id].point,
            name=name, kode_wilayah=row.desa, address=address, household_size=household_size,
            special_needs=special)
        return PlannedRecipient(nik, kk, row.kecamatan, payload, row.line, row.desil)

    def source_of(self, row: PlannedRow) -> str | None:
        """A keyed hash of everything :meth:`recipient` makes the payload from: the checked
        row (its row hash: name, address, NIK, KK, household, needs, desa, desil), the
        schedule, the payout point and the program (and :data:`SOURCE_FORMAT` and this
        release). Two publishes that give a recipient the same source give the same payload,
        so a re-publish compares sources instead of building every payload. None for a plan
        built without the store's subject key (whose rows have no row hash)."""
        if row.row_hash is None or self._source_key is None:
            return None
        prefix = self._source_context.get((row.point_id, row.kecamatan))
        if prefix is None:  # keyed and fed the shared part once, copied for each row
            from blt_status import __version__

            prefix = self._source_context[(row.point_id, row.kecamatan)] = hashlib.blake2b(
                repr((SOURCE_FORMAT, __version__, self.program,
                      self.payout_points[row.point_id].point, row.kecamatan)).encode(),
                key=self._source_key, digest_size=32)
        digest = prefix.copy()
        digest.update(row.sched_text.encode())
        digest.update(row.row_hash)
        return digest.hexdigest()

    def subjects_in(self, kec: str) -> set[str]:
        """The store subjects of one kecamatan's published recipients."""
        return {subject for (subject,) in self.db.execute(
            "SELECT subject FROM rows WHERE kec = ? AND status IS NULL AND point IS NOT NULL",
            (kec,))}

    def placed(self, subjects: Iterable[str]) -> dict[str, str]:
        """The kecamatan of each published subject among ``subjects`` (store subjects)."""
        if not self._subject_index:
            self.db.execute("CREATE INDEX rows_subject ON rows (subject)")
            self._subject_index = True
        chosen = list(subjects)
        found: dict[str, str] = {}
        for start in range(0, len(chosen), 500):
            part = chosen[start:start + 500]
            query = (f"SELECT subject, kec FROM rows WHERE subject IN ({','.join('?' * len(part))})"
                     " AND status IS NULL AND point IS NOT NULL")
            found.update(self.db.execute(query, part))
        return found

    def rejected_by_code(self) -> dict[str, int]:
        """How many rows were rejected per code (counted in the scratch file)."""
        query = ("SELECT code, count(*) FROM rejected GROUP BY code UNION ALL"
                 " SELECT status, count(*) FROM rows WHERE status IS NOT NULL GROUP BY status")
        counts: dict[str, int] = defaultdict(int)
        for code, count in self.db.execute(query):
            counts[code] += int(count)
        return dict(sorted(counts.items()))

    def rejections(self) -> Iterator[Rejection]:
        """Every rejected row, by line."""
        query = ("SELECT line, masked, code, reason, NULL, NULL, NULL FROM rejected UNION ALL"
                 " SELECT line, masked, status, NULL, winner, desa, desil FROM rows"
                 " WHERE status IS NOT NULL ORDER BY 1")
        reason_of = self._reasons()
        for line, masked, code, reason, winner, desa, desil in self.db.execute(query):
            yield Rejection(line, masked, code, reason if reason is not None
                            else reason_of(code, winner, desa, desil))

    def _reasons(self) -> Callable[[str, int | None, str | None, int], str]:
        """The reason of a row rejected by the duplicate, eligibility or schedule rules, each
        text translated once (a national file has millions of such rows)."""
        texts = {
            "duplicate_nik": _("the same NIK is on line {line}, which is used"),
            "duplicate_kk": _("this household (KK) already has a recipient on line {line}; one "
                              "recipient per KK"),
            "not_active": _("status is nonaktif"),
            "no_payout_point": _("no payout point serves desa {desa} or kecamatan "
                                 "{kecamatan}"),
            "desil_above_max": _("desil {desil} is above the program's maximum {maximum}"),
        }
        maximum = self.program.max_desil

        def reason(code: str, winner: int | None, desa: str | None, desil: int) -> str:
            if code in ("duplicate_nik", "duplicate_kk"):
                return texts[code].format(line=winner)
            if code == "not_active":
                return texts[code]
            if code == "no_payout_point":
                return texts[code].format(desa=desa, kecamatan=kecamatan_of(desa or ""))
            return texts["desil_above_max"].format(desil=desil, maximum=maximum)

        return reason

    def write_distribution_lists(self, out_dir: Path, *, version: int | None = None,
                                 private_dir: Path | None = None) -> list[Path]:
        """As :func:`write_distribution_lists`, one group of kecamatan in memory at a time."""
        from blt_status._fs import sync_paths, write_file_unsynced
        from blt_status.central.lists import (
            PUBLIC_KEY_NAME,
            list_key,
            list_rows,
            public_pem,
            write_signed_list,
        )

        if out_dir.parent.name == "distribution" and out_dir.name.isdigit():
            private_dir, version = out_dir.parent.parent, int(out_dir.name)
        key = list_key(private_dir or out_dir)
        out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Every file is written whole without fsync, then all are made durable together (one
        # batch of fsyncs and one of the folder) before returning: a publish commits its
        # version only after this, as before, without two fsyncs per file in series.
        written = [out_dir / PUBLIC_KEY_NAME]
        write_file_unsynced(written[0], public_pem(key.public_key()), 0o600)
        groups: dict[str, list[str]] = defaultdict(list)
        for kec in self.kecamatan:
            groups[self._groups.find(kec)].append(kec)
        paths: list[Path] = []

        def write(by_point: Mapping[str, list[Any]], point_ids: Iterable[str]) -> None:
            for point_id in sorted(point_ids):  # an empty list where nobody is assigned
                path = out_dir / f"{point_id}.csv"
                manifest = write_signed_list(path, by_point.get(point_id, []),
                                             point_id=point_id, version=version or 0,
                                             program=self.program.program, key=key, sync=False)
                paths.append(path)
                written.extend((path, manifest))

        listed: set[str] = set()
        for group in sorted(groups.values()):
            rows = list_rows((recipient.nik_digits, recipient.payload)
                             for kec in group for recipient in self.recipients(kec))
            point_ids = set(self._groups.points_of(set(group))) | set(rows)
            write(rows, point_ids)
            listed |= point_ids
        write({}, set(self.payout_points) - listed)
        sync_paths(written)
        return sorted(paths, key=lambda path: path.name[:-len(".csv")])


def _same_person_warning(lines: tuple[int, ...]) -> RosterWarning:
    return RosterWarning(
        "same_person_two_niks", lines,
        _("lines {lines} have the same name, birth date and desa under different NIKs: one "
          "person registered twice?").format(lines=", ".join(map(str, lines))))


def _number_warnings(cells: _NumberCells) -> list[RosterWarning]:
    return [warning for warning in _warnings(cells, [])
            if warning.code == "excel_damaged_numbers"]
