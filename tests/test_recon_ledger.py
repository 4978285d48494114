"""The rules on the real ingest path: reports and API feedback reach the ledger with their flags,
and ``central reconcile`` shows them."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from central_world import db_url, recipient_rows, write_csv, write_world
from conftest import PEOPLE

from blt_status.central.ledger import Ledger, PayoutEvent
from blt_status.central.payouts import WIB
from blt_status.central.publish import ingest_events, ingest_payouts, publish_files
from blt_status.central.store import CentralStore
from blt_status.cli import main
from blt_status.crypto import TEST_INDEX_KDF

HEADER = ["nik", "status", "waktu", "id_titik", "keterangan"]
RECIPIENTS = ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil",
              "status", "kebutuhan_khusus"]


__all__ = ["db_url"]  # the fixture: every test runs on SQLite and on PostgreSQL


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None):
    world = write_world(tmp_path / "inputs", extra_rows=False)
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    store.world = world  # type: ignore[attr-defined]
    return store


def report(store: CentralStore, tmp_path: Path, name: str, rows: list[list[str]]):
    return ingest_payouts(store, write_csv(tmp_path / name, HEADER, rows), workers=1)


def flags_by_last4(store: CentralStore) -> dict[str, set[tuple[str, str]]]:
    found: dict[str, set[tuple[str, str]]] = {}
    for flag in Ledger(store).flags():
        found.setdefault(flag.nik_last4, set()).add((flag.code, flag.severity))
    return found


def test_report_rows_are_flagged_in_the_ledger_and_reconcile_lists_them(store, tmp_path,
                                                                          capsys):
    first = report(store, tmp_path, "one.csv", [
        [PEOPLE[0].nik, "salur", "2025-11-24T20:00:00+07:00", "KP-GUNUNGPUTRI", ""],
        [PEOPLE[3].nik, "gagal", "2025-11-26T10:10:00+07:00", "KP-GUNUNGPUTRI", "KTP rusak"],
        [PEOPLE[4].nik, "salur", "2099-01-01T09:00:00+07:00", "KP-GUNUNGPUTRI", ""],
        ["3201016606990007", "salur", "2025-11-24T09:00:00+07:00", "KP-CIBINONG", ""],
    ])
    assert {(item["line"], item["code"]) for item in first.rejected} == {
        (4, "future_time"), (5, "unknown_nik")}
    second = report(store, tmp_path, "two.csv", [
        [PEOPLE[3].nik, "salur", "2025-11-25T09:00:00+07:00", "KP-GUNUNGPUTRI", ""]])
    assert second.rejected == []
    flags = flags_by_last4(store)
    assert {("point_mismatch", "high"), ("outside_hours", "low")} <= flags[PEOPLE[0].nik[-4:]]
    assert ("order_conflict", "medium") in flags[PEOPLE[3].nik[-4:]]
    (gagal,) = [event for event in Ledger(store).events() if event.status == "gagal"]
    assert gagal.reason_code == "ktp_rusak"

    assert main(["--lang", "en", "central", "reconcile", str(store.directory), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    codes = {(item["code"], item["nik_last4"]) for item in data["flags"]}
    assert {("point_mismatch", PEOPLE[0].nik[-4:]),
            ("order_conflict", PEOPLE[3].nik[-4:])} <= codes
    assert data["flags"][0]["severity"] == "high"
    totals = data["totals"]
    assert totals["paid"] == 2 * 600_000 and totals["entitled"] == sum(
        totals[key] for key in ("paid", "held", "returned", "pending"))
    assert main(["--lang", "en", "central", "reconcile", str(store.directory), "--json",
                 "--since", "2025-11-25"]) == 0
    later = json.loads(capsys.readouterr().out)
    assert {item["code"] for item in later["flags"]} == {"order_conflict"}
    text = json.dumps(data)
    for person in PEOPLE:
        assert person.nik not in text and person.name not in text


def test_a_payout_for_a_removed_recipient_is_accepted_and_flagged(store, tmp_path):
    world = store.world
    write_csv(world.recipients, RECIPIENTS, recipient_rows(PEOPLE[1:]))
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1,
                  allow_shrink=True)
    result = report(store, tmp_path, "late.csv", [
        [PEOPLE[0].nik, "salur", "2025-11-24T09:00:00+07:00", "KP-CIBINONG", ""]])
    assert result.rejected == [] and result.applied == 1
    assert ("removed_recipient", "high") in flags_by_last4(store)[PEOPLE[0].nik[-4:]]


def test_api_feedback_goes_through_the_same_rules(store):
    received = dt.datetime(2025, 11, 24, 12, 0, tzinfo=WIB)
    events = [
        PayoutEvent(PEOPLE[0].nik, "salur", dt.datetime(2025, 11, 24, 9, 0, tzinfo=WIB),
                    "KP-CIBINONG", "api", "msg-1", "ref-1", amount=900_000),
        PayoutEvent(PEOPLE[3].nik, "salur", dt.datetime(2025, 11, 24, 13, 0, tzinfo=WIB),
                    "KP-GUNUNGPUTRI", "api", "msg-1", "ref-2", amount=600_000),
    ]
    result = ingest_events(store, events, received_at=received, publish=False)
    assert [item["code"] for item in result.rejected] == ["future_time"]
    assert flags_by_last4(store) == {PEOPLE[0].nik[-4:]: {("amount_mismatch", "high")}}


def test_capacity_and_bursts_count_what_the_ledger_already_holds(store, tmp_path):
    program = store.world.program
    program.write_text(program.read_text() + "\n[checks]\nburst_count = 1\nburst_seconds = 600\n",
                       encoding="utf-8")
    world = store.world
    publish_files(store, world.recipients, world.payout_points, program, workers=1)
    # Two counter payouts at one point within 10 minutes, in two reports: the second is a burst
    # (home deliveries do not count).
    at_counter = [person for person in PEOPLE
                  if person.shard == "32.01.01" and not person.payload.special_needs]
    report(store, tmp_path, "a.csv", [
        [at_counter[0].nik, "salur", "2025-11-24T09:00:00+07:00", "KP-CIBINONG", ""]])
    report(store, tmp_path, "b.csv", [
        [at_counter[1].nik, "salur", "2025-11-24T09:05:00+07:00", "KP-CIBINONG", ""]])
    flags = flags_by_last4(store)
    assert ("burst", "high") in flags[at_counter[1].nik[-4:]]
    assert at_counter[0].nik[-4:] not in flags
