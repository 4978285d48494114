"""Payout reports: row checks, the transition table, and only changed records coming back."""

from __future__ import annotations

import csv
import datetime as dt
import io
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blt_status.central.entitlement import EntitlementRules
from blt_status.central.inputs import PayoutPointRow, ProgramConfig
from blt_status.central.payouts import WIB, PayoutEvent, apply_payouts, read_payout_report
from blt_status.errors import FileFormatError
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule

PROGRAM = ProgramConfig(Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025"),
                        200_000, 3, 4, dt.date(2025, 11, 21), dt.date(2025, 12, 11),
                        ("mon", "tue", "wed", "thu", "fri", "sat"), (), 60, EntitlementRules())
POINT = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12", "kantor_pos")
POINTS = {"KP-CIBINONG": PayoutPointRow(POINT, "kantor_pos", ("32.01.01",), 40, dt.time(8),
                                        dt.time(15))}
NIK_A, NIK_B, NIK_C = "3201014505900001", "3201011203850002", "3271026708600003"
HEADER = "nik,status,waktu,id_titik,keterangan"


def payload(status: str = "scheduled", **extra: object) -> RecordPayload:
    return RecordPayload(
        view="officer", status=status, amount=600_000, program=PROGRAM.program,
        schedule=Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
        payout_point=POINT, name="Siti Aminah", kode_wilayah="32.01.01.1001",
        address="Kp. Pabuaran", household_size=4, **extra)


def write_report(tmp_path: Path, lines: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "laporan.csv"
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def event(status: str, nik: str = NIK_A, waktu: str = "2025-11-24T09:15:00+07:00",
          point: str = "KP-CIBINONG", note: str = "", line: int = 2) -> PayoutEvent:
    return PayoutEvent(line, nik, status, dt.datetime.fromisoformat(waktu), point, note)


def test_read_report_rows_and_rejections(tmp_path):
    path = write_report(tmp_path, [
        f"{NIK_A},salur,2025-11-24T09:15:00+07:00,KP-CIBINONG,",
        f"{NIK_B},GAGAL,2025-11-24 10:00,KP-CIBINONG,nama tidak sesuai KTP",
        f"{NIK_C},kembali,2025-11-25T08:00:00Z,KP-CIBINONG,",
        "3201014505900000,salur,2025-11-24T09:00:00,KP-CIBINONG,",
        f"{NIK_A},salur,2025-11-24T11:00:00,KP-CIBINONG,",
        f"{NIK_B[:-1]}9,lunas,2025-11-24T11:00:00,KP-CIBINONG,",
        f"{NIK_B[:-1]}8,salur,kemarin,KP-CIBINONG,",
        f"{NIK_B[:-1]}7,salur,2025-11-24T11:00:00,,",
        "",
    ])
    events, rejected, input_rows = read_payout_report(path)
    assert input_rows == 8 == len(events) + len(rejected)
    assert [(e.line, e.status) for e in events] == [(2, "salur"), (3, "gagal"), (4, "kembali"),
                                                    (6, "salur")]  # duplicates: check_feedback
    assert events[1].waktu == dt.datetime(2025, 11, 24, 10, 0, tzinfo=WIB)  # naive = WIB
    assert events[1].keterangan == "nama tidak sesuai KTP"
    assert events[2].waktu.utcoffset() == dt.timedelta(0)
    assert [(r.line, r.code) for r in rejected] == [
        (5, "nik_serial"), (7, "status_invalid"), (8, "waktu_invalid"), (9, "point_missing")]
    assert rejected[0].nik_masked == "************0000"
    assert "3201014505900001" not in repr(events) + repr(rejected)


def test_report_missing_columns_fails_the_file(tmp_path):
    with pytest.raises(FileFormatError) as caught:
        read_payout_report(write_report(tmp_path, [f"{NIK_A},salur"], header="nik,status"))
    assert caught.value.code == "csv_missing_columns" and "waktu" in caught.value.en_text


@pytest.mark.parametrize(("current", "report", "outcome"), [
    ("scheduled", "salur", "collected"),
    ("scheduled", "gagal", "held"),
    ("scheduled", "kembali", "returned"),
    ("held", "salur", "collected"),
    ("held", "gagal", "held"),
    ("held", "kembali", "returned"),
    ("collected", "salur", "already_collected"),
    ("collected", "gagal", "already_collected"),
    ("collected", "kembali", "already_collected"),
    ("returned", "salur", "already_returned"),
    ("returned", "gagal", "already_returned"),
    ("returned", "kembali", "already_returned"),
])
def test_transition_table(current, report, outcome):
    before = payload(current, status_note="lama" if current == "held" else None)
    changed, rejected = apply_payouts({NIK_A: before}, [event(report, note="baru")], POINTS,
                                      PROGRAM)
    if outcome in ("collected", "held", "returned"):
        assert rejected == [] and changed[NIK_A].status == outcome
    else:
        assert changed == {} and [r.code for r in rejected] == [outcome]


def test_salur_records_time_and_point_and_clears_a_held_note():
    changed, _ = apply_payouts({NIK_A: payload("held", status_note="nama tidak sesuai")},
                               [event("salur")], POINTS, PROGRAM)
    record = changed[NIK_A]
    assert record.collected_at == dt.datetime(2025, 11, 24, 9, 15, tzinfo=WIB)
    assert record.collected_point_id == "KP-CIBINONG" and record.status_note is None
    assert record.name == "Siti Aminah" and record.amount == 600_000


def test_gagal_keeps_a_reason_code_and_unchanged_records_are_not_returned():
    current = {NIK_A: payload(), NIK_B: payload("held", reason_code="ktp_rusak")}
    changed, rejected = apply_payouts(
        current, [event("gagal", note="nama tidak sesuai KTP"),
                  event("gagal", nik=NIK_B, note="KTP rusak", line=3)], POINTS, PROGRAM)
    assert rejected == [] and list(changed) == [NIK_A]
    assert changed[NIK_A].reason_code == "nama_tidak_sesuai"
    assert changed[NIK_A].status_note is None


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"nik": NIK_C}, "unknown_nik"),
    ({"point": "KP-ENTAH"}, "unknown_point"),
    ({"waktu": "2025-06-02T09:00:00+07:00"}, "outside_program"),
    ({"waktu": "2025-12-12T08:00:00+07:00"}, "outside_program"),
])
def test_rows_that_cannot_apply_are_rejected_and_the_rest_applies(kwargs, code):
    current = {NIK_A: payload(), NIK_B: payload()}
    events = [event("salur", **{"nik": NIK_A, **kwargs}), event("salur", nik=NIK_B, line=3)]
    changed, rejected = apply_payouts(current, events, POINTS, PROGRAM)
    assert [(r.line, r.code) for r in rejected] == [(2, code)]
    assert list(changed) == [NIK_B] and changed[NIK_B].status == "collected"
    assert "3201" not in rejected[0].reason


