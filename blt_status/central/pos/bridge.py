"""The exchange's two touch points with the rest of the central store: the roster and ingest.

- :func:`published_roster` yields the recipients of a published version (NIK, kecamatan and the
  officer-view payload: schedule, point, amount, status). It reads
  ``blt_status.central.roster.current_roster`` when the database roster exists, else the
  publisher's sealed state (:meth:`CentralStore.load_state`).
- :func:`ingest` hands payout facts to ``blt_status.central.publish.ingest_events`` (the one
  path CSV reports and API feedback share) when the payout ledger exists. Before it exists, it
  applies them with the CSV report's rules (``payouts.apply_payouts``) and publishes at once,
  remembering every ``(message_id, reference_id)`` it saw so that a replay changes nothing.
"""

from __future__ import annotations

import datetime as dt
import importlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from blt_status.central.pos.journal import Journal
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError
from blt_status.records import Program, RecordPayload

__all__ = [
    "FeedbackEvent",
    "IngestOutcome",
    "RosterInfo",
    "RosterItem",
    "ingest",
    "ledger_available",
    "published_roster",
]


@dataclass(frozen=True)
class RosterItem:
    nik_digits: str = field(repr=False)
    kecamatan: str
    payload: RecordPayload = field(repr=False)


@dataclass(frozen=True)
class RosterInfo:
    version: int
    epoch_id: str
    program: Program


@dataclass(frozen=True)
class FeedbackEvent:
    """One payout fact from the payer (the fields of the ledger's ``PayoutEvent``)."""

    nik_digits: str = field(repr=False)
    status: str  # salur | gagal | kembali
    occurred_at: dt.datetime
    point_id: str
    source: str  # "api"
    source_ref: str  # header.message_id
    row_ref: str  # reference_id
    reason_code: str | None = None
    note: str = field(default="", repr=False)
    amount: int | None = None


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    version: int | None = None


def _optional(module: str) -> Any:
    try:
        return importlib.import_module(module)
    except ImportError:
        return None


def ledger_available() -> bool:
    publish = _optional("blt_status.central.publish")
    return _optional("blt_status.central.ledger") is not None and hasattr(publish,
                                                                            "ingest_events")


def roster_info(store: CentralStore) -> RosterInfo:
    state = store.load_state(records=False)
    if state.version == 0 or state.epoch_id is None or state.program is None:
        raise CentralError("nothing_published", "Belum ada versi yang diterbitkan: jalankan "
                           "`central publish` dulu.",
                           "Nothing is published yet: run `central publish` first.")
    return RosterInfo(state.version, state.epoch_id, state.program)


def published_roster(store: CentralStore, version: int | None = None
                     ) -> tuple[RosterInfo, Iterator[RosterItem]]:
    """The version's facts and its recipients (``pos_version`` if it cannot be read)."""
    info = roster_info(store)
    roster = _optional("blt_status.central.roster")
    if roster is not None and hasattr(roster, "current_roster"):
        entries = roster.current_roster(store, version=version)
        return (RosterInfo(version or info.version, info.epoch_id, info.program),
                (RosterItem(entry.nik_digits, entry.kecamatan, entry.payload)
                 for entry in entries))
    if version is not None and version != info.version:
        raise CentralError("pos_version", version=version, published=info.version)
    state = store.load_state()
    return info, (RosterItem(nik, record.shard, record.payload)
                  for nik, record in state.records.items())


def ingest(store: CentralStore, events: Sequence[FeedbackEvent], *, publish: bool,
           journal: Journal) -> IngestOutcome:
    """Append the events through the store's one ingest path; replays are no-ops."""
    if not events:
        return IngestOutcome()
    if ledger_available():
        return _ingest_ledger(store, events, publish=publish)
    return _ingest_state(store, events, journal=journal)


def _ingest_ledger(store: CentralStore, events: Sequence[FeedbackEvent], *,
                   publish: bool) -> IngestOutcome:
    ledger = importlib.import_module("blt_status.central.ledger")
    publish_module = importlib.import_module("blt_status.central.publish")
    names = [item.name for item in fields(FeedbackEvent)]  # shallow: asdict deep-copies
    converted = [ledger.PayoutEvent(**{name: getattr(event, name) for name in names})
                 for event in events]
    report = publish_module.ingest_events(store, converted, publish=publish)
    rejected = list(getattr(report, "rejected", []) or [])
    duplicates = int(getattr(report, "duplicates", 0) or 0)
    accepted = getattr(report, "appended", None)
    if accepted is None:
        accepted = getattr(report, "applied", len(events) - len(rejected) - duplicates)
    count = len(accepted) if isinstance(accepted, list | tuple) else int(accepted or 0)
    published = bool(getattr(report, "published", publish))
    return IngestOutcome(count, duplicates,
                         [item if isinstance(item, dict) else _as_dict(item) for item in rejected],
                         getattr(report, "version", None) if published else None)


def _as_dict(item: Any) -> dict[str, Any]:
    to_dict = getattr(item, "to_dict", None)
    return dict(to_dict()) if callable(to_dict) else {"code": str(item)}


def _ingest_state(store: CentralStore, events: Sequence[FeedbackEvent], *,
                  journal: Journal) -> IngestOutcome:
    """Before the ledger: the CSV report's rules on the sealed state, published at once."""
    from blt_status.central.inputs import load_payout_points, load_program
    from blt_status.central.payouts import PayoutEvent, apply_payouts
    from blt_status.central.plan import compute_aggregates
    from blt_status.central.publish import publish_records

    outcome = IngestOutcome()
    with store.lock():
        fresh = [event for event in events if not journal.seen(event.source_ref, event.row_ref)]
        outcome.duplicates = len(events) - len(fresh)
        if not fresh:
            return outcome
        state = store.load_state()
        program_config = load_program(store.input_path(state.inputs["program"]))
        points = load_payout_points(store.input_path(state.inputs["payout_points"]))
        current = {nik: record.payload for nik, record in state.records.items()}
        rows = [PayoutEvent(index + 1, event.nik_digits, event.status, event.occurred_at,
                            event.point_id, event.note[:200]) for index, event in enumerate(fresh)]
        changed, rejections = apply_payouts(current, rows, points, program_config)
        outcome.rejected = [rejection.to_dict() for rejection in rejections]
        outcome.accepted = len(fresh) - len(rejections)
        if changed:
            records = {nik: (record.shard, changed.get(nik, record.payload))
                       for nik, record in state.records.items()}
            program = program_config.program
            result = publish_records(store, records, program=program,
                                     aggregate=lambda items: compute_aggregates(items, program),
                                     previous=state)
            outcome.version = result.version
        journal.mark_seen([(event.source_ref, event.row_ref) for event in fresh])
    return outcome
