"""Schema revisions 0002 (the report's plain roster columns) and 0003 (each person's deciding
ledger event) on stores written by the previous release (schema 0001), on SQLite and
PostgreSQL: the columns are backfilled from the sealed rows with the right values, the
outcomes folded from the ledger, the report is the same before and after, and a migration that
fails leaves the store usable by the previous release; and the report the database counts
equals the pure report engine on generated worlds whose events arrive in any order and
batches."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from central_world import db_url, write_world  # noqa: F401  (db_url: fixture)
from conftest import PEOPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.releases import export_release, run_release, store_script
from test_report_engine import worlds

from blt_status.central import CentralStore, publish_files
from blt_status.central import db as central_db
from blt_status.central.ledger import merge_outcomes, outcome_select
from blt_status.central.report import LEVELS, WIB, build_report, report_from_tally
from blt_status.central.report_format import render
from blt_status.central.report_source import load_report, load_snapshot
from blt_status.central.roster import roster_row, unseal_row
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import CentralError
from blt_status.records import PayoutPoint

# The last commit at schema 0001: the release whose stores revision 0002 upgrades.
PREVIOUS_RELEASE = "8c60a52"

PREVIOUS_STORE = store_script("previous release")

PREVIOUS_REPORTS = """
import json, sys
from pathlib import Path
from blt_status.central import CentralStore
from blt_status.central.report_format import render
from blt_status.central.report_source import load_report
assert "previous-release" in __import__("blt_status").__file__
store = CentralStore.open(Path(sys.argv[1]))
print(json.dumps({level: json.loads(render(load_report(store, level=level), "json"))
                  for level in ("provinsi", "kabupaten", "kecamatan", "desa", "titik")}))
"""


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package of the release at schema 0001, exported from git."""
    return export_release(tmp_path_factory, PREVIOUS_RELEASE, "previous release")


