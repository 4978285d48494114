"""Ingesting Kantor Pos payout reports: per-row outcomes, next version, only affected shards."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from central_world import db_dump, db_url, write_csv, write_world  # noqa: F401  (db_url)
from conftest import PEOPLE
from test_central_publish import load_verified, snapshot_tree

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central.publish import ingest_events
from blt_status.central.repo import target_path_on_disk
from blt_status.cli import main as cli
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import BltError, CentralError, FileFormatError

REPORT_HEADER = ["nik", "status", "waktu", "id_titik", "keterangan"]


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def store(tmp_path: Path, world, db_url: str | None) -> CentralStore:  # noqa: F811
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    return store


def test_report_rows_are_applied_or_rejected_and_counts_add_up(store: CentralStore,
                                                               world) -> None:
    report = ingest_payouts(store, world.report)
    assert report.version == 2
    assert report.input_rows == 5
    assert report.applied == 2 and report.changed_records == 2
    assert report.applied + len(report.rejected) == report.input_rows
    assert {(item["line"], item["code"]) for item in report.rejected} == {
        (4, "duplicate"), (5, "unknown_nik"), (6, "unknown_point")}
    for item in report.rejected:
        assert set(item) == {"line", "nik_masked", "code", "reason"}
        assert item["nik_masked"].startswith("*")
    as_json = report.to_dict()
    assert as_json["applied"] + len(as_json["rejected"]) == as_json["input_rows"]
    json.dumps(as_json)
    state = store.load_state()
    collected = state.records[PEOPLE[0].nik].payload
    assert collected.status == "collected"
    assert collected.collected_point_id == "KP-CIBINONG"
    assert collected.collected_at == dt.datetime(2025, 11, 24, 8, 30,
                                                 tzinfo=dt.timezone(dt.timedelta(hours=7)))
    held = state.records[PEOPLE[3].nik].payload
    # Devices get a reason code; the payer's free text stays sealed in the ledger.
    assert held.status == "held"
    assert (held.reason_code or held.status_note) == "nama_tidak_sesuai"
    assert report.kecamatan == ["32.01.01", "32.01.02"]
    from blt_status.central.ledger import Ledger

    ledger = Ledger(store)
    (gagal,) = [event for event in ledger.events() if event.status == "gagal"]
    assert (gagal.source, gagal.row_ref, gagal.nik_last4) == ("csv", "3", PEOPLE[3].nik[-4:])
    assert ledger.note(gagal.id) == "nama tidak sesuai KTP"
    for path in store.directory.rglob("*"):
        if path.is_file() and "central.db" not in path.name:
            assert b"nama tidak sesuai" not in path.read_bytes(), path


def test_a_report_for_one_kecamatan_changes_only_its_shards(store: CentralStore,
                                                            tmp_path: Path) -> None:
    before = load_verified(store, 1).signed.targets
    report_csv = write_csv(tmp_path / "one.csv", REPORT_HEADER, [
        [PEOPLE[4].nik, "kembali", "2025-11-25T10:00:00+07:00", "KP-GUNUNGPUTRI", "pindah"]])
    report = ingest_payouts(store, report_csv)
    assert (report.applied, report.rejected, report.shards_written) == (1, [], 2)
    after = load_verified(store, 2).signed.targets
    changed = sorted(name for name in before
                     if before[name] != after[name] and name != "params.json")
    # The public aggregates do not move: one person's change stays inside suppressed cells.
    assert changed == ["shards/officer/32.01.02.jsonl", "shards/recipient/32.01.02.jsonl"]
    aggregates = json.loads(target_path_on_disk(
        store.targets_dir, after["aggregates/32.01.02.json"]).read_bytes())
    assert aggregates["totals"]["returned"] == "<10"  # published, but as a suppressed cell


def test_the_same_report_twice_appends_and_publishes_nothing(store: CentralStore, world,
                                                              capsys) -> None:
    """Nothing new: no event appended, no version published (devices have nothing to sync),
    the public repository byte for byte as it was."""
    first = ingest_payouts(store, world.report)
    assert (first.version, first.published) == (2, True)
    public_before = snapshot_tree(store.public_dir)
    events_before = db_dump(store)["payout_events"]
    again = ingest_payouts(store, world.report)
    assert (again.version, again.applied, again.duplicates, again.published) == (2, 0, 2, False)
    assert again.shards_written == 0 and again.changed_records == 0
    assert db_dump(store)["payout_events"] == events_before
    assert snapshot_tree(store.public_dir) == public_before
    assert store.published_version() == 2
    assert cli(["central", "ingest-payouts", str(store.directory), str(world.report)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Tidak ada yang baru: tidak ada baris yang diterapkan (")
    assert "versi 2 tetap seperti yang diterbitkan" in out
    assert snapshot_tree(store.public_dir) == public_before


def test_a_report_saved_again_by_a_spreadsheet_appends_nothing(store: CentralStore, world,
                                                                tmp_path: Path,
                                                                capsys) -> None:
    """The same report opened and saved again (Excel: a UTF-8 BOM and CRLF line ends) is
    another file with another SHA-256, but the same payouts: ingesting it appends no event
    (its ``gagal`` row used to come back as a new one), publishes nothing, refuses none of
    its payouts as paid out twice, and reconcile reports the same money and flags."""
    def run(*args: object) -> tuple[int, str]:
        code = cli(["--lang", "en", "central", *[str(arg) for arg in args]])
        out, err = capsys.readouterr()
        assert "Traceback" not in err
        return code, out

    code, out = run("ingest-payouts", store.directory, world.report, "--json")
    first = json.loads(out)
    assert (code, first["applied"], first["published"]) == (0, 2, True)
    _, before = run("reconcile", store.directory, "--json")
    events_before = db_dump(store)["payout_events"]
    public_before = snapshot_tree(store.public_dir)
    _, out = run("ingest-payouts", store.directory, world.report, "--json")
    same_file = json.loads(out)  # the very same file again: the behaviour to match
    assert (same_file["applied"], same_file["duplicates"]) == (0, 2)
    original = world.report.read_bytes()
    assert b"gagal" in original and b"\r\n" in original
    assert not original.startswith(b"\xef\xbb\xbf")
    resaved = [("bom-crlf.csv", b"\xef\xbb\xbf" + original),
               ("bom-lf.csv", b"\xef\xbb\xbf" + original.replace(b"\r\n", b"\n")),
               ("lf.csv", original.replace(b"\r\n", b"\n"))]
    for name, data in resaved:
        copy = tmp_path / name
        copy.write_bytes(data)
        code, out = run("ingest-payouts", store.directory, copy, "--json")
        again = json.loads(out)
        assert code == 0
        assert (again["applied"], again["duplicates"], again["published"]) == (0, 2, False)
        assert again["version"] == 2
        assert again["rejected"] == same_file["rejected"]
        assert "already_collected" not in {item["code"] for item in again["rejected"]
                                           if item["line"] == 2}
        assert db_dump(store)["payout_events"] == events_before
        assert snapshot_tree(store.public_dir) == public_before
        _, after = run("reconcile", store.directory, "--json")
        assert json.loads(after) == json.loads(before)


def test_an_ingest_that_failed_before_its_publish_is_healed_by_running_it_again(
        store: CentralStore, world) -> None:
    """Events appended, then the publish never happened (a crash, a full disk): the same
    report again appends nothing, but the ledger has grown since the published version, so it
    publishes, and the statuses reach the devices."""
    from blt_status.central.ledger import PayoutEvent
    from blt_status.central.payouts import read_payout_report
    from blt_status.central.publish import _file_sha256, ingest_events

    rows, _rejections, _count = read_payout_report(world.report)
    events = [PayoutEvent(row.nik_digits, row.status, row.waktu, row.id_titik, "csv",
                          _file_sha256(world.report), str(row.line), row.reason_code,
                          row.keterangan) for row in rows]
    halfway = ingest_events(store, events, publish=False)  # appended, not published
    assert (halfway.applied, halfway.published, store.published_version()) == (2, False, 1)
    healed = ingest_payouts(store, world.report)
    assert (healed.applied, healed.duplicates, healed.published) == (0, 2, True)
    assert healed.version == store.published_version() == 2
    assert healed.changed_records == 2
    assert ingest_payouts(store, world.report).published is False  # and now it rests


def test_paying_out_twice_is_refused(store: CentralStore, world, tmp_path: Path) -> None:
    ingest_payouts(store, world.report)
    second = write_csv(tmp_path / "second.csv", REPORT_HEADER, [
        [PEOPLE[0].nik, "salur", "2025-11-25T08:30:00+07:00", "KP-CIBINONG", ""],
        [PEOPLE[3].nik, "salur", "2025-11-27T08:30:00+07:00", "KP-GUNUNGPUTRI", "diperbaiki"]])
    again = ingest_payouts(store, second)
    assert {item["line"]: item["code"] for item in again.rejected} == {2: "already_collected"}
    assert (again.applied, again.changed_records, again.kecamatan) == (1, 1, ["32.01.02"])
    fixed = store.load_state().records[PEOPLE[3].nik].payload
    assert (fixed.status, fixed.collected_point_id, fixed.status_note) == (
        "collected", "KP-GUNUNGPUTRI", None)


def test_a_republish_keeps_every_payout(store: CentralStore, world, tmp_path: Path) -> None:
    ingest_payouts(store, world.report)
    before = store.load_state().records
    again = publish_files(store, world.recipients, world.payout_points, world.program,
                          workers=1)
    assert again.version == 3
    after = store.load_state().records
    assert after[PEOPLE[0].nik].payload.status == "collected"
    assert after[PEOPLE[3].nik].payload.status == "held"
    assert {nik: record.payload for nik, record in after.items()} == {
        nik: record.payload for nik, record in before.items()}
    assert again.shards_written == 0  # nothing changed: the same shards
    # Removed, then re-added: the ledger still holds the payout.
    people = [person for index, person in enumerate(PEOPLE) if index != 0]
    smaller = write_world(tmp_path / "smaller", people=people)
    publish_files(store, smaller.recipients, world.payout_points, world.program, workers=1,
                  allow_shrink=True)
    assert PEOPLE[0].nik not in store.load_state().records
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    assert store.load_state().records[PEOPLE[0].nik].payload.status == "collected"


def test_a_broken_report_publishes_nothing(store: CentralStore, tmp_path: Path) -> None:
    before = snapshot_tree(store.public_dir)
    broken = tmp_path / "broken.csv"
    broken.write_text("nik,status\n3201014505900001,salur\n", encoding="utf-8")
    with pytest.raises(FileFormatError):
        ingest_payouts(store, broken)
    with pytest.raises(BltError):
        ingest_payouts(store, tmp_path / "missing.csv")
    assert snapshot_tree(store.public_dir) == before
    assert store.published_version() == 1


def test_ingest_needs_a_published_version(tmp_path: Path, world) -> None:
    store = CentralStore.init(tmp_path / "empty", kdf=TEST_INDEX_KDF)
    with pytest.raises(CentralError) as caught:
        ingest_payouts(store, world.report)
    assert caught.value.code == "nothing_published"


def test_the_same_payout_from_two_sources_at_once_is_recorded_once(
        store: CentralStore) -> None:
    """A payout reported at the same moment by a CSV report and by the API: the payout rules
    read the ledger, so both checks and appends must not interleave (one is refused as paid
    out already). Two store objects, as two processes would have."""
    import threading

    from blt_status.central.ledger import Ledger, PayoutEvent

    paid_at = dt.datetime(2025, 11, 24, 8, 30, tzinfo=dt.timezone(dt.timedelta(hours=7)))
    applied: list[int] = []

    def report(source: str, person: int, barrier: threading.Barrier) -> None:
        event = PayoutEvent(PEOPLE[person].nik, "salur", paid_at, "KP-CIBINONG", source,
                            f"{source}-{person}", "1")
        twin = CentralStore.open(store.directory)
        barrier.wait()
        applied.append(ingest_events(twin, [event], publish=False).applied)

    for person in (0, 2):  # Cibinong, both scheduled at KP-CIBINONG
        barrier = threading.Barrier(2)
        threads = [threading.Thread(target=report, args=(source, person, barrier))
                   for source in ("csv", "api")]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    salur = [event for event in Ledger(store).events() if event.status == "salur"]
    assert sorted(event.nik_last4 for event in salur) == sorted(
        PEOPLE[person].nik[-4:] for person in (0, 2))
    assert sorted(applied) == [0, 0, 1, 1]


def test_a_month_end_report_repeating_the_api_feedback_appends_nothing(
        store: CentralStore, world) -> None:
    """Kantor Pos answered over the API as it paid, then sends its month-end CSV report with
    the same payouts: the report's rows are facts the ledger already holds (the same person,
    status, moment and point), so its ``salur`` row is not refused as paid out twice and its
    ``gagal`` row is not recorded a second time; a new fact in the same report still is."""
    from blt_status.central.ledger import PayoutEvent
    from blt_status.central.payouts import read_payout_report

    rows, _rejections, _count = read_payout_report(world.report)
    api = [PayoutEvent(row.nik_digits, row.status, row.waktu, row.id_titik, "api", "msg-1",
                       f"ref-{row.line}", row.reason_code, row.keterangan) for row in rows]
    answered = ingest_events(store, api)
    assert answered.applied == 2 and answered.published
    events_before = db_dump(store)["payout_events"]
    public_before = snapshot_tree(store.public_dir)

    report = ingest_payouts(store, world.report)
    assert (report.applied, report.duplicates, report.published) == (0, 2, False)
    # Only the report's own bad rows (a second payout of one NIK, an unknown NIK and point).
    assert {item["line"] for item in report.rejected} == {4, 5, 6}
    assert db_dump(store)["payout_events"] == events_before
    assert snapshot_tree(store.public_dir) == public_before

    # The same report one second later for the payout: another fact, judged by the rules.
    moved = world.report.parent / "later.csv"
    moved.write_text(world.report.read_text(encoding="utf-8").replace(
        "2025-11-24T08:30:00+07:00", "2025-11-24T08:30:01+07:00"), encoding="utf-8")
    again = ingest_payouts(store, moved)
    assert (again.applied, again.duplicates) == (0, 1)  # the gagal row is still the same
    assert {item["code"] for item in again.rejected if item["line"] == 2} == {
        "already_collected"}


def test_a_report_ingested_again_gives_every_row_the_same_answer(store: CentralStore,
                                                                  tmp_path: Path) -> None:
    """A report naming one person twice uses their first row and refuses the second as a
    ``duplicate``. Ingested again, as the same file or saved again by a spreadsheet (another
    file, the same rows), the second row is still that duplicate: it was once judged against
    the first row, and now the first row is in the ledger; before, it was judged on its own
    and a failed attempt followed by a payout in one report became a payout on the second
    ingest."""
    person = PEOPLE[3].nik
    rows = [[person, "gagal", "2025-11-26T10:10:00+07:00", "KP-GUNUNGPUTRI", "nama tidak sesuai"],
            [person, "salur", "2025-11-26T11:00:00+07:00", "KP-GUNUNGPUTRI", ""]]
    report_csv = write_csv(tmp_path / "twice.csv", REPORT_HEADER, rows)
    first = ingest_payouts(store, report_csv)
    assert first.applied == 1
    assert [(item["line"], item["code"]) for item in first.rejected] == [(3, "duplicate")]
    assert "(baris 2)" in first.rejected[0]["reason"]
    events_before = db_dump(store)["payout_events"]
    public_before = snapshot_tree(store.public_dir)
    resaved = tmp_path / "twice-saved.csv"
    resaved.write_bytes(b"\xef\xbb\xbf" + report_csv.read_bytes().replace(b"\r\n", b"\n")
                        .replace(b"\n", b"\r\n"))
    assert resaved.read_bytes() != report_csv.read_bytes()
    for again_csv in (report_csv, resaved):
        again = ingest_payouts(store, again_csv)
        assert (again.applied, again.duplicates, again.published) == (0, 1, False)
        assert [(item["line"], item["code"]) for item in again.rejected] == [(3, "duplicate")]
        assert "(baris 2)" in again.rejected[0]["reason"]
        assert db_dump(store)["payout_events"] == events_before
        assert snapshot_tree(store.public_dir) == public_before
    assert store.load_state().records[person].payload.status == "held"


def test_a_row_first_refused_then_valid_is_a_duplicate_of_the_recorded_row(
        store: CentralStore) -> None:
    """The second ingest of a report judges a row that was refused the first time (here: its
    time was still in the future) again; if the ledger already holds another row of the same
    person from that report, it is the ``duplicate``, whichever line comes first."""
    from blt_status.central.ledger import PayoutEvent

    person = PEOPLE[3].nik
    wib = dt.timezone(dt.timedelta(hours=7))
    late = dt.datetime(2025, 11, 26, 15, 0, tzinfo=wib)
    early = dt.datetime(2025, 11, 26, 10, 0, tzinfo=wib)
    report = [PayoutEvent(person, "salur", late, "KP-GUNUNGPUTRI", "csv", "r" * 64, "2", None,
                          ""),
              PayoutEvent(person, "gagal", early, "KP-GUNUNGPUTRI", "csv", "r" * 64, "3", None,
                          "rumah kosong")]
    first = ingest_events(store, report, received_at=early + dt.timedelta(hours=1))
    assert first.applied == 1
    assert [(item["line"], item["code"]) for item in first.rejected] == [(2, "future_time")]
    again = ingest_events(store, report, received_at=late + dt.timedelta(hours=1))
    assert (again.applied, again.duplicates, again.published) == (0, 1, False)
    assert [(item["line"], item["code"]) for item in again.rejected] == [(2, "duplicate")]
    assert again.rejected[0]["reason"] == (
        "NIK yang sama ada di baris lain dalam laporan ini (baris 3), yang sudah tercatat")
    assert store.load_state().records[person].payload.status == "held"


def test_a_report_to_the_second_matches_the_api_answers_in_milliseconds(
        store: CentralStore, world) -> None:
    """The API gives times in milliseconds, the month-end report the same payouts to the
    second: the report's rows are the facts the ledger holds (before, its ``salur`` row was
    refused as paid out twice and its ``gagal`` row recorded again)."""
    from blt_status.central.ledger import PayoutEvent
    from blt_status.central.payouts import read_payout_report

    rows, _rejections, _count = read_payout_report(world.report)
    api = [PayoutEvent(row.nik_digits, row.status,
                       row.waktu + dt.timedelta(milliseconds=437), row.id_titik, "api",
                       "msg-1", f"ref-{row.line}", row.reason_code, row.keterangan)
           for row in rows]
    assert ingest_events(store, api).applied == 2
    events_before = db_dump(store)["payout_events"]
    report = ingest_payouts(store, world.report)
    assert (report.applied, report.duplicates, report.published) == (0, 2, False)
    assert {(item["line"], item["code"]) for item in report.rejected} == {
        (4, "duplicate"), (5, "unknown_nik"), (6, "unknown_point")}
    assert db_dump(store)["payout_events"] == events_before


def test_a_row_repeated_word_for_word_stays_a_duplicate_when_saved_again(
        store: CentralStore, tmp_path: Path) -> None:
    """Two identical rows in one report are one payout and one ``duplicate``. The report saved
    again by a spreadsheet matches the ledger by fact: the one recorded payout stands for one
    row, not both, so the second row is still refused as that duplicate."""
    row = [PEOPLE[0].nik, "salur", "2025-11-24T08:30:00+07:00", "KP-CIBINONG", ""]
    report_csv = write_csv(tmp_path / "same-row.csv", REPORT_HEADER, [row, row])
    first = ingest_payouts(store, report_csv)
    assert first.applied == 1
    assert [(item["line"], item["code"]) for item in first.rejected] == [(3, "duplicate")]
    resaved = tmp_path / "same-row-saved.csv"
    resaved.write_bytes(b"\xef\xbb\xbf" + report_csv.read_bytes())
    again = ingest_payouts(store, resaved)
    assert (again.applied, again.duplicates, again.published) == (0, 1, False)
    assert [(item["line"], item["code"]) for item in again.rejected] == [(3, "duplicate")]
