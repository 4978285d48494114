"""Payout progress per region from the roster and the payout ledger: the report engine.

:func:`build_report` is a pure function over the recipients of the roster, the ledger's stored
events and its flags. Every recipient's status is folded from its events (``salur`` ->
collected and final, ``gagal`` -> held, ``kembali`` -> returned and final, in
``(occurred_at, id)`` order), then counted in one row per region of the chosen level:

    provinsi   PP               kabupaten  PP.KK          kecamatan  PP.KK.CC
    desa       PP.KK.CC.DDDD    titik      the payout point the recipient is assigned to

A row: recipients, entitled (rupiah), collected (count and rupiah: the amount the payer
reported, else the entitlement), held, returned, pending (neither collected, held nor
returned), flagged (flagged payout events). Plus payouts per day (WIB) and cumulative, and
progress per payout mode. Names come from the region table. The report never holds a NIK: the
inputs are keyed by ``subject``.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple, Protocol

from blt_status.errors import CentralError
from blt_status.records import MODES
from blt_status.regions import current_region, dotted, region_name

__all__ = [
    "COUNT_KEYS",
    "LEVELS",
    "WIB",
    "DayRow",
    "EventLike",
    "FlagLike",
    "Leaf",
    "ModeRow",
    "Outcome",
    "Report",
    "ReportRecipient",
    "ReportRow",
    "Tally",
    "assemble_report",
    "build_report",
    "fold_events",
    "level_code",
    "outcomes_of",
    "report_from_tally",
    "tally",
    "tally_outcomes",
]

LEVELS = ("provinsi", "kabupaten", "kecamatan", "desa", "titik")
REGION_DEPTH = {"provinsi": 0, "kabupaten": 1, "kecamatan": 2, "desa": 3}
COUNT_KEYS = ("recipients", "entitled", "collected", "collected_amount", "held", "returned",
              "pending", "flagged")
WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_FINAL = frozenset(("collected", "returned"))
_CODE_LENGTH = (2, 5, 8, 13)  # PP, PP.KK, PP.KK.CC, PP.KK.CC.DDDD
_STATUS_OF = {"salur": "collected", "gagal": "held", "kembali": "returned"}


class EventLike(Protocol):
    """What the report reads of a ledger row (``ledger.StoredEvent``)."""

    @property
    def id(self) -> int: ...
    @property
    def subject(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def occurred_at(self) -> dt.datetime: ...
    @property
    def amount(self) -> int | None: ...


class FlagLike(Protocol):
    """What the report reads of a stored flag (``ledger.StoredFlag``)."""

    @property
    def event_id(self) -> int: ...
    @property
    def subject(self) -> str: ...


class ReportRecipient(NamedTuple):
    """One roster entry as the report needs it: where, how much, which mode (no NIK).

    A named tuple: a national report makes a million of them."""

    subject: str
    desa: str  # dotted desa code of residence
    point_id: str | None
    point_name: str
    amount: int  # entitlement, rupiah
    mode: str  # kantor_pos | komunitas | antar

    @classmethod
    def from_roster(cls, entry: Any) -> ReportRecipient:
        """From a ``roster.RosterEntry`` (anything with subject, desa, point_id, payload)."""
        payload = entry.payload
        point = payload.payout_point
        return cls(entry.subject, dotted(entry.desa), entry.point_id,
                   point.name if point is not None else "", int(payload.amount),
                   payload.schedule.mode)


@dataclass(frozen=True, slots=True)
class Outcome:
    """A recipient's folded status: scheduled | collected | held | returned."""

    status: str = "scheduled"
    collected_at: dt.datetime | None = None
    amount: int | None = None  # what the payer reported for the salur, if anything


_SCHEDULED = Outcome()


def fold_events(events: Iterable[EventLike]) -> Outcome:
    """The outcome of one recipient's events (any order; sorted by ``(occurred_at, id)``)."""
    outcome = _SCHEDULED
    for event in sorted(events, key=lambda item: (item.occurred_at, item.id)):
        if outcome.status in _FINAL:
            break
        status = _STATUS_OF.get(event.status)
        if status is None:
            continue
        if status == "collected":
            outcome = Outcome(status, event.occurred_at, event.amount)
        else:
            outcome = Outcome(status)
    return outcome


@dataclass
class ReportRow:
    """One region's (or payout point's, or the whole report's) counts."""

    code: str
    name: str
    recipients: int = 0
    entitled: int = 0
    collected: int = 0
    collected_amount: int = 0
    held: int = 0
    returned: int = 0
    pending: int = 0
    flagged: int = 0

    @property
    def share(self) -> float:
        """Collected / recipients (0 when there are none)."""
        return self.collected / self.recipients if self.recipients else 0.0

    def add(self, other: ReportRow) -> None:
        self.recipients += other.recipients
        self.entitled += other.entitled
        self.collected += other.collected
        self.collected_amount += other.collected_amount
        self.held += other.held
        self.returned += other.returned
        self.pending += other.pending
        self.flagged += other.flagged

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "name": self.name,
                **{key: getattr(self, key) for key in COUNT_KEYS}}


