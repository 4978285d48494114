"""Where the progress report's inputs come from: the central database's roster and ledger.

The report is counted by the database: ``GROUP BY`` over the roster rows of the published
version joined with each person's status from the ledger of that version's key epoch, read
from ``payout_outcomes`` (the deciding event per person, which every ledger append keeps:
:func:`blt_status.central.ledger.merge_outcomes`), so the ledger is not folded again. The
roster row's entitlement, payout mode and point name are plain columns (schema revision 0002):
nothing is unsealed, and no NIK, KK or name is read. :func:`load_report` asks for the rows of
one level; :func:`load_snapshot` for the (desa, payout point) leaves with their days, which
the admin dashboard turns into its tree. Flagged payouts show at most the NIK's last four
digits.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from blt_status.central.db import (
    database_url,
    db_errors,
    flags,
    open_engine,
    payout_events,
    payout_outcomes,
    roster,
    versions,
)
from blt_status.central.ledger import Ledger
from blt_status.central.report import (
    _CODE_LENGTH,
    LEVELS,
    REGION_DEPTH,
    Leaf,
    Report,
    ReportRow,
    Tally,
    assemble_report,
    check_region,
)
from blt_status.central.roster import visible_at
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["FlaggedPayout", "Snapshot", "change_marker", "flagged_per_kecamatan", "leaf_tally",
           "load_report", "load_snapshot"]


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


def _wib_day(connection: sa.Connection, utc_naive: sa.ColumnElement[dt.datetime],
             ) -> sa.ColumnElement[Any]:
    """The date in WIB (UTC+7) of a stored UTC time, as the database computes it."""
    if connection.dialect.name == "sqlite":
        return sa.func.date(utc_naive, "+7 hours")
    return sa.cast(utc_naive + sa.literal_column("interval '7 hours'", sa.Interval), sa.Date)


def _as_date(value: object) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value))


def _recipients(connection: sa.Connection, version: int, region: str | None,
                keys: Sequence[sa.ColumnElement[Any]],
                extra: Sequence[sa.ColumnElement[Any]] = ()) -> list[tuple[Any, ...]]:
    """The roster of ``version`` within ``region`` counted per ``keys``:
    ``(*keys, *extra, recipients, entitled)``."""
    query = (sa.select(*keys, *extra, sa.func.count(), sa.func.sum(roster.c.amount))
             .where(visible_at(version), _region_filter(region))
             .group_by(*_positions(len(keys))))
    return [tuple(row) for row in connection.execute(query)]


def _recipients_and_modes(connection: sa.Connection, version: int, region: str | None,
                          keys: Sequence[sa.ColumnElement[Any]], with_name: bool,
                          ) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The roster of ``version`` within ``region`` counted per ``keys`` and per payout mode,
    in one pass over the roster: ``([(*keys, [point name,] recipients, entitled)],
    [(mode, recipients, entitled)])``.

    The roster is grouped per (keys, mode) once; a ``UNION ALL`` then sums those groups per
    ``keys`` and per mode, so what is fetched is a row per region of the level and one per
    mode, not one per (region, mode) pair (a quarter of a million at desa level)."""
    name = [sa.func.max(roster.c.point_name).label("name")] if with_name else []
    grouped = (sa.select(*(key.label(f"k{index}") for index, key in enumerate(keys)),
                         roster.c.mode.label("mode"), *name,
                         sa.func.count().label("n"), sa.func.sum(roster.c.amount).label("e"))
               .where(visible_at(version), _region_filter(region))
               .group_by(*_positions(len(keys) + 1)).cte("grouped"))
    key_columns = [grouped.c[f"k{index}"] for index in range(len(keys))]
    sums = [sa.func.sum(grouped.c.n), sa.func.sum(grouped.c.e)]
    per_key: list[sa.ColumnElement[Any]] = [
        sa.literal_column("0"), *key_columns, sa.null(),
        *([sa.func.max(grouped.c.name)] if with_name else []), *sums]
    per_mode: list[sa.ColumnElement[Any]] = [
        sa.literal_column("1"), *(sa.null() for _ in keys), grouped.c.mode,
        *([sa.null()] if with_name else []), *sums]
    query = sa.union_all(sa.select(*per_key).group_by(*key_columns),
                         sa.select(*per_mode).group_by(grouped.c.mode))
    rows: list[tuple[Any, ...]] = []
    modes: list[tuple[Any, ...]] = []
    for found in connection.execute(query):
        if found[0] == 0:
            rows.append((*found[1:len(keys) + 1], *found[len(keys) + 2:]))
        else:
            modes.append((found[len(keys) + 1], *found[-2:]))
    return rows, modes