def test_window_edges_are_inside():
    current = {NIK_A: payload(), NIK_B: payload()}
    events = [event("salur", waktu="2025-11-21T00:00:00+07:00"),
              event("kembali", nik=NIK_B, waktu="2025-12-11T23:59:00+07:00", line=3)]
    changed, rejected = apply_payouts(current, events, POINTS, PROGRAM)
    assert rejected == [] and set(changed) == {NIK_A, NIK_B}


def test_unknown_point_reason_hides_a_nik_put_in_the_point_column():
    changed, rejected = apply_payouts({NIK_A: payload()}, [event("salur", point=NIK_B)], POINTS,
                                      PROGRAM)
    assert changed == {} and rejected[0].code == "unknown_point"
    assert NIK_B not in rejected[0].reason


report_values = st.one_of(
    st.sampled_from([NIK_A, NIK_B, NIK_C, "3201014505900000", "", "salur", "gagal", "kembali",
                     "LUNAS", "2025-11-24T09:15:00+07:00", "2025-11-24", "2025-06-01T10:00",
                     "kemarin", "KP-CIBINONG", "KP-X", "nama tidak sesuai"]),
    st.text(max_size=10))


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=st.lists(st.lists(report_values, min_size=0, max_size=6), max_size=15),
       statuses=st.lists(st.sampled_from(["scheduled", "held", "collected", "returned"]),
                         min_size=3, max_size=3))
def test_messy_reports_never_crash_and_every_row_is_accounted_for(tmp_path, table, statuses):
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(HEADER.split(","))
    writer.writerows(table)
    path = tmp_path / "laporan.csv"
    path.write_text(buffer.getvalue(), encoding="utf-8")
    events, rejected, input_rows = read_payout_report(path)
    current = {nik: payload(status) for nik, status in zip((NIK_A, NIK_B, NIK_C), statuses,
                                                           strict=True)}
    changed, refused = apply_payouts(current, events, POINTS, PROGRAM)
    lines = [r.line for r in rejected + refused]
    assert len(lines) == len(set(lines))
    applied = {e.line for e in events} - {r.line for r in refused}
    assert input_rows == len(applied) + len(lines)
    assert set(changed) <= {e.nik_digits for e in events}
    for nik, record in changed.items():
        assert current[nik].status in ("scheduled", "held") and record != current[nik]