@dataclass(frozen=True)
class DayRow:
    date: dt.date
    collected: int
    cumulative: int

    def to_dict(self) -> dict[str, Any]:
        return {"date": self.date.isoformat(), "collected": self.collected,
                "cumulative": self.cumulative}


@dataclass(frozen=True)
class ModeRow:
    mode: str
    recipients: int
    collected: int
    collected_amount: int

    @property
    def share(self) -> float:
        return self.collected / self.recipients if self.recipients else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"mode": self.mode, "recipients": self.recipients, "collected": self.collected,
                "collected_amount": self.collected_amount}


@dataclass
class Report:
    """What every output format shows."""

    level: str
    region: str | None
    as_of: dt.datetime
    version: int
    rows: list[ReportRow]
    total: ReportRow
    days: list[DayRow]
    modes: list[ModeRow]
    provinces: dict[str, float] = field(default_factory=dict)  # code -> share, for the map

    def to_dict(self) -> dict[str, Any]:
        """The JSON contract: level, as_of, rows, total, days (plus region, version, modes)."""
        total = self.total.to_dict()
        return {"level": self.level, "as_of": self.as_of.isoformat(),
                "rows": [row.to_dict() for row in self.rows],
                "total": {key: total[key] for key in ("code", "name", *COUNT_KEYS)},
                "days": [day.to_dict() for day in self.days],
                "region": self.region, "version": self.version,
                "modes": [mode.to_dict() for mode in self.modes]}


def level_code(level: str, recipient: ReportRecipient) -> str:
    """The row a recipient counts in at ``level``."""
    if level == "titik":
        return recipient.point_id or "-"
    return ".".join(recipient.desa.split(".")[:REGION_DEPTH[level] + 1])


def check_region(level: str, region: str | None) -> str | None:
    """A valid ``--region`` for ``level`` (dotted), or a one-line refusal."""
    if region is None:
        return None
    code = dotted(region)
    if current_region(code) is None:
        raise CentralError("report_region_unknown", region=region)
    depth = code.count(".")
    if level != "titik" and depth > REGION_DEPTH[level]:
        raise CentralError("report_region_level", region=code, level=level)
    return code


def _in_region(desa: str, region: str | None) -> bool:
    return region is None or desa == region or desa.startswith(region + ".")


def _row_name(level: str, code: str, point_names: Mapping[str, str]) -> str:
    if level == "titik":
        return point_names.get(code, "") or code
    return region_name(code) or code


@dataclass
class Leaf:
    """The counts of one (desa, payout point) pair: the unit everything else is summed from."""

    row: ReportRow
    desa: str
    point_id: str
    days: dict[dt.date, int] = field(default_factory=dict)
    modes: dict[str, list[int]] = field(default_factory=dict)  # mode -> [recipients, n, rp]


@dataclass
class Tally:
    """The roster and the folded ledger counted per (desa, payout point)."""

    leaves: dict[tuple[str, str], Leaf]
    point_names: dict[str, str]
    latest: dt.datetime | None


def outcomes_of(events: Iterable[EventLike]) -> tuple[dict[str, Outcome], dt.datetime | None]:
    """Each subject's folded outcome, and the latest event time."""
    by_subject: dict[str, list[EventLike]] = defaultdict(list)
    latest: dt.datetime | None = None
    for event in events:
        by_subject[event.subject].append(event)
        if latest is None or event.occurred_at > latest:
            latest = event.occurred_at
    return {subject: fold_events(own) for subject, own in by_subject.items()}, latest


def tally(recipients: Iterable[ReportRecipient], events: Iterable[EventLike],
          flags: Iterable[FlagLike] = (), *, region: str | None = None) -> Tally:
    """One pass over the roster (within ``region``) with each recipient's folded events."""
    outcomes, latest = outcomes_of(events)
    return tally_outcomes(recipients, outcomes, flags, region=region, latest=latest)


