"""Payer feedback -> payout facts: the one place ``pos listen`` and ``pos pull`` share.

A verified :class:`~blt_status.central.pos.models.Callback` (or DSBT-005 answer) is mapped
response by response (SUCC -> salur, RJCT RTRN_* -> kembali, other RJCT -> gagal, RCVD/PDNG ->
nothing), each reference is looked up in the published roster, and the facts go through
:func:`blt_status.central.pos.bridge.ingest` with ``source="api"``,
``source_ref=header.message_id`` and ``row_ref=reference_id`` — so a replayed message is a
no-op in the ledger, and an out-of-order one is folded by time like any other fact.

The ledger holds one fact per reference and message: when a message reports a reference more
than once (a failed attempt, then the payout), the one that decides is kept — the earliest
final answer, else the latest ``gagal``. Only what the ledger then holds is remembered in the
journal as the reference's answer: a fact the rules rejected (an unknown point, a time in the
future) leaves the reference open, so the payer's corrected report is still recorded.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from blt_status._fs import make_private_dir, try_lock
from blt_status.central.ledger import PayoutEvent
from blt_status.central.pos.bridge import ingest, ledger_answers, published_roster
from blt_status.central.pos.journal import Journal
from blt_status.central.pos.mapping import (
    FINAL_STATUSES,
    ledger_status,
    reason_code,
    reference_id,
    reference_key,
)
from blt_status.central.pos.models import Callback, DisburseResponse
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["INGEST_WAIT", "FeedbackProcessor", "FeedbackResult"]

INGEST_WAIT = 30.0  # seconds to wait for another process's ingest (then db_busy: retry later)


@dataclass
class FeedbackResult:
    responses: int = 0
    recorded: int = 0  # facts accepted by the ledger
    duplicates: int = 0
    pending: int = 0  # RCVD / PDNG: nothing to record
    unknown_references: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    version: int | None = None

    def add(self, other: FeedbackResult) -> None:
        self.responses += other.responses
        self.recorded += other.recorded
        self.duplicates += other.duplicates
        self.pending += other.pending
        self.unknown_references += other.unknown_references
        self.rejected.extend(other.rejected)
        self.version = other.version or self.version

    def to_dict(self) -> dict[str, Any]:
        return {"responses": self.responses, "recorded": self.recorded,
                "duplicates": self.duplicates, "pending": self.pending,
                "unknown_references": self.unknown_references,
                "rejected": len(self.rejected),
                "rejected_by_code": _count(item.get("code") for item in self.rejected),
                "version": self.version}


def _count(codes: Any) -> dict[str, int]:
    counts: dict[str, int] = {}
    for code in codes:
        counts[str(code)] = counts.get(str(code), 0) + 1
    return counts


@dataclass(frozen=True)
class _Target:
    nik_digits: str = field(repr=False)
    point_id: str | None


def _deciding(responses: Sequence[DisburseResponse]) -> dict[str, int]:
    """reference -> position of the response that decides it within one message: the earliest
    final answer (``salur``/``kembali``), else the latest ``gagal``."""
    best: dict[str, tuple[bool, dt.datetime, int]] = {}
    for position, response in enumerate(responses):
        status = ledger_status(response.status, response.status_reason_code)
        if status is None:
            continue
        final = status in FINAL_STATUSES
        known = best.get(response.reference_id)
        if known is None or (final and (not known[0] or response.timestamp < known[1])) \
                or (not final and not known[0] and response.timestamp >= known[1]):
            best[response.reference_id] = (final, response.timestamp, position)
    return {ref: position for ref, (_, _, position) in best.items()}


class FeedbackProcessor:
    """Maps and ingests feedback for one store (thread-safe; one ingest at a time)."""

    def __init__(self, store: CentralStore, *, publish: bool = False) -> None:
        self.store = store
        self.publish = publish
        self._lock = threading.Lock()
        # Set by a receiver told twice to stop: a message not yet ingested is answered
        # db_busy (503, the payer sends it again) instead of waiting for the ingest lock.
        self.cancelled = threading.Event()
        self._index_version = -1
        self._index: dict[str, _Target] = {}
        self._epoch_id = ""
        self._earlier: set[int] = set()  # earlier versions whose leavers are in the index

    def _targets(self, references: Sequence[str] = ()) -> dict[str, _Target]:
        """reference -> recipient of the published roster.

        Built once, and rebuilt only when a newer version is published *and* a reference is
        not known (references are stable within an epoch, so most new versions need nothing).
        """
        version = self.store.published_version()
        stale = version != self._index_version and (
            not self._index or any(ref not in self._index for ref in references))
        if stale:
            info, items = published_roster(self.store)
            key = reference_key(self.store.master_pepper)
            self._index = {
                reference_id(key, info.epoch_id, item.nik_digits): _Target(
                    item.nik_digits,
                    item.payload.payout_point.id if item.payload.payout_point else None)
                for item in items}
            self._index_version = version
            self._epoch_id = info.epoch_id
            self._earlier = set()
        missing = [ref for ref in references if ref not in self._index]
        if missing:
            self._add_leavers(missing)
        return self._index

    def _add_leavers(self, missing: Sequence[str]) -> None:
        """References we delivered in an earlier version whose recipient has left the roster
        since: the payer may well have paid them (the spec has no cancel). Their facts go to
        the ledger like a CSV report's (flagged ``removed_recipient``), not dropped as unknown.
        Each earlier version's roster is read at most once."""
        journal = Journal.of(self.store)
        try:
            delivered = journal.delivered_versions(missing)
        finally:
            journal.close()
        key = reference_key(self.store.master_pepper)
        for version in sorted(set(delivered.values()) - self._earlier):
            self._earlier.add(version)
            info, items = published_roster(self.store, version)
            if info.epoch_id != self._epoch_id:
                continue
            for item in items:
                ref = reference_id(key, info.epoch_id, item.nik_digits)
                if ref not in self._index:
                    self._index[ref] = _Target(
                        item.nik_digits,
                        item.payload.payout_point.id if item.payload.payout_point else None)

    def warm(self) -> None:
        """Build the reference index now — ``pos listen`` does it at startup, so the first
        callback does not wait for a whole roster to be read and unsealed (25,000 recipients:
        about 3 s). Before the first publish there is nothing to index: the first callback
        builds it."""
        with self._lock:
            try:
                self._targets()
            except CentralError as error:
                if error.code != "pos_nothing_published":
                    raise

    def process(self, callback: Callback) -> FeedbackResult:
        # One ingest at a time per store, across processes too: ``pos listen`` and ``pos pull``
        # (or two receivers) handed the same payout under two message ids would otherwise both
        # read "not answered yet" and both append it.
        lock = self.store.private_dir / "pos" / "ingest.lock"
        make_private_dir(lock.parent)
        if self.cancelled.is_set():
            raise CentralError("db_busy")
        with self._lock, try_lock(lock, wait=INGEST_WAIT,
                                  cancelled=self.cancelled) as held:
            if not held:
                raise CentralError("db_busy")
            return self._process(callback)

    def _process(self, callback: Callback) -> FeedbackResult:
        result = FeedbackResult(responses=len(callback.responses))
        targets = self._targets([response.reference_id for response in callback.responses])
        events: list[PayoutEvent] = []
        finals: list[tuple[str, str]] = []
        journal = Journal.of(self.store)
        try:
            known = journal.outcomes(response.reference_id for response in callback.responses)
        finally:
            journal.close()
        deciding = _deciding(callback.responses)
        for position, response in enumerate(callback.responses):
            status = ledger_status(response.status, response.status_reason_code)
            if status is None:
                result.pending += 1
                continue
            if deciding.get(response.reference_id) != position:
                result.duplicates += 1  # another answer of this message about it decides
                continue
            target = targets.get(response.reference_id)
            if target is None:
                result.unknown_references += 1
                continue
            before = known.get(response.reference_id)
            if before is not None and (before in FINAL_STATUSES or before == status):
                # Already answered (a replay, a poll after a callback): nothing new to record.
                result.duplicates += 1
                continue
            point = response.point_id or target.point_id or ""
            events.append(PayoutEvent(
                nik_digits=target.nik_digits, status=status, occurred_at=response.timestamp,
                point_id=point, source="api", source_ref=callback.message_id,
                row_ref=response.reference_id,
                reason_code=reason_code(status, response.status_reason_code),
                note=response.status_reason_message[:200], amount=response.amount))
            finals.append((response.reference_id, status))
        outcome = ingest(self.store, events, publish=self.publish)
        # What the ledger holds now, not what the payer said: a rejected fact is no answer.
        answers = ledger_answers(
            self.store, source="api", source_ref=callback.message_id, epoch_id=self._epoch_id,
            niks={ref: targets[ref].nik_digits for ref, _ in finals})
        journal = Journal.of(self.store)
        try:
            journal.record_outcomes(answers.items())
        finally:
            journal.close()
        result.recorded = outcome.accepted
        result.duplicates += outcome.duplicates
        result.rejected = outcome.rejected
        result.version = outcome.version
        return result

    def ingest_many(self, callbacks: Sequence[Callback]) -> FeedbackResult:
        total = FeedbackResult()
        for callback in callbacks:
            total.add(self.process(callback))
        return total
