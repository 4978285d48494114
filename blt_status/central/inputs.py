"""Read the publisher's input files: CSV tables, program.toml and payout_points.csv.

File-level problems (missing file, not UTF-8, empty, missing columns, bad TOML, bad program or
payout-point settings) raise :class:`FileFormatError` with a stable code and a sentence naming
the file and what to fix, *before* anything is written. Row-level problems of recipient and
payout-report rows are not handled here: :func:`read_csv_rows` hands every data row to the
caller with its line number so that each ends published or rejected.

Codes: ``file_missing``, ``csv_encoding``, ``csv_empty``, ``csv_missing_columns``,
``csv_duplicate_columns`` (a required column named twice: which copy holds the data is not
guessed), ``csv_malformed``, ``toml_encoding``, ``toml_invalid``, ``program_invalid``,
``payout_points_invalid``, ``config_unknown_key`` (a key of program.toml that is not in
:data:`PROGRAM_KEYS`, with the nearest valid key suggested), ``program_window_length`` (more
than :data:`MAX_WINDOW_DAYS` days from start to end), ``program_window_range`` (a date more
than five years from today).
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import dataclasses
import datetime as dt
import re
import tomllib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from blt_status.central.entitlement import RULE_KEYS, EntitlementRules, parse_entitlement_rules
from blt_status.errors import FileFormatError, os_reason
from blt_status.records import PayoutPoint, Program
from blt_status.regions import current_region
from blt_status.strict import first_unknown_key, whole_number

__all__ = [
    "PAYOUT_POINT_COLUMNS",
    "PAYOUT_POINT_KINDS",
    "PROGRAM_KEYS",
    "RECIPIENT_COLUMNS",
    "REPORT_COLUMNS",
    "WEEKDAYS",
    "CsvRow",
    "PayoutPointRow",
    "ProgramConfig",
    "csv_row",
    "csv_row_estimate",
    "iter_csv_records",
    "iter_csv_rows",
    "load_payout_points",
    "load_program",
    "read_csv_rows",
]

RECIPIENT_COLUMNS = ("nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil",
                     "status", "kebutuhan_khusus")
PAYOUT_POINT_COLUMNS = ("id", "jenis", "nama", "alamat", "kode_wilayah", "kapasitas_per_hari",
                        "jam_buka", "jam_tutup")
REPORT_COLUMNS = ("nik", "status", "waktu", "id_titik", "keterangan")
PAYOUT_POINT_KINDS = ("kantor_pos", "komunitas")

# Day names in program.toml: English three-letter or Indonesian; index = date.weekday().
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_DAY_ALIASES = {
    **{name: name for name in WEEKDAYS},
    "senin": "mon", "selasa": "tue", "rabu": "wed", "kamis": "thu", "jumat": "fri",
    "sabtu": "sat", "minggu": "sun",
}
_POINT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
DEFAULT_ANTAR_WINDOW_DAYS = 5

# Every key program.toml may hold, per table: anything else is a typo and refused.
PROGRAM_KEYS: dict[str, frozenset[str]] = {
    "program": frozenset({"id", "name", "period"}),
    "entitlement": frozenset({"monthly_amount", "months", "cap", "rules"}),
    "eligibility": frozenset({"max_desil"}),
    "schedule": frozenset({"start", "end", "days", "holidays", "slot_minutes",
                           "antar_window_days"}),
    "checks": frozenset({"burst_count", "burst_seconds"}),  # payouts.load_check_settings
}
MAX_WINDOW_DAYS = 366  # start..end of one programme window, both included
WINDOW_YEARS_DAYS = 5 * 365 + 1  # dates more than five years from today are refused
MAX_CAPACITY_PER_DAY = 100_000  # one payout point, one day
_MAX_TEXT = 200  # program id, name, period


def _fail(code: str, id_text: str, en_text: str) -> FileFormatError:
    return FileFormatError(code, id_text, en_text)


def _read_text(path: Path, kind: str) -> str:
    """The whole file as text (UTF-8, BOM allowed); file-level errors name the file."""
    with _open_binary(path, kind) as handle:
        try:
            data = handle.read()
        except OSError as error:
            raise FileFormatError("file_unreadable", path=path, reason=os_reason(error)) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        code = "toml_encoding" if kind == "TOML" else "csv_encoding"
        raise FileFormatError(code, path=path, byte=error.start) from None


@dataclass(frozen=True)
class CsvRow:
    """One data row: its first physical line in the file, and values by column name.

    ``extra`` is True when the row has more fields than the header (the caller rejects it);
    missing trailing fields read as empty strings.
    """

    line: int
    values: dict[str, str]
    extra: bool = False


def _delimiter(text: str) -> str:
    """``,`` — or ``;``/tab when the header uses that and has no comma (Excel in an Indonesian
    locale saves "CSV" with semicolons)."""
    header = next((line for line in text.splitlines() if line.strip()), "")
    if "," not in header:
        for candidate in (";", "\t"):
            if candidate in header:
                return candidate
    return ","


def read_csv_rows(path: Path, required: Sequence[str]) -> list[CsvRow]:
    """Every non-blank data row of a CSV file whose header holds ``required`` columns.

    Header names are matched case-insensitively with surrounding whitespace ignored; values are
    stripped; the separator is a comma, or a semicolon or tab when the header uses one and has
    no comma. Raises :class:`FileFormatError` for the file as a whole.
    """
    return list(iter_csv_rows(path, required))


_BOM = codecs.BOM_UTF8
_BLOCK = 1 << 20


def _open_binary(path: Path, kind: str) -> BinaryIO:
    try:
        return path.open("rb")
    except FileNotFoundError:
        raise FileFormatError("file_missing", path=path) from None
    except IsADirectoryError:
        raise FileFormatError("file_missing:folder", path=path, kind=kind) from None
    except OSError as error:
        raise FileFormatError("file_unreadable", path=path, reason=os_reason(error)) from None


def csv_row_estimate(path: Path) -> int:
    """Check that a CSV file is readable UTF-8 without loading it; return its line count (an
    upper bound of its data rows, for progress). File-level errors as :func:`read_csv_rows`."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    lines = 0
    consumed = 0  # bytes after the BOM
    with _open_binary(path, "CSV") as handle:
        try:
            first = True
            for block in iter(lambda: handle.read(_BLOCK), b""):
                if first and block.startswith(_BOM):
                    block = block[len(_BOM):]
                first = False
                pending = len(decoder.getstate()[0])
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as error:
                    raise _encoding_error(path, "CSV", consumed - pending + error.start) from None
                consumed += len(block)
                lines += block.count(b"\n")
            try:
                decoder.decode(b"", final=True)
            except UnicodeDecodeError as error:
                raise _encoding_error(path, "CSV", consumed - len(decoder.getstate()[0])
                                      + error.start) from None
        except OSError as error:
            raise FileFormatError("file_unreadable", path=path, reason=os_reason(error)) from None
    return lines + 1


