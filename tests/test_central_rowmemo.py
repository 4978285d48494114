"""The memo of checked rows: a re-publish takes over the rows the last one checked (rowmemo).

Every test holds a plan built with the memo to the plan the same files give without one: the
same rows published, scheduled and hashed, the same rejections and warnings, row for row.
"""

from __future__ import annotations

import csv
import datetime as dt
import os
import random
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blt_status.central import CentralStore, publish_files, rowmemo
from blt_status.central.demodata import write_demo_world
from blt_status.central.plan import StreamedPlan
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import NikError
from blt_status.nik import parse_nik

KEY = bytes(range(32))
TODAY = dt.date(2025, 3, 3)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Any:
    return write_demo_world(tmp_path_factory.mktemp("world"), recipients=400)


def rows_of(path: Path) -> tuple[list[str], list[list[str]]]:
    with path.open(encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    return header, rows


def write_rows(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        csv.writer(handle).writerows([header, *rows])
    return path


def build(world: Any, recipients: Path, *, memo: Path | None, key: bytes = KEY,
          ) -> StreamedPlan:
    return StreamedPlan.build(recipients, world.payout_points_csv, world.program_toml,
                              today=TODAY, subject_key=key, memo=memo)


def summary(plan: StreamedPlan) -> dict[str, Any]:
    """Everything a publish reads of a plan, nothing sealed (bodies are sealed anew)."""
    published = {}
    for kec in plan.kecamatan:
        for row in plan.planned_rows(kec):
            recipient = plan.recipient(row)
            published[row.line] = (row.subject, row.kecamatan, row.desa, row.desil, row.point_id,
                                   row.sched_text, plan.source_of(row), recipient.nik_digits,
                                   recipient.kk_digits, recipient.payload)
    return {"published": published, "counts": dict(plan.counts),
            "rejected": [rejection.to_dict() for rejection in plan.rejections()],
            "warnings": [warning.to_dict() for warning in plan.warnings],
            "input_rows": plan.input_rows, "by_code": plan.rejected_by_code()}


def replanned(world: Any, tmp_path: Path, before: Path, after: Path) -> tuple[dict, dict, int]:
    """``after`` planned with the memo ``before`` left, and without one; and how many rows
    the memo gave."""
    memo = tmp_path / "memo.db"
    memo.unlink(missing_ok=True)
    with build(world, before, memo=memo) as first:
        assert first.save_memo(memo)
    with build(world, after, memo=memo) as again:
        with_memo, taken = summary(again), again.memo_rows
    with build(world, after, memo=None) as fresh:
        assert fresh.memo_rows == 0
        without = summary(fresh)
    return with_memo, without, taken


def edit(header: list[str], rows: list[list[str]], rng: random.Random) -> list[list[str]]:
    """Some of what an admin's next file does: rows edited, removed, added, moved, copied."""
    at = {name: index for index, name in enumerate(header)}
    rows = [list(row) for row in rows]
    for row in rng.sample(rows, 12):
        row[at["alamat"]] += " (pindah)"
    for row in rng.sample(rows, 3):
        row[at["desil"]] = "9"  # above max_desil: rejected now
    for row in rng.sample(rows, 2):
        row[at["nik"]] = row[at["nik"]][:-1]  # a broken NIK
    del rows[5:9]
    rows.insert(20, list(rows[40]))  # the same row twice: the later one a duplicate_nik
    rows[30], rows[31] = rows[31], rows[30]
    twin = list(rows[60])  # the same person under another NIK and KK: a warning
    twin[at["nik"]], twin[at["no_kk"]] = twin[at["nik"]][:12] + "7777", \
        twin[at["no_kk"]][:12] + "7777"
    rows.append(twin)
    rows[70][at["no_kk"]] = "3.2E+15"  # as a spreadsheet saves it: a warning
    rows.append(list(rows[50]))
    rows[-1][at["nama"]] += "\x1fX"  # a field the raw hash cannot join: always checked
    rows[-1][at["nik"]] = rows[-1][at["nik"]][:12] + "9999"
    return rows


def test_a_replan_with_the_memo_is_the_plan_without_it(world: Any, tmp_path: Path) -> None:
    header, rows = rows_of(world.recipients_csv)
    after = write_rows(tmp_path / "after.csv", header, edit(header, rows, random.Random(3)))
    with_memo, without, taken = replanned(world, tmp_path, world.recipients_csv, after)
    assert with_memo == without
    assert with_memo["warnings"] and with_memo["rejected"]  # both made of memo rows too
    # Every row but the edited, added and rejected ones came from the memo.
    assert len(rows) - 40 < taken < len(rows)


@settings(max_examples=15, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), shuffle=st.booleans())
def test_any_edit_plans_the_same_with_the_memo(world: Any, tmp_path: Path, seed: int,
                                               shuffle: bool) -> None:
    header, rows = rows_of(world.recipients_csv)
    rng = random.Random(seed)
    changed = edit(header, rows, rng)
    if shuffle:
        rng.shuffle(changed)  # every line number changes: rows are matched by content
    after = write_rows(tmp_path / f"after-{seed}.csv", header, changed)
    with_memo, without, taken = replanned(world, tmp_path, world.recipients_csv, after)
    assert with_memo == without
    assert taken > len(rows) // 2


def test_a_schedule_is_taken_from_the_memo_only_for_the_same_recipients_and_points(
        world: Any, tmp_path: Path) -> None:
    header, rows = rows_of(world.recipients_csv)
    at = {name: index for index, name in enumerate(header)}
    moved = [list(row) for row in rows]
    for row in moved[::10]:
        row[at["alamat"]] += " (pindah)"  # what the schedule does not read
    after = write_rows(tmp_path / "moved.csv", header, moved)
    memo = tmp_path / "memo.db"
    with build(world, world.recipients_csv, memo=memo) as first:
        first.save_memo(memo)
        groups = len({first._groups.find(kec) for kec in first.kecamatan})
    with build(world, after, memo=memo) as again:
        assert again.memo_groups == groups > 1
        with_memo = summary(again)
    with build(world, after, memo=None) as fresh:
        assert summary(fresh) == with_memo
    # One more recipient in a kecamatan: its group is scheduled again, the others are not.
    extra = list(rows[0])
    extra[at["nik"]], extra[at["no_kk"]] = extra[at["nik"]][:12] + "8888", \
        extra[at["no_kk"]][:12] + "8888"
    grown = write_rows(tmp_path / "grown.csv", header, [*moved, extra])
    with build(world, grown, memo=memo) as again:
        assert again.memo_groups == groups - 1
        with_memo = summary(again)
    with build(world, grown, memo=None) as fresh:
        assert summary(fresh) == with_memo
    # Less capacity at every point: no group is what it was.
    points_header, points = rows_of(world.payout_points_csv)
    capacity = points_header.index("kapasitas_per_hari")
    for point in points:
        point[capacity] = str(int(point[capacity]) - 1)
    smaller = write_rows(tmp_path / "points.csv", points_header, points)
    plans = [StreamedPlan.build(after, smaller, world.program_toml, today=TODAY,
                                subject_key=KEY, memo=path) for path in (memo, None)]
    with plans[0] as again, plans[1] as fresh:
        assert again.memo_groups == 0 and again.memo_rows > 300
        assert summary(again) == summary(fresh)


def test_a_memo_is_not_used_for_another_header_store_or_code(world: Any, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             ) -> None:
    memo = tmp_path / "memo.db"
    with build(world, world.recipients_csv, memo=memo) as first:
        first.save_memo(memo)
        expected = summary(first)
    with build(world, world.recipients_csv, memo=memo) as again:
        assert again.memo_rows > 300 and summary(again) == expected
    # The same rows with the columns in another order: the fields mean other things.
    header, rows = rows_of(world.recipients_csv)
    order = list(reversed(range(len(header))))
    turned = write_rows(tmp_path / "turned.csv", [header[i] for i in order],
                        [[row[i] for i in order] for row in rows])
    with build(world, turned, memo=memo) as plan:
        assert plan.memo_rows == 0 and summary(plan)["counts"] == expected["counts"]
    with build(world, world.recipients_csv, memo=memo, key=bytes(32)) as other_store:
        assert other_store.memo_rows == 0
    monkeypatch.setattr(rowmemo, "_code_fingerprint", b"another release")
    with build(world, world.recipients_csv, memo=memo) as other_code:
        assert other_code.memo_rows == 0


@pytest.mark.parametrize("damage", ["garbage", "empty", "no table"])
def test_a_damaged_memo_is_ignored(world: Any, tmp_path: Path, damage: str) -> None:
    memo = tmp_path / "memo.db"
    if damage == "garbage":
        memo.write_bytes(os.urandom(4096))
    elif damage == "empty":
        memo.write_bytes(b"")
    else:
        with build(world, world.recipients_csv, memo=memo) as first:
            first.save_memo(memo)
        import sqlite3

        with sqlite3.connect(memo) as db:
            db.execute("DROP TABLE rows")
        db.close()
    with build(world, world.recipients_csv, memo=memo) as plan:
        assert plan.memo_rows == 0 and plan.input_rows == 400


def test_publish_keeps_a_private_memo_without_personal_data(world: Any, tmp_path: Path) -> None:
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    files = (world.payout_points_csv, world.program_toml)
    first = publish_files(store, world.recipients_csv, *files, workers=1)
    memo = store.private_dir / rowmemo.MEMO_FILE
    assert first.rows_checked_before == 0
    assert memo.stat().st_mode & 0o777 == 0o600
    assert rowmemo.memo_row_count(memo) > 300
    data = memo.read_bytes()
    header, rows = rows_of(world.recipients_csv)
    at = {name: index for index, name in enumerate(header)}
    for row in rows:
        for column in ("nik", "no_kk", "nama", "alamat"):
            if len(row[at[column]]) >= 8:  # a short one may be in random bytes by chance
                assert row[at[column]].encode() not in data, column
    # A dry run reads the memo and writes nothing; a publish of the same file checks no row
    # it checked before.
    before = data
    dry = publish_files(store, world.recipients_csv, *files, workers=1, dry_run=True)
    assert memo.read_bytes() == before and dry.rows_checked_before > 300
    again = publish_files(store, world.recipients_csv, *files, workers=1)
    assert again.rows_checked_before == dry.rows_checked_before
    assert again.to_dict()["rows_checked_before"] == again.rows_checked_before
    assert again.to_dict()["change_totals"]["changed"] == 0


@settings(max_examples=300, deadline=None)
@given(digits=st.from_regex(r"32010[1-9][0-9]{10}", fullmatch=True),
       first=st.dates(dt.date(2000, 3, 1), dt.date(2099, 12, 31)),
       later=st.dates(dt.date(2000, 3, 1), dt.date(2099, 12, 31)))
def test_a_nik_check_does_not_depend_on_the_day(digits: str, first: dt.date,
                                                later: dt.date) -> None:
    """What rowmemo's doc relies on: a NIK valid on one day is valid on every other."""
    def valid(today: dt.date) -> bool | str:
        try:
            return parse_nik(digits, today=today).digits == digits
        except NikError as error:
            return error.code

    assert valid(first) == valid(later)
