"""The memory-bounded publish: a streamed plan on disk gives the in-memory plan's answers,
duplicates across kecamatan are found through its database, and a re-publish with changes in
one kecamatan rebuilds only that kecamatan."""

from __future__ import annotations

import contextlib
import csv
import io
import json
from pathlib import Path

import pytest
from central_world import POINTS, recipient_rows, write_csv, write_world
from conftest import KNOWN_SECRETS, PEOPLE, secrets_found
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_central_plan_properties import COLUMNS, rows, write_inputs

from blt_status.central import CentralStore, publish_files
from blt_status.central.plan import (
    StreamedPlan,
    plan_in_memory,
    plan_publication,
    write_distribution_lists,
)
from blt_status.central.publish import RejectionLog
from blt_status.central.schedule import CapacityShortError
from blt_status.commands._common import indented_json, print_json
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import FileFormatError

# One point serves two kecamatan (their capacity is shared: they are scheduled together), one
# serves a single desa, and 32.71.02 has no point at all.
SHARED_POINTS_CSV = """\
id,jenis,nama,alamat,kode_wilayah,kapasitas_per_hari,jam_buka,jam_tutup
KP-BOTH,kantor_pos,Kantor Pos Bersama,Jl. Raya Bogor No. 12,32.01.01;32.01.02,2,08:00,10:00
KOM-1,komunitas,Balai Desa Pondok Rajeg,Jl. Pondok Rajeg 1,32.01.01.1001,1,09:00,12:00
KP-LONE,kantor_pos,Kantor Pos Sendiri,Jl. Sendiri 1,32.01.03,5,08:00,12:00
"""


def outcome(make):
    try:
        plan = make()
    except CapacityShortError as error:
        return ("short", error.shortages)
    except FileFormatError as error:
        return ("file", error.code)
    return ("plan", [(r.nik_digits, r.kk_digits, r.shard, r.payload, r.line, r.desil)
                     for r in plan.recipients], plan.rejected, plan.warnings, plan.input_rows)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=rows, shared=st.booleans())
def test_the_streamed_plan_gives_the_in_memory_answers(tmp_path, table, shared):
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n", quoting=csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    writer.writerows(table)
    files = write_inputs(tmp_path, buffer.getvalue().encode("utf-8"))
    if shared:
        files[1].write_text(SHARED_POINTS_CSV, encoding="utf-8")
    streamed = outcome(lambda: plan_publication(*files))
    assert streamed == outcome(lambda: plan_in_memory(*files))
    if streamed[0] == "plan":  # the distribution lists too, written per group of kecamatan
        with StreamedPlan.build(*files) as plan:
            by_group = plan.write_distribution_lists(tmp_path / "a")
        whole = write_distribution_lists(plan_in_memory(*files), tmp_path / "b")
        assert [path.name for path in by_group] == [path.name for path in whole]
        for first, second in zip(by_group, whole, strict=True):
            assert first.read_bytes() == second.read_bytes()


def _row(nik: str, kk: str, name: str, desa: str, status: str = "aktif") -> str:
    return f"{nik},{kk},{name},Jl. Mawar 1,{desa},4,2,{status},"


def test_duplicates_across_kecamatan_are_found_through_the_database(tmp_path):
    lines = [
        _row("3201014505900001", "3201010101100001", "Siti Aminah", "32.01.02.2001"),
        _row("3201011203850002", "3201010101100002", "Budi Santoso", "32.01.01.1001"),
        # the same NIK as line 2, in another kecamatan
        _row("3201014505900001", "3201010101100009", "Siti Aminah", "32.01.01.1002"),
        # the same KK as line 3 (Budi), in another kecamatan
        _row("3201025708800003", "3201010101100002", "Rina Kurnia", "32.01.02.2001"),
        # an inactive first row of a NIK still wins over a later active one
        _row("3201026101750004", "3201010101100004", "Dewi Sartika", "32.01.02.2001",
             "nonaktif"),
        _row("3201026101750004", "3201010101100005", "Dewi Sartika", "32.01.01.1001"),
    ]
    body = ("nik,no_kk,nama,alamat,kode_wilayah,jumlah_anggota,desil,status,kebutuhan_khusus\n"
            + "\n".join(lines) + "\n").encode()
    files = write_inputs(tmp_path, body)
    files[1].write_text(SHARED_POINTS_CSV, encoding="utf-8")
    with StreamedPlan.build(*files) as plan:
        scratch = (plan._folder / "plan.db").read_bytes()
        rejected = {r.line: (r.code, r.reason) for r in plan.rejections()}
        assert plan.kecamatan == ["32.01.01", "32.01.02"]
        assert plan.counts == {"32.01.01": 1, "32.01.02": 1}
    assert rejected[4][0] == "duplicate_nik" and "baris 2" in rejected[4][1]
    assert rejected[5][0] == "duplicate_kk" and "baris 3" in rejected[5][1]
    assert rejected[6][0] == "not_active"
    assert rejected[7][0] == "duplicate_nik" and "baris 6" in rejected[7][1]
    # The scratch file holds keyed hashes and sealed rows: no NIK, KK or name in clear.
    for secret in ("3201014505900001", "3201010101100002", "3201026101750004", "Siti Aminah",
                   "Budi Santoso", "Jl. Mawar"):
        assert secret.encode() not in scratch
    assert not plan._folder.exists()  # removed when the plan closes
    assert outcome(lambda: plan_publication(*files)) == outcome(lambda: plan_in_memory(*files))