def _encoding_error(path: Path, kind: str, start: int) -> FileFormatError:
    code = "toml_encoding" if kind == "TOML" else "csv_encoding"
    return FileFormatError(code, path=path, byte=start)


def iter_csv_rows(path: Path, required: Sequence[str], *,
                  encoding_checked: bool = False) -> Iterator[CsvRow]:
    """:func:`read_csv_rows` one row at a time: the file is never held in memory as a whole.

    The encoding is checked over the whole file before the first row is yielded; a malformed
    row raises when it is reached, so a caller decides nothing before the iterator ends.
    ``encoding_checked``: the caller has just run :func:`csv_row_estimate` on the file.
    """
    for header, line, fields in iter_csv_records(path, required,
                                                 encoding_checked=encoding_checked):
        yield csv_row(header, line, fields)


def csv_row(header: Sequence[str], line: int, fields: Sequence[str]) -> CsvRow:
    """One record of :func:`iter_csv_records` as its :class:`CsvRow`."""
    values = {name: (fields[i].strip() if i < len(fields) else "")
              for i, name in enumerate(header) if name}
    return CsvRow(line, values, extra=len(fields) > len(header))


def iter_csv_records(path: Path, required: Sequence[str], *, encoding_checked: bool = False,
                     ) -> Iterator[tuple[list[str], int, list[str]]]:
    """:func:`iter_csv_rows` before the values are named: ``(header, line, fields)`` of each
    non-blank record (the same header list each time), for a reader that hands the naming and
    checking of the rows to other processes."""
    if not encoding_checked:
        csv_row_estimate(path)
    with path.open(encoding="utf-8-sig", newline="") as handle:
        header_line = ""
        for text_line in handle:
            if text_line.strip():
                header_line = text_line
                break
        if not header_line:
            raise FileFormatError("csv_empty", path=path)
        handle.seek(0)
        reader = csv.reader(handle, delimiter=_delimiter(header_line))
        try:
            header: list[str] | None = None
            next_line = 1
            for fields in reader:
                line, next_line = next_line, reader.line_num + 1
                if not any(field.strip() for field in fields):
                    continue
                if header is None:
                    header = [name.strip().lower() for name in fields]
                    missing = [name for name in required if name not in header]
                    if missing:
                        raise FileFormatError("csv_missing_columns", path=path,
                            missing=", ".join(missing), required=", ".join(required))
                    twice = [name for name in required if header.count(name) > 1]
                    if twice:  # which one holds the data? Refuse rather than guess.
                        raise FileFormatError("csv_duplicate_columns", path=path,
                                              columns=", ".join(twice))
                    continue
                yield header, line, fields
        except csv.Error as error:
            raise FileFormatError("csv_malformed", path=path, line=reader.line_num,
                                  reason=error) from None
    if header is None:
        raise FileFormatError("csv_empty", path=path)


