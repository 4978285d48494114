"""Batched ledger appends: many rows in few statements, with the one-row-at-a-time semantics;
and each person's deciding event, which every append keeps, equal to the ledger's fold."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import uuid
from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa
from central_world import db_url, postgres_database  # noqa: F401  (fixture)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blt_status.central import CentralStore
from blt_status.central.db import (
    database_url,
    dispose_engines,
    open_engine,
    payout_outcomes,
    subject_of,
)
from blt_status.central.ledger import (
    Flag,
    Ledger,
    PayoutEvent,
    StoredEvent,
    fold_status,
    outcome_select,
)
from blt_status.crypto import TEST_INDEX_KDF

WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 11, 24, 8, 0, tzinfo=WIB)
BATCH = 2500  # more than one insertmanyvalues page on both backends


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None) -> CentralStore:  # noqa: F811
    return CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)


def event(number: int, *, message: str = "m-1") -> PayoutEvent:
    return PayoutEvent(f"3201{number:012d}", "gagal" if number % 3 else "salur",
                       T0 + dt.timedelta(seconds=number), f"KP-{number % 7}", "api", message,
                       f"ref-{number}", reason_code="lainnya" if number % 3 else None,
                       note="sakit" if number % 11 == 0 else "", amount=600_000)


def test_a_large_batch_keeps_order_duplicates_and_flags(store: CentralStore) -> None:
    ledger = Ledger(store)
    earlier = [event(number) for number in range(0, BATCH, 250)]  # 10 already in the ledger
    assert len(ledger.append(earlier, epoch_id="e1").appended) == len(earlier)
    batch = [event(number) for number in range(BATCH)] + [event(42), event(BATCH - 1)]
    found = {index: [Flag("burst", "low", f"index {index}")] for index in range(0, len(batch), 97)}
    found[BATCH] = [Flag("burst", "low", "on a repeat within the batch")]
    result = ledger.append(batch, epoch_id="e1", flags=found)
    fresh = [item for item in batch[:BATCH] if item not in earlier]
    assert result.duplicates == len(earlier) + 2
    assert [stored.row_ref for stored in result.appended] == [item.row_ref for item in fresh]
    assert [stored.subject for stored in result.appended] == [
        subject_of(store, item.nik_digits) for item in fresh]
    ids = [stored.id for stored in result.appended]
    assert len(set(ids)) == len(ids)
    by_id = {stored.id: stored for stored in result.appended}
    stored_flags = list(ledger.flags())
    expected = {f"index {index}" for index in found
                if index < BATCH and batch[index] not in earlier}
    assert {flag.detail for flag in stored_flags} == expected  # none for skipped rows
    for flag in stored_flags:
        index = int(flag.detail.split()[1])
        assert by_id[flag.event_id].row_ref == batch[index].row_ref
    assert len(list(ledger.events())) == BATCH
    noted = next(stored for stored in result.appended if stored.row_ref == "ref-11")
    assert ledger.note(noted.id) == "sakit"
    again = ledger.append(batch, epoch_id="e1", flags=found)
    assert again.appended == [] and again.duplicates == len(batch)
    assert len(list(ledger.flags())) == len(stored_flags)


def _ledger_rows(ledger: Ledger, appended: list[StoredEvent]
                 ) -> tuple[list[tuple[object, ...]], dict[int, int]]:
    """Every stored fact of the ledger with its id's rank (PostgreSQL's sequence also counts
    the rows ON CONFLICT skipped, so only the order of ids is comparable), and each appended
    one's note (sealed with a random nonce: compared opened)."""
    stored = list(ledger.events())
    rank = {item_id: position for position, item_id in enumerate(sorted(e.id for e in stored))}
    facts = [dataclasses.astuple(replace(item, id=rank[item.id])) for item in stored]
    notes = [(rank[item.id], ledger.note(item.id)) for item in appended]
    return [*facts, *notes], rank