def test_a_shortage_in_two_groups_lists_every_short_desa(tmp_path):
    people = [_row(f"32010145059{index:05d}", f"32010101011{index:05d}", f"Orang {index}",
                   desa) for index, desa in enumerate(["32.01.01.1001"] * 200
                                                      + ["32.01.03.2001"] * 400, start=1)]
    body = ("nik,no_kk,nama,alamat,kode_wilayah,jumlah_anggota,desil,status,kebutuhan_khusus\n"
            + "\n".join(people) + "\n").encode()
    files = write_inputs(tmp_path, body)
    files[1].write_text(SHARED_POINTS_CSV, encoding="utf-8")
    streamed, whole = outcome(lambda: plan_publication(*files)), \
        outcome(lambda: plan_in_memory(*files))
    assert streamed == whole and streamed[0] == "short"
    assert [short["desa"] for short in streamed[1]] == ["32.01.01.1001", "32.01.03.2001"]


@pytest.fixture()
def store(tmp_path: Path) -> CentralStore:
    return CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)


def _targets(store: CentralStore, version: int) -> dict[str, dict]:
    data = json.loads((store.metadata_dir / f"{version}.targets.json").read_text())
    return {name: target["hashes"] for name, target in data["signed"]["targets"].items()}


def test_a_change_in_one_kecamatan_rebuilds_only_that_kecamatan(store, tmp_path):
    world = write_world(tmp_path / "inputs", extra_rows=False)
    first = publish_files(store, world.recipients, world.payout_points, world.program,
                          workers=1)
    rows_now = recipient_rows()
    moved = next(index for index, person in enumerate(PEOPLE) if person.shard == "32.01.01")
    rows_now[moved][3] += " (pindah)"  # a corrected address: no aggregate changes
    changed = write_csv(tmp_path / "changed.csv", COLUMNS, rows_now)
    again = publish_files(store, changed, world.payout_points, world.program, workers=1)
    assert again.changes["32.01.01"]["changed"] == 1
    assert again.changes["32.01.02"] == {"added": 0, "removed": 0, "changed": 0,
                                         "unchanged": first.changes["32.01.02"]["added"]}
    # The address is in the officer view only: the recipient shard comes out byte-identical.
    assert (again.shards_written, again.shards_unchanged) == (1, 3)
    assert (again.keys_derived, again.keys_reused) == (0, 2 * first.published)
    before, after = _targets(store, 1), _targets(store, 2)
    for name in ("shards/officer/32.01.02.jsonl", "shards/recipient/32.01.02.jsonl",
                 "aggregates/32.01.02.json", "aggregates/32.01.01.json",
                 "shards/recipient/32.01.01.jsonl"):
        assert after[name] == before[name], name
    assert after["shards/officer/32.01.01.jsonl"] != before["shards/officer/32.01.01.jsonl"]
    # The rebuilt shard keeps every unchanged record's line (tag and sealed blob) as it was.
    lines = []
    for hashes in (before, after):
        digest = hashes["shards/officer/32.01.01.jsonl"]["sha256"]
        path = store.targets_dir / "shards" / "officer" / f"{digest}.32.01.01.jsonl"
        lines.append(set(path.read_bytes().splitlines()[1:]))
    assert len(lines[0] - lines[1]) == len(lines[1] - lines[0]) == 1
    assert secrets_found((store.private_dir / "central.db").read_bytes(), KNOWN_SECRETS) == []


def test_the_rejections_of_a_publish_stream_from_disk(capsys):
    items = [{"line": line, "nik_masked": "************0001", "code": "not_active",
              "reason": "status adalah \"nonaktif\"\n"} for line in range(2, 6)]
    log = RejectionLog(items)
    assert len(log) == 4 and list(log) == items and log == items
    assert log[1] == items[1] and log[-1] == items[-1] and log[:2] == items[:2]
    with pytest.raises(IndexError):
        log[4]
    data = {"version": 3, "rejected": log, "changes": {"32.01.01": {"added": 1}},
            "none": RejectionLog([])}
    with contextlib.suppress(Exception):
        capsys.readouterr()
    print_json(data)
    printed = capsys.readouterr().out
    assert printed == json.dumps({**data, "rejected": items, "none": []}, ensure_ascii=False,
                                 indent=2) + "\n"
    assert POINTS  # the world's points are the ones the publish test above used


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8)


