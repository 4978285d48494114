"""The re-publish's fast paths give exactly what the plain ones gave.

The distribution lists are written by a forked process while the shards are built (its errors
still stop the publish, nothing written); a record's canonical bytes and a list manifest's
indented JSON are composed faster, byte for byte the same as ``json.dumps`` gives them.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from central_world import db_dump, db_url, write_world  # noqa: F401  (db_url: fixture)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given, settings
from hypothesis import strategies as st
from test_central_publish import snapshot_tree

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central import lists as lists_module
from blt_status.central.lists import manifest_bytes, verify_list
from blt_status.central.plan import StreamedPlan
from blt_status.crypto import TEST_INDEX_KDF, canonical_json
from blt_status.errors import CentralError
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule
from blt_status.regions import region_name

text = st.text(max_size=12)
maybe_text = st.none() | text
dates = st.dates(dt.date(2000, 1, 1), dt.date(2040, 12, 31))
times = st.none() | st.times().map(lambda value: value.replace(microsecond=0))

programs = st.builds(Program, text, text, text, st.none() | dates)
schedules = st.builds(Schedule, dates, times, times, st.sampled_from(["kantor_pos", "antar"]),
                      st.none() | dates)
points = st.none() | st.builds(PayoutPoint, text, text, text, text)
payloads = st.builds(
    RecordPayload, st.sampled_from(["officer", "recipient"]), text,
    st.integers(-10, 10**12), programs, schedules, points, text, text, maybe_text,
    st.none() | st.integers(0, 99), maybe_text,
    st.none() | st.datetimes(timezones=st.just(dt.UTC)), maybe_text, maybe_text, maybe_text)


@given(payloads)
@settings(max_examples=300, deadline=None)
def test_record_bytes_are_the_canonical_json_of_its_dict(payload: RecordPayload) -> None:
    assert payload.to_bytes() == canonical_json(payload.to_dict())


row_index = st.lists(st.fixed_dictionaries({"hash": text, "amount": st.integers(0, 10**12)}),
                     max_size=6)


@given(st.dictionaries(st.sampled_from(["format", "point_id", "note"]), text), row_index,
       st.integers(0, 50))
@settings(max_examples=200, deadline=None)
def test_manifest_bytes_are_the_indented_json(head: dict, rows: list, version: int) -> None:
    manifest = {**head, "version": version, "program": {"id": "p", "rules": [1, {"a": None}]},
                "row_index": rows, "key_fingerprint": "AB12 CD34"}
    assert manifest_bytes(manifest) == json.dumps(manifest, indent=1,
                                                  ensure_ascii=False).encode()
    tricky = {**manifest, "note": json.dumps("@@row_index@@")}  # the placeholder as a value
    assert manifest_bytes(tricky) == json.dumps(tricky, indent=1, ensure_ascii=False).encode()


@given(st.lists(text | st.sampled_from(["=1+1", "-", "@x", "\tx", ""]), max_size=14),
       payloads.filter(lambda payload: payload.name is not None))
@settings(max_examples=300, deadline=None)
def test_list_rows_and_their_hashes_are_what_the_plain_code_made(cells: list,
                                                                 payload: RecordPayload) -> None:
    def plain_hash(data: object) -> str:
        return hashlib.sha256(json.dumps(data, ensure_ascii=False, separators=(",", ":"))
                              .encode("utf-8")).hexdigest()

    assert lists_module._hash(cells) == plain_hash(cells)
    schedule = payload.schedule
    plain = [lists_module.escape_cell(value) for value in (
        schedule.date.isoformat(), (schedule.window_end or schedule.date).isoformat(),
        schedule.start.strftime("%H:%M") if schedule.start else "",
        schedule.end.strftime("%H:%M") if schedule.end else "",
        payload.name, payload.address or "", region_name(payload.kode_wilayah) or "",
        payload.kode_wilayah, "0001", str(payload.amount), schedule.mode,
        payload.special_needs or "")]
    assert lists_module.ListRow("0001", payload).cells() == plain


def files(store: CentralStore) -> dict[str, bytes]:
    """Every file of the store but SQLite's shared-memory index (a read touches it)."""
    return {name: data for name, data in snapshot_tree(store.directory).items()
            if not name.endswith((".db-shm", ".db-wal"))}


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


