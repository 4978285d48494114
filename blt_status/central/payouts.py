"""Payout feedback (Kantor Pos CSV reports and API feedback): the one set of reject/flag rules.

:func:`read_payout_report` checks each CSV row on its own (``nik, status, waktu, id_titik,
keterangan``). :func:`check_feedback` is the ONE function that judges payout facts against the
roster, the payout points and the program — for CSV reports and API feedback alike: each fact
is either **rejected** with a code (not applied) or **accepted**, possibly with **flags**
(applied, but an admin should look). :func:`apply_payouts` turns accepted CSV rows into
changed records.

Rejection codes (per row). From reading a CSV row: ``row_extra_fields``, ``nik_<code>``
(invalid NIK), ``status_invalid``, ``waktu_invalid``, ``point_missing``. From
:func:`check_feedback`, in this order:

    future_time       later than when it was received (5 minutes of clock skew allowed)
    unknown_nik       not a recipient in any published roster of this epoch
    unknown_point     id_titik is not a payout point
    outside_program   the date (as written) is not within the program's start..end
    duplicate         the same NIK is on an earlier accepted row of the same CSV report
                      (a rejected row never counts: a later valid row of that NIK is used),
                      or on a row of it the ledger already holds (the report ingested again)
    already_collected the aid was already paid out (final)
    already_returned  the aid was already returned (final)

Flags (accepted facts; code, severity, the fact's index, an English detail without personal
data): ``point_mismatch`` (high when the point does not serve the recipient's kecamatan),
``before_schedule``, ``outside_hours`` (outside the point's opening hours, or on a holiday or a
non-working day), ``over_capacity``, ``burst`` (more than N payouts at one point within M
seconds; see :class:`CheckSettings`), ``amount_mismatch``, ``order_conflict`` (dated before an
event already recorded for that person), ``removed_recipient`` (not in the current roster).

Report status -> record status: ``salur`` -> ``collected`` (``collected_at``,
``collected_point_id``), ``gagal`` -> ``held``, ``kembali`` -> ``returned``; a held or returned
record carries a ``reason_code`` (:mod:`blt_status.reasons`), never the payer's free text.

Transitions (current record status down, report status across)::

                 salur               gagal               kembali
    scheduled    collected           held                returned
    held         collected (fixed)   held (reason)       returned
    collected    already_collected   already_collected   already_collected
    returned     already_returned    already_returned    already_returned

A ``waktu`` without a UTC offset is taken as WIB (UTC+07:00). Dates and hours are judged as
written (a time given in UTC is judged in WIB).
"""

from __future__ import annotations

import bisect
import datetime as dt
import json
import tomllib
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from blt_status.central.inputs import (
    REPORT_COLUMNS,
    WEEKDAYS,
    PayoutPointRow,
    ProgramConfig,
    read_csv_rows,
)
from blt_status.central.plan import Rejection, mask_raw_nik, number_reason, safe_code_text
from blt_status.errors import FileFormatError, NikError
from blt_status.i18n import N_, _, format_number, translate
from blt_status.nik import mask_digits, parse_nik
from blt_status.reasons import reason_from_note, valid_reason
from blt_status.records import RecordPayload, Schedule
from blt_status.regions import kecamatan_of

__all__ = [
    "FLAG_CODES",
    "REJECTION_CODES",
    "REPORT_STATUSES",
    "SEVERITIES",
    "WIB",
    "CheckSettings",
    "Entitlement",
    "FeedbackItem",
    "Flag",
    "PayoutEvent",
    "PayoutOutcome",
    "Verdict",
    "apply_payouts",
    "check_and_apply",
    "check_feedback",
    "detail_text",
    "entitlement_of",
    "flag_detail",
    "load_check_settings",
    "read_payout_report",
]

REPORT_STATUSES = {"salur": "collected", "gagal": "held", "kembali": "returned"}
FINAL = {"collected", "returned"}
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
CLOCK_SKEW = dt.timedelta(minutes=5)
SEVERITIES = ("low", "medium", "high")
REJECTION_CODES = ("future_time", "unknown_nik", "unknown_point", "outside_program",
                   "duplicate", "already_collected", "already_returned")
