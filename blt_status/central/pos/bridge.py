"""The exchange's two touch points with the rest of the central store: the roster and ingest.

- :func:`published_roster` yields the recipients of a published version (NIK, kecamatan and the
  officer-view payload with its status from roster + ledger) from
  :func:`blt_status.central.roster.current_roster`, one kecamatan at a time.
- :func:`ingest` hands payout facts to :func:`blt_status.central.publish.ingest_events`, the one
  path CSV reports and API feedback share: the same checks, the same append-only ledger, and
  a fact already there (same ``source``, ``source_ref``, ``row_ref``) is a duplicate.
- :func:`ledger_answers` says, after an ingest, what the ledger really holds for a message's
  references (a fact the rules rejected is not an answer: the payer may send it corrected).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from blt_status.central.db import database_url, db_errors, open_engine, payout_events, subject_of
from blt_status.central.ledger import PayoutEvent, outcomes_in
from blt_status.central.publish import ingest_events
from blt_status.central.roster import current_roster
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError
from blt_status.records import Program, RecordPayload

__all__ = [
    "IngestOutcome",
    "RosterInfo",
    "RosterItem",
    "ingest",
    "ledger_answers",
    "published_roster",
    "roster_info",
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


@dataclass
class IngestOutcome:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    version: int | None = None  # the version published, when one was


def roster_info(store: CentralStore) -> RosterInfo:
    state = store.load_state(records=False)
    if state.version == 0 or state.epoch_id is None or state.program is None:
        raise CentralError("pos_nothing_published")
    return RosterInfo(state.version, state.epoch_id, state.program)


def published_roster(store: CentralStore, version: int | None = None
                     ) -> tuple[RosterInfo, Iterator[RosterItem]]:
    """The version's facts and its recipients (``pos_version`` for an unknown version)."""
    info = roster_info(store)
    if version is not None and not 1 <= version <= info.version:
        raise CentralError("pos_version", version=version, published=info.version)
    entries = current_roster(store, version=version)
    return (RosterInfo(version or info.version, info.epoch_id, info.program),
            (RosterItem(entry.nik_digits, entry.kecamatan, entry.payload)
             for entry in entries))


def ingest(store: CentralStore, events: Sequence[PayoutEvent], *,
           publish: bool) -> IngestOutcome:
    """Append the events through the store's one ingest path; replays are no-ops."""
    if not events:
        return IngestOutcome()
    report = ingest_events(store, events, publish=publish)
    return IngestOutcome(report.applied, report.duplicates, list(report.rejected),
                         report.version if report.published else None)


_FINAL_OF = {"collected": "salur", "returned": "kembali"}


def ledger_answers(store: CentralStore, *, source: str, source_ref: str, epoch_id: str,
                   niks: Mapping[str, str]) -> dict[str, str]:
    """reference -> the ledger status that answers it, for the references in ``niks``
    (reference -> NIK digits): the event the ledger holds under ``source``/``source_ref``,
    else a final outcome the person already has (a payout recorded by another report).
    References the ledger has no answer for (every fact about them rejected) are left out."""
    if not niks:
        return {}
    answers: dict[str, str] = {}
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        query = sa.select(payout_events.c.row_ref, payout_events.c.status).where(
            payout_events.c.source == source, payout_events.c.source_ref == source_ref)
        for row in connection.execute(query):
            if row.row_ref in niks:
                answers[row.row_ref] = row.status
        rest = {subject_of(store, nik): ref for ref, nik in niks.items() if ref not in answers}
        if rest:
            for subject, outcome in outcomes_in(connection, epoch_id, list(rest)).items():
                final = _FINAL_OF.get(outcome.status)
                if final is not None and subject in rest:
                    answers[rest[subject]] = final
    return answers