@dataclass(frozen=True)
class ProgramConfig:
    """program.toml, validated: what is paid, to whom, and when."""

    program: Program
    monthly_amount: int
    months: int
    max_desil: int
    start: dt.date
    end: dt.date
    days: tuple[str, ...]  # WEEKDAYS names
    holidays: tuple[dt.date, ...]
    slot_minutes: int
    rules: EntitlementRules
    antar_window_days: int = DEFAULT_ANTAR_WINDOW_DAYS

    @property
    def base_amount(self) -> int:
        return self.monthly_amount * self.months

    def payout_days(self) -> list[dt.date]:
        """The dates in [start, end] on a configured weekday that are not holidays."""
        allowed = {WEEKDAYS.index(day) for day in self.days}
        holidays = set(self.holidays)
        days = []
        day = self.start
        while day <= self.end:
            if day.weekday() in allowed and day not in holidays:
                days.append(day)
            day += dt.timedelta(days=1)
        return days

    def antar_window(self) -> tuple[dt.date, dt.date]:
        """The home-delivery window: the first ``antar_window_days`` payout days."""
        days = self.payout_days()
        return days[0], days[min(self.antar_window_days, len(days)) - 1]


class _Section:
    """Typed access to one TOML table with errors that name the file and key."""

    def __init__(self, path: Path, data: dict[str, Any], name: str) -> None:
        self.path, self.name = path, name
        table = data.get(name)
        if not isinstance(table, dict):
            raise self.error(f"[{name}]", "is missing", "tidak ada")
        self.table = table

    def error(self, key: str, en_problem: str, id_problem: str) -> FileFormatError:
        return _fail("program_invalid", f"{self.path}: {key} {id_problem}.",
                     f"{self.path}: {key} {en_problem}.")

    def _get(self, key: str, default: Any) -> Any:
        if key not in self.table:
            if default is ...:
                raise self.error(f"{self.name}.{key}", "is missing", "tidak ada")
            return default
        return self.table[key]

    def text(self, key: str) -> str:
        value = self._get(key, ...)
        if not isinstance(value, str) or not value.strip() or len(value) > _MAX_TEXT:
            raise self.error(f"{self.name}.{key}", "must be a non-empty text",
                             "harus berupa teks")
        return value.strip()

    def integer(self, key: str, low: int, high: int, default: Any = ...) -> int:
        value = self._get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise self.error(f"{self.name}.{key}", f"must be a whole number from {low} to {high}",
                             f"harus bilangan bulat {low} sampai {high}")
        return value

    def date(self, key: str) -> dt.date:
        value = self._get(key, ...)
        if isinstance(value, dt.datetime):
            value = value.date()
        elif isinstance(value, str):
            try:
                value = dt.date.fromisoformat(value.strip())
            except ValueError:
                value = None
        if not isinstance(value, dt.date):
            raise self.error(f"{self.name}.{key}", "must be a date like 2025-11-21",
                             "harus tanggal seperti 2025-11-21")
        return value

    def dates(self, key: str) -> tuple[dt.date, ...]:
        values = self._get(key, [])
        if not isinstance(values, list):
            raise self.error(f"{self.name}.{key}", "must be a list of dates",
                             "harus daftar tanggal")
        result = []
        for value in values:
            if isinstance(value, dt.datetime):
                value = value.date()
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    value = dt.date.fromisoformat(value.strip())
            if not isinstance(value, dt.date):
                raise self.error(f"{self.name}.{key}", f"has {value!r}, which is not a date",
                                 f"berisi {value!r}, bukan tanggal")
            result.append(value)
        return tuple(sorted(set(result)))


def _load_toml(path: Path) -> dict[str, Any]:
    text = _read_text(path, "TOML")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise FileFormatError("toml_invalid", path=path, reason=error) from None


