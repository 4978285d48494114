"""A re-publish keeps what did not change without rebuilding it (schema 0004).

Each roster row remembers the keyed hash of what its payload was made from (the checked row,
its schedule, payout point and program) and each key-cache row the key's lookup tag. A
re-publish builds the payload only of recipients whose inputs hash differently (or whose
ledger status it must add) and unseals no cached key for its tag. These tests hold it to the
answers of a store that publishes the same inputs from nothing, on SQLite and PostgreSQL, and
upgrade a store written by the release before 0004.
"""

from __future__ import annotations

import contextlib
import csv
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from central_world import (  # noqa: F401  (db_url: fixture)
    EXTRA_NIK,
    db_url,
    postgres_database,
    published_payloads,
    write_world,
)
from conftest import PEOPLE
from support.releases import export_release, run_release

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central import db as central_db
from blt_status.central.plan import StreamedPlan
from blt_status.crypto import TEST_INDEX_KDF, lookup_tag
from blt_status.regions import kecamatan_of

# The last commit at schema 0003: the release whose stores revision 0004 upgrades.
PREVIOUS_RELEASE = "ca8cadc"

PREVIOUS_STORE = """
import sys
from pathlib import Path
from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.crypto import TEST_INDEX_KDF
assert "before-0004" in __import__("blt_status").__file__
directory, inputs = Path(sys.argv[1]), Path(sys.argv[2])
store = CentralStore.init(directory, kdf=TEST_INDEX_KDF)
publish_files(store, inputs / "recipients.csv", inputs / "payout_points.csv",
              inputs / "program.toml", workers=1)
ingest_payouts(store, inputs / "payout_report.csv", workers=1)
"""

