"""The payout ledger: every payout fact (a report row or an API feedback), appended, never changed.

A record's status is computed from the roster and the ledger (:func:`fold_status`), at publish
and at ingest alike, so any order of publishes and ingests gives the same statuses, and a
recipient removed from the roster keeps their events (and gets them back if re-added).

Rows are keyed by ``subject`` (see :func:`blt_status.central.db.subject_of`) and the last four
digits of the NIK; the payer's free text (``note``) is sealed and never leaves the ledger.
Appending the same fact again (same ``source``, ``source_ref``, ``row_ref``) is a no-op; and a
report row whose fact the ledger already holds (:func:`recorded_facts`: the same person,
status, moment and point, from a report or the API) is one too, so a report re-saved by a
spreadsheet (a BOM, CRLF line ends: another file hash), sent again inside a cumulative report,
or repeating the payer's API answers at the month's end adds nothing.

Each append also merges its events into ``payout_outcomes`` (one row per epoch and subject:
the event that decides the status), in the same transaction, so the progress report counts
people without folding the ledger again (:func:`merge_outcomes`, :func:`rebuild_outcomes`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from blt_status.central.db import (
    ANALYZE_AFTER_ROWS,
    database_url,
    db_errors,
    flags,
    open_engine,
    payout_events,
    payout_outcomes,
    refresh_statistics,
    roster,
    subject_of,
)
from blt_status.records import RecordPayload

_FLAGS_TABLE = flags  # Ledger.append's ``flags`` argument hides the table's name there

if TYPE_CHECKING:
    from blt_status.central.store import CentralStore

__all__ = [
    "EVENT_STATUSES",
    "FINAL_STATUSES",
    "AppendResult",
    "Flag",
    "Ledger",
    "Outcome",
    "PayoutEvent",
    "StoredEvent",
    "StoredFlag",
    "fold_status",
    "member_chunks",
    "merge_outcomes",
    "outcome_select",
    "rebuild_outcomes",
    "recorded_facts",
    "with_outcome",
]

EVENT_STATUSES = {"salur": "collected", "gagal": "held", "kembali": "returned"}
FINAL_STATUSES = frozenset({"collected", "returned"})
SOURCES = ("csv", "api", "migrated")
_CHUNK = 500


@dataclass(frozen=True)
class PayoutEvent:
    """One payout fact from a CSV report row or an API DisburseResponse."""

    nik_digits: str = field(repr=False)  # never stored in clear
    status: str  # "salur" | "gagal" | "kembali"
    occurred_at: dt.datetime  # timezone-aware: the payout time
    point_id: str  # id_titik where it happened
    source: str  # "csv" | "api"
    source_ref: str  # csv: sha256 hex of the report file; api: header.message_id
    row_ref: str  # csv: the line number as text; api: reference_id
    reason_code: str | None = None  # closed list; None for salur
    note: str = field(default="", repr=False)  # payer's free text: stored sealed only
    amount: int | None = None  # rupiah, when the source says it


@dataclass(frozen=True)
class StoredEvent:
    """A ledger row as read back (no NIK)."""

    id: int
    epoch_id: str
    subject: str
    nik_last4: str
    status: str
    occurred_at: dt.datetime
    point_id: str
    source: str
    source_ref: str
    row_ref: str
    reason_code: str | None
    amount: int | None
    received_at: dt.datetime


@dataclass
class AppendResult:
    appended: list[StoredEvent]  # new rows
    duplicates: int  # already in the ledger (same source, source_ref, row_ref): no-op


@dataclass(frozen=True)
class Flag:
    """A finding about an accepted event (the rules are payouts.check_feedback's)."""

    code: str
    severity: str  # "low" | "medium" | "high"
    detail: str  # English, no personal data


@dataclass(frozen=True)
class StoredFlag:
    id: int
    event_id: int
    code: str
    severity: str
    detail: str
    subject: str
    nik_last4: str
    point_id: str
    occurred_at: dt.datetime
    kecamatan: str | None


@dataclass(frozen=True)
class Outcome:
    """A record's payout status from its ledger events."""

    status: str = "scheduled"  # scheduled | collected | held | returned
    collected_at: dt.datetime | None = None
    collected_point_id: str | None = None
    reason_code: str | None = None


def fold_status(events: Iterable[StoredEvent]) -> Outcome:
    """Status = roster + ledger: apply events in (occurred_at, id) order.

    ``salur`` -> collected (final), ``gagal`` -> held, ``kembali`` -> returned (final); an event
    after a final one changes nothing.
    """
    outcome = Outcome()
    for event in sorted(events, key=lambda item: (item.occurred_at, item.id)):
        if outcome.status in FINAL_STATUSES:
            break
        status = EVENT_STATUSES.get(event.status)
        if status == "collected":
            outcome = Outcome("collected", event.occurred_at, event.point_id, None)
        elif status is not None:
            outcome = Outcome(status, None, None, event.reason_code or "lainnya")
    return outcome


def with_outcome(payload: RecordPayload, outcome: Outcome) -> RecordPayload:
    """The payload devices get: the roster's payload with the ledger's status.

    Without events the roster's payload is published as it is. The reason code (never the
    payer's free text) becomes the record's note.
    """
    if outcome.status == "scheduled":
        return payload
    return replace(payload, status=outcome.status, collected_at=outcome.collected_at,
                   collected_point_id=outcome.collected_point_id,
                   reason_code=outcome.reason_code, status_note=None)


def _utc_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is None:
        raise ValueError("payout times must be timezone-aware")
    return moment.astimezone(dt.UTC).replace(tzinfo=None)


def _aware(utc_naive: dt.datetime, offset_seconds: int = 0) -> dt.datetime:
    zone = dt.UTC if offset_seconds == 0 else dt.timezone(dt.timedelta(seconds=offset_seconds))
    return utc_naive.replace(tzinfo=dt.UTC).astimezone(zone)


def _stored(row: Any) -> StoredEvent:
    return StoredEvent(int(row.id), row.epoch_id, row.subject, row.nik_last4, row.status,
                       _aware(row.occurred_at, int(row.occurred_offset)), row.point_id,
                       row.source, row.source_ref, row.row_ref, row.reason_code,
                       None if row.amount is None else int(row.amount),
                       _aware(row.received_at))


def member_chunks(connection: Connection, column: sa.ColumnElement[Any],
                  values: Sequence[Any]) -> Iterator[sa.ColumnElement[bool]]:
    """``column IN values`` as conditions to run one query each.

    On PostgreSQL one ``column = ANY(:array)``: one parameter, a statement whose text does not
    depend on the number of values (the driver parses and the server plans it once). On
    SQLite ``IN (...)`` chunks of at most 500 values (its limit on parameters).
    """
    if not values:
        return
    if connection.dialect.name == "postgresql":
        yield column == sa.any_(sa.bindparam(None, list(values),
                                             type_=postgresql.ARRAY(column.type)))
        return
    for start in range(0, len(values), _CHUNK):
        yield column.in_(values[start:start + _CHUNK])


def _stored_row(event_id: int, row: Mapping[str, Any]) -> StoredEvent:
    """The :class:`StoredEvent` of a row this call inserted (its values as sent, its new id):
    RETURNING brings back only the id and the reference, not every column."""
    return StoredEvent(event_id, row["epoch_id"], row["subject"], row["nik_last4"],
                       row["status"], _aware(row["occurred_at"], row["occurred_offset"]),
                       row["point_id"], row["source"], row["source_ref"], row["row_ref"],
                       row["reason_code"], None if row["amount"] is None else int(row["amount"]),
                       _aware(row["received_at"]))


_RETURNED = (payout_events.c.id, payout_events.c.source, payout_events.c.source_ref,
             payout_events.c.row_ref)


def _insert_ignoring_duplicates(connection: Connection) -> Any:
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    return dialect.insert(payout_events).on_conflict_do_nothing(
        index_elements=["source", "source_ref", "row_ref"])


# PostgreSQL: one statement whose text does not grow with the batch, one array per column.
# The multi-row VALUES form costs the driver (and the server's parser) time per parameter:
# 15 per row, about 70 ms per 1,000 rows, most of an ingest. The arrays are sent in binary
# (``%(name)b``): psycopg's text form of an array quotes element by element in Python (about
# 8 ms per column of 1,000), its binary form about 1 ms.
# ``WITH ORDINALITY ... ORDER BY`` inserts in the batch's order, so within a batch the first of
# two rows with the same (source, source_ref, row_ref) is the one kept (as in the VALUES form),
# and ids grow in batch order. A None element is NULL.
_ARRAY_TYPES = {
    "epoch_id": "varchar", "subject": "varchar", "nik_last4": "varchar", "status": "varchar",
    "occurred_at": "timestamp", "occurred_offset": "integer", "point_id": "varchar",
    "source": "varchar", "source_ref": "varchar", "row_ref": "varchar",
    "reason_code": "varchar", "amount": "bigint", "note": "bytea", "received_at": "timestamp",
}
_UNNEST_INSERT = (
    "INSERT INTO payout_events ({columns}) SELECT {columns} FROM unnest({arrays}) "
    "WITH ORDINALITY AS batch({columns}, ord) ORDER BY ord "
    "ON CONFLICT (source, source_ref, row_ref) DO NOTHING RETURNING {returning}".format(
        columns=", ".join(_ARRAY_TYPES),
        arrays=", ".join(f"%({name})b::{kind}[]" for name, kind in _ARRAY_TYPES.items()),
        returning=", ".join(column.name for column in _RETURNED)))


def _column_arrays(rows: Sequence[Mapping[str, Any]],
                   columns: Iterable[str] = _ARRAY_TYPES) -> dict[str, list[Any]]:
    """Row dicts -> one list per column (psycopg sends each as an array; None is NULL)."""
    return {name: [row[name] for row in rows] for name in columns}


# -- the deciding event per person (payout_outcomes) ------------------------------------------

# The fold of ``fold_status`` as a merge of two rows of ``payout_outcomes`` (the one stored and
# the one a batch brings): a final event (salur, kembali) beats "gagal", and of two final
# events the earlier in (occurred_at, id) order wins; "gagal" never replaces anything. The
# merge is commutative and associative, so batches may arrive in any order, and on PostgreSQL
# two transactions merging the same person serialise on the row's lock (ON CONFLICT DO UPDATE
# re-reads the committed row) and neither's event is lost.
_MERGE_OUTCOME = (
    "ON CONFLICT (epoch_id, subject) DO UPDATE SET status = excluded.status, "
    "occurred_at = excluded.occurred_at, event_id = excluded.event_id, "
    "amount = excluded.amount WHERE excluded.status <> 'gagal' AND "
    "(payout_outcomes.status = 'gagal' OR (excluded.occurred_at, excluded.event_id) < "
    "(payout_outcomes.occurred_at, payout_outcomes.event_id))")
_OUTCOME_TYPES = {"epoch_id": "varchar", "subject": "varchar", "status": "varchar",
                  "occurred_at": "timestamp", "event_id": "bigint", "amount": "bigint"}
_OUTCOME_COLUMNS = ", ".join(_OUTCOME_TYPES)
_OUTCOME_UNNEST = (
    f"INSERT INTO payout_outcomes ({_OUTCOME_COLUMNS}) SELECT {_OUTCOME_COLUMNS} FROM unnest("
    + ", ".join(f"%({name})b::{kind}[]" for name, kind in _OUTCOME_TYPES.items())
    + f") AS batch({_OUTCOME_COLUMNS}) " + _MERGE_OUTCOME)
_OUTCOME_VALUES = sa.text(
    f"INSERT INTO payout_outcomes ({_OUTCOME_COLUMNS}) VALUES ("
    + ", ".join(f":{name}" for name in _OUTCOME_TYPES) + ") " + _MERGE_OUTCOME,
).bindparams(sa.bindparam("occurred_at", type_=sa.DateTime))


def _decider(event_id: int, row: Mapping[str, Any]) -> dict[str, Any]:
    final = row["status"] != "gagal"
    return {"epoch_id": row["epoch_id"], "subject": row["subject"], "status": row["status"],
            "occurred_at": row["occurred_at"] if final else None,
            "event_id": event_id if final else None,
            "amount": row["amount"] if final else None}


def merge_outcomes(connection: Connection,
                   events: Iterable[tuple[int, Mapping[str, Any]]]) -> None:
    """Merge newly inserted ledger rows (``(id, row)``, ``occurred_at`` in UTC) into
    ``payout_outcomes``, inside the caller's transaction.

    The batch is folded per person first (a statement may touch a row only once), then sent
    in subject order (two writers lock rows in the same order: no deadlock).
    """
    best: dict[tuple[str, str], dict[str, Any]] = {}
    for event_id, row in events:
        candidate = _decider(event_id, row)
        key = (candidate["epoch_id"], candidate["subject"])
        current = best.get(key)
        if current is None or (candidate["status"] != "gagal" and (
                current["status"] == "gagal"
                or (candidate["occurred_at"], event_id)
                < (current["occurred_at"], current["event_id"]))):
            best[key] = candidate
    if not best:
        return
    merged = [best[key] for key in sorted(best)]
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(_OUTCOME_UNNEST, _column_arrays(merged, _OUTCOME_TYPES))
    else:
        connection.execute(_OUTCOME_VALUES, merged)


def outcome_select(epoch_id: str | None = None) -> sa.Select[Any]:
    """The rows of ``payout_outcomes`` folded from the ledger itself (of one epoch, or all).

    The rule of :func:`fold_status` in SQL: one window over the events per person, the final
    events ranked first, then by ``(occurred_at, id)``; the first row decides.
    """
    events = payout_events.c
    final = events.status.in_(("salur", "kembali"))
    rank = sa.func.row_number().over(
        partition_by=(events.epoch_id, events.subject),
        order_by=(sa.case((final, 0), else_=1), events.occurred_at, events.id))
    ranked = sa.select(events.epoch_id, events.subject, events.status, events.occurred_at,
                       events.id, events.amount, rank.label("rank"))
    if epoch_id is not None:
        ranked = ranked.where(events.epoch_id == epoch_id)
    first = ranked.subquery("ranked")
    final_row = first.c.status != "gagal"
    return (sa.select(first.c.epoch_id, first.c.subject, first.c.status,
                      sa.case((final_row, first.c.occurred_at)).label("occurred_at"),
                      sa.case((final_row, first.c.id)).label("event_id"),
                      sa.case((final_row, first.c.amount)).label("amount"))
            .where(first.c.rank == 1))


def rebuild_outcomes(connection: Connection, epoch_id: str | None = None) -> int:
    """Refold ``payout_outcomes`` from the ledger (of one epoch, or all); rows written.

    For ledger rows written without :meth:`Ledger.append` (a bulk load): the table is derived,
    so it can always be made again."""
    delete = payout_outcomes.delete()
    if epoch_id is not None:
        delete = delete.where(payout_outcomes.c.epoch_id == epoch_id)
    connection.execute(delete)
    result = connection.execute(payout_outcomes.insert().from_select(
        list(_OUTCOME_TYPES), outcome_select(epoch_id)))
    return int(result.rowcount or 0)


class Ledger:
    """The append-only payout ledger of one central store."""

    def __init__(self, store: CentralStore) -> None:
        self.store = store
        self.url = database_url(store)

    @property
    def engine(self) -> sa.Engine:
        return open_engine(self.store)

    def append(self, events: Sequence[PayoutEvent], *, epoch_id: str,
               received_at: dt.datetime | None = None,
               flags: Mapping[int, Sequence[Flag]] | None = None) -> AppendResult:
        """Append ``events`` in one transaction; ones already in the ledger are skipped."""
        with db_errors(self.url), self.engine.begin() as connection:
            result = self.append_in(connection, events, epoch_id=epoch_id,
                                    received_at=received_at, flags=flags)
        if len(result.appended) >= ANALYZE_AFTER_ROWS:  # the ingest's publish reads them next
            refresh_statistics(self.engine, payout_events, payout_outcomes, _FLAGS_TABLE)
        return result

    def append_in(self, connection: Connection, events: Sequence[PayoutEvent], *,
                  epoch_id: str, received_at: dt.datetime | None = None,
                  flags: Mapping[int, Sequence[Flag]] | None = None) -> AppendResult:
        """:meth:`append` inside the caller's transaction.

        One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` for all the events: on PostgreSQL
        ``INSERT ... SELECT FROM unnest(one array per column)``, a statement of constant text;
        on SQLite SQLAlchemy's "insertmanyvalues" (a few multi-row statements, not one per
        event). RETURNING gives exactly the rows this call inserted; a row the ledger already
        holds (or that came earlier in the same batch) is not returned and counts as a
        duplicate.
        """
        if not events:
            return AppendResult([], 0)
        received = _utc_naive(received_at or dt.datetime.now(dt.UTC))
        by_ref: dict[tuple[str, str, str], int] = {}
        for index, event in enumerate(events):
            by_ref.setdefault((event.source, event.source_ref, event.row_ref), index)
        rows = [self._row(event, epoch_id, received) for event in events]
        if connection.dialect.name == "postgresql":
            result = connection.exec_driver_sql(_UNNEST_INSERT, _column_arrays(rows))
        else:
            statement = _insert_ignoring_duplicates(connection).returning(*_RETURNED)
            result = connection.execute(statement, rows)
        inserted = {(row.source, row.source_ref, row.row_ref): int(row.id) for row in result}
        # In the order of ``events``, as when they were inserted one by one; of two rows with
        # the same reference in the batch, the first is the one inserted.
        appended: list[StoredEvent] = []
        new_rows: list[tuple[int, dict[str, Any]]] = []
        for index, row in enumerate(rows):
            key = (row["source"], row["source_ref"], row["row_ref"])
            if key in inserted and by_ref[key] == index:
                appended.append(_stored_row(inserted[key], row))
                new_rows.append((inserted[key], row))
        merge_outcomes(connection, new_rows)
        if flags:
            self._insert_flags(connection, appended, by_ref, flags)
        return AppendResult(appended, len(events) - len(appended))

    def _row(self, event: PayoutEvent, epoch_id: str, received: dt.datetime) -> dict[str, Any]:
        if event.status not in EVENT_STATUSES:
            raise ValueError(f"unknown payout status {event.status!r}")
        if event.source not in SOURCES:
            raise ValueError(f"unknown event source {event.source!r}")
        subject = subject_of(self.store, event.nik_digits)
        offset = event.occurred_at.utcoffset()
        if offset is None:
            raise ValueError("payout times must be timezone-aware")
        note = self.store.seal(event.note.encode(), f"note|{subject}".encode()) \
            if event.note else None
        return {"epoch_id": epoch_id, "subject": subject, "nik_last4": event.nik_digits[-4:],
                "status": event.status, "occurred_at": _utc_naive(event.occurred_at),
                "occurred_offset": int(offset.total_seconds()), "point_id": event.point_id,
                "source": event.source, "source_ref": event.source_ref,
                "row_ref": event.row_ref, "reason_code": event.reason_code,
                "amount": event.amount, "note": note, "received_at": received}

    def _insert_flags(self, connection: Connection, appended: Sequence[StoredEvent],
                      by_ref: Mapping[tuple[str, str, str], int],
                      found: Mapping[int, Sequence[Flag]]) -> None:
        rows: list[dict[str, Any]] = []
        subjects = sorted({stored.subject for stored in appended})
        kecamatan: dict[str, str] = {}
        for among in member_chunks(connection, roster.c.subject, subjects):
            query = sa.select(roster.c.subject, roster.c.kecamatan).where(
                among, roster.c.valid_to.is_(None))
            kecamatan.update({row.subject: row.kecamatan for row in connection.execute(query)})
        for stored in appended:
            index = by_ref[(stored.source, stored.source_ref, stored.row_ref)]
            for flag in found.get(index, ()):
                rows.append({"event_id": stored.id, "code": flag.code,
                             "severity": flag.severity, "detail": flag.detail,
                             "kecamatan": kecamatan.get(stored.subject)})
        if rows:
            connection.execute(sa.insert(flags), rows)

    def events(self, *, epoch_id: str | None = None, since: dt.datetime | None = None,
               subjects: Collection[str] | None = None) -> Iterator[StoredEvent]:
        """Ledger rows by (occurred_at, id); ``since`` filters on the time received."""
        with db_errors(self.url), self.engine.connect() as connection:
            yield from events_in(connection, epoch_id=epoch_id, since=since, subjects=subjects)

    def note(self, event_id: int) -> str:
        """The payer's private note of one event (admin only)."""
        with db_errors(self.url), self.engine.connect() as connection:
            row = connection.execute(sa.select(payout_events.c.subject, payout_events.c.note)
                                     .where(payout_events.c.id == event_id)).first()
        if row is None or row.note is None:
            return ""
        return self.store.unseal(row.note, f"note|{row.subject}".encode()).decode()

    def flags(self, *, epoch_id: str | None = None,
              since: dt.datetime | None = None) -> Iterator[StoredFlag]:
        """Stored flags with their event's facts, by event time."""
        query = sa.select(flags, payout_events.c.subject, payout_events.c.nik_last4,
                          payout_events.c.point_id, payout_events.c.occurred_at,
                          payout_events.c.occurred_offset).join(
            payout_events, flags.c.event_id == payout_events.c.id)
        if epoch_id is not None:
            query = query.where(payout_events.c.epoch_id == epoch_id)
        if since is not None:
            query = query.where(payout_events.c.received_at >= _utc_naive(since))
        query = query.order_by(payout_events.c.occurred_at, flags.c.event_id, flags.c.id)
        with db_errors(self.url), self.engine.connect() as connection:
            for row in connection.execute(query):
                yield StoredFlag(int(row.id), int(row.event_id), row.code, row.severity,
                                 row.detail, row.subject, row.nik_last4, row.point_id,
                                 _aware(row.occurred_at, int(row.occurred_offset)),
                                 row.kecamatan)


def events_in(connection: Connection, *, epoch_id: str | None = None,
              since: dt.datetime | None = None,
              subjects: Collection[str] | None = None) -> Iterator[StoredEvent]:
    """:meth:`Ledger.events` on the caller's connection."""
    base = sa.select(payout_events)
    if epoch_id is not None:
        base = base.where(payout_events.c.epoch_id == epoch_id)
    if since is not None:
        base = base.where(payout_events.c.received_at >= _utc_naive(since))
    order = (payout_events.c.occurred_at, payout_events.c.id)
    if subjects is None:
        result = connection.execute(base.order_by(*order).execution_options(yield_per=2000))
        for row in result:
            yield _stored(row)
        return
    chosen = sorted(set(subjects))
    found: list[StoredEvent] = []
    for among in member_chunks(connection, payout_events.c.subject, chosen):
        query = base.where(among)
        found.extend(_stored(row) for row in connection.execute(query))
    found.sort(key=lambda event: (event.occurred_at, event.id))
    yield from found


def recorded_facts(connection: Connection, store: CentralStore, epoch_id: str,
                   events: Sequence[PayoutEvent]) -> set[int]:
    """The indexes of the report (``csv``) events whose fact the ledger of the epoch already
    holds, from any source: the same person, status, moment (in UTC; a row given to the
    whole second matches any fact within that second, as the API answers in milliseconds) and
    payout point. One fact stands for one row (the first it matches).

    A report is named by its file's SHA-256 (``source_ref``), so the same rows saved again
    with a byte-order mark or other line ends (a spreadsheet's "save") are another file, and
    a month-end report repeats what the payer already answered over the API: without this
    check such a report re-appended its ``gagal`` rows as new events and refused its
    ``salur`` rows as paid out twice. Only report rows are looked up: an API fact carries its
    own reference, and one already answered is known by it. One query per chunk of subjects,
    on the covering index ``ix_payout_events_subject``.
    """
    wanted: dict[tuple[str, str, dt.datetime, str], list[int]] = {}
    for index, event in enumerate(events):
        if event.source != "csv" or event.status not in EVENT_STATUSES:
            continue
        key = (subject_of(store, event.nik_digits), event.status,
               _utc_naive(event.occurred_at), event.point_id)
        wanted.setdefault(key, []).append(index)
    if not wanted:
        return set()
    matches: list[list[int]] = []  # per ledger fact, the report rows it is
    columns = payout_events.c
    subjects = sorted({key[0] for key in wanted})
    for among in member_chunks(connection, columns.subject, subjects):
        query = sa.select(columns.subject, columns.status, columns.occurred_at,
                          columns.point_id).where(columns.epoch_id == epoch_id, among)
        for row in connection.execute(query):
            # A report states its times to the second, the API to the millisecond: a fact is
            # the report row of its exact moment or of its whole second.
            second = row.occurred_at.replace(microsecond=0)
            rows = {*wanted.get((row.subject, row.status, row.occurred_at, row.point_id), ()),
                    *wanted.get((row.subject, row.status, second, row.point_id), ())}
            if rows:
                matches.append(sorted(rows))
    # One fact stands for one row: a row repeated word for word in a report was one payout
    # and one duplicate, and stays so when the report comes again as another file.
    found: set[int] = set()
    for indexes in sorted(matches):
        free = next((index for index in indexes if index not in found), None)
        if free is not None:
            found.add(free)
    return found


def outcomes_in(connection: Connection, epoch_id: str,
                subjects: Collection[str] | None = None, *,
                among: sa.Select[Any] | None = None) -> dict[str, Outcome]:
    """Each subject's folded status (only subjects with events in the epoch).

    ``among``: a query of subjects (one column) whose events are read too, in one statement
    (e.g. a published kecamatan's roster), so that ``subjects`` need name only the others:
    a kecamatan's few thousand subjects one by one cost several statements each publish. The
    two should not overlap (an event read twice would be folded twice: the same status)."""
    grouped: dict[str, list[StoredEvent]] = {}
    for event in events_in(connection, epoch_id=epoch_id, subjects=subjects):
        grouped.setdefault(event.subject, []).append(event)
    if among is not None:
        query = sa.select(payout_events).where(payout_events.c.epoch_id == epoch_id,
                                               payout_events.c.subject.in_(among.scalar_subquery()))
        for row in connection.execute(query):
            grouped.setdefault(row.subject, []).append(_stored(row))
    return {subject: fold_status(items) for subject, items in grouped.items()}