def tally_outcomes(recipients: Iterable[ReportRecipient], outcomes: Mapping[str, Outcome],
                   flags: Iterable[FlagLike] = (), *, region: str | None = None,
                   latest: dt.datetime | None = None) -> Tally:
    """:func:`tally` with the outcomes already folded (e.g. by the database)."""
    flagged_events: dict[str, set[int]] = defaultdict(set)
    for flag in flags:
        flagged_events[flag.subject].add(flag.event_id)
    leaves: dict[tuple[str, str], Leaf] = {}
    point_names: dict[str, str] = {}
    for recipient in recipients:
        if region is not None and not _in_region(recipient.desa, region):
            continue
        point = recipient.point_id or "-"
        if recipient.point_name and point not in point_names:
            point_names[point] = recipient.point_name
        leaf = leaves.get((recipient.desa, point))
        if leaf is None:
            leaf = leaves[(recipient.desa, point)] = Leaf(ReportRow(point, ""), recipient.desa,
                                                          point)
        row = leaf.row
        outcome = outcomes.get(recipient.subject, _SCHEDULED)
        mode = leaf.modes.get(recipient.mode)
        if mode is None:
            mode = leaf.modes[recipient.mode] = [0, 0, 0]
        row.recipients += 1
        row.entitled += recipient.amount
        mode[0] += 1
        status = outcome.status
        if status == "collected":
            paid = outcome.amount if outcome.amount is not None else recipient.amount
            row.collected += 1
            row.collected_amount += paid
            mode[1] += 1
            mode[2] += paid
            assert outcome.collected_at is not None
            day = outcome.collected_at.astimezone(WIB).date()
            leaf.days[day] = leaf.days.get(day, 0) + 1
        elif status == "held":
            row.held += 1
        elif status == "returned":
            row.returned += 1
        else:
            row.pending += 1
        if flagged_events:
            marked = flagged_events.get(recipient.subject)
            if marked:
                row.flagged += len(marked)
    return Tally(leaves, point_names, latest)


def days_of(day_counts: Mapping[dt.date, int]) -> list[DayRow]:
    days: list[DayRow] = []
    running = 0
    for day in sorted(day_counts):
        running += day_counts[day]
        days.append(DayRow(day, day_counts[day], running))
    return days


def report_from_tally(counted: Tally, *, level: str, region: str | None = None,
                      as_of: dt.datetime | None = None, version: int = 0) -> Report:
    """Sum the leaves of ``counted`` (within ``region``) into rows of ``level``."""
    rows: dict[str, ReportRow] = {}
    provinces: dict[str, ReportRow] = {}
    day_counts: dict[dt.date, int] = defaultdict(int)
    mode_counts: dict[str, list[int]] = {mode: [0, 0, 0] for mode in MODES}
    depth = REGION_DEPTH.get(level)
    for leaf in counted.leaves.values():
        if not _in_region(leaf.desa, region):
            continue
        code = leaf.point_id if depth is None else leaf.desa[:_CODE_LENGTH[depth]]
        row = rows.get(code)
        if row is None:
            row = rows[code] = ReportRow(code, "")
        row.add(leaf.row)
        province = provinces.get(leaf.desa[:2])
        if province is None:
            province = provinces[leaf.desa[:2]] = ReportRow(leaf.desa[:2], "")
        province.add(leaf.row)
        for day, count in leaf.days.items():
            day_counts[day] += count
        for mode, counts in leaf.modes.items():
            target = mode_counts.setdefault(mode, [0, 0, 0])
            for index in range(3):
                target[index] += counts[index]
    return assemble_report(rows, provinces, day_counts, mode_counts, counted.point_names,
                           level=level, region=region,
                           as_of=as_of or counted.latest, version=version)


def assemble_report(rows: Mapping[str, ReportRow], provinces: Mapping[str, ReportRow],
                    day_counts: Mapping[dt.date, int], mode_counts: Mapping[str, list[int]],
                    point_names: Mapping[str, str], *, level: str, region: str | None,
                    as_of: dt.datetime | None, version: int) -> Report:
    """The report from counts already summed per row of ``level`` (named here), per province,
    per day and per payout mode (``[recipients, collected, rupiah]``, every mode of
    :data:`MODES` listed); ``as_of`` defaults to now."""
    ordered = [rows[code] for code in sorted(rows)]
    for row in ordered:
        row.name = _row_name(level, row.code, point_names)
    total = ReportRow(region or "ID", (region_name(region) if region else None) or "Indonesia")
    for row in ordered:
        total.add(row)
    modes = [ModeRow(mode, *counts) for mode, counts in
             {**{mode: [0, 0, 0] for mode in MODES}, **mode_counts}.items()]
    if as_of is None:
        as_of = dt.datetime.now(dt.UTC).replace(microsecond=0)
    return Report(level, region, as_of, version, ordered, total, days_of(day_counts), modes,
                  {code: row.share for code, row in provinces.items()})


def build_report(recipients: Iterable[ReportRecipient], events: Iterable[EventLike],
                 flags: Iterable[FlagLike] = (), *, level: str = "kabupaten",
                 region: str | None = None, as_of: dt.datetime | None = None,
                 version: int = 0) -> Report:
    """Count the roster and the folded ledger per region of ``level`` within ``region``.

    Events and flags of subjects outside the roster (or outside ``region``) are not counted.
    ``as_of`` defaults to the latest event time (or now, without events).
    """
    if level not in LEVELS:
        raise CentralError("report_level", level=level, levels=", ".join(LEVELS))
    region = check_region(level, region)
    counted = tally(recipients, events, flags, region=region)
    return report_from_tally(counted, level=level, region=region, as_of=as_of,
                             version=version)