RESIDENTS = {person.nik: kecamatan_of(person.payload.kode_wilayah) for person in PEOPLE}


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def built(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The input lines whose payload a publish builds (every call of ``recipient``)."""
    lines: list[int] = []
    original = StreamedPlan.recipient

    def recipient(self: StreamedPlan, row):  # type: ignore[no-untyped-def]
        lines.append(row.line)
        return original(self, row)

    monkeypatch.setattr(StreamedPlan, "recipient", recipient)
    return lines


def edited(source: Path, target: Path, change: Callable[[list[str], list[list[str]]], None],
           ) -> Path:
    """A copy of a CSV file with ``change(header, rows)`` applied to its rows."""
    with source.open(encoding="utf-8", newline="") as reading:
        header, *rows = list(csv.reader(reading))
    change(header, rows)
    with target.open("w", encoding="utf-8", newline="") as writing:
        csv.writer(writing).writerows([header, *rows])
    return target


@pytest.fixture()
def fresh_url(db_url: str | None) -> Iterator[Callable[[], str | None]]:  # noqa: F811
    """Where each reference store of :func:`same_as_fresh` keeps its database: a new one on
    the backend of the test's own store."""
    with contextlib.ExitStack() as stack:
        yield lambda: None if db_url is None else stack.enter_context(postgres_database())


def same_as_fresh(tmp_path: Path, store: CentralStore, recipients: Path, points: Path,
                  program: Path, fresh_url: Callable[[], str | None]) -> None:
    """What the store's devices read equals what a store that published these inputs first
    gives (its keys differ, not the payloads)."""
    fresh = CentralStore.init(tmp_path / f"fresh-{store.published_version()}",
                              kdf=TEST_INDEX_KDF, db_url=fresh_url())
    publish_files(fresh, recipients, points, program, workers=1)
    for view in ("officer", "recipient"):
        assert published_payloads(store, RESIDENTS, view) \
            == published_payloads(fresh, RESIDENTS, view)


def move_first(header: list[str], rows: list[list[str]]) -> None:
    """The first recipient has moved (a new address: nothing else of theirs changes)."""
    rows[0][header.index("alamat")] += " (pindah)"


def published_store(tmp_path: Path, world, db_url: str | None,  # noqa: F811
                    ) -> tuple[CentralStore, int]:
    """A new store with the world published once, and how many it published."""
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    return store, report.published


def test_a_republish_builds_only_the_payloads_whose_inputs_changed(
        tmp_path: Path, world, built: list[int], db_url: str | None,  # noqa: F811
        fresh_url: Callable[[], str | None]) -> None:
    store, published = published_store(tmp_path, world, db_url)
    assert sorted(built) == list(range(2, 2 + published))  # a first publish builds all
    built.clear()

    again = publish_files(store, world.recipients, world.payout_points, world.program,
                          workers=1)
    assert built == []
    assert sum(change["unchanged"] for change in again.changes.values()) == published
    assert again.shards_written == 0

    moved = edited(world.recipients, tmp_path / "moved.csv", move_first)
    report = publish_files(store, moved, world.payout_points, world.program, workers=1)
    assert built == [2]  # the first data row: line 2
    assert sum(change["changed"] for change in report.changes.values()) == 1
    assert published_payloads(store, {PEOPLE[0].nik: RESIDENTS[PEOPLE[0].nik]})[
        PEOPLE[0].nik].address.endswith(" (pindah)")
    same_as_fresh(tmp_path, store, moved, world.payout_points, world.program, fresh_url)


def test_a_new_program_or_payout_point_rebuilds_what_it_changes(
        tmp_path: Path, world, built: list[int], db_url: str | None,  # noqa: F811
        fresh_url: Callable[[], str | None]) -> None:
    """The row is the same, what the payload is made from is not: the source hash differs."""
    store, published = published_store(tmp_path, world, db_url)
    built.clear()
    program = tmp_path / "program.toml"
    program.write_text(world.program.read_text(encoding="utf-8").replace(
        "monthly_amount = 200000", "monthly_amount = 250000"), encoding="utf-8")
    publish_files(store, world.recipients, world.payout_points, program, workers=1)
    assert len(built) == published
    assert {payload.amount for payload in published_payloads(store, RESIDENTS).values()} \
        >= {750000}
    same_as_fresh(tmp_path, store, world.recipients, world.payout_points, program,
                  fresh_url)

    built.clear()

    def rename(header: list[str], rows: list[list[str]]) -> None:
        rows[0][header.index("nama")] = "Kantor Pos Cibinong (pindah sementara)"

    points = edited(world.payout_points, tmp_path / "points.csv", rename)
    publish_files(store, world.recipients, points, program, workers=1)
    served = {nik for nik, payload in published_payloads(store, RESIDENTS).items()
              if payload.payout_point is not None
              and payload.payout_point.id == "KP-CIBINONG"}
    assert served and len(built) == len(served)  # only the renamed point's recipients
    same_as_fresh(tmp_path, store, world.recipients, points, program, fresh_url)


def test_cached_tags_are_the_keys_tags_and_no_key_is_unsealed_for_one(
        tmp_path: Path, world, db_url: str | None,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    store, _published = published_store(tmp_path, world, db_url)
    ingest_payouts(store, world.report, workers=1)
    with central_db.open_engine(store).connect() as connection:
        rows = connection.execute(sa.select(central_db.key_cache)).all()
    assert rows and all(
        row.tag == lookup_tag(store.unseal(row.root_key, f"key|{row.subject}|{row.view}"
                                           .encode()))
        for row in rows)

    opened: list[bytes] = []
    unseal = CentralStore.unseal

    def counted(self: CentralStore, sealed: bytes, aad: bytes) -> bytes:
        if aad.startswith(b"key|"):
            opened.append(aad)
        return unseal(self, sealed, aad)

    monkeypatch.setattr(CentralStore, "unseal", counted)
    moved = edited(world.recipients, tmp_path / "moved.csv", move_first)
    publish_files(store, moved, world.payout_points, world.program, workers=1)
    # only the changed officer record is sealed again (with its cached key); every shard of
    # its kecamatan is rebuilt from cached tags
    assert len(opened) == 1


@pytest.fixture(scope="module")
def previous_release(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_release(tmp_path_factory, PREVIOUS_RELEASE, "before 0004")


def test_a_store_of_the_previous_release_learns_sources_and_tags(
        tmp_path: Path, previous_release: Path, built: list[int]) -> None:
    world = write_world(tmp_path / "inputs")
    directory = tmp_path / "central"
    run_release(previous_release, PREVIOUS_STORE, str(directory), str(world.recipients.parent))
    store = CentralStore.open(directory)
    before = {view: published_payloads(store, RESIDENTS | {EXTRA_NIK: "32.01.01"}, view)
              for view in ("officer", "recipient")}
    engine = central_db.open_engine(store)  # upgrades to 0004: nothing known yet
    with engine.connect() as connection:
        assert central_db.current_revision(engine) == central_db.SCHEMA_HEAD
        rows_before = connection.execute(sa.select(sa.func.count()).select_from(
            central_db.roster)).scalar()
        assert connection.execute(sa.select(sa.func.count(central_db.roster.c.source_hash))
                                  ).scalar() == 0

    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    published = len(built)
    assert published > 0  # built once, to learn that nothing changed
    with engine.connect() as connection:
        current = central_db.roster.c.valid_to.is_(None)
        assert connection.execute(sa.select(sa.func.count()).select_from(
            central_db.roster)).scalar() == rows_before  # no row rewritten
        assert connection.execute(sa.select(sa.func.count()).select_from(central_db.roster)
                                  .where(current, central_db.roster.c.source_hash.is_(None))
                                  ).scalar() == 0
    assert {view: published_payloads(store, RESIDENTS | {EXTRA_NIK: "32.01.01"}, view)
            for view in ("officer", "recipient")} == before

    built.clear()
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    # now only recipients with a ledger status have their payload built (to add it)
    with engine.connect() as connection:
        with_status = connection.execute(sa.select(sa.func.count(sa.distinct(
            central_db.payout_events.c.subject)))).scalar()
    assert len(built) <= with_status < published
