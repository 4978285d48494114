"""Reconciliation: where every rupiah of the current roster stands, and which payouts are flagged.

Money (whole rupiah, per kecamatan and in total), from each current recipient's amount and
status (roster + ledger): ``entitled`` = everything the roster promises; ``paid`` (collected),
``held`` (gagal, to be fixed), ``returned`` (kembali), ``pending`` (scheduled, not yet paid).
Each recipient is in exactly one of the four, so ``entitled = paid + held + returned + pending``
always; :meth:`Money.balanced` checks it and :func:`reconcile` refuses to report money that does
not balance.

Flags are the ones :func:`blt_status.central.payouts.check_feedback` raised when payouts were
accepted, as stored in the ledger; they carry at most the last four digits of a NIK.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection

from blt_status.errors import CentralError
from blt_status.regions import region_name

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

__all__ = ["MONEY_KEYS", "FlagRow", "Money", "Reconciliation", "reconcile", "reconcile_store"]

MONEY_KEYS = ("entitled", "paid", "held", "returned", "pending")
_BUCKET = {"collected": "paid", "held": "held", "returned": "returned", "scheduled": "pending"}
SEVERITY_ORDER = {"high": 0, "medium": 1, "low": 2}


@dataclass
class Money:
    entitled: int = 0
    paid: int = 0
    held: int = 0
    returned: int = 0
    pending: int = 0

    def add(self, status: str, amount: int) -> None:
        bucket = _BUCKET.get(status)
        if bucket is None:
            raise CentralError("reconcile_status", status=status)
        self.entitled += amount
        setattr(self, bucket, getattr(self, bucket) + amount)

    def merge(self, other: Money) -> None:
        for key in MONEY_KEYS:
            setattr(self, key, getattr(self, key) + getattr(other, key))

    def balanced(self) -> bool:
        return self.entitled == self.paid + self.held + self.returned + self.pending

    def to_dict(self) -> dict[str, int]:
        return {key: int(getattr(self, key)) for key in MONEY_KEYS}


@dataclass(frozen=True)
class FlagRow:
    """One flagged payout as reported (no personal data beyond the last four NIK digits)."""

    code: str
    severity: str
    nik_last4: str
    point_id: str
    time: dt.datetime
    detail: str  # in the language of the one who asked (payouts.detail_text)

    def to_dict(self) -> dict[str, str]:
        data = asdict(self)
        data["time"] = self.time.isoformat()
        return data


@dataclass
class Reconciliation:
    totals: Money
    by_kecamatan: dict[str, Money]
    flags: list[FlagRow] = field(default_factory=list)
    recipients: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "flags": [flag.to_dict() for flag in self.flags],
            "totals": self.totals.to_dict(),
            "by_kecamatan": [{"code": code, "name": region_name(code) or "", **money.to_dict()}
                             for code, money in sorted(self.by_kecamatan.items())],
        }

    def flag_counts(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for flag in self.flags:
            counts[flag.code] = counts.get(flag.code, 0) + 1
        return dict(sorted(counts.items()))


def reconcile(entries: Iterable[tuple[str, str, int]], flags: Iterable[FlagRow] = (), *,
              since: dt.datetime | None = None) -> Reconciliation:
    """Sum ``(kecamatan, status, amount)`` of every current recipient; list flags since ``since``.

    Flags come out most severe first, then by time.
    """
    by_kecamatan: dict[str, Money] = {}
    count = 0
    for kecamatan, status, amount in entries:
        money = by_kecamatan.get(kecamatan)
        if money is None:
            money = by_kecamatan[kecamatan] = Money()
        money.add(status, amount)
        count += 1
    totals = Money()
    for money in by_kecamatan.values():
        totals.merge(money)
    if not totals.balanced():  # pragma: no cover - each amount lands in exactly one bucket
        raise CentralError("reconcile_unbalanced", **totals.to_dict())
    chosen = [flag for flag in flags if since is None or flag.time >= since]
    chosen.sort(key=lambda flag: (SEVERITY_ORDER.get(flag.severity, 3), flag.time, flag.code))
    return Reconciliation(totals, by_kecamatan, chosen, count)


def reconcile_store(store: CentralStore, *, since: dt.datetime | None = None) -> Reconciliation:
    """Reconcile the published roster (statuses from the ledger) and the ledger's flags.

    One pass over the roster rows of the published version and one over the epoch's ledger
    events, both ordered by subject and merged as they stream (memory does not grow with the
    roster or the ledger); each roster row is opened only to read its amount.
    """
    from blt_status.central.db import database_url, db_errors, open_engine
    from blt_status.central.ledger import Ledger
    from blt_status.central.payouts import detail_text
    from blt_status.central.publish import published_info

    info = published_info(store)
    if info is None:
        raise CentralError("nothing_published")
    version, _, _, epoch_id = info
    engine = open_engine(store)
    with db_errors(database_url(store)), engine.connect() as rows, engine.connect() as events:
        entries = _join(_roster_amounts(store, rows, version), _statuses(events, epoch_id))
        flags = [FlagRow(flag.code, flag.severity, flag.nik_last4, flag.point_id,
                         flag.occurred_at, detail_text(flag.detail))
                 for flag in Ledger(store).flags(epoch_id=epoch_id)]
        return reconcile(entries, flags, since=since)


_STATUS = {"salur": "collected", "gagal": "held", "kembali": "returned"}
_AMOUNT = re.compile(rb'"amount":([0-9]+)[,}]')
"""The amount in a sealed roster body (``{"nik": ..., "p": payload}`` as compact JSON). Inside
a JSON string every ``"`` is escaped, so this matches only a real key; the payload's is the
only ``amount`` key and comes before every free-text field."""


def _by_subject(connection: Connection, column: sa.ColumnElement[str],
                ) -> sa.ColumnElement[str]:
    """Order by bytes on every backend (PostgreSQL would use the locale's collation)."""
    return column.collate("C") if connection.dialect.name == "postgresql" else column


def _roster_amounts(store: CentralStore, connection: Connection, version: int,
                    ) -> Iterator[tuple[str, str, int]]:
    """``(subject, kecamatan, amount)`` of every roster row of ``version``, by subject."""
    from blt_status.central.db import roster
    from blt_status.central.roster import visible_at
    from blt_status.central.store import _NONCE

    # One key for the whole pass: store.unseal derives it again for every row.
    cipher = AESGCM(store._state_key())
    query = (sa.select(roster.c.subject, roster.c.kecamatan, roster.c.sealed)
             .where(visible_at(version))
             .order_by(_by_subject(connection, roster.c.subject)))
    decrypt, search = cipher.decrypt, _AMOUNT.search
    for subject, kecamatan, sealed in connection.execute(
            query.execution_options(yield_per=5000)):
        try:
            body = decrypt(sealed[:_NONCE], sealed[_NONCE:], b"roster|" + subject.encode())
        except (InvalidTag, ValueError):
            raise CentralError("state_corrupt_db") from None
        found = search(body)  # the first "amount" key is the payload's (see _AMOUNT)
        yield subject, kecamatan, int(found.group(1) if found else
                                      json.loads(body)["p"]["amount"])


def _statuses(connection: Connection, epoch_id: str) -> Iterator[tuple[str, str]]:
    """``(subject, status)`` of every subject with events, by subject: the ledger's fold
    (:func:`blt_status.central.ledger.fold_status`) — events in (time, id) order, a
    ``salur`` or ``kembali`` is final."""
    from blt_status.central.db import payout_events

    events = payout_events.c
    query = (sa.select(events.subject, events.status).where(events.epoch_id == epoch_id)
             .order_by(_by_subject(connection, events.subject), events.occurred_at, events.id))
    subject: str | None = None
    status = "scheduled"
    final = ("collected", "returned")
    for row_subject, row_status in connection.execute(
            query.execution_options(yield_per=10000)):
        if row_subject != subject:
            if subject is not None:
                yield subject, status
            subject, status = row_subject, "scheduled"
        if status not in final:
            status = _STATUS.get(row_status, status)
    if subject is not None:
        yield subject, status


def _join(rows: Iterator[tuple[str, str, int]], statuses: Iterator[tuple[str, str]],
          ) -> Iterator[tuple[str, str, int]]:
    """Merge both streams (each ordered by subject): ``(kecamatan, status, amount)``."""
    pending = next(statuses, None)
    for subject, kecamatan, amount in rows:
        while pending is not None and pending[0] < subject:
            pending = next(statuses, None)
        status = pending[1] if pending is not None and pending[0] == subject else "scheduled"
        yield kecamatan, status, amount
