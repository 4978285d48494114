"""Where the progress report's inputs come from: the central database's roster and ledger.

:func:`load_snapshot` streams the roster rows of the published version (opening each sealed
row for its entitlement, payout mode and point name), the ledger's events and flags of that
version's key epoch, and counts them with :func:`blt_status.central.report.tally`. No NIK leaves
this module: recipients are keyed by ``subject``; a flagged payout shows at most the NIK's last
four digits.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from blt_status.central.db import (
    database_url,
    db_errors,
    open_engine,
    payout_events,
    roster,
    versions,
)
from blt_status.central.ledger import Ledger
from blt_status.central.report import (
    LEVELS,
    Outcome,
    Report,
    ReportRecipient,
    Tally,
    check_region,
    report_from_tally,
    tally_outcomes,
)
from blt_status.central.roster import visible_at
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["FlaggedPayout", "Snapshot", "change_marker", "flagged_per_kecamatan",
           "ledger_outcomes", "load_report", "load_snapshot"]


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
    marker: tuple[int, int]  # see :func:`change_marker`
    flagged: list[FlaggedPayout]


def change_marker(store: CentralStore) -> tuple[int, int]:
    """``(published version, the ledger's highest event id)``: moves when new data arrives.

    Two cheap queries (an index lookup): the dashboard polls it.
    """
    version = store.published_version()
    if version == 0:
        return (0, 0)
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        latest = connection.execute(sa.select(sa.func.max(payout_events.c.id))).scalar()
    return (version, int(latest or 0))


def _region_filter(region: str | None) -> sa.ColumnElement[bool]:
    if region is None:
        return sa.true()
    return sa.or_(roster.c.desa == region, roster.c.desa.startswith(region + "."))


def _aware(utc_naive: dt.datetime, offset_seconds: int) -> dt.datetime:
    zone = dt.timezone(dt.timedelta(seconds=offset_seconds))
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(zone)


def ledger_outcomes(connection: sa.Connection, epoch_id: str,
                    ) -> tuple[dict[str, Outcome], dt.datetime | None]:
    """Every subject's outcome folded by the database, and the latest payout time.

    The fold's rule in SQL: the first final event (``salur`` or ``kembali``, in
    ``(occurred_at, id)`` order) decides; without one, any ``gagal`` means held.
    """
    events = payout_events.c
    rank = sa.func.row_number().over(partition_by=events.subject,
                                     order_by=(events.occurred_at, events.id)).label("rank")
    finals = (sa.select(events.subject, events.status, events.occurred_at,
                        events.occurred_offset, events.amount, rank)
              .where(events.epoch_id == epoch_id, events.status.in_(("salur", "kembali")))
              .subquery())
    outcomes: dict[str, Outcome] = {}
    collected = Outcome("collected")
    query = sa.select(finals.c.subject, finals.c.status, finals.c.occurred_at,
                      finals.c.occurred_offset, finals.c.amount).where(finals.c.rank == 1)
    for subject, status, occurred, offset, amount in connection.execute(query):
        if status == "salur":
            outcomes[subject] = Outcome(collected.status, _aware(occurred, int(offset)),
                                        None if amount is None else int(amount))
        else:
            outcomes[subject] = _RETURNED
    held = (sa.select(events.subject).where(events.epoch_id == epoch_id,
                                            events.status == "gagal").distinct())
    for (subject,) in connection.execute(held):
        outcomes.setdefault(subject, _HELD)
    latest = connection.execute(
        sa.select(events.occurred_at, events.occurred_offset)
        .where(events.epoch_id == epoch_id)
        .order_by(events.occurred_at.desc()).limit(1)).first()
    return outcomes, _aware(latest[0], int(latest[1])) if latest is not None else None


_RETURNED = Outcome("returned")
_HELD = Outcome("held")


class _RowFacts:
    """What the report needs from a sealed roster row, cached by row id (rows never change:
    a changed recipient gets a new row). The cache lives in ``private/`` and holds no NIK,
    name or address: entitlement, payout mode and payout point name."""

    def __init__(self, store: CentralStore) -> None:
        self.store = store
        self.path = store.private_dir / "report_cache.sqlite"
        self.cipher = AESGCM(store._state_key())  # one key schedule for all rows

    def _open(self) -> sqlite3.Connection:
        fresh = not self.path.exists()
        connection = sqlite3.connect(self.path)
        if fresh:
            os.chmod(self.path, 0o600)
        connection.execute("create table if not exists facts (id integer primary key, "
                           "hash text not null, amount integer not null, mode text not null, "
                           "point text not null)")
        return connection

    def recipients(self, connection: sa.Connection, version: int,
                   region: str | None) -> Iterator[ReportRecipient]:
        query = (sa.select(roster.c.id, roster.c.subject, roster.c.desa, roster.c.point_id,
                           roster.c.payload_hash)
                 .where(visible_at(version), _region_filter(region)))
        rows = [tuple(row) for row in connection.execute(query)]
        cache = self._open()
        try:
            hashes = {row[0]: row[4] for row in rows}
            known: dict[int, tuple[int, str, str]] = {}
            for start in range(0, len(rows), 50_000):
                ids = [row[0] for row in rows[start:start + 50_000]]
                for key, content, amount, mode, point in cache.execute(
                        "select id, hash, amount, mode, point from facts where id between ? "
                        "and ?", (min(ids), max(ids))):
                    if hashes.get(key) == content:  # the same row of the same database
                        known[key] = (amount, mode, point)
            missing = [row[0] for row in rows if row[0] not in known]
            if missing:
                known.update(self._unseal(connection, missing, hashes, cache))
        finally:
            cache.close()
        make = ReportRecipient._make
        for row_id, subject, desa, point_id, _ in rows:
            amount, mode, point = known[row_id]
            yield make((subject, desa, point_id, point, amount, mode))

    def _unseal(self, connection: sa.Connection, ids: list[int], hashes: dict[int, str],
                cache: sqlite3.Connection) -> dict[int, tuple[int, str, str]]:
        found: dict[int, tuple[int, str, str]] = {}
        for start in range(0, len(ids), 900):
            chunk = ids[start:start + 900]
            query = sa.select(roster.c.id, roster.c.subject, roster.c.sealed).where(
                roster.c.id.in_(chunk))
            for row_id, subject, sealed in connection.execute(query):
                try:
                    body = json.loads(self.cipher.decrypt(sealed[:12], sealed[12:],
                                                          f"roster|{subject}".encode()))
                except (InvalidTag, ValueError):
                    raise CentralError("state_corrupt_db") from None
                payload = body["p"]
                point = payload.get("payout_point") or {}
                found[row_id] = (int(payload["amount"]), str(payload["schedule"]["mode"]),
                                 str(point.get("name", "")))
        cache.executemany("insert or replace into facts values (?, ?, ?, ?, ?)",
                          [(key, hashes[key], *value) for key, value in found.items()])
        cache.commit()
        return found


def load_snapshot(store: CentralStore, *, region: str | None = None) -> Snapshot:
    """Count the published roster and its epoch's ledger within ``region``."""
    marker = change_marker(store)
    version = marker[0]
    if version == 0:
        raise CentralError("report_nothing")
    url = database_url(store)
    with db_errors(url), open_engine(store).connect() as connection:
        info = connection.execute(sa.select(versions.c.epoch_id, versions.c.created_at)
                                  .where(versions.c.version == version)).first()
        if info is None:
            raise CentralError("report_nothing")
        epoch = str(info.epoch_id)
        stored_flags = list(Ledger(store).flags(epoch_id=epoch))
        outcomes, latest = ledger_outcomes(connection, epoch)
        counted = tally_outcomes(_RowFacts(store).recipients(connection, version, region),
                                 outcomes, stored_flags, region=region, latest=latest)
    published = info.created_at.replace(tzinfo=dt.UTC) if info.created_at.tzinfo is None \
        else info.created_at
    flagged = [FlaggedPayout(flag.event_id, flag.code, flag.severity, flag.nik_last4,
                             flag.point_id, flag.occurred_at, flag.kecamatan)
               for flag in stored_flags
               if region is None or (flag.kecamatan or "").startswith(region[:8])]
    return Snapshot(counted, version, counted.latest or published, marker, flagged)


def flagged_per_kecamatan(store: CentralStore, epoch_id: str | None = None) -> dict[str, int]:
    """Flagged payouts per kecamatan (for the public aggregates' ``totals.flagged``)."""
    counts: dict[str, set[int]] = {}
    for flag in Ledger(store).flags(epoch_id=epoch_id):
        if flag.kecamatan:
            counts.setdefault(flag.kecamatan, set()).add(flag.event_id)
    return {kecamatan: len(events) for kecamatan, events in sorted(counts.items())}


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
