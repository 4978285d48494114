"""Where the progress report's inputs come from: the central store's roster and payout ledger.

:func:`load_report` reads the recipients of the published roster, the ledger's events and
flags, and hands them to :func:`blt_status.central.report.build_report`. No NIK leaves this
module: recipients are keyed by ``subject``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from blt_status.central.report import WIB, Report, ReportRecipient, build_report, check_region
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["load_report"]


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


def load_report(store: CentralStore, *, level: str, region: str | None = None) -> Report:
    """The report of the store's current data at ``level`` within ``region``."""
    version = store.published_version()
    if version == 0:
        raise CentralError("report_nothing")
    region = check_region(level, region)
    recipients, events, as_of = _from_state(store, region)
    return build_report(recipients, events, (), level=level, region=region,
                        as_of=as_of, version=version)
