"""IndexStore conformance: the same suite for the TinyDB and SQLite backends."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path

import pytest
from tinydb.table import Table

from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import FileFormatError, IndexCorrupt, IndexMissing
from blt_status.records import Program, SealedRecord
from blt_status.store import BACKENDS, AtomicJSONStorage, IndexMeta, open_index

PROGRAM = Program("P", "Program", "2025")


def meta(version: int = 1) -> IndexMeta:
    return IndexMeta(view="officer", version=version,
                     data_as_of=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
                     expires=dt.datetime(2025, 11, 27, tzinfo=dt.UTC), program=PROGRAM,
                     kdf=TEST_INDEX_KDF, epoch_salt=b"salt" * 4, shards={},
                     canaries={"32.01.01": b"\x01" * 16}, extra={"aggregates": {"x": 1}})


def records(shard: str, count: int, seed: int = 0) -> list[SealedRecord]:
    return [SealedRecord(f"{shard}|{seed}|{i}".encode().ljust(16, b"\0")[:16], shard,
                         os.urandom(40)) for i in range(count)]


@pytest.fixture(params=sorted(BACKENDS))
def backend(request: pytest.FixtureRequest):
    return BACKENDS[request.param]


def test_write_open_get_roundtrip(backend, tmp_path: Path) -> None:
    path = tmp_path / f"index{backend.suffix}"
    written = records("32.01.01", 50) + records("32.01.02", 30)
    result_meta = backend.write(path, meta(), written)
    assert dict(result_meta.shards) == {"32.01.01": 50, "32.01.02": 30}
    with open_index(path) as store:
        assert len(store) == 80
        assert store.meta == result_meta
        assert store.meta.extra == {"aggregates": {"x": 1}}
        for record in written:
            assert store.get(record.tag) == record
        assert store.get(b"\xff" * 16) is None
        assert sorted(r.tag for r in store.iter_shard("32.01.02")) == sorted(
            r.tag for r in written if r.shard == "32.01.02")
        assert list(store.iter_shard("99.99.99")) == []


def test_empty_index(backend, tmp_path: Path) -> None:
    path = tmp_path / f"empty{backend.suffix}"
    backend.write(path, meta(), [])
    with open_index(path) as store:
        assert len(store) == 0 and store.get(b"\0" * 16) is None


def test_derive_replaces_only_named_shards(backend, tmp_path: Path) -> None:
    base_path, next_path = tmp_path / f"v1{backend.suffix}", tmp_path / f"v2{backend.suffix}"
    kept, old = records("32.01.01", 20), records("32.01.02", 10)
    backend.write(base_path, meta(1), kept + old)
    new = records("32.01.02", 12, seed=1)
    added = records("32.01.03", 3)
    with open_index(base_path) as base:
        derived = backend.derive(base, next_path, meta(2), {"32.01.02": new, "32.01.03": added})
    assert dict(derived.shards) == {"32.01.01": 20, "32.01.02": 12, "32.01.03": 3}
    with open_index(next_path) as store, open_index(base_path) as base:
        assert store.meta.version == 2 and base.meta.version == 1  # the base is untouched
        assert all(store.get(r.tag) == r for r in kept + new + added)
        assert all(store.get(r.tag) is None for r in old)
        assert all(base.get(r.tag) == r for r in old)


def test_derive_with_empty_shard_drops_it(backend, tmp_path: Path) -> None:
    base_path, next_path = tmp_path / f"v1{backend.suffix}", tmp_path / f"v2{backend.suffix}"
    backend.write(base_path, meta(1), records("32.01.01", 5) + records("32.01.02", 5))
    with open_index(base_path) as base:
        derived = backend.derive(base, next_path, meta(2), {"32.01.02": []})
    assert dict(derived.shards) == {"32.01.01": 5}


def test_duplicate_tag_is_refused_and_nothing_is_written(backend, tmp_path: Path) -> None:
    path = tmp_path / f"dup{backend.suffix}"
    twice = records("32.01.01", 3)
    with pytest.raises(FileFormatError) as caught:
        backend.write(path, meta(), [*twice, twice[0]])
    assert caught.value.code == "duplicate_tag"
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_failure_mid_write_leaves_the_old_file_intact(backend, tmp_path: Path) -> None:
    path = tmp_path / f"index{backend.suffix}"
    original = records("32.01.01", 10)
    backend.write(path, meta(1), original)
    before = path.read_bytes()

    def exploding():
        yield from records("32.01.01", 5, seed=9)
        raise OSError("disk full")

    with pytest.raises(OSError):
        backend.write(path, meta(2), exploding())
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no scratch file left behind
    with open_index(path) as store:
        assert all(store.get(r.tag) == r for r in original)


def test_missing_and_corrupt_files(backend, tmp_path: Path) -> None:
    with pytest.raises(IndexMissing) as missing:
        open_index(tmp_path / f"nothing{backend.suffix}")
    assert missing.value.code == "index_missing"
    path = tmp_path / f"index{backend.suffix}"
    backend.write(path, meta(), records("32.01.01", 100))
    data = bytearray(path.read_bytes())
    for damage in (b"", bytes(data[: len(data) // 2]), b"garbage" * 100):
        path.write_bytes(damage)
        with pytest.raises(IndexCorrupt) as corrupt:
            open_index(path)
        assert corrupt.value.code == "index_corrupt"


def test_tinydb_storage_is_atomic_and_lookups_do_not_scan(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "index.json"
    written = records("32.01.01", 200)
    BACKENDS["tinydb"].write(path, meta(), written)
    store = open_index(path)
    # After opening, a lookup touches neither TinyDB nor the file.
    monkeypatch.setattr(AtomicJSONStorage, "read",
                        lambda self: pytest.fail("lookup read the file"))
    monkeypatch.setattr(Table, "search", lambda *a, **k: pytest.fail("lookup scanned"))
    assert store.get(written[7].tag) == written[7]

    # A write that fails half-way through leaves the previous file complete.
    monkeypatch.undo()
    storage = AtomicJSONStorage(tmp_path / "plain.json")
    storage.write({"t": {"1": {"a": 1}}})
    original = storage.path.read_bytes()
    real_fsync = os.fsync

    def failing_fsync(fd: int) -> None:
        raise OSError("I/O error")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        storage.write({"t": {"1": {"a": 2}}})
    monkeypatch.setattr(os, "fsync", real_fsync)
    assert storage.path.read_bytes() == original
    assert sorted(p.name for p in tmp_path.iterdir()) == ["index.json", "plain.json"]


def test_meta_rejects_absurd_kdf_parameters(tmp_path: Path) -> None:
    data = meta().to_dict()
    data["kdf"]["memory_kib"] = 10**12
    with pytest.raises(FileFormatError):
        IndexMeta.from_dict(data)


@pytest.mark.parametrize("seed", range(4))
def test_chains_of_derived_versions_match_a_model(backend, tmp_path: Path, seed: int) -> None:
    """Random shard replacements and drops over many versions: every version, read back,
    is exactly the model, and the version before it still is too."""
    import random

    rng = random.Random(seed)
    shards = [f"32.01.{n:02d}" for n in range(1, 9)]
    model = {shard: records(shard, rng.randint(5, 40), seed=0) for shard in shards}
    path = tmp_path / f"v1{backend.suffix}"
    backend.write(path, meta(1), [r for rs in model.values() for r in rs])
    previous_model, previous_path = None, None
    for version in range(2, 14):
        replaced = {}
        for shard in rng.sample(shards, rng.randint(1, 3)):
            replaced[shard] = [] if rng.random() < 0.15 else records(
                shard, rng.randint(1, 30), seed=version)
        new_path = tmp_path / f"v{version}{backend.suffix}"
        with open_index(path) as base:
            written = backend.derive(base, new_path, meta(version), replaced)
        previous_model, previous_path = dict(model), path
        model.update(replaced)
        path = new_path
        expected_counts = {s: len(rs) for s, rs in model.items() if rs}
        assert dict(written.shards) == expected_counts
        for check_path, check_model in ((path, model), (previous_path, previous_model)):
            with open_index(check_path) as store:
                assert len(store) == sum(len(rs) for rs in check_model.values())
                for shard, shard_records in check_model.items():
                    assert sorted(r.tag for r in store.iter_shard(shard)) == sorted(
                        r.tag for r in shard_records)
                    assert all(store.get(r.tag) == r for r in shard_records)
        # records replaced away are gone from the new version
        gone = [r for s in replaced for r in previous_model[s]]
        with open_index(path) as store:
            assert all(store.get(r.tag) is None for r in gone)


def test_sqlite_derived_version_writes_only_the_change(tmp_path: Path) -> None:
    backend = BACKENDS["sqlite"]
    base_path = tmp_path / "v1.sqlite"
    backend.write(base_path, meta(1), [r for n in range(20) for r in
                                       records(f"32.01.{n:02d}", 200)])
    with open_index(base_path) as base:
        backend.derive(base, tmp_path / "v2.sqlite", meta(2),
                       {"32.01.03": records("32.01.03", 150, seed=2)})
    assert (tmp_path / "v2.sqlite").stat().st_size < base_path.stat().st_size / 5
    assert backend.files(tmp_path / "v2.sqlite") == [tmp_path / "v2.sqlite", base_path]
    base_path.unlink()  # a derived version without its base is corrupt, not silently partial
    with pytest.raises(IndexCorrupt):
        open_index(tmp_path / "v2.sqlite")


def test_a_file_lock_is_taken_at_once_waited_for_or_given_up(tmp_path: Path) -> None:
    """``try_lock``, which every writer's lock is: free, it is held at once; held by another
    open file description (what another process holds), ``wait=0`` gives up at once, a wait
    gives up after about that long or as soon as ``cancelled`` is set, and a lock released
    while waited for is taken."""
    import fcntl
    import os
    import threading
    import time

    from blt_status._fs import try_lock

    path = tmp_path / "x.lock"
    with try_lock(path) as held:
        assert held
    other = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(other, fcntl.LOCK_EX)
        started = time.monotonic()
        with try_lock(path) as held:
            assert not held
        with try_lock(path, wait=0.3) as held:
            assert not held
        assert time.monotonic() - started >= 0.25
        cancelled = threading.Event()
        threading.Timer(0.1, cancelled.set).start()
        started = time.monotonic()
        with try_lock(path, wait=30, cancelled=cancelled) as held:
            assert not held
        assert time.monotonic() - started < 10
        threading.Timer(0.2, fcntl.flock, (other, fcntl.LOCK_UN)).start()
        with try_lock(path, wait=30) as held:
            assert held
    finally:
        os.close(other)
