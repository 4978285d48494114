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
from collections.abc import Iterator
from dataclasses import dataclass

import sqlalchemy as sa

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
    Report,
    ReportRecipient,
    Tally,
    check_region,
    report_from_tally,
    tally,
)
from blt_status.central.roster import visible_at
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["FlaggedPayout", "Snapshot", "change_marker", "flagged_per_kecamatan", "load_report",
           "load_snapshot"]


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


def _recipients(store: CentralStore, connection: sa.Connection, version: int,
                region: str | None) -> Iterator[ReportRecipient]:
    """The roster of ``version`` within ``region``: only what the report counts is kept."""
    query = (sa.select(roster.c.subject, roster.c.desa, roster.c.point_id, roster.c.sealed)
             .where(visible_at(version), _region_filter(region)))
    result = connection.execution_options(yield_per=5000).execute(query)
    for row in result:
        body = json.loads(store.unseal(row.sealed, f"roster|{row.subject}".encode()))
        payload = body["p"]
        point = payload.get("payout_point") or {}
        yield ReportRecipient(row.subject, row.desa, row.point_id, str(point.get("name", "")),
                              int(payload["amount"]), str(payload["schedule"]["mode"]))


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
        ledger = Ledger(store)
        stored_flags = list(ledger.flags(epoch_id=epoch))
        counted = tally(_recipients(store, connection, version, region),
                        ledger.events(epoch_id=epoch), stored_flags, region=region)
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