@given(st.dictionaries(st.text(), json_values, max_size=5) | json_values)
@settings(max_examples=300, deadline=None)
def test_indented_json_is_what_json_dumps_gives(value) -> None:
    assert indented_json(value) == json.dumps(value, ensure_ascii=False, indent=2, default=str)


def test_the_aggregate_input_key_follows_what_the_aggregates_read():
    import dataclasses
    import datetime as dt

    from blt_status.central.plan import Aggregates

    person = PEOPLE[0]
    payload = person.payload
    program = payload.program
    key = Aggregates(program, {}).input_key
    same = [dataclasses.replace(payload, address="Jl. Lain 9"),
            dataclasses.replace(payload, name="Nama Lain")]
    for other in same:  # what the aggregates do not read
        assert key("32.01.01", [other]) == key("32.01.01", [payload])
    collected = dataclasses.replace(payload, status="collected",
                                    collected_at=dt.datetime(2025, 11, 25, 9, tzinfo=dt.UTC))
    different = [dataclasses.replace(payload, status="held"),
                 dataclasses.replace(payload, amount=payload.amount + 1),
                 dataclasses.replace(payload, kode_wilayah="32.01.01.1002"), collected,
                 dataclasses.replace(collected, collected_at=dt.datetime(2025, 11, 26, 9,
                                                                         tzinfo=dt.UTC))]
    keys = {key("32.01.01", [other]) for other in different} | {key("32.01.01", [payload])}
    assert len(keys) == len(different) + 1
    assert Aggregates(program, {"32.01.01": 1}).input_key("32.01.01", [payload]) \
        != key("32.01.01", [payload])
    assert key("32.01.01", [payload, collected]) == key("32.01.01", [collected, payload])


def _plan_answers(plan: StreamedPlan) -> tuple:
    return ([(subject, recipient) for kec in plan.kecamatan
             for subject, recipient in plan.recipients_with_subjects(kec)],
            list(plan.rejections()), plan.warnings, plan.input_rows, plan.counts)


def test_a_large_file_is_checked_by_a_pool_with_the_same_answers(tmp_path, monkeypatch):
    """A publish with more than one worker checks a large file's rows in a process pool; the
    plan is the one a single process makes: the same recipients with the same store subjects,
    the same rejections (invalid NIKs, duplicates, desil, inactive), warnings and counts."""
    from blt_status.central import plan as plan_module
    from blt_status.central.demodata import write_demo_world

    world = write_demo_world(tmp_path / "inputs", recipients=600)
    files = (world.recipients_csv, world.payout_points_csv, world.program_toml)
    pools: list[int] = []
    real_pool = plan_module._check_in_pool

    def counting_pool(*args, **kwargs):
        pools.append(args[-1])
        return real_pool(*args, **kwargs)

    monkeypatch.setattr(plan_module, "_check_in_pool", counting_pool)
    monkeypatch.setattr(plan_module, "PARALLEL_CHECK_ROWS", 100)
    monkeypatch.setattr(plan_module, "_INSERT_BATCH", 37)  # many batches in flight at once
    key = b"k" * 32
    with StreamedPlan.build(*files, subject_key=key) as plan:
        alone = _plan_answers(plan)
    assert pools == []
    with StreamedPlan.build(*files, subject_key=key, workers=2) as plan:
        scratch = (plan._folder / "plan.db").read_bytes()
        pooled = _plan_answers(plan)
    assert pools == [2]
    assert pooled == alone
    codes = {rejection.code for rejection in alone[1]}
    assert {"nik_length", "duplicate_nik", "duplicate_kk", "desil_above_max"} <= codes
    assert all(subject is not None for subject, _ in alone[0])
    for _subject, recipient in alone[0][:20]:  # sealed and hashed by the pool's processes too
        assert recipient.nik_digits.encode() not in scratch
        assert recipient.payload.name.encode() not in scratch


def test_a_malformed_row_stops_the_pool_and_leaves_no_process(tmp_path, monkeypatch):
    """A malformed row far into a large file is the same one-line error with the pool, and
    the pool's processes are gone when it is raised."""
    import multiprocessing

    from blt_status.central import plan as plan_module
    from blt_status.central.demodata import write_demo_world

    world = write_demo_world(tmp_path / "inputs", recipients=600)
    lines = world.recipients_csv.read_text(encoding="utf-8").splitlines(keepends=True)
    lines.insert(400, '3201014505900001,"' + "x" * 200_000 + '"\n')  # over csv's field limit
    world.recipients_csv.write_text("".join(lines), encoding="utf-8")
    monkeypatch.setattr(plan_module, "PARALLEL_CHECK_ROWS", 100)
    monkeypatch.setattr(plan_module, "_INSERT_BATCH", 37)
    with pytest.raises(FileFormatError) as raised:
        StreamedPlan.build(world.recipients_csv, world.payout_points_csv, world.program_toml,
                           workers=2)
    assert raised.value.code == "csv_malformed"
    assert multiprocessing.active_children() == []