@pytest.fixture()
def previous_store(tmp_path: Path, previous_release: Path, db_url: str | None,  # noqa: F811
                   monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A store published, ingested and reported on by the previous release (schema 0001)."""
    if db_url is not None:
        monkeypatch.setenv("BLT_CENTRAL_DB", db_url)
    world = write_world(tmp_path / "inputs")
    directory = tmp_path / "central"
    run_release(previous_release, PREVIOUS_STORE, str(directory), str(world.recipients.parent))
    yield directory
    central_db.dispose_engines()


def revision_of(store: CentralStore) -> str | None:
    engine = central_db._create_engine(central_db.database_url(store))
    try:
        return central_db.current_revision(engine)
    finally:
        engine.dispose()


def reports(store: CentralStore) -> dict[str, dict[str, object]]:
    return {level: json.loads(render(load_report(store, level=level), "json"))
            for level in LEVELS}


def assert_columns_match_sealed(store: CentralStore, rows: list[sa.Row[Any]]) -> None:
    """Each row's plain report columns equal what its sealed payload says."""
    for row in rows:
        payload = unseal_row(store, row).payload
        point = payload.payout_point
        assert (row.amount, row.mode, row.point_name) == (
            payload.amount, payload.schedule.mode, point.name if point else "")


def test_a_previous_store_gets_the_columns_filled_and_the_same_report(
        previous_store: Path, previous_release: Path, tmp_path: Path) -> None:
    before = json.loads(run_release(previous_release, PREVIOUS_REPORTS, str(previous_store)))
    store = CentralStore.open(previous_store)
    assert (store.private_dir / "report_cache.sqlite").exists()  # the previous release's cache
    assert revision_of(store) == "0001"
    engine = central_db.open_engine(store)  # upgrades
    assert revision_of(store) == central_db.SCHEMA_HEAD
    with engine.connect() as connection:  # columns and (widened) indexes as this release's
        assert compare_metadata(MigrationContext.configure(connection),
                                central_db.metadata) == []
        rows = list(connection.execute(sa.select(central_db.roster)))
        # Revision 0003: each person's deciding event, folded from the ledger of 0001.
        outcomes = set(connection.execute(sa.select(central_db.payout_outcomes)).all())
        assert outcomes == set(connection.execute(outcome_select()).all())
        assert {row.status for row in outcomes} == {"salur", "gagal"}  # the world's report
    assert len(rows) == len(PEOPLE)
    assert_columns_match_sealed(store, rows)
    assert {row.mode for row in rows} > {"kantor_pos"}  # the world has more than one mode
    assert not (store.private_dir / "report_cache.sqlite").exists()
    assert reports(store) == before
    # A publish of this release fills the columns of the rows it writes.
    world = tmp_path / "inputs"
    published = publish_files(store, world / "recipients.csv", world / "payout_points.csv",
                              world / "program.toml", workers=1)
    assert published.version == 3
    with engine.connect() as connection:
        assert connection.execute(sa.select(sa.func.count()).select_from(central_db.roster)
                                  .where(central_db.roster.c.amount.is_(None))).scalar() == 0


def test_every_roster_row_a_publish_writes_carries_the_report_columns(
        tmp_path: Path, db_url: str | None, monkeypatch: pytest.MonkeyPatch,  # noqa: F811
) -> None:
    """The plain columns equal the sealed payload on every row a publish writes (a fresh store:
    every row goes through the publish's staging on its way into the database)."""
    if db_url is not None:
        monkeypatch.setenv("BLT_CENTRAL_DB", db_url)
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    with central_db.open_engine(store).connect() as connection:
        rows = list(connection.execute(sa.select(central_db.roster)))
    assert len(rows) == len(PEOPLE)
    assert_columns_match_sealed(store, rows)
    central_db.dispose_engines()


def test_a_failed_backfill_leaves_the_store_to_the_previous_release(
        previous_store: Path, previous_release: Path) -> None:
    before = json.loads(run_release(previous_release, PREVIOUS_REPORTS, str(previous_store)))
    store = CentralStore.open(previous_store)
    raw = central_db._create_engine(central_db.database_url(store))
    roster = central_db.roster
    with raw.begin() as connection:  # one sealed row the key does not open
        victim = connection.execute(sa.select(roster.c.id, roster.c.sealed)
                                    .order_by(roster.c.id.desc()).limit(1)).one()
        broken = victim.sealed[:-1] + bytes([victim.sealed[-1] ^ 1])
        connection.execute(roster.update().where(roster.c.id == victim.id)
                           .values(sealed=broken))
    with pytest.raises(CentralError) as caught:
        central_db.open_engine(store)
    assert caught.value.code == "state_corrupt_db"
    assert revision_of(store) == "0001"
    with raw.begin() as connection:  # nothing was filled
        assert connection.execute(sa.text("SELECT count(*) FROM roster")).scalar() == \
            len(PEOPLE)
        columns = {column["name"] for column in sa.inspect(connection).get_columns("roster")}
        if "amount" in columns:  # SQLite keeps an ALTER TABLE made outside the transaction
            assert connection.execute(sa.text(
                "SELECT count(*) FROM roster WHERE amount IS NOT NULL")).scalar() == 0
        connection.execute(roster.update().where(roster.c.id == victim.id)
                           .values(sealed=victim.sealed))
    raw.dispose()
    # The previous release still reads the store, and this one then upgrades it.
    assert json.loads(run_release(previous_release, PREVIOUS_REPORTS,
                                   str(previous_store))) == before
    central_db.open_engine(store)
    assert revision_of(store) == central_db.SCHEMA_HEAD
    assert reports(store) == before


# -- the database's count equals the pure engine ------------------------------------------------

POINT_NAMES = {"KP-1": "Kantor Pos Satu", "KB-2": "Balai Desa Dua"}


@pytest.fixture()
def empty_store(tmp_path: Path, db_url: str | None,  # noqa: F811
                monkeypatch: pytest.MonkeyPatch) -> Iterator[CentralStore]:
    """A store with the test world published once (version 2), whose roster and ledger each
    example replaces."""
    if db_url is not None:
        monkeypatch.setenv("BLT_CENTRAL_DB", db_url)
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    yield store
    central_db.dispose_engines()


def write_world_rows(store: CentralStore, world: tuple[list, list, list],
                    order: random.Random) -> None:
    """The generated roster, events and flags as rows of the published version; the events
    arrive in an order and batches drawn from ``order``, each batch merged into
    ``payout_outcomes`` as a ledger append does."""
    recipients, events, flags = world
    version = store.published_version()
    base = PEOPLE[0].payload
    with central_db.open_engine(store).begin() as connection:
        epoch = connection.execute(sa.select(central_db.versions.c.epoch_id).where(
            central_db.versions.c.version == version)).scalar_one()
        for table in (central_db.flags, central_db.payout_outcomes, central_db.payout_events,
                      central_db.roster):
            connection.execute(table.delete())
        rows = []
        for index, recipient in enumerate(recipients):
            point = None if recipient.point_id is None else PayoutPoint(
                recipient.point_id, recipient.point_name, "Jl. Raya 1", "kantor_pos")
            payload = dataclasses.replace(
                base, amount=recipient.amount, kode_wilayah=recipient.desa, payout_point=point,
                schedule=dataclasses.replace(base.schedule, mode=recipient.mode))
            row = roster_row(store, recipient.subject, f"{index:016d}",
                             recipient.desa.rsplit(".", 1)[0], payload, version=version)
            rows.append(row)
        if rows:
            connection.execute(sa.insert(central_db.roster), rows)
        received = dt.datetime(2025, 12, 1)
        arriving = order.sample(events, len(events))
        while arriving:
            size = order.randint(1, 4)
            batch, arriving = arriving[:size], arriving[size:]
            batch_rows = [{"id": event.id, "epoch_id": epoch, "subject": event.subject,
                           "nik_last4": "0000", "status": event.status,
                           "occurred_at": event.occurred_at.astimezone(dt.UTC)
                           .replace(tzinfo=None), "occurred_offset": 7 * 3600,
                           "point_id": "KP-1", "source": "csv", "source_ref": "gen",
                           "row_ref": str(event.id), "reason_code": None,
                           "amount": event.amount, "note": None, "received_at": received}
                          for event in batch]
            connection.execute(sa.insert(central_db.payout_events), batch_rows)
            merge_outcomes(connection, [(row["id"], row) for row in batch_rows])
        for flag in flags:
            connection.execute(sa.insert(central_db.flags).values(
                event_id=flag.event_id, code="burst", severity="medium", detail="gen",
                kecamatan=None))


def comparable(report) -> dict[str, object]:
    data = report.to_dict()
    data.pop("version")
    if not report.days:  # without a payout the time is the publish's (or now)
        data.pop("as_of")
    return data | {"provinces": report.provinces}


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(world=worlds(), region=st.sampled_from([None, "32", "32.01"]),
       order=st.randoms(use_true_random=False))
def test_the_database_counts_as_the_engine(empty_store: CentralStore, world, region,
                                           order: random.Random) -> None:
    recipients, events, flags = world
    recipients = [recipient._replace(point_name=POINT_NAMES.get(recipient.point_id or "", ""))
                  for recipient in recipients]
    write_world_rows(empty_store, (recipients, events, flags), order)
    with central_db.open_engine(empty_store).connect() as connection:
        kept = set(connection.execute(sa.select(central_db.payout_outcomes)).all())
        assert kept == set(connection.execute(outcome_select()).all())  # merged == refolded
    if any(event.occurred_at.tzinfo is not WIB for event in events):
        raise AssertionError("the generated events are in WIB")
    tally = load_snapshot(empty_store, region=region).tally
    for level in LEVELS:
        if region is not None and level != "titik" and region.count(".") > LEVELS.index(level):
            continue
        expected = comparable(build_report(recipients, events, flags, level=level,
                                           region=region))
        assert comparable(load_report(empty_store, level=level, region=region)) == expected
        assert comparable(report_from_tally(tally, level=level, region=region)) == expected
