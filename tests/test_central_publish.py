"""Publishing versions into a real central store: TUF metadata, shards, deltas, all-or-nothing."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import stat
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

import pytest
from central_world import db_dump, db_url  # noqa: F401  (db_url: fixture)
from conftest import KNOWN_SECRETS, PEOPLE, PROGRAM, secrets_found
from tuf.api.metadata import Metadata, Root, Snapshot, Targets, Timestamp

from blt_status.central import CentralStore, publish_records
from blt_status.central.repo import target_path_on_disk
from blt_status.crypto import TEST_INDEX_KDF, IndexKey
from blt_status.errors import CentralError
from blt_status.layout import read_shard, shard_target
from blt_status.records import RecordPayload, canary_tag, open_payload

NOW = dt.datetime(2025, 11, 20, 6, 0, tzinfo=dt.UTC)


def count_aggregates(items: Iterable[tuple[str, RecordPayload]]) -> dict[str, dict]:
    """A minimal stand-in for the data plane's aggregates: recipients per desa."""
    result: dict[str, Counter] = {}
    for shard, payload in items:
        result.setdefault(shard, Counter())[f"{payload.kode_wilayah}/{payload.status}"] += 1
    return {shard: {"desa": dict(sorted(counts.items()))} for shard, counts in result.items()}


def people_records(people=PEOPLE) -> dict[str, tuple[str, RecordPayload]]:
    return {person.nik: (person.shard, person.payload) for person in people}


def snapshot_tree(directory: Path) -> dict[str, bytes]:
    return {str(path.relative_to(directory)): path.read_bytes()
            for path in sorted(directory.rglob("*")) if path.is_file()}


def publish(store: CentralStore, records=None, **kwargs):
    return publish_records(store, records if records is not None else people_records(),
                           program=PROGRAM, aggregate=count_aggregates, workers=1,
                           now=kwargs.pop("now", NOW), **kwargs)


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None) -> CentralStore:  # noqa: F811
    return CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF,
                             central_url="http://127.0.0.1:8000", now=NOW, db_url=db_url)


def load_verified(store: CentralStore, version: int) -> Metadata[Targets]:
    """Load every role of ``version`` with python-tuf and check the signature chain."""
    metadata = store.public_dir / "metadata"
    root = Metadata[Root].from_file(str(metadata / "1.root.json"))
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)
    timestamp = Metadata[Timestamp].from_file(str(metadata / "timestamp.json"))
    root.signed.verify_delegate("timestamp", timestamp.signed_bytes, timestamp.signatures)
    assert timestamp.signed.snapshot_meta.version == version
    snapshot_bytes = (metadata / f"{version}.snapshot.json").read_bytes()
    timestamp.signed.snapshot_meta.verify_length_and_hashes(snapshot_bytes)
    snapshot = Metadata[Snapshot].from_bytes(snapshot_bytes)
    root.signed.verify_delegate("snapshot", snapshot.signed_bytes, snapshot.signatures)
    targets_bytes = (metadata / f"{version}.targets.json").read_bytes()
    snapshot.signed.meta["targets.json"].verify_length_and_hashes(targets_bytes)
    targets = Metadata[Targets].from_bytes(targets_bytes)
    root.signed.verify_delegate("targets", targets.signed_bytes, targets.signatures)
    assert targets.signed.version == snapshot.signed.version == version
    for target in targets.signed.targets.values():
        target.verify_length_and_hashes(
            target_path_on_disk(store.public_dir / "targets", target).read_bytes())
    return targets