def _refuse_unknown_keys(path: Path, data: dict[str, Any]) -> None:
    """``config_unknown_key`` for the first key of program.toml that is not a known one."""
    tables: list[tuple[str, dict[str, Any], frozenset[str]]] = [("", data, frozenset(PROGRAM_KEYS))]
    tables += [(f"{name}.", data[name], keys) for name, keys in PROGRAM_KEYS.items()
               if isinstance(data.get(name), dict)]
    rules = data.get("entitlement", {}).get("rules") if isinstance(
        data.get("entitlement"), dict) else None
    if isinstance(rules, list):
        tables += [(f"entitlement.rules #{number}: ", rule, RULE_KEYS)
                   for number, rule in enumerate(rules, start=1) if isinstance(rule, dict)]
    for prefix, table, keys in tables:
        unknown = first_unknown_key(table, keys)
        if unknown is not None:
            key, suggestion = unknown
            raise FileFormatError("config_unknown_key", where=path, key=prefix + key,
                                  suggestion=prefix + suggestion)


def _check_window(path: Path, start: dt.date, end: dt.date, today: dt.date) -> None:
    """A window of at most :data:`MAX_WINDOW_DAYS` days within five years of ``today``."""
    low = today - dt.timedelta(days=WINDOW_YEARS_DAYS)
    high = today + dt.timedelta(days=WINDOW_YEARS_DAYS)
    for key, value in (("start", start), ("end", end)):
        if not low <= value <= high:
            raise FileFormatError("program_window_range", where=path, key=f"schedule.{key}",
                                  date=value.isoformat(), low=low.isoformat(),
                                  high=high.isoformat())
    days = (end - start).days + 1
    if days > MAX_WINDOW_DAYS:
        raise FileFormatError("program_window_length", where=path, start=start.isoformat(),
                              end=end.isoformat(), days=days, limit=MAX_WINDOW_DAYS)


def load_program(path: Path, *, today: dt.date | None = None) -> ProgramConfig:
    """Read and check program.toml (format in docs/central-data.md).

    Unknown keys are refused (``config_unknown_key``); the schedule window must be at most
    :data:`MAX_WINDOW_DAYS` days long and within five years of ``today`` (default: today).
    """
    data = _load_toml(path)
    _refuse_unknown_keys(path, data)
    program_table = _Section(path, data, "program")
    program = Program(program_table.text("id"), program_table.text("name"),
                      program_table.text("period"))
    entitlement = _Section(path, data, "entitlement")
    monthly_amount = entitlement.integer("monthly_amount", 1, 1_000_000_000)
    months = entitlement.integer("months", 1, 120)
    try:
        rules = parse_entitlement_rules(entitlement.table)
    except ValueError as error:
        raise entitlement.error("[entitlement]", str(error), str(error)) from None
    max_desil = _Section(path, data, "eligibility").integer("max_desil", 1, 10)
    schedule = _Section(path, data, "schedule")
    start, end = schedule.date("start"), schedule.date("end")
    if start > end:
        raise schedule.error("schedule.start", f"({start}) is after schedule.end ({end})",
                             f"({start}) sesudah schedule.end ({end})")
    _check_window(path, start, end, today or dt.date.today())
    raw_days = schedule._get("days", ...)
    if not isinstance(raw_days, list) or not raw_days:
        raise schedule.error("schedule.days", 'must list weekdays, e.g. ["mon", "tue"]',
                             'harus daftar hari, mis. ["mon", "tue"]')
    days: list[str] = []
    for raw_day in raw_days:
        day = _DAY_ALIASES.get(str(raw_day).strip().lower())
        if day is None:
            raise schedule.error(
                "schedule.days", f"has {raw_day!r}; use {', '.join(WEEKDAYS)}",
                f"berisi {raw_day!r}; gunakan {', '.join(WEEKDAYS)} atau senin..minggu")
        if day not in days:
            days.append(day)
    config = ProgramConfig(
        program=dataclasses.replace(program, end=end), monthly_amount=monthly_amount,
        months=months, max_desil=max_desil,
        start=start, end=end, days=tuple(sorted(days, key=WEEKDAYS.index)),
        holidays=schedule.dates("holidays"),
        slot_minutes=schedule.integer("slot_minutes", 5, 24 * 60),
        rules=rules,
        antar_window_days=schedule.integer("antar_window_days", 1, 366,
                                           DEFAULT_ANTAR_WINDOW_DAYS),
    )
    if not config.payout_days():
        raise schedule.error("[schedule]", "leaves no payout day between start and end",
                             "tidak menyisakan hari pembayaran antara start dan end")
    return config


