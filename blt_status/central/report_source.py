"""Where the progress report's inputs come from: the central store's roster and payout ledger.

:func:`load_report` reads the recipients of the published roster, the ledger's events and
flags, and hands them to :func:`blt_status.central.report.build_report`. No NIK leaves this
module: recipients are keyed by ``subject``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from blt_status.central.report import (
    LEVELS,
    WIB,
    Report,
    ReportRecipient,
    Tally,
    check_region,
    report_from_tally,
    tally,
)
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["FlaggedPayout", "Snapshot", "change_marker", "load_report", "load_snapshot"]


@dataclass(frozen=True, slots=True)
class _StateEvent:
    id: int
    subject: str
    status: str
    occurred_at: dt.datetime
    amount: int | None = None


_EVENT_OF = {"collected": "salur", "held": "gagal", "returned": "kembali"}
_LONG_AGO = dt.datetime(2000, 1, 1, tzinfo=WIB)


def _from_state(store: CentralStore, region: str | None,
                ) -> tuple[list[ReportRecipient], list[_StateEvent], dt.datetime | None]:
    """Recipients and their outcomes from the publisher's state (the statuses of the
    published version), as one event per recipient who is not scheduled."""
    state = store.load_state()
    recipients: list[ReportRecipient] = []
    events: list[_StateEvent] = []
    for number, (nik, record) in enumerate(sorted(state.records.items()), 1):
        payload = record.payload
        if region is not None and not (payload.kode_wilayah + ".").startswith(region + "."):
            continue
        subject = hashlib.sha256(b"report|" + nik.encode()).hexdigest()  # in memory only
        point = payload.payout_point
        recipients.append(ReportRecipient(subject, payload.kode_wilayah,
                                          point.id if point else None,
                                          point.name if point else "", payload.amount,
                                          payload.schedule.mode))
        kind = _EVENT_OF.get(payload.status)
        if kind is not None:
            events.append(_StateEvent(number, subject, kind, payload.collected_at or _LONG_AGO))
    return recipients, events, None


@dataclass(frozen=True)
class FlaggedPayout:
    """A flagged payout as an admin may see it: no NIK beyond its last four digits."""

    event_id: int
    code: str
    severity: str
    nik_last4: str
    point_id: str
    occurred_at: dt.datetime
    kecamatan: str | None


@dataclass
class Snapshot:
    """Everything a report or the admin dashboard shows, counted once."""

    tally: Tally
    version: int
    as_of: dt.datetime
    marker: int  # changes when new payout data arrives (see :func:`change_marker`)
    flagged: list[FlaggedPayout]


def change_marker(store: CentralStore) -> int:
    """A number that grows when new payout data arrives (cheap: polled by the dashboard)."""
    return store.published_version()


def load_snapshot(store: CentralStore, *, region: str | None = None) -> Snapshot:
    """Count the store's current roster and ledger within ``region``."""
    version = store.published_version()
    if version == 0:
        raise CentralError("report_nothing")
    recipients, events, _ = _from_state(store, region)
    counted = tally(recipients, events, (), region=region)
    as_of = counted.latest or dt.datetime.now(dt.UTC).replace(microsecond=0)
    return Snapshot(counted, version, as_of, change_marker(store), [])


def load_report(store: CentralStore, *, level: str, region: str | None = None) -> Report:
    """The report of the store's current data at ``level`` within ``region``."""
    if level not in LEVELS:
        raise CentralError("report_level", level=level, levels=", ".join(LEVELS))
    if store.published_version() == 0:
        raise CentralError("report_nothing")
    region = check_region(level, region)
    snapshot = load_snapshot(store, region=region)
    return report_from_tally(snapshot.tally, level=level, region=region, as_of=snapshot.as_of,
                             version=snapshot.version)