def test_first_publish_is_a_verifiable_tuf_repository(store: CentralStore) -> None:
    result = publish(store)
    assert (result.version, result.published) == (1, len(PEOPLE))
    assert result.keys_derived == 2 * len(PEOPLE)
    targets = load_verified(store, 1).signed.targets
    assert sorted(targets) == [
        "aggregates/32.01.01.json", "aggregates/32.01.02.json", "params.json",
        "shards/officer/32.01.01.jsonl", "shards/officer/32.01.02.jsonl",
        "shards/recipient/32.01.01.jsonl", "shards/recipient/32.01.02.jsonl"]
    custom = targets["shards/officer/32.01.01.jsonl"].custom["blt"]
    assert custom == {"kind": "shard", "view": "officer", "region": "32.01.01", "records": 3,
                      "epoch": "e1"}
    assert store.root().signed.roles["root"].threshold == 2


def test_every_record_opens_with_keys_a_device_can_derive(store: CentralStore) -> None:
    publish(store)
    targets = load_verified(store, 1).signed.targets
    params = json.loads(target_path_on_disk(store.targets_dir, targets["params.json"])
                        .read_bytes())
    assert params["kdf"] == TEST_INDEX_KDF.to_dict()
    assert "NOT FOR REAL DATA" in params["kdf_label"]
    index_params = store.index_params(store.epoch(params["epoch"]))
    assert params["canaries"]["officer"].keys() == {"32.01.01", "32.01.02"}
    for view, region, shard in (("officer", "32.01.01", "32.01.01"),
                                ("officer", "32.01.02", "32.01.02"), ("recipient", "*", "")):
        assert params["canaries"][view][region] == canary_tag(
            epoch_salt=index_params.epoch_salt, pepper=index_params.pepper(view, shard),
            view=view, profile=TEST_INDEX_KDF).hex()
    for person in PEOPLE:
        for view in ("officer", "recipient"):
            target = targets[shard_target(view, person.shard)]
            lines = target_path_on_disk(store.targets_dir, target).read_bytes().splitlines()
            records = {record.tag: record
                       for record in read_shard(lines, view=view, region=person.shard)}
            key = IndexKey.from_root(index_params.root_key(person.nik, view, person.shard))
            payload = open_payload(records[key.tag], key=key, view=view)
            expected = person.payload if view == "officer" else person.payload.for_recipient()
            assert payload == expected


def test_unchanged_input_writes_no_new_shard_files(store: CentralStore) -> None:
    publish(store)
    before = snapshot_tree(store.targets_dir)
    first = load_verified(store, 1).signed.targets
    result = publish(store, now=NOW + dt.timedelta(hours=1))
    assert result.version == 2 and result.keys_derived == 0 and result.shards_written == 0
    second = load_verified(store, 2).signed.targets
    new_files = set(snapshot_tree(store.targets_dir)) - set(before)
    params_file = target_path_on_disk(store.targets_dir, second["params.json"])
    assert new_files == {str(params_file.relative_to(store.targets_dir))}  # its data_as_of
    for name, target in first.items():
        if name != "params.json":
            assert second[name] == target


def test_status_change_touches_only_its_kecamatan(store: CentralStore) -> None:
    publish(store)
    first = load_verified(store, 1).signed.targets
    changed = dataclasses.replace(PEOPLE[0].payload, status="collected",
                                  collected_at=NOW, collected_point_id="KP-CIBINONG")
    records = people_records()
    records[PEOPLE[0].nik] = (PEOPLE[0].shard, changed)
    result = publish(store, records, now=NOW + dt.timedelta(hours=2))
    assert result.keys_derived == 0  # no Argon2id for known NIKs in the same epoch
    second = load_verified(store, 2).signed.targets
    differs = sorted(name for name in first if first[name] != second[name])
    assert differs == ["aggregates/32.01.01.json", "params.json",
                       "shards/officer/32.01.01.jsonl", "shards/recipient/32.01.01.jsonl"]
    assert result.shards_written == 2


def test_moving_and_removing_recipients(store: CentralStore) -> None:
    publish(store)
    records = people_records()
    del records[PEOPLE[3].nik]
    moved = dataclasses.replace(PEOPLE[4].payload, kode_wilayah="32.01.01.1001")
    records[PEOPLE[4].nik] = ("32.01.01", moved)
    publish(store, records)
    targets = load_verified(store, 2).signed.targets
    assert "shards/officer/32.01.02.jsonl" not in targets
    assert targets["shards/officer/32.01.01.jsonl"].custom["blt"]["records"] == 4
    state = store.load_state()
    assert state.records[PEOPLE[4].nik].shard == "32.01.01"