_people_metadata = sa.MetaData()
# One row per person of the roster with a ledger status, for the length of one count: the
# join of ``payout_outcomes`` with the roster runs once, and every GROUP BY after that reads
# these narrow rows (a connection's own temporary table: nothing is written to the store).
people = sa.Table(
    "report_people", _people_metadata,
    sa.Column("desa", sa.String(20)),
    sa.Column("point", sa.String(64)),  # payout point id, "-" without one
    sa.Column("mode", sa.String(16)),
    sa.Column("status", sa.String(16)),  # the deciding event: salur | gagal | kembali
    sa.Column("paid", sa.BigInteger),  # salur: the amount the payer reported, else entitled
    sa.Column("day", sa.Date),  # salur: the day paid out (WIB)
    prefixes=["TEMPORARY"],
)
_DROP_PEOPLE = "DROP TABLE IF EXISTS report_people"


@contextlib.contextmanager
def _people(connection: sa.Connection, epoch_id: str, version: int,
            region: str | None) -> Iterator[sa.Table]:
    """:data:`people` filled for the roster of ``version`` within ``region``.

    Driven by the people with events (``payout_outcomes`` of the epoch), each found by the
    roster's subject index; the ones without events are the pending (recipients minus the
    rest).
    """
    outcome = payout_outcomes.c
    collected = outcome.status == "salur"
    query = (sa.select(roster.c.desa, _point_code(), roster.c.mode, outcome.status,
                       sa.case((collected, sa.func.coalesce(outcome.amount, roster.c.amount))),
                       sa.case((collected, _wib_day(connection, outcome.occurred_at))))
             .select_from(payout_outcomes.join(roster, roster.c.subject == outcome.subject))
             .where(outcome.epoch_id == epoch_id, visible_at(version),
                    _region_filter(region)))
    connection.exec_driver_sql(_DROP_PEOPLE)
    people.create(connection)
    try:
        connection.execute(people.insert().from_select(
            ["desa", "point", "mode", "status", "paid", "day"], query))
        yield people
    finally:
        connection.rollback()  # PostgreSQL: the table goes with the transaction
        connection.exec_driver_sql(_DROP_PEOPLE)  # SQLite: it outlives it
        connection.commit()


def _outcomes(connection: sa.Connection, keys: Sequence[sa.ColumnElement[Any]],
              ) -> list[tuple[Any, ...]]:
    """The people with a ledger status counted per ``keys`` (columns of :data:`people`):
    ``(*keys, collected, collected_amount, held, returned)``."""
    status = people.c.status

    def count(value: str) -> sa.ColumnElement[Any]:
        return sa.func.sum(sa.case((status == value, 1), else_=0))

    query = (sa.select(*keys, count("salur"), sa.func.sum(people.c.paid), count("gagal"),
                       count("kembali"))
             .group_by(*_positions(len(keys))))
    return [tuple(row) for row in connection.execute(query)]


def _positions(count: int) -> list[sa.ColumnElement[Any]]:
    """``GROUP BY 1, 2, ...``: the key expressions carry bound values (``substr(desa, 1, 5)``),
    which PostgreSQL does not see as equal when they are written out twice."""
    return [sa.literal_column(str(index)) for index in range(1, count + 1)]