def test_lists_from_the_forked_writer_are_the_plans_lists(tmp_path: Path, world,
                                                          db_url: str | None) -> None:  # noqa: F811
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    folder = store.private_dir / "distribution" / str(report.version)
    assert [Path(path).parent for path in report.distribution_lists] == \
        [folder] * len(report.distribution_lists)
    with StreamedPlan.build(world.recipients, world.payout_points, world.program) as plan:
        direct = plan.write_distribution_lists(tmp_path / "direct", version=report.version,
                                               private_dir=store.private_dir)
    assert [path.name for path in direct] == [Path(path).name for path in
                                              report.distribution_lists]
    for path in direct:
        published = folder / path.name
        assert published.read_bytes() == path.read_bytes()
        assert verify_list(published)[1] == []
        mine = json.loads(published.with_name(path.stem + ".manifest.json").read_bytes())
        theirs = json.loads(path.with_name(path.stem + ".manifest.json").read_bytes())
        for manifest in (mine, theirs):
            del manifest["created_at"], manifest["signature"]
        assert mine == theirs
        assert published.stat().st_mode & 0o777 == 0o600


def test_an_error_in_the_forked_list_writer_publishes_nothing(tmp_path: Path, world,
                                                              db_url: str | None) -> None:  # noqa: F811
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    not_ed25519 = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption())
    (store.private_dir / "lists" / "signing.pem").write_bytes(not_ed25519)
    before, rows = files(store), db_dump(store)
    with pytest.raises(CentralError) as caught:
        publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    assert caught.value.code == "list_key_invalid"
    assert files(store) == before
    assert db_dump(store) == rows
    assert store.published_version() == 1
    assert not (store.private_dir / "distribution" / "2").exists()


def test_no_read_of_a_republish_is_streamed(tmp_path: Path, world,
                                            db_url: str | None) -> None:  # noqa: F811
    """The removal pre-pass once asked for its scan of the whole roster in batches with
    Connection.execution_options, which sets the option on the connection for good: every
    later read of the publish ran as a PostgreSQL server-side cursor planned for its first
    rows, and a 1 % re-publish of 100,000 recipients took minutes instead of seconds. It now
    reads one kecamatan at a time: no read needs to be streamed, and none is."""
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    ingest_payouts(store, world.report, workers=1)
    with world.recipients.open(encoding="utf-8", newline="") as reading:
        rows = list(csv.reader(reading))
    rows[1][rows[0].index("alamat")] += " (pindah)"  # one address changed
    changed = tmp_path / "changed.csv"
    with changed.open("w", encoding="utf-8", newline="") as writing:
        csv.writer(writing).writerows(rows)
    streamed: list[str] = []
    reads: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            reads.append(statement)
            if context is not None and context.execution_options.get("yield_per"):
                streamed.append(" ".join(statement.split()))

    sa.event.listen(sa.engine.Engine, "before_cursor_execute", seen)
    try:
        report = publish_files(store, changed, world.payout_points, world.program, workers=1)
    finally:
        sa.event.remove(sa.engine.Engine, "before_cursor_execute", seen)
    assert report.changes and sum(c["changed"] for c in report.changes.values()) >= 1
    assert len(reads) > 10  # the per-kecamatan reads ran, and none of them was streamed
    assert streamed == []


def test_a_bulk_write_leaves_postgresql_its_statistics(tmp_path: Path, world,
                                                       db_url: str | None,  # noqa: F811
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Autovacuum analyses a table a minute or more after a bulk write; an ingest's publish
    planned on an empty roster's statistics took 100 times longer. A write of at least
    ANALYZE_AFTER_ROWS rows analyses the tables it wrote (lowered here: a small world)."""
    import blt_status.central.ledger as ledger_module
    import blt_status.central.publish as publish_module
    from blt_status.central.db import open_engine

    monkeypatch.setattr(publish_module, "ANALYZE_AFTER_ROWS", 1)
    monkeypatch.setattr(ledger_module, "ANALYZE_AFTER_ROWS", 1)
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    engine = open_engine(store)
    if engine.dialect.name != "postgresql":  # SQLite plans without them: nothing to refresh
        ingest_payouts(store, world.report, workers=1)
        return

    def analysed() -> dict[str, int]:
        with engine.connect() as connection:
            return {row[0]: int(row[1]) for row in connection.execute(sa.text(
                "SELECT relname, analyze_count FROM pg_stat_user_tables"))}

    after_publish = analysed()
    assert after_publish["roster"] >= 1 and after_publish["key_cache"] >= 1
    assert after_publish["payout_events"] == 0
    ingest_payouts(store, world.report, workers=1)
    assert analysed()["payout_events"] >= 1