FLAG_CODES = ("point_mismatch", "before_schedule", "outside_hours", "over_capacity", "burst",
              "amount_mismatch", "order_conflict", "removed_recipient")
_MAX_NOTE = 200


# -- the types ----------------------------------------------------------------------------------


class FeedbackItem(Protocol):
    """One payout fact to judge: a CSV report row or an API feedback item (ledger event)."""

    @property
    def nik_digits(self) -> str: ...
    @property
    def status(self) -> str: ...  # salur | gagal | kembali
    @property
    def occurred_at(self) -> dt.datetime: ...  # timezone-aware
    @property
    def point_id(self) -> str: ...
    @property
    def amount(self) -> int | None: ...  # rupiah, when the source says it


@dataclass(frozen=True)
class Flag:
    """Why an accepted payout fact deserves an admin's look (no personal data in ``detail``)."""

    code: str  # one of FLAG_CODES
    severity: str  # low | medium | high
    detail: str  # flag_detail(): an English template and its values, stored as they are

    def text(self, lang: str | None = None) -> str:
        """The detail in ``lang`` (default: the current language)."""
        return detail_text(self.detail, lang)


def flag_detail(template: str, **values: str | int) -> str:
    """A flag's detail as the ledger stores it: the English template (marked ``N_``) and its
    values as JSON, so each admin reads it in their own language (:func:`detail_text`)."""
    return json.dumps({"m": template, "v": values}, ensure_ascii=False, sort_keys=True,
                      separators=(",", ":"))


def detail_text(detail: str, lang: str | None = None) -> str:
    """A stored flag detail in ``lang``; numbers in that language's format. A detail stored as
    plain English text (by an earlier release) is shown as it is."""
    try:
        stored = json.loads(detail)
        template, values = stored["m"], stored["v"]
        return translate(template, lang).format(**{
            key: format_number(value, lang) if isinstance(value, int) else value
            for key, value in values.items()})
    except (ValueError, TypeError, KeyError, IndexError):
        return detail


@dataclass(frozen=True)
class Verdict:
    """What :func:`check_feedback` decided for ``items[index]``."""

    index: int
    rejection: tuple[str, str] | None = None  # (code, English reason)
    flags: tuple[Flag, ...] = ()

    @property
    def accepted(self) -> bool:
        return self.rejection is None


@dataclass(frozen=True)
class Entitlement:
    """What one recipient of this epoch is entitled to, and where things stand before the batch.

    ``status`` is the status from roster + ledger; ``last_event_at`` the latest time of the
    person's recorded events; ``current`` False for someone no longer in the current roster.
    """

    point_id: str | None
    kecamatan: str  # of residence, dotted
    schedule: Schedule
    amount: int
    status: str = "scheduled"
    current: bool = True
    last_event_at: dt.datetime | None = None


def entitlement_of(payload: RecordPayload, *, kecamatan: str | None = None, current: bool = True,
                   last_event_at: dt.datetime | None = None) -> Entitlement:
    """The :class:`Entitlement` of an officer record."""
    point = payload.payout_point
    return Entitlement(point.id if point else None,
                       kecamatan or kecamatan_of(payload.kode_wilayah), payload.schedule,
                       payload.amount, payload.status, current,
                       last_event_at or payload.collected_at)


@dataclass(frozen=True)
class CheckSettings:
    """Tunable thresholds (``[checks]`` in program.toml: ``burst_count``, ``burst_seconds``)."""

    burst_count: int = 20  # N: more than N payouts at one point ...
    burst_seconds: int = 60  # ... within M seconds is a burst
    clock_skew: dt.timedelta = CLOCK_SKEW


def load_check_settings(program_toml: Path | None) -> CheckSettings:
    """The ``[checks]`` table of program.toml (optional; defaults otherwise).

    Raises ``config_number`` for a value that is not a whole number in range (program.toml is
    read and checked for unknown keys by :func:`~blt_status.central.inputs.load_program`).
    """
    if program_toml is None:
        return CheckSettings()
    try:
        data = tomllib.loads(Path(program_toml).read_text(encoding="utf-8-sig"))
    except (OSError, ValueError):
        return CheckSettings()  # load_program reports an unreadable file
    table = data.get("checks")
    if not isinstance(table, dict):
        return CheckSettings()
    defaults = CheckSettings()

    def whole(key: str, default: int, high: int) -> int:
        value = table.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
            raise FileFormatError("config_number", where=program_toml, key=f"checks.{key}",
                                  low=1, high=high)
        return value

    return CheckSettings(whole("burst_count", defaults.burst_count, 100_000),
                         whole("burst_seconds", defaults.burst_seconds, 86_400))