def _row_of(code: str, recipients: Any, entitled: Any) -> ReportRow:
    return ReportRow(code, "", int(recipients), int(entitled or 0), pending=int(recipients))


def _settle(row: ReportRow, counts: Sequence[Any]) -> None:
    """Add ``(collected, collected_amount, held, returned)`` to ``row`` (out of pending)."""
    collected, paid, held, returned = (int(value or 0) for value in counts)
    row.collected += collected
    row.collected_amount += paid
    row.held += held
    row.returned += returned
    row.pending -= collected + held + returned


def _flagged(connection: sa.Connection, epoch_id: str, version: int, region: str | None,
             keys: Sequence[sa.ColumnElement[Any]]) -> list[tuple[Any, ...]]:
    """Flagged payouts (distinct flagged events of the people counted) per ``keys``."""
    flagged = (sa.select(payout_events.c.subject, flags.c.event_id)
               .join(payout_events, payout_events.c.id == flags.c.event_id)
               .where(payout_events.c.epoch_id == epoch_id).distinct().subquery("flagged"))
    query = (sa.select(*keys, sa.func.count())
             .select_from(roster.join(flagged, flagged.c.subject == roster.c.subject))
             .where(visible_at(version), _region_filter(region))
             .group_by(*_positions(len(keys))))
    return [tuple(row) for row in connection.execute(query)]


def _latest_event(connection: sa.Connection, epoch_id: str) -> dt.datetime | None:
    latest = connection.execute(
        sa.select(payout_events.c.occurred_at, payout_events.c.occurred_offset)
        .where(payout_events.c.epoch_id == epoch_id)
        .order_by(payout_events.c.occurred_at.desc()).limit(1)).first()
    return _aware(latest[0], int(latest[1])) if latest is not None else None


def _published(connection: sa.Connection, version: int) -> tuple[str, dt.datetime]:
    info = connection.execute(sa.select(versions.c.epoch_id, versions.c.created_at)
                              .where(versions.c.version == version)).first()
    if info is None:
        raise CentralError("report_nothing")
    created = info.created_at
    return str(info.epoch_id), created.replace(tzinfo=dt.UTC) if created.tzinfo is None \
        else created


def _point_code() -> sa.ColumnElement[Any]:
    return sa.func.coalesce(roster.c.point_id, "-")


def leaf_tally(connection: sa.Connection, epoch_id: str, version: int,
               region: str | None = None) -> Tally:
    """The roster and the ledger counted per (desa, payout point), with days and modes."""
    desa, point = roster.c.desa, _point_code()
    leaves: dict[tuple[str, str], Leaf] = {}
    point_names: dict[str, str] = {}
    for code, point_id, mode, name, recipients, entitled in _recipients(
            connection, version, region, (desa, point, roster.c.mode),
            (sa.func.max(roster.c.point_name),)):
        leaf = leaves.get((code, point_id))
        if leaf is None:
            leaf = leaves[(code, point_id)] = Leaf(ReportRow(point_id, ""), code, point_id)
        leaf.row.add(_row_of(point_id, recipients, entitled))
        leaf.modes[mode] = [int(recipients), 0, 0]
        if name and point_id not in point_names:
            point_names[point_id] = name
    with _people(connection, epoch_id, version, region) as found:
        for code, point_id, mode, *counts in _outcomes(
                connection, (found.c.desa, found.c.point, found.c.mode)):
            leaf = leaves[(code, point_id)]
            _settle(leaf.row, counts)
            leaf.modes[mode][1:] = [int(counts[0] or 0), int(counts[1] or 0)]
        for code, point_id, day, collected, *_rest in _outcomes(
                connection, (found.c.desa, found.c.point, found.c.day)):
            if day is not None:
                leaves[(code, point_id)].days[_as_date(day)] = int(collected)
    for code, point_id, count in _flagged(connection, epoch_id, version, region,
                                          (desa, point)):
        leaves[(code, point_id)].row.flagged += int(count)
    return Tally(leaves, point_names, _latest_event(connection, epoch_id))