@dataclass(frozen=True)
class PayoutPointRow:
    """One row of payout_points.csv, validated."""

    point: PayoutPoint
    jenis: str  # kantor_pos | komunitas
    serves: tuple[str, ...]  # dotted kecamatan or desa codes
    kapasitas_per_hari: int
    jam_buka: dt.time
    jam_tutup: dt.time
    line: int = 0

    @property
    def id(self) -> str:
        return self.point.id

    def slot_starts(self, slot_minutes: int) -> list[dt.time]:
        """Start times of the whole slots between opening and closing."""
        opening = self.jam_buka.hour * 60 + self.jam_buka.minute
        closing = self.jam_tutup.hour * 60 + self.jam_tutup.minute
        return [dt.time(minute // 60, minute % 60)
                for minute in range(opening, closing - slot_minutes + 1, slot_minutes)]


def _parse_time(text: str) -> dt.time | None:
    match = re.fullmatch(r"([0-9]{1,2})[:.]([0-9]{2})", text.strip())
    if match is None:
        return None
    hour, minute = int(match.group(1)), int(match.group(2))
    if hour > 23 or minute > 59:
        return None
    return dt.time(hour, minute)


def load_payout_points(path: Path) -> dict[str, PayoutPointRow]:
    """Read payout_points.csv; any bad row fails the whole file (it is the admin's setup)."""
    points: dict[str, PayoutPointRow] = {}

    def bad(line: int, en_problem: str, id_problem: str) -> FileFormatError:
        return _fail("payout_points_invalid", f"{path} baris {line}: {id_problem}.",
                     f"{path} line {line}: {en_problem}.")

    for row in read_csv_rows(path, PAYOUT_POINT_COLUMNS):
        values = row.values
        if row.extra:
            raise bad(row.line, "has more fields than the header", "lebih banyak kolom dari judul")
        point_id = values["id"]
        if not _POINT_ID.fullmatch(point_id):
            raise bad(row.line, f"id {point_id!r} must be letters, digits, '-', '_' or '.'",
                      f"id {point_id!r} hanya boleh huruf, angka, '-', '_' atau '.'")
        if point_id in points:
            raise bad(row.line, f"id {point_id} already used on line {points[point_id].line}",
                      f"id {point_id} sudah dipakai di baris {points[point_id].line}")
        jenis = values["jenis"].lower()
        if jenis not in PAYOUT_POINT_KINDS:
            raise bad(row.line, f"jenis {values['jenis']!r} must be kantor_pos or komunitas",
                      f"jenis {values['jenis']!r} harus kantor_pos atau komunitas")
        if not values["nama"]:
            raise bad(row.line, "nama is empty", "nama kosong")
        serves: list[str] = []
        for code in (part.strip() for part in values["kode_wilayah"].split(";")):
            if not code:
                continue
            region = current_region(code) if re.fullmatch(r"[0-9.]+", code) else None
            if region is None or region.code.count(".") not in (2, 3):
                raise bad(row.line, f"kode_wilayah {code!r} is not a current kecamatan or desa",
                          f"kode_wilayah {code!r} bukan kecamatan atau desa yang berlaku")
            if region.code not in serves:
                serves.append(region.code)
        if not serves:
            raise bad(row.line, "kode_wilayah is empty", "kode_wilayah kosong")
        capacity = whole_number(values["kapasitas_per_hari"], 1, MAX_CAPACITY_PER_DAY)
        if capacity is None:
            raise FileFormatError("payout_point_number", where=path, line=row.line,
                                  column="kapasitas_per_hari", low=1, high=MAX_CAPACITY_PER_DAY)
        opening, closing = _parse_time(values["jam_buka"]), _parse_time(values["jam_tutup"])
        if opening is None or closing is None or opening >= closing:
            raise bad(row.line, "jam_buka/jam_tutup must be times like 08:00 and 15:00, "
                      "opening before closing",
                      "jam_buka/jam_tutup harus jam seperti 08:00 dan 15:00, buka sebelum tutup")
        points[point_id] = PayoutPointRow(
            point=PayoutPoint(point_id, values["nama"], values["alamat"], jenis),
            jenis=jenis, serves=tuple(serves), kapasitas_per_hari=capacity,
            jam_buka=opening, jam_tutup=closing, line=row.line)
    if not points:
        raise FileFormatError("csv_empty:points", path=path)
    return points