@dataclass(frozen=True)
class PayoutEvent:
    """One valid CSV report row (satisfies :class:`FeedbackItem`)."""

    line: int
    nik_digits: str = field(repr=False)
    status: str  # salur | gagal | kembali
    waktu: dt.datetime  # timezone-aware
    id_titik: str
    keterangan: str = field(default="", repr=False)  # PRIVATE free text: never published

    @property
    def nik_masked(self) -> str:
        return mask_digits(self.nik_digits)

    @property
    def occurred_at(self) -> dt.datetime:
        return self.waktu

    @property
    def point_id(self) -> str:
        return self.id_titik

    @property
    def amount(self) -> int | None:
        return None

    @property
    def reason_code(self) -> str | None:
        """The closed-list reason of a gagal/kembali (None for salur)."""
        return None if self.status == "salur" else reason_from_note(self.keterangan)


# -- reading a CSV report -----------------------------------------------------------------------


def _parse_waktu(text: str) -> dt.datetime | None:
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=WIB)


def read_payout_report(path: Path) -> tuple[list[PayoutEvent], list[Rejection], int]:
    """The well-formed rows, the rejected rows and the number of input rows of a report file.

    Raises :class:`FileFormatError` for the file as a whole (missing, not UTF-8, empty,
    missing columns). Duplicates are judged by :func:`check_feedback` (only accepted rows
    count).
    """
    rows = read_csv_rows(path, REPORT_COLUMNS)
    events: list[PayoutEvent] = []
    rejected: list[Rejection] = []
    for row in rows:
        values = row.values
        masked = mask_raw_nik(values["nik"])
        if row.extra:
            rejected.append(Rejection(row.line, masked, "row_extra_fields",
                                      _("the row has more fields than the header")))
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
                                      _("status must be salur, gagal or kembali")))
            continue
        waktu = _parse_waktu(values["waktu"])
        if waktu is None:
            rejected.append(Rejection(row.line, masked, "waktu_invalid",
                                      _("waktu must be an ISO 8601 time like "
                                        "2025-11-24T09:15:00+07:00")))
            continue
        if not values["id_titik"]:
            rejected.append(Rejection(row.line, masked, "point_missing",
                                      _("id_titik is empty")))
            continue
        events.append(PayoutEvent(row.line, nik.digits, status, waktu, values["id_titik"],
                                  values["keterangan"][:_MAX_NOTE]))
    return events, rejected, len(rows)


# -- the rules ----------------------------------------------------------------------------------


def _local(moment: dt.datetime) -> dt.datetime:
    """The time as written; a UTC time is read in WIB."""
    offset = moment.utcoffset()
    return moment.astimezone(WIB) if offset is None or offset == dt.timedelta(0) else moment


def _point_text(point_id: str) -> str:
    return safe_code_text(point_id, r"[A-Za-z0-9_.-]{1,64}")


def _point_kecamatan(point: PayoutPointRow) -> set[str]:
    return {kecamatan_of(code) for code in point.serves}


