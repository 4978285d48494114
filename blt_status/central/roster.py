"""The published roster: who is in which version, sealed in the database, read per kecamatan.

A roster row holds the NIK and the planned officer-view payload sealed under the state key,
plus what needs no secret: the subject, the NIK's last four digits, kecamatan, desa, payout
point, a keyed hash of the sealed content (to see a change without unsealing), and what the
progress report counts (entitlement, payout mode, payout point name). Rows are
temporal: one is part of version ``v`` when ``valid_from <= v`` and (``valid_to`` is null or
``valid_to > v``); a publish closes the rows of removed or changed recipients and adds new ones,
and leaves every unchanged row alone.

What a device sees is the roster's payload with the ledger's status
(:func:`blt_status.central.ledger.with_outcome`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blt_status.central.db import database_url, db_errors, open_engine, roster, versions
from blt_status.central.ledger import outcomes_in, with_outcome
from blt_status.records import RecordPayload

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

__all__ = [
    "RosterEntry",
    "SealedRow",
    "current_roster",
    "roster_counts",
    "roster_row",
    "unseal_row",
    "visible_at",
]


@dataclass(frozen=True)
class RosterEntry:
    """One recipient of a published version, with the status from roster + ledger."""

    subject: str
    nik_digits: str = field(repr=False)  # only from the sealed roster, for push/lists
    nik_last4: str
    kecamatan: str  # "32.01.01"
    desa: str  # "32.01.01.2001" (kode_wilayah of residence)
    point_id: str | None
    payload: RecordPayload = field(repr=False)  # officer view


@dataclass(frozen=True)
class SealedRow:
    """A roster row opened: the NIK and the planned payload (status as planned)."""

    id: int
    subject: str
    nik_digits: str = field(repr=False)
    kecamatan: str
    payload: RecordPayload = field(repr=False)
    payload_hash: str


def visible_at(version: int) -> sa.ColumnElement[bool]:
    """The rows that are part of ``version``."""
    return sa.and_(roster.c.valid_from <= version,
                   sa.or_(roster.c.valid_to.is_(None), roster.c.valid_to > version))


def _aad(subject: str) -> bytes:
    return f"roster|{subject}".encode()


def content_hash(store: CentralStore, kecamatan: str, payload: RecordPayload) -> str:
    return store.keyed_hash(kecamatan.encode() + b"|" + payload.to_bytes())


def roster_row(store: CentralStore, subject: str, nik_digits: str, kecamatan: str,
               payload: RecordPayload, *, version: int,
               payload_hash: str | None = None,
               source_hash: str | None = None) -> dict[str, Any]:
    """The values of a new roster row (valid from ``version``)."""
    body = json.dumps({"nik": nik_digits, "p": payload.to_dict()},
                      separators=(",", ":")).encode()
    point = payload.payout_point
    return {"subject": subject, "nik_last4": nik_digits[-4:], "kecamatan": kecamatan,
            "desa": payload.kode_wilayah, "point_id": point.id if point else None,
            "payload_hash": payload_hash or content_hash(store, kecamatan, payload),
            "sealed": store.seal(body, _aad(subject)), "valid_from": version, "valid_to": None,
            # what the progress report counts, in plain (no person is named by these)
            "amount": payload.amount, "mode": payload.schedule.mode,
            "point_name": point.name if point else "",
            # what the payload was made from (plan.StreamedPlan.source_of), if known
            "source_hash": source_hash}


def unseal_row(store: CentralStore, row: Any) -> SealedRow:
    data = json.loads(store.unseal(row.sealed, _aad(row.subject)))
    return SealedRow(int(row.id), row.subject, str(data["nik"]), row.kecamatan,
                     RecordPayload.from_dict(data["p"]), row.payload_hash)


def version_epoch(connection: Connection, version: int) -> str | None:
    return connection.execute(sa.select(versions.c.epoch_id)
                              .where(versions.c.version == version)).scalar()


def kecamatan_at(connection: Connection, version: int) -> list[str]:
    query = sa.select(roster.c.kecamatan).where(visible_at(version)).distinct()
    return sorted(row.kecamatan for row in connection.execute(query))


def sealed_rows(store: CentralStore, connection: Connection, version: int,
                kecamatan: str) -> list[SealedRow]:
    query = sa.select(roster).where(visible_at(version), roster.c.kecamatan == kecamatan)
    rows = [unseal_row(store, row) for row in connection.execute(query)]
    rows.sort(key=lambda row: row.nik_digits)
    return rows


def current_roster(store: CentralStore, *, version: int | None = None,
                   kecamatan: str | None = None) -> Iterator[RosterEntry]:
    """The roster of ``version`` (default: the published one) with statuses, per kecamatan.

    Memory holds one kecamatan at a time.
    """
    version = store.published_version() if version is None else version
    if version == 0:
        return
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        epoch = version_epoch(connection, version)
        chosen = [kecamatan] if kecamatan is not None else kecamatan_at(connection, version)
        for kec in chosen:
            rows = sealed_rows(store, connection, version, kec)
            outcomes = outcomes_in(connection, epoch, [row.subject for row in rows]) \
                if epoch else {}
            for row in rows:
                payload = row.payload
                if row.subject in outcomes:
                    payload = with_outcome(payload, outcomes[row.subject])
                yield RosterEntry(row.subject, row.nik_digits, row.nik_digits[-4:], kec,
                                  payload.kode_wilayah,
                                  payload.payout_point.id if payload.payout_point else None,
                                  payload)


def roster_counts(store: CentralStore, *, version: int | None = None) -> dict[str, int]:
    """Recipients per kecamatan of ``version`` (default: the published one), without unsealing."""
    version = store.published_version() if version is None else version
    query = sa.select(roster.c.kecamatan, sa.func.count()).where(visible_at(version)) \
        .group_by(roster.c.kecamatan)
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        return {row[0]: int(row[1]) for row in sorted(connection.execute(query))}