def load_snapshot(store: CentralStore, *, region: str | None = None) -> Snapshot:
    """Count the published roster and its epoch's ledger within ``region``, per leaf."""
    marker = change_marker(store)
    version = marker[0]
    if version == 0:
        raise CentralError("report_nothing")
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        epoch, published = _published(connection, version)
        counted = leaf_tally(connection, epoch, version, region)
    stored_flags = Ledger(store).flags(epoch_id=epoch)
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
    """The report of the store's current data at ``level`` within ``region``.

    Counted per row of ``level`` by the database (``GROUP BY`` over the roster, and over the
    people with a ledger status; the same per payout mode and day; the flags): what reaches
    Python is a few rows per region of the level, never a row per person.
    """
    if level not in LEVELS:
        raise CentralError("report_level", level=level, levels=", ".join(LEVELS))
    version = store.published_version()
    if version == 0:
        raise CentralError("report_nothing")
    region = check_region(level, region)
    depth = REGION_DEPTH.get(level)
    code = _point_code() if depth is None else sa.func.substr(roster.c.desa, 1,
                                                              _CODE_LENGTH[depth])
    province = sa.func.substr(roster.c.desa, 1, 2)
    # A payout point can serve two provinces: its row is counted per province for the map.
    keys = (code, province) if depth is None else (code,)
    parts: dict[tuple[Any, ...], ReportRow] = {}
    rows: dict[str, ReportRow] = {}
    provinces: dict[str, ReportRow] = {}
    point_names: dict[str, str] = {}
    mode_counts: dict[str, list[int]] = {}
    day_counts: dict[dt.date, int] = {}
    with db_errors(database_url(store)), open_engine(store).connect() as connection:
        epoch, published = _published(connection, version)
        # One pass over the roster: per row of the level, and per payout mode.
        found_rows, found_modes = _recipients_and_modes(connection, version, region, keys,
                                                        with_name=depth is None)
        for found in found_rows:
            key = tuple(found[:len(keys)])
            if depth is None and found[-3]:
                point_names.setdefault(key[0], found[-3])
            parts[key] = _row_of(key[0], found[-2], found[-1])
        for mode, recipients, _entitled in found_modes:
            mode_counts.setdefault(mode, [0, 0, 0])[0] += int(recipients)
        with _people(connection, epoch, version, region) as counted:
            person_code = counted.c.point if depth is None else sa.func.substr(
                counted.c.desa, 1, _CODE_LENGTH[depth])
            person_keys = ((person_code, sa.func.substr(counted.c.desa, 1, 2))
                           if depth is None else (person_code,))
            for found in _outcomes(connection, person_keys):
                _settle(parts[found[:len(keys)]], found[len(keys):])
            # Per payout mode, and per day collected (WIB).
            for mode, collected_on, collected, paid, *_rest in _outcomes(
                    connection, (counted.c.mode, counted.c.day)):
                mode_counts[mode][1] += int(collected)
                mode_counts[mode][2] += int(paid or 0)
                if collected_on is not None:
                    when = _as_date(collected_on)
                    day_counts[when] = day_counts.get(when, 0) + int(collected)
        for key, part in parts.items():
            rows.setdefault(key[0], ReportRow(key[0], "")).add(part)
            province_code = key[1] if depth is None else key[0][:2]
            provinces.setdefault(province_code, ReportRow(province_code, "")).add(part)
        for found in _flagged(connection, epoch, version, region, (code,)):
            rows[found[0]].flagged += int(found[1])
        latest = _latest_event(connection, epoch)
    return assemble_report(rows, provinces, day_counts, mode_counts, point_names, level=level,
                           region=region, as_of=latest or published, version=version)