def _reject(items: Sequence[FeedbackItem], index: int,
            lookup: Callable[[str], Entitlement | None],
            accepted_in_batch: Mapping[str, int], recorded_rows: Mapping[str, int],
            points: Mapping[str, PayoutPointRow], program: ProgramConfig,
            received_at: dt.datetime, settings: CheckSettings) -> tuple[str, str] | None:
    item = items[index]
    if item.occurred_at > received_at + settings.clock_skew:
        return ("future_time", _("the time %(time)s is later than when the report was "
                                 "received (more than 5 minutes of clock skew)")
                % {"time": item.occurred_at.isoformat()})
    entitlement = lookup(item.nik_digits)
    if entitlement is None:
        return ("unknown_nik", _("this NIK is not a recipient in any published roster of "
                                 "this program"))
    if item.point_id not in points:
        return ("unknown_point", _("id_titik %(point)s is not a payout point")
                % {"point": _point_text(item.point_id)})
    day = item.occurred_at.date()
    if not program.start <= day <= program.end:
        return ("outside_program",
                _("waktu %(day)s is outside the program %(program)s (%(start)s to %(end)s): "
                  "a report of another program?")
                % {"day": day, "program": program.program.id, "start": program.start,
                   "end": program.end})
    # One row per NIK in a report; API items are each their own fact (a failed attempt and a
    # later payout may come in one message), judged in order against the state so far.
    if _from_report(item):
        earlier = accepted_in_batch.get(item.nik_digits)
        if earlier is not None:
            return _duplicate(_ref(items[earlier], earlier))
        line = recorded_rows.get(item.nik_digits)
        if line is not None:  # the report was ingested before: that row is in the ledger
            row = _("line %(line)s") % {"line": line}
            own = _line_of(item)
            if own is None or line < own:
                return _duplicate(row)
            return ("duplicate", _("the same NIK is on another row of this report (%(row)s), "
                                   "already recorded") % {"row": row})
    if entitlement.status == "collected":
        return ("already_collected", _("already collected; a payout is final"))
    if entitlement.status == "returned":
        return ("already_returned", _("the aid was already returned; a return is final"))
    return None


def _from_report(item: FeedbackItem) -> bool:
    """A CSV report row (one row per NIK), not an API fact (each its own)."""
    return getattr(item, "source", "csv") == "csv"


def _duplicate(row: str) -> tuple[str, str]:
    return ("duplicate", _("the same NIK is on an earlier row of this report (%(row)s), "
                           "which is used") % {"row": row})


def _line_of(item: FeedbackItem) -> int | None:
    """The report line of a CSV row (``line``, or a digits-only ``row_ref``)."""
    line = getattr(item, "line", None)
    if isinstance(line, int):
        return line
    row_ref = str(getattr(item, "row_ref", ""))
    return int(row_ref) if row_ref.isdigit() else None


def _ref(item: FeedbackItem, index: int) -> str:
    line = _line_of(item)
    return (_("line %(line)s") % {"line": line} if line is not None
            else _("item %(item)s") % {"item": index + 1})


