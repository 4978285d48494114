"""Batched ledger appends: many rows in few statements, with the one-row-at-a-time semantics."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from central_world import db_url  # noqa: F401  (fixture)

from blt_status.central import CentralStore
from blt_status.central.db import subject_of
from blt_status.central.ledger import Flag, Ledger, PayoutEvent
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
