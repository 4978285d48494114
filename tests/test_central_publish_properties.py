"""Property: any sequence of changes publishes versions whose shards say exactly the model.

Each step changes the set of recipients (status changes, moves between kecamatan, removals,
additions) and publishes. After every version: python-tuf verifies the metadata chain, every
recipient opens from its kecamatan's shards in both views with keys a device derives, no shard
holds anyone else, and kecamatan whose recipients did not change keep their exact target entry.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from pathlib import Path

from conftest import PEOPLE, PROGRAM
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_central_publish import count_aggregates, load_verified

from blt_status.central import CentralStore, publish_records
from blt_status.central.repo import target_path_on_disk
from blt_status.crypto import TEST_INDEX_KDF, IndexKey
from blt_status.layout import read_shard, shard_target
from blt_status.records import RecordPayload, canary_tag, open_payload

KECAMATAN = {"32.01.01": "32.01.01.1001", "32.01.02": "32.01.02.2001",
             "32.01.03": "32.01.03.1001"}
EXTRA_NIKS = [f"320101450590{index:04d}" for index in range(10, 16)]

step = st.one_of(
    st.tuples(st.just("status"), st.integers(0, 10),
              st.sampled_from(["scheduled", "collected", "held", "returned"])),
    st.tuples(st.just("move"), st.integers(0, 10), st.sampled_from(sorted(KECAMATAN))),
    st.tuples(st.just("remove"), st.integers(0, 10), st.none()),
    st.tuples(st.just("add"), st.integers(0, len(EXTRA_NIKS) - 1),
              st.sampled_from(sorted(KECAMATAN))),
)


def apply(model: dict[str, tuple[str, RecordPayload]], change: tuple) -> None:
    kind, index, value = change
    niks = sorted(model)
    if kind == "add":
        nik = EXTRA_NIKS[index]
        model[nik] = (value, dataclasses.replace(PEOPLE[0].payload, name=f"Tambahan {index}",
                                                 kode_wilayah=KECAMATAN[value]))
        return
    if not niks:
        return
    nik = niks[index % len(niks)]
    shard, payload = model[nik]
    if kind == "status":
        model[nik] = (shard, dataclasses.replace(payload, status=value))
    elif kind == "move":
        model[nik] = (value, dataclasses.replace(payload, kode_wilayah=KECAMATAN[value]))
    else:
        del model[nik]


def check_version(store: CentralStore, version: int,
                  model: dict[str, tuple[str, RecordPayload]]) -> dict:
    targets = load_verified(store, version).signed.targets
    params = store.index_params(store.epochs()[-1])
    by_shard: dict[str, list[str]] = {}
    for nik, (shard, _) in model.items():
        by_shard.setdefault(shard, []).append(nik)
    document = json.loads(target_path_on_disk(store.targets_dir, targets["params.json"])
                          .read_bytes())
    assert document["canaries"]["officer"] == {
        kec: canary_tag(epoch_salt=params.epoch_salt, pepper=params.pepper("officer", kec),
                        view="officer", profile=params.kdf).hex() for kec in sorted(by_shard)}
    shard_names = {name for name in targets if name.startswith("shards/")}
    assert shard_names == {shard_target(view, kec) for kec in by_shard
                           for view in ("officer", "recipient")}
    for kec, niks in by_shard.items():
        for view in ("officer", "recipient"):
            target = targets[shard_target(view, kec)]
            assert target.custom["blt"]["records"] == len(niks)
            lines = target_path_on_disk(store.targets_dir, target).read_bytes().splitlines()
            records = {record.tag: record for record in read_shard(lines, view=view, region=kec)}
            assert len(records) == len(niks)
            for nik in niks:
                key = IndexKey.from_root(params.root_key(nik, view, kec))
                payload = model[nik][1]
                expected = payload if view == "officer" else payload.for_recipient()
                assert open_payload(records[key.tag], key=key, view=view) == expected
    return targets


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(step, min_size=1, max_size=3), min_size=1, max_size=3))
def test_published_versions_follow_any_sequence_of_changes(batches: list[list[tuple]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        store = CentralStore.init(Path(scratch) / "c", kdf=TEST_INDEX_KDF)
        model = {person.nik: (person.shard, person.payload) for person in PEOPLE}
        publish_records(store, model, program=PROGRAM, aggregate=count_aggregates, workers=1)
        previous = check_version(store, 1, model)
        previous_model = dict(model)
        for version, batch in enumerate(batches, start=2):
            for change in batch:
                apply(model, change)
            publish_records(store, dict(model), program=PROGRAM, aggregate=count_aggregates,
                            workers=1)
            targets = check_version(store, version, model)
            for kec in KECAMATAN:
                before = {nik: value for nik, value in previous_model.items()
                          if value[0] == kec}
                after = {nik: value for nik, value in model.items() if value[0] == kec}
                if before == after and after:
                    for view in ("officer", "recipient"):
                        name = shard_target(view, kec)
                        assert targets[name] == previous[name]
            previous, previous_model = targets, dict(model)
