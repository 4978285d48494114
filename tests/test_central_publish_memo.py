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
from hypothesis import given, settings
from hypothesis import strategies as st
from support.releases import export_release, run_release, store_script

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central import db as central_db
from blt_status.central.plan import StreamedPlan
from blt_status.crypto import TEST_INDEX_KDF, lookup_tag
from blt_status.regions import kecamatan_of

# The last commit at schema 0003: the release whose stores revision 0004 upgrades.
PREVIOUS_RELEASE = "ca8cadc"

PREVIOUS_STORE = store_script("before 0004")

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


def current_shards(store: CentralStore) -> dict[str, dict[bytes, bytes]]:
    """Each shard of the published version: its record lines by tag (hex)."""
    from tuf.api.metadata import Metadata, Targets

    from blt_status.central.repo import target_path_on_disk
    from blt_status.layout import shard_lines

    version = store.published_version()
    targets = Metadata[Targets].from_file(
        str(store.metadata_dir / f"{version}.targets.json")).signed.targets
    found = {}
    for name, target in targets.items():
        if name.startswith("shards/"):
            lines = shard_lines(target_path_on_disk(store.targets_dir, target).read_bytes())
            assert lines is not None
            found[name] = lines
    return found


def test_shards_patched_from_the_published_ones_hold_what_built_ones_hold(
        tmp_path: Path, world, monkeypatch: pytest.MonkeyPatch) -> None:
    """Kept recipients' lines are copied from the published shards; the rest are built. The
    same store re-published with the patch and without it (every line built from the key
    cache), with recipients changed, added, removed, moved and given a ledger status at
    once: the same records in every shard, each kept line byte for byte the published one
    and each rebuilt one opening to the same record (a record sealed again has a new nonce).
    SQLite only: the comparison needs two copies of one store (the same keys), which a
    directory copy gives; the path itself is the same on PostgreSQL (the tests above run it
    there against a store published from nothing)."""
    import shutil

    import blt_status.central.publish as publish_module
    from blt_status.central.db import dispose_engines

    store, _published = published_store(tmp_path, world, None)
    ingest_payouts(store, world.report, workers=1)
    before = current_shards(store)
    dispose_engines()
    copies = {name: tmp_path / name for name in ("patched", "built")}
    for copy in copies.values():
        shutil.copytree(store.directory, copy)

    def changes(header: list[str], rows: list[list[str]]) -> None:
        column = header.index
        rows[1][column("alamat")] += " (pindah)"  # changed
        rows[2][column("kode_wilayah")] = "32.01.02.2001"  # moved to Gunung Putri
        del rows[5]  # removed
        rows.append([EXTRA_NIK, "3201010101100099", "Rina Kurnia", "Jl. Mawar 1",
                     "32.01.01.1001", "3", "2", "aktif", ""])  # added

    changed = edited(world.recipients, tmp_path / "changed.csv", changes)
    patched: list[bool] = []
    real = publish_module._patched_lines

    def spy(*args, **kwargs):  # type: ignore[no-untyped-def]
        lines = real(*args, **kwargs)
        patched.append(lines is not None)
        return lines

    monkeypatch.setattr(publish_module, "_patched_lines", spy)
    stores = {name: CentralStore.open(copy) for name, copy in copies.items()}
    publish_files(stores["patched"], changed, world.payout_points, world.program, workers=1,
                  allow_shrink=True)
    assert patched and all(patched)
    monkeypatch.setattr(publish_module, "_patched_lines", lambda *args, **kwargs: None)
    publish_files(stores["built"], changed, world.payout_points, world.program, workers=1,
                  allow_shrink=True)
    got = {name: current_shards(copy) for name, copy in stores.items()}
    assert got["patched"].keys() == got["built"].keys()
    kept = 0
    for shard, lines in got["patched"].items():
        assert lines.keys() == got["built"][shard].keys()
        for tag, line in lines.items():
            if line == before.get(shard, {}).get(tag):
                kept += 1
                assert got["built"][shard][tag] == line
    assert kept > 0
    everyone = RESIDENTS | {EXTRA_NIK: "32.01.01"}
    everyone[PEOPLE[2].nik] = "32.01.02"
    for view in ("officer", "recipient"):
        assert published_payloads(stores["patched"], everyone, view) \
            == published_payloads(stores["built"], everyone, view)


@given(st.dictionaries(st.binary(min_size=16, max_size=16), st.binary(max_size=64),
                       max_size=30),
       st.sampled_from(["officer", "recipient"]))
@settings(max_examples=200, deadline=None)
def test_a_shard_made_of_lines_is_the_shard_made_of_records(
        records: dict[bytes, bytes], view: str) -> None:
    """``shard_file_of_lines`` gives ``shard_file``'s bytes for the same records in any order,
    and ``shard_lines`` reads back every line by its tag."""
    from blt_status.layout import shard_file, shard_file_of_lines, shard_line, shard_lines
    from blt_status.records import SealedRecord

    sealed = [SealedRecord(tag, "32.01.01", blob) for tag, blob in records.items()]
    data, custom = shard_file(view, "32.01.01", sealed, epoch="e1")
    lines = [shard_line(record) for record in reversed(sealed)]
    assert shard_file_of_lines(view, "32.01.01", lines, epoch="e1") == (data, custom)
    found = shard_lines(data)
    assert found is not None and sorted(found.values()) == sorted(lines)
    assert set(found) == {tag.hex().encode() for tag in records}
    if sealed:  # a line cut short, or a count that differs, is not read as a shard
        assert shard_lines(data[:-2]) is None
        assert shard_lines(data.replace(b'"records": ', b'"records": 1', 1)) is None