def test_postgresql_unnest_and_sqlite_give_the_same_ledger(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One store, the same batches appended on SQLite and (its arrays path) on PostgreSQL."""
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    received = dt.datetime(2025, 11, 25, 9, 30, tzinfo=dt.UTC)
    first = [event(number) for number in range(0, 40, 4)]
    other = replace(event(7), status="salur", reason_code=None, note="lain", amount=None)
    batch = [
        *[event(number) for number in range(40)],
        other,  # same (source, source_ref, row_ref) as event(7): the first one is kept
        event(12),  # again within the batch
        replace(event(50), reason_code=None, amount=None, note=""),  # NULL fields
        replace(event(51), note="é, \"kutip\" {kurung} NULL \\ ok"),  # quoting in arrays
        replace(event(52), occurred_at=T0.astimezone(dt.timezone(dt.timedelta(hours=9)))),
        replace(event(53), source="csv", source_ref="a" * 64, row_ref="7"),
    ]
    all_null = [replace(event(number), status="salur", reason_code=None, amount=None, note="",
                        source_ref="m-2") for number in range(60, 64)]
    found = {index: [Flag("burst", "low", f"index {index}")] for index in (0, 7, 40, 43)}

    def run() -> tuple[list[tuple[object, ...]], list[int], list[tuple[str, str]]]:
        ledger = Ledger(store)
        ledger.append(first, epoch_id="e1", received_at=received)
        result = ledger.append(batch, epoch_id="e1", received_at=received, flags=found)
        nulls = ledger.append(all_null, epoch_id="e1", received_at=received)
        counts = [result.duplicates, len(result.appended), nulls.duplicates,
                  len(nulls.appended)]
        read_back = {stored.id: stored for stored in ledger.events()}
        for stored in result.appended + nulls.appended:  # what append returned is what is kept
            assert dataclasses.astuple(stored) == dataclasses.astuple(read_back[stored.id])
            assert stored.occurred_at.utcoffset() == read_back[stored.id].occurred_at.utcoffset()
        rows, rank = _ledger_rows(ledger, result.appended + nulls.appended)
        stored_flags = [(str(rank[flag.event_id]), flag.detail) for flag in ledger.flags()]
        return rows, counts, stored_flags

    on_sqlite = run()
    with postgres_database() as url:
        monkeypatch.setenv("BLT_CENTRAL_DB", url)
        assert database_url(store) == url
        on_postgresql = run()
    assert on_postgresql == on_sqlite
    rows, counts, stored_flags = on_sqlite
    assert counts == [len(first) + 2, len(batch) - len(first) - 2, 0, len(all_null)]
    assert {detail for _, detail in stored_flags} == {"index 7", "index 43"}  # 0, 40: not new
    kept = next(row for row in rows if row[9] == "ref-7")
    assert kept[4] == "gagal" and kept[11] == 600_000  # the first of the two in the batch
    nulls = next(row for row in rows if row[9] == "ref-50")
    assert nulls[10] is None and nulls[11] is None
    assert dict(row[:2] for row in rows if len(row) == 2)  # notes were read back


# -- each person's deciding event (payout_outcomes), kept by every append ----------------------

STATUS_OF_ROW = {"salur": "collected", "kembali": "returned", "gagal": "held"}


def kept_outcomes(store: CentralStore, epoch: str) -> dict[str, tuple[str, dt.datetime | None]]:
    """``payout_outcomes`` of ``epoch`` as ``{subject: (status, collected_at)}`` (UTC, naive),
    checked equal to the table refolded from the ledger."""
    with open_engine(store).connect() as connection:
        rows = connection.execute(sa.select(payout_outcomes)
                                  .where(payout_outcomes.c.epoch_id == epoch)).all()
        assert set(rows) == set(connection.execute(outcome_select(epoch)).all())
    return {row.subject: (STATUS_OF_ROW[row.status],
                          row.occurred_at if row.status == "salur" else None) for row in rows}


def folded(ledger: Ledger, epoch: str) -> dict[str, tuple[str, dt.datetime | None]]:
    """:func:`fold_status` over each person's events of ``epoch``, in the same shape."""
    grouped: dict[str, list[StoredEvent]] = {}
    for stored in ledger.events(epoch_id=epoch):
        grouped.setdefault(stored.subject, []).append(stored)
    result = {}
    for subject, events in grouped.items():
        outcome = fold_status(events)
        moment = outcome.collected_at
        result[subject] = (outcome.status, None if moment is None
                           else moment.astimezone(dt.UTC).replace(tzinfo=None))
    return result


facts = st.tuples(st.integers(0, 5),  # whose
                  st.sampled_from(["salur", "gagal", "kembali"]),
                  st.integers(0, 6))  # when: few values, so times tie and the id decides


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batches=st.lists(st.lists(facts, max_size=8), min_size=1, max_size=5),
       repeat=st.booleans())
def test_every_append_keeps_each_persons_deciding_event(
        store: CentralStore, batches: list[list[tuple[int, str, int]]], repeat: bool) -> None:
    """Events in any order, times that tie, batches that repeat a fact: the table every append
    keeps equals the ledger's fold, person by person, after every append."""
    ledger = Ledger(store)
    epoch = f"e{uuid.uuid4().hex[:8]}"  # the examples share the store: one epoch each
    sent: list[PayoutEvent] = []
    for number, batch in enumerate(batches):
        events = [PayoutEvent(f"32010145059{whose:05d}", status,
                              T0 + dt.timedelta(minutes=when), "KP-1", "api",
                              f"{epoch}-{number}", f"r-{index}", amount=600_000 - whose)
                  for index, (whose, status, when) in enumerate(batch)]
        if repeat and sent:
            events.insert(0, sent[0])  # already in the ledger: changes nothing
        ledger.append(events, epoch_id=epoch)
        sent.extend(events)
        assert kept_outcomes(store, epoch) == folded(ledger, epoch)


def test_two_writers_merging_the_same_people_lose_nothing(tmp_path: Path) -> None:
    """PostgreSQL, two threads appending interleaved batches about the same people at once:
    the kept table ends equal to the ledger's fold (row locks, not last-writer-wins)."""
    with postgres_database() as url:
        store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=url)
        ledger = Ledger(store)
        errors: list[BaseException] = []

        def writer(name: str, statuses: tuple[str, ...]) -> None:
            try:
                for number in range(30):
                    ledger.append([PayoutEvent(
                        f"32010145059{whose:05d}", statuses[(number + whose) % len(statuses)],
                        T0 + dt.timedelta(minutes=(number * 7 + whose) % 40), "KP-1", "api",
                        f"{name}-{number}", f"r-{whose}", amount=600_000)
                        for whose in range(12)], epoch_id="e1")
            except BaseException as error:  # reported by the test below
                errors.append(error)

        threads = [threading.Thread(target=writer, args=("a", ("gagal", "salur"))),
                   threading.Thread(target=writer, args=("b", ("kembali", "gagal", "gagal")))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert len(list(ledger.events())) == 2 * 30 * 12
        kept = kept_outcomes(store, "e1")
        assert kept == folded(ledger, "e1")
        assert {status for status, _ in kept.values()} >= {"collected", "returned"}
        dispose_engines(store)
