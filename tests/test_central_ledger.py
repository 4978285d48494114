"""The central database and the payout ledger, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from central_world import db_url  # noqa: F401  (fixture)
from conftest import PEOPLE

from blt_status.central import CentralStore
from blt_status.central import db as central_db
from blt_status.central.ledger import (
    Flag,
    Ledger,
    Outcome,
    PayoutEvent,
    StoredEvent,
    fold_status,
)
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import CentralError

WIB = dt.timezone(dt.timedelta(hours=7))
T0 = dt.datetime(2025, 11, 24, 8, 30, tzinfo=WIB)
NOTE = "penerima bilang sedang di rumah sakit Cibinong"


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None) -> CentralStore:  # noqa: F811
    return CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)


def event(person: int, status: str, minutes: int = 0, *, row: str | None = None,
          source: str = "csv", ref: str = "a" * 64, **extra: object) -> PayoutEvent:
    return PayoutEvent(PEOPLE[person].nik, status, T0 + dt.timedelta(minutes=minutes),
                       "KP-CIBINONG", source, ref, row or f"{person}-{status}-{minutes}",
                       **extra)  # type: ignore[arg-type]


def test_append_is_idempotent_and_events_come_back_in_time_order(store: CentralStore) -> None:
    ledger = Ledger(store)
    received = dt.datetime(2025, 11, 24, 12, 0, tzinfo=dt.UTC)
    first = ledger.append([event(0, "salur", 30), event(3, "gagal", 10, reason_code="lainnya",
                                                        note=NOTE)],
                          epoch_id="e1", received_at=received)
    assert first.duplicates == 0 and len(first.appended) == 2
    again = ledger.append([event(0, "salur", 30), event(1, "kembali", 5, amount=600_000)],
                          epoch_id="e1")
    assert again.duplicates == 1 and [item.nik_last4 for item in again.appended] == ["0002"]
    events = list(ledger.events())
    assert [(item.nik_last4, item.status) for item in events] == [
        ("0002", "kembali"), ("0004", "gagal"), ("0001", "salur")]
    salur = events[2]
    assert salur.occurred_at == T0 + dt.timedelta(minutes=30)
    assert salur.occurred_at.utcoffset() == dt.timedelta(hours=7)  # as the payer wrote it
    assert salur.received_at == received and salur.epoch_id == "e1"
    assert salur.subject == central_db.subject_of(store, PEOPLE[0].nik) != PEOPLE[0].nik
    assert events[0].amount == 600_000 and events[1].reason_code == "lainnya"
    only = list(ledger.events(subjects=[salur.subject]))
    assert [item.id for item in only] == [salur.id]
    assert list(ledger.events(since=received + dt.timedelta(seconds=1))) == [events[0]]
    assert list(ledger.events(epoch_id="e2")) == []
    assert ledger.note(events[1].id) == NOTE and ledger.note(salur.id) == ""


def test_nothing_personal_is_stored_in_clear(store: CentralStore, db_url: str | None,  # noqa: F811
                                             ) -> None:
    Ledger(store).append([event(3, "gagal", reason_code="lainnya", note=NOTE)], epoch_id="e1")
    engine = central_db.open_engine(store)
    with engine.connect() as connection:
        dump = json.dumps([[repr(value) for value in row] for table in central_db.metadata
                           .sorted_tables for row in connection.execute(sa.select(table))])
    for secret in (PEOPLE[3].nik, NOTE, "rumah sakit"):
        assert secret not in dump
    if db_url is None:
        central_db.dispose_engines(store)
        for path in store.private_dir.glob("central.db*"):
            data = path.read_bytes()
            assert PEOPLE[3].nik.encode() not in data and b"rumah sakit" not in data


def test_flags_are_stored_with_their_event(store: CentralStore) -> None:
    from conftest import PROGRAM
    from test_central_publish import count_aggregates, people_records

    from blt_status.central.publish import publish_records

    publish_records(store, people_records(), program=PROGRAM, aggregate=count_aggregates,
                    workers=1)
    ledger = Ledger(store)
    result = ledger.append([event(0, "salur"), event(1, "salur", 3)], epoch_id="e1",
                           flags={1: [Flag("point_mismatch", "medium", "paid at another point")]})
    assert len(result.appended) == 2
    (flag,) = ledger.flags()
    assert (flag.code, flag.severity, flag.nik_last4, flag.kecamatan) == (
        "point_mismatch", "medium", "0002", "32.01.01")
    assert flag.event_id == result.appended[1].id
    assert list(ledger.flags(epoch_id="e9")) == []


def stored(event_id: int, status: str, minutes: int, reason: str | None = None) -> StoredEvent:
    at = T0 + dt.timedelta(minutes=minutes)
    return StoredEvent(event_id, "e1", "s", "0001", status, at, "KP-X", "csv", "r",
                       str(event_id), reason, None, at)


@pytest.mark.parametrize(("events", "expected"), [
    ([], Outcome()),
    ([stored(1, "gagal", 0, "nama_tidak_sesuai")], Outcome("held", None, None,
                                                            "nama_tidak_sesuai")),
    ([stored(2, "salur", 10), stored(1, "gagal", 0)],
     Outcome("collected", T0 + dt.timedelta(minutes=10), "KP-X", None)),
    # After a final event nothing changes, whatever arrives later.
    ([stored(1, "kembali", 0), stored(2, "salur", 10)], Outcome("returned", None, None,
                                                                 "lainnya")),
    ([stored(2, "salur", 0), stored(1, "salur", 0)],
     Outcome("collected", T0, "KP-X", None)),
])
def test_fold_status(events: list[StoredEvent], expected: Outcome) -> None:
    assert fold_status(events) == expected
    assert fold_status(list(reversed(events))) == expected


def test_the_schema_matches_the_migrations(store: CentralStore) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    engine = central_db.open_engine(store)
    with engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert context.get_current_revision() == central_db.SCHEMA_HEAD
        assert compare_metadata(context, central_db.metadata) == []


def test_the_revision_is_read_as_alembic_reads_it(store: CentralStore) -> None:
    """``current_revision`` reads Alembic's version table without importing Alembic: the same
    answer as Alembic's own reader at the head, at an older revision and with no row."""
    from alembic.runtime.migration import MigrationContext

    engine = central_db.open_engine(store)

    def both() -> tuple[str | None, str | None]:
        with engine.connect() as connection:
            alembic_says = MigrationContext.configure(connection).get_current_revision()
        return central_db.current_revision(engine), alembic_says

    assert both() == (central_db.SCHEMA_HEAD, central_db.SCHEMA_HEAD)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '0002'"))
    assert both() == ("0002", "0002")
    with engine.begin() as connection:
        connection.execute(sa.text("DELETE FROM alembic_version"))
    assert both() == (None, None)
    central_db.dispose_engines()