def check_feedback(items: Sequence[FeedbackItem], *, program: ProgramConfig,
                   points: Mapping[str, PayoutPointRow], roster: Mapping[str, Entitlement],
                   past_payouts: Iterable[tuple[str, dt.datetime]] = (),
                   received_at: dt.datetime | None = None,
                   settings: CheckSettings | None = None,
                   recorded: Iterable[FeedbackItem] = ()) -> list[Verdict]:
    """Judge a batch of payout facts: one :class:`Verdict` per item, in order.

    ``roster`` holds every recipient of this epoch by NIK digits (``current`` False for those
    dropped from the current roster) with their status before the batch; ``past_payouts`` the
    ``(point_id, occurred_at)`` of every ``salur`` already in the ledger (for capacity and
    bursts). Items are judged in order; an accepted item changes the state later items see.
    ``recorded`` are rows of the same report that the ledger already holds (the report was
    ingested before): another row of their NIK is a ``duplicate``, as it was when both were
    first judged together.
    """
    settings = settings or CheckSettings()
    received_at = received_at or dt.datetime.now(dt.UTC)
    state: dict[str, Entitlement] = {}  # what this batch changed
    verdicts: list[Verdict | None] = [None] * len(items)
    accepted_in_batch: dict[str, int] = {}
    accepted: list[int] = []

    def current(nik: str) -> Entitlement | None:
        return state.get(nik) or roster.get(nik)

    recorded_rows: dict[str, int] = {}  # NIK digits -> its first report line in the ledger
    for row in recorded:
        line = _line_of(row)
        if _from_report(row) and line is not None:
            recorded_rows[row.nik_digits] = min(line, recorded_rows.get(row.nik_digits, line))

    order_flags: dict[int, Flag] = {}
    for index, item in enumerate(items):
        rejection = _reject(items, index, current, accepted_in_batch, recorded_rows,
                            points, program, received_at, settings)
        if rejection is not None:
            verdicts[index] = Verdict(index, rejection)
            continue
        before = current(item.nik_digits)
        assert before is not None
        if before.last_event_at is not None and item.occurred_at < before.last_event_at:
            order_flags[index] = Flag("order_conflict", "medium", flag_detail(
                N_("dated {at}, before an event already recorded for this person ({before})"),
                at=item.occurred_at.isoformat(), before=before.last_event_at.isoformat()))
        latest = max(filter(None, (before.last_event_at, item.occurred_at)))
        state[item.nik_digits] = replace(before, status=REPORT_STATUSES[item.status],
                                         last_event_at=latest)
        accepted_in_batch[item.nik_digits] = index
        accepted.append(index)

    # Point counters over the ledger's payouts and this batch's accepted ones.
    by_point: dict[str, list[dt.datetime]] = defaultdict(list)
    per_day: dict[tuple[str, dt.date], list[tuple[dt.datetime, int]]] = defaultdict(list)
    for point_id, moment in past_payouts:
        by_point[point_id].append(moment)
        per_day[(point_id, _local(moment).date())].append((moment, -1))
    for index in accepted:
        item = items[index]
        if item.status == "salur" and not _at_home(roster.get(item.nik_digits)):
            by_point[item.point_id].append(item.occurred_at)
            per_day[(item.point_id, _local(item.occurred_at).date())].append(
                (item.occurred_at, index))
    for times in by_point.values():
        times.sort()
    over: dict[int, Flag] = {}
    for (point_id, day), entries in per_day.items():
        capacity = points[point_id].kapasitas_per_hari if point_id in points else None
        if capacity is None or len(entries) <= capacity:
            continue
        entries.sort()
        for rank, (_key, index) in enumerate(entries, 1):
            if rank > capacity and index >= 0:
                over[index] = Flag("over_capacity", "medium", flag_detail(
                    N_("payout {rank} at {point} on {day}; its capacity is {capacity} a day"),
                    rank=rank, point=_point_text(point_id), day=day.isoformat(),
                    capacity=capacity))

    window = dt.timedelta(seconds=settings.burst_seconds)
    for index in accepted:
        item = items[index]
        entitlement = roster.get(item.nik_digits)
        assert entitlement is not None
        flags: list[Flag] = []
        if not entitlement.current:
            flags.append(Flag("removed_recipient", "high", flag_detail(
                N_("this person is not in the current roster"))))
        if item.amount is not None and item.amount != entitlement.amount:
            flags.append(Flag("amount_mismatch", "high", flag_detail(
                N_("amount {amount} differs from the entitlement {entitled}"),
                amount=item.amount, entitled=entitlement.amount)))
        if index in order_flags:
            flags.append(order_flags[index])
        if item.status == "salur":
            flags.extend(_payout_flags(item, entitlement, points[item.point_id], program))
            if index in over:
                flags.append(over[index])
            times = by_point.get(item.point_id, [])
            if times:
                count = (bisect.bisect_right(times, item.occurred_at)
                         - bisect.bisect_left(times, item.occurred_at - window))
                if count > settings.burst_count:
                    flags.append(Flag("burst", "high", flag_detail(
                        N_("{count} payouts at {point} within {seconds} s (limit {limit})"),
                        count=count, point=_point_text(item.point_id),
                        seconds=settings.burst_seconds, limit=settings.burst_count)))
        verdicts[index] = Verdict(index, None, tuple(flags))
    return [verdict if verdict is not None else Verdict(index)
            for index, verdict in enumerate(verdicts)]


def _at_home(entitlement: Entitlement | None) -> bool:
    return entitlement is not None and entitlement.schedule.mode == "antar"