class Boom(RuntimeError):
    pass


@pytest.mark.parametrize("stage", ["aggregate", "sign", "commit"])
def test_failure_mid_publish_leaves_public_identical(store: CentralStore, stage: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    publish(store)
    public_before = snapshot_tree(store.public_dir)
    state_before = db_dump(store)
    changed = dataclasses.replace(PEOPLE[3].payload, status="collected")
    records = {**people_records(), PEOPLE[3].nik: (PEOPLE[3].shard, changed),
               "3201016606990007": ("32.01.03", dataclasses.replace(
                   PEOPLE[0].payload, kode_wilayah="32.01.03.2001"))}
    aggregate = count_aggregates
    if stage == "aggregate":
        def aggregate(items):
            raise Boom()
    elif stage == "sign":
        monkeypatch.setattr("blt_status.central.repo.Metadata.sign",
                            lambda *a, **k: (_ for _ in ()).throw(Boom()))
    else:
        monkeypatch.setattr("blt_status.central.repo.RepoTransaction.commit",
                            lambda *a, **k: (_ for _ in ()).throw(Boom()))
    with pytest.raises(Boom):
        publish_records(store, records, program=PROGRAM, aggregate=aggregate, workers=1,
                        now=NOW)
    assert snapshot_tree(store.public_dir) == public_before
    assert db_dump(store) == state_before
    assert store.published_version() == 1
    monkeypatch.undo()
    assert publish(store, records).version == 2
    load_verified(store, 2)


def test_private_files_are_0600_and_nothing_is_plaintext(store: CentralStore) -> None:
    publish(store)
    publish(store)
    for path in store.private_dir.rglob("*"):
        mode = stat.S_IMODE(path.stat().st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path
    for path in store.directory.rglob("*"):
        if path.is_file():
            assert secrets_found(path.read_bytes(), KNOWN_SECRETS) == [], (path, "secret")


def test_new_program_starts_a_new_epoch(store: CentralStore) -> None:
    publish(store)
    next_program = dataclasses.replace(PROGRAM, id="BLT-PANGAN-2026", period="Januari 2026")
    records = {nik: (shard, dataclasses.replace(payload, program=next_program))
               for nik, (shard, payload) in people_records().items()}
    result = publish_records(store, records, program=next_program, aggregate=count_aggregates,
                             workers=1, now=NOW)
    assert result.epoch == "e2" and result.keys_derived == 2 * len(PEOPLE)
    epochs = {epoch.id: epoch for epoch in store.epochs()}
    assert epochs["e1"].salt != epochs["e2"].salt
    load_verified(store, 2)


def test_process_pool_gives_the_same_keys_as_one_worker(store: CentralStore) -> None:
    base = PEOPLE[0]
    records = {f"32010145059{index:05d}": (base.shard, base.payload) for index in range(80)}
    result = publish_records(store, records, program=PROGRAM, aggregate=count_aggregates,
                             workers=2, now=NOW)
    assert result.keys_derived == 160
    params = store.index_params(store.epoch(result.epoch))
    state = store.load_state()
    for nik in list(records)[::7]:
        assert state.records[nik].keys["recipient"] == params.root_key(nik, "recipient",
                                                                       base.shard)
        assert state.records[nik].keys["officer"] == params.root_key(nik, "officer", base.shard)


def three_kecamatan(per_kecamatan: int = 40) -> dict[str, tuple[str, RecordPayload]]:
    """Enough recipients in each of three kecamatan for their keys to go to the pool."""
    base = PEOPLE[0]
    records = {}
    for number, kec in enumerate(("32.01.01", "32.01.02", "32.01.03"), 1):
        payload = dataclasses.replace(base.payload, kode_wilayah=f"{kec}.2001")
        for index in range(per_kecamatan):
            records[f"3201014505{number}{index:05d}"] = (kec, payload)
    return records


def test_the_next_kecamatan_is_derived_while_this_one_is_written(
        store: CentralStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pool derives kecamatan k+1 while this process writes kecamatan k's shards and
    rows (the workers used to wait for it): its keys are sent before k is written, and
    every key is still the one a device derives."""
    from blt_status.central import publish as publish_module

    events: list[tuple[str, str]] = []
    real_send, real_write = publish_module._send, publish_module._write_kecamatan

    def send(decided, deriver):
        events.append(("send", decided.name))
        return real_send(decided, deriver)

    def write(store, plan, transaction, aggregate, staging, decided, sent):
        events.append(("write", decided.name))
        return real_write(store, plan, transaction, aggregate, staging, decided, sent)

    monkeypatch.setattr(publish_module, "_send", send)
    monkeypatch.setattr(publish_module, "_write_kecamatan", write)
    records = three_kecamatan()
    result = publish_records(store, records, program=PROGRAM, aggregate=count_aggregates,
                             workers=2, now=NOW)
    assert events == [("send", "32.01.01"), ("send", "32.01.02"), ("write", "32.01.01"),
                      ("send", "32.01.03"), ("write", "32.01.02"), ("write", "32.01.03")]
    assert result.keys_derived == 2 * len(records)
    params = store.index_params(store.epoch(result.epoch))
    state = store.load_state()
    for nik, (kec, _payload) in list(records.items())[::9]:
        for view in ("officer", "recipient"):
            assert state.records[nik].keys[view] == params.root_key(nik, view, kec)
    targets = load_verified(store, 1).signed.targets
    for nik, (kec, payload) in list(records.items())[::13]:  # each record opens in its shard
        for view in ("officer", "recipient"):
            target = targets[shard_target(view, kec)]
            lines = target_path_on_disk(store.targets_dir, target).read_bytes().splitlines()
            sealed = {record.tag: record for record in read_shard(
                lines, view=view, region=kec)}
            key = IndexKey.from_root(params.root_key(nik, view, kec))
            opened = open_payload(sealed[key.tag], key=key, view=view)
            assert opened == (payload if view == "officer" else payload.for_recipient())


def test_a_failure_while_a_kecamatan_is_written_stops_the_next_ones_derivation(
        store: CentralStore, monkeypatch: pytest.MonkeyPatch) -> None:
    """Writing kecamatan k fails while k+1's keys are in the pool: the error is the
    publish's, nothing is published, the pool is gone, and the next publish works."""
    import multiprocessing

    from blt_status.central import publish as publish_module

    publish(store)
    public_before = snapshot_tree(store.public_dir)
    state_before = db_dump(store)

    def fail(*args, **kwargs):
        raise Boom()

    monkeypatch.setattr(publish_module, "_stage_rows", fail)
    records = three_kecamatan()
    with pytest.raises(Boom):
        publish_records(store, records, program=PROGRAM, aggregate=count_aggregates,
                        workers=2, now=NOW)
    assert multiprocessing.active_children() == []
    assert snapshot_tree(store.public_dir) == public_before
    assert db_dump(store) == state_before
    monkeypatch.undo()
    assert publish_records(store, records, program=PROGRAM, aggregate=count_aggregates,
                           workers=2, now=NOW).version == 2
    load_verified(store, 2)


def test_old_target_files_are_pruned_after_three_versions(store: CentralStore) -> None:
    publish(store)
    first_shard = target_path_on_disk(store.targets_dir, load_verified(store, 1).signed.targets[
        "shards/officer/32.01.01.jsonl"])
    for version, status in enumerate(["held", "returned", "collected"], start=2):
        records = people_records()
        records[PEOPLE[0].nik] = (PEOPLE[0].shard,
                                  dataclasses.replace(PEOPLE[0].payload, status=status))
        publish(store, records, now=NOW + dt.timedelta(hours=version))
        assert first_shard.exists() == (version <= 3)
    named = set()
    for version in (2, 3, 4):
        targets = Metadata[Targets].from_file(str(store.metadata_dir / f"{version}.targets.json"))
        named |= {target_path_on_disk(store.targets_dir, target)
                  for target in targets.signed.targets.values()}
    assert {path for path in store.targets_dir.rglob("*") if path.is_file()} == named


def test_a_second_publisher_is_refused_while_one_runs(store: CentralStore) -> None:
    other = CentralStore.open(store.directory)
    with store.lock():
        with pytest.raises(CentralError) as caught:
            publish(other)
        assert caught.value.code == "store_busy"
    assert publish(other).version == 1


KILL_SCRIPT = """
import os, signal, sys
sys.path.insert(0, {tests!r})
from test_central_publish import publish, people_records, PEOPLE
import dataclasses
from blt_status.central import CentralStore
from blt_status.central.repo import RepoTransaction
RepoTransaction.commit = lambda self, timestamp: os.kill(os.getpid(), signal.SIGKILL)
store = CentralStore.open({directory!r})
records = people_records()
records[PEOPLE[1].nik] = (PEOPLE[1].shard, dataclasses.replace(PEOPLE[1].payload, status="held"))
publish(store, records)
"""


def test_a_publish_killed_before_its_commit_is_never_visible(store: CentralStore) -> None:
    import subprocess
    import sys

    publish(store)
    metadata_before = {name: data for name, data in snapshot_tree(store.metadata_dir).items()
                       if name in ("timestamp.json", "1.targets.json", "1.snapshot.json")}
    script = KILL_SCRIPT.format(tests=str(Path(__file__).parent), directory=str(store.directory))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9
    assert (store.metadata_dir / "2.targets.json").exists()  # it got that far
    assert {name: data for name, data in snapshot_tree(store.metadata_dir).items()
            if name in metadata_before} == metadata_before
    assert store.published_version() == 1
    load_verified(store, 1)
    assert store.load_state().records[PEOPLE[1].nik].payload.status == "collected"
    # The next publish takes over cleanly and the orphan files go with the pruning.
    assert publish(store).version == 2
    load_verified(store, 2)
    named = set()
    for version in (1, 2):
        targets = Metadata[Targets].from_file(str(store.metadata_dir / f"{version}.targets.json"))
        named |= {target_path_on_disk(store.targets_dir, target)
                  for target in targets.signed.targets.values()}
    assert {path for path in store.targets_dir.rglob("*") if path.is_file()} == named


def test_the_list_writer_is_forked_with_ctrl_c_held_back(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C during the fork of the distribution-list writer used to be swallowed by logging's
    at-fork hooks (and the publish went on): SIGINT is held back across the fork only, and the
    child runs with the parent's usual mask."""
    import multiprocessing.context
    import signal

    from blt_status.central.publish import _Background

    during: list[set[signal.Signals]] = []
    start = multiprocessing.context.ForkProcess.start

    def recording(process: multiprocessing.context.ForkProcess) -> None:
        during.append(signal.pthread_sigmask(signal.SIG_BLOCK, []))
        start(process)

    monkeypatch.setattr(multiprocessing.context.ForkProcess, "start", recording)

    def child_mask(folder: Path) -> list[Path]:
        return [folder / str(int(sig)) for sig in signal.pthread_sigmask(signal.SIG_BLOCK, [])]

    before = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    in_child = {int(path.name) for path in _Background(child_mask, tmp_path).result()}
    assert signal.SIGINT in during[0] and signal.SIGTERM in during[0]
    assert signal.pthread_sigmask(signal.SIG_BLOCK, []) == before
    assert in_child == {int(sig) for sig in before}
    assert signal.SIGINT not in before