def test_a_database_at_an_unknown_revision_is_refused(store: CentralStore) -> None:
    engine = central_db.open_engine(store)
    with engine.begin() as connection:
        connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    central_db.dispose_engines()
    with pytest.raises(CentralError) as caught:
        central_db.open_engine(store)
    assert caught.value.code == "db_schema"
    assert "9999" in caught.value.message("en")


def test_an_unreachable_database_is_one_line(tmp_path: Path) -> None:
    url = "postgresql+psycopg://postgres:hunter2@127.0.0.1:1/blt"
    done = subprocess.run([sys.executable, "-m", "blt_status.cli", "central", "init",
                           str(tmp_path / "c"), "--kdf", "test", "--db", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.startswith("error [db_unreachable]:") and done.stderr.count("\n") == 1
    assert "hunter2" not in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c").exists()  # nothing half-written


def test_a_locked_sqlite_database_is_db_busy(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    store = CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF)
    central_db.dispose_engines()
    monkeypatch.setattr(central_db, "BUSY_TIMEOUT_MS", 100)
    blocker = sqlite3.connect(store.private_dir / "central.db", isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(CentralError) as caught:
            Ledger(store).append([event(0, "salur")], epoch_id="e1")
        assert caught.value.code == "db_busy"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    assert len(Ledger(store).append([event(0, "salur")], epoch_id="e1").appended) == 1


def test_init_saves_the_url_and_the_environment_overrides_it(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    from central_world import postgres_database

    with postgres_database() as url:
        done = subprocess.run([sys.executable, "-m", "blt_status.cli", "central", "init",
                               str(tmp_path / "c"), "--kdf", "test", "--db", url, "--json"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["database"] == url
        store = CentralStore.open(tmp_path / "c")
        assert store.config.db_url == url
        assert not (store.private_dir / "central.db").exists()
        assert central_db.database_url(store) == url
        monkeypatch.setenv("BLT_CENTRAL_DB", "sqlite:///" + str(tmp_path / "other.db"))
        assert central_db.database_url(store) == "sqlite:///" + str(tmp_path / "other.db")