def _payout_flags(item: FeedbackItem, entitlement: Entitlement, point: PayoutPointRow,
                  program: ProgramConfig) -> list[Flag]:
    flags: list[Flag] = []
    local = _local(item.occurred_at)
    if entitlement.point_id is not None and item.point_id != entitlement.point_id:
        other = entitlement.kecamatan not in _point_kecamatan(point)
        template = (N_("paid at {point}, assigned {assigned} (a point of another kecamatan)")
                    if other else N_("paid at {point}, assigned {assigned}"))
        flags.append(Flag("point_mismatch", "high" if other else "medium", flag_detail(
            template, point=_point_text(item.point_id),
            assigned=_point_text(entitlement.point_id))))
    if local.date() < entitlement.schedule.date:
        flags.append(Flag("before_schedule", "medium", flag_detail(
            N_("paid on {day}, scheduled from {scheduled}"), day=local.date().isoformat(),
            scheduled=entitlement.schedule.date.isoformat())))
    if local.date() in program.holidays:
        flags.append(Flag("outside_hours", "medium", flag_detail(
            N_("paid on {day}, a holiday"), day=local.date().isoformat())))
    elif WEEKDAYS[local.weekday()] not in program.days:
        flags.append(Flag("outside_hours", "medium", flag_detail(
            N_("paid on {day}, not a payout weekday"), day=local.date().isoformat())))
    elif entitlement.schedule.mode != "antar" and not (
            point.jam_buka <= local.time().replace(tzinfo=None) <= point.jam_tutup):
        flags.append(Flag("outside_hours", "low", flag_detail(
            N_("paid at {time}, the point opens {opens}-{closes}"),
            time=local.strftime("%H:%M"), opens=point.jam_buka.strftime("%H:%M"),
            closes=point.jam_tutup.strftime("%H:%M"))))
    return flags


# -- applying CSV rows to records ---------------------------------------------------------------


@dataclass
class PayoutOutcome:
    changed: dict[str, RecordPayload]  # by NIK digits: only records whose payload changed
    rejected: list[Rejection]  # sorted by line
    flags: list[tuple[PayoutEvent, Flag]]


def _transition(current: RecordPayload, item: FeedbackItem,
                reason_code: str | None) -> RecordPayload:
    if item.status == "salur":
        return replace(current, status="collected", collected_at=item.occurred_at,
                       collected_point_id=item.point_id, status_note=None, reason_code=None)
    status = REPORT_STATUSES[item.status]
    return replace(current, status=status, status_note=None,
                   reason_code=valid_reason(reason_code) or "lainnya")


def check_and_apply(current: Mapping[str, RecordPayload], events: Sequence[PayoutEvent],
                    payout_points: Mapping[str, PayoutPointRow], program: ProgramConfig, *,
                    received_at: dt.datetime | None = None,
                    settings: CheckSettings | None = None,
                    removed: Mapping[str, RecordPayload] | None = None) -> PayoutOutcome:
    """Judge report rows with :func:`check_feedback` and apply the accepted ones to records.

    ``removed``: records of this epoch no longer in the current roster (their payouts are
    accepted and flagged ``removed_recipient``, but change no published record).
    """
    roster = {nik: entitlement_of(payload) for nik, payload in current.items()}
    for nik, payload in (removed or {}).items():
        roster.setdefault(nik, entitlement_of(payload, current=False))
    past = [(payload.collected_point_id, payload.collected_at)
            for payload in current.values()
            if payload.status == "collected" and payload.collected_point_id
            and payload.collected_at]
    verdicts = check_feedback(events, program=program, points=payout_points, roster=roster,
                              past_payouts=[(p, t) for p, t in past if p and t],
                              received_at=received_at, settings=settings)
    state: dict[str, RecordPayload] = {}
    rejected: list[Rejection] = []
    flags: list[tuple[PayoutEvent, Flag]] = []
    for verdict in verdicts:
        event = events[verdict.index]
        if verdict.rejection is not None:
            rejected.append(Rejection(event.line, event.nik_masked, *verdict.rejection))
            continue
        flags.extend((event, flag) for flag in verdict.flags)
        record = state.get(event.nik_digits) or current.get(event.nik_digits)
        if record is not None:
            state[event.nik_digits] = _transition(record, event, event.reason_code)
    changed = {nik: payload for nik, payload in state.items() if payload != current[nik]}
    rejected.sort(key=lambda rejection: rejection.line)
    return PayoutOutcome(changed, rejected, flags)


def apply_payouts(current: Mapping[str, RecordPayload], events: Sequence[PayoutEvent],
                  payout_points: Mapping[str, PayoutPointRow], program: ProgramConfig, *,
                  received_at: dt.datetime | None = None,
                  ) -> tuple[dict[str, RecordPayload], list[Rejection]]:
    """Apply events in order; return the changed records (by NIK digits) and the rejections."""
    outcome = check_and_apply(current, events, payout_points, program, received_at=received_at)
    return outcome.changed, outcome.rejected
