"""The publication plan: file-level failures, per-row validation, duplicates, entitlement, lists."""

from __future__ import annotations

import csv
import datetime as dt
import stat
from pathlib import Path

import pytest

from blt_status.central.demodata import DEMO_PROGRAM_TOML as PROGRAM_TOML
from blt_status.central.plan import (
    compute_aggregates,
    load_payout_points,
    load_program,
    plan_publication,
    write_distribution_lists,
)
from blt_status.central.schedule import CapacityShortError
from blt_status.errors import FileFormatError
from blt_status.records import Program

HEADER = "nik,no_kk,nama,alamat,kode_wilayah,jumlah_anggota,desil,status,kebutuhan_khusus"
POINTS_CSV = """\
id,jenis,nama,alamat,kode_wilayah,kapasitas_per_hari,jam_buka,jam_tutup
KP-CIBINONG,kantor_pos,Kantor Pos Cibinong,Jl. Raya Bogor No. 12,32.01.01,40,08:00,15:00
KOM-PONDOKRAJEG,komunitas,Balai Desa Pondok Rajeg,Jl. Pondok Rajeg 1,32.01.01.1001,10,09:00,12:00
"""
# Valid synthetic rows in Cibinong (32.01.01); desa 1001 has a community point.
SITI = ("3201014505900001,3201010101100001,Siti Aminah,Kp. Pabuaran RT 003/RW 005,"
        "32.01.01.1001,4,2,aktif,")
BUDI = "3201011203850002,3201010101100002,Budi Santoso,Kp. Baru RT 001/RW 002,3201011002,3,3,aktif,"
MARYAM = ("3271026708600003,3201010101100003,Maryam Lestari,Gg. Mawar RT 002/RW 001,"
          "32.01.01.1003,2,1,aktif,lansia")
SECRETS = ["3201014505900001", "3201011203850002", "3271026708600003", "3201010101100001",
           "Siti Aminah", "Budi Santoso", "Maryam Lestari"]


def write_world(tmp_path: Path, rows: list[str], *, header: str = HEADER,
                program: str = PROGRAM_TOML, points: str = POINTS_CSV,
                encoding: str = "utf-8") -> tuple[Path, Path, Path]:
    recipients = tmp_path / "recipients.csv"
    recipients.write_bytes(("\n".join([header, *rows]) + "\n").encode(encoding))
    points_path = tmp_path / "payout_points.csv"
    points_path.write_text(points, encoding="utf-8")
    program_path = tmp_path / "program.toml"
    program_path.write_text(program, encoding="utf-8")
    return recipients, points_path, program_path


def plan_rows(tmp_path: Path, rows: list[str], **kwargs: str):
    return plan_publication(*write_world(tmp_path, rows, **kwargs))


def codes(plan) -> dict[int, str]:
    return {rejection.line: rejection.code for rejection in plan.rejected}


def test_valid_rows_are_planned_with_schedule_amount_and_residence_shard(tmp_path):
    plan = plan_rows(tmp_path, [SITI, BUDI, MARYAM])
    assert plan.input_rows == 3 and plan.rejected == []
    by_last4 = {r.nik_digits[-4:]: r for r in plan.recipients}
    siti, budi, maryam = by_last4["0001"], by_last4["0002"], by_last4["0003"]
    assert siti.payload.payout_point.id == "KOM-PONDOKRAJEG"  # desa-level point preferred
    assert siti.payload.schedule.mode == "komunitas"
    assert budi.payload.payout_point.id == "KP-CIBINONG"
    assert budi.payload.schedule.mode == "kantor_pos"
    assert budi.payload.kode_wilayah == "32.01.01.1002"  # undotted input, dotted output
    # NIK issued in Kota Bogor (3271), lives in Cibinong: the shard follows residence.
    assert maryam.shard == "32.01.01"
    assert maryam.payload.schedule.mode == "antar"
    assert maryam.payload.schedule.start is None
    assert maryam.payload.schedule.window_end == dt.date(2025, 11, 26)  # 5th payout day
    assert maryam.payload.payout_point.id == "KP-CIBINONG"
    assert {r.payload.amount for r in plan.recipients} == {600_000}
    assert {r.payload.status for r in plan.recipients} == {"scheduled"}
    assert {r.payload.view for r in plan.recipients} == {"officer"}
    assert siti.payload.household_size == 4 and siti.payload.name == "Siti Aminah"
    assert [(r.shard, r.nik_digits) for r in plan.recipients] == sorted(
        (r.shard, r.nik_digits) for r in plan.recipients)
    assert "3201014505900001" not in repr(siti)


@pytest.mark.parametrize(("row", "code"), [
    ("320101450590000,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "nik_length"),
    ("3201014513900001,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "nik_birth_date"),
    ("9901014505900001,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "nik_province"),
    ("3201014505900000,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "nik_serial"),
    (",3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "nik_empty"),
    ("3201014505900009,32010101011,A B,Jl. X,32.01.01.1001,4,2,aktif,", "kk_length"),
    ("3201014505900009,9901010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,", "kk_province"),
    ("3201014505900009,3201010101100009,,Jl. X,32.01.01.1001,4,2,aktif,", "name_missing"),
    ("3201014505900009,3201010101100009,A B,,32.01.01.1001,4,2,aktif,", "address_missing"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.9999,4,2,aktif,", "desa_unknown"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01,4,2,aktif,", "desa_unknown"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,0,2,aktif,", "household_invalid"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,dua,2,aktif,",
     "household_invalid"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,11,aktif,", "desil_invalid"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,pending,", "status_invalid"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,hamil",
     "special_needs_invalid"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,nonaktif,", "not_active"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,5,aktif,", "desil_above_max"),
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,,extra",
     "row_extra_fields"),
    # Desa Sukamaju in Cariu (32.01.08): no payout point serves it.
    ("3201014505900009,3201010101100009,A B,Jl. X,32.01.08.2001,4,2,aktif,", "no_payout_point"),
])
def test_each_bad_row_is_rejected_with_its_code_and_the_rest_publishes(tmp_path, row, code):
    plan = plan_rows(tmp_path, [SITI, row, BUDI])
    assert codes(plan) == {3: code}
    assert len(plan.recipients) == 2 and plan.input_rows == 3
    rejection = plan.rejected[0]
    assert rejection.to_dict() == {"line": 3, "nik_masked": rejection.nik_masked, "code": code,
                                   "reason": rejection.reason}
    assert rejection.reason and "A B" not in rejection.reason
    assert "3201014505900009" not in rejection.reason and "3201010101100009" not in rejection.reason
    assert rejection.nik_masked.endswith(row.split(",")[0][-4:]) or not row.split(",")[0]


def test_duplicate_nik_keeps_first_and_names_the_winning_line(tmp_path):
    later = SITI.replace("3201010101100001", "3201010101100077")
    plan = plan_rows(tmp_path, [SITI, BUDI, later])
    assert codes(plan) == {4: "duplicate_nik"}
    assert "baris 2" in plan.rejected[0].reason
    assert plan.rejected[0].nik_masked == "************0001"


def test_one_recipient_per_household_first_eligible_row_wins(tmp_path):
    ineligible_first = "3201014505900011,3201010101100001,Ani,Jl. X,32.01.01.1001,4,8,aktif,"
    same_kk = "3201014505900012,3201010101100001,Ina,Jl. X,32.01.01.1001,4,2,aktif,"
    plan = plan_rows(tmp_path, [ineligible_first, SITI, same_kk])
    assert codes(plan) == {2: "desil_above_max", 4: "duplicate_kk"}
    assert "baris 3" in plan.rejected[1].reason
    assert [r.nik_digits[-4:] for r in plan.recipients] == ["0001"]


def test_bom_whitespace_headers_and_crlf_are_accepted(tmp_path):
    header = " NIK , no_kk,nama , alamat,kode_wilayah,jumlah_anggota,desil,status,kebutuhan_khusus"
    recipients, points, program = write_world(tmp_path, [SITI, BUDI], header=header)
    recipients.write_bytes(b"\xef\xbb\xbf" + recipients.read_bytes().replace(b"\n", b"\r\n"))
    plan = plan_publication(recipients, points, program)
    assert len(plan.recipients) == 2 and [r.line for r in plan.rejected] == []
    assert sorted(r.line for r in plan.recipients) == [2, 3]


def test_blank_lines_are_not_rows_and_line_numbers_stay_physical(tmp_path):
    plan = plan_rows(tmp_path, ["", SITI, ",,,,,,,,", "3201,x"])
    assert plan.input_rows == 2
    assert codes(plan) == {5: "nik_length"}


@pytest.mark.parametrize(("content", "code"), [
    (b"", "csv_empty"),
    (b"\n \n", "csv_empty"),
    (b"nik,no_kk,nama\n3201014505900001,3201010101100001,Siti\n", "csv_missing_columns"),
    ((HEADER + "\n" + SITI.replace("Siti", "Sit\xed")).encode("latin-1"), "csv_encoding"),
])
def test_unusable_recipient_file_fails_as_a_whole(tmp_path, content, code):
    recipients, points, program = write_world(tmp_path, [SITI])
    recipients.write_bytes(content)
    with pytest.raises(FileFormatError) as caught:
        plan_publication(recipients, points, program)
    assert caught.value.code == code
    assert "recipients.csv" in caught.value.en_text


def test_missing_columns_are_named(tmp_path):
    recipients, points, program = write_world(tmp_path, [], header="nik,no_kk,nama,alamat")
    with pytest.raises(FileFormatError) as caught:
        plan_publication(recipients, points, program)
    assert "kode_wilayah" in caught.value.en_text and "desil" in caught.value.en_text


def test_missing_file(tmp_path):
    recipients, _points, program = write_world(tmp_path, [SITI])
    with pytest.raises(FileFormatError) as caught:
        plan_publication(recipients, tmp_path / "nope.csv", program)
    assert caught.value.code == "file_missing" and "nope.csv" in caught.value.en_text


@pytest.mark.parametrize(("change", "code", "words"), [
    (lambda t: t.replace("[eligibility]", "[eligibility"), "toml_invalid", "not valid TOML"),
    (lambda t: t.replace("months = 3\n", ""), "program_invalid", "entitlement.months"),
    (lambda t: t.replace('id = "BLT-PANGAN-2025"\n', ""), "program_invalid", "program.id"),
    (lambda t: t.replace("max_desil = 4", "max_desil = 12"), "program_invalid",
     "eligibility.max_desil"),
    (lambda t: t.replace("start = 2025-11-21", "start = 2025-12-21"), "program_invalid",
     "after schedule.end"),
    (lambda t: t.replace('"sat"]', '"sabtu", "caturday"]'), "program_invalid", "caturday"),
    (lambda t: t.replace('days = ["mon", "tue", "wed", "thu", "fri", "sat"]', 'days = ["sun"]')
     .replace("start = 2025-11-21", "start = 2025-11-24")
     .replace("end = 2025-12-11", "end = 2025-11-29"), "program_invalid", "no payout day"),
    (lambda t: t.replace("slot_minutes = 60", 'slot_minutes = "60"'), "program_invalid",
     "slot_minutes"),
    (lambda t: t + "[[entitlement.rules]]\nper_membre = 5\n", "config_unknown_key",
     "per_membre"),
])
def test_bad_program_file(tmp_path, change, code, words):
    recipients, points, program = write_world(tmp_path, [SITI], program=change(PROGRAM_TOML))
    with pytest.raises(FileFormatError) as caught:
        plan_publication(recipients, points, program)
    assert caught.value.code == code
    assert words in caught.value.message("en") and "program.toml" in caught.value.message("en")


def test_program_not_utf8(tmp_path):
    path = tmp_path / "program.toml"
    path.write_bytes(PROGRAM_TOML.replace("Oktober", "Okt\xf6ber").encode("latin-1"))
    with pytest.raises(FileFormatError) as caught:
        load_program(path)
    assert caught.value.code == "toml_encoding"


def test_program_accepts_indonesian_days_holidays_and_string_dates(tmp_path):
    path = tmp_path / "program.toml"
    path.write_text(PROGRAM_TOML.replace('["mon", "tue", "wed", "thu", "fri", "sat"]',
                                         '["Senin", "rabu", "fri"]')
                    .replace("holidays = []", 'holidays = [2025-11-24, "2025-11-26"]'),
                    encoding="utf-8")
    program = load_program(path)
    assert program.days == ("mon", "wed", "fri")
    days = program.payout_days()
    assert days[:3] == [dt.date(2025, 11, 21), dt.date(2025, 11, 28), dt.date(2025, 12, 1)]
    assert program.base_amount == 600_000


@pytest.mark.parametrize(("line", "words"), [
    ("KP-X,bank,Bank X,Jl. Y,32.01.01,10,08:00,12:00", "jenis"),
    ("KP-X,kantor_pos,Kantor X,Jl. Y,32.01.99,10,08:00,12:00", "32.01.99"),
    ("KP-X,kantor_pos,Kantor X,Jl. Y,32.01.01,10,13:00,12:00", "jam_buka"),
    ("KP-CIBINONG,kantor_pos,Kantor X,Jl. Y,32.01.01,10,08:00,12:00", "already used"),
    ("../etc,kantor_pos,Kantor X,Jl. Y,32.01.01,10,08:00,12:00", "id"),
])
def test_bad_payout_point_row_fails_the_file(tmp_path, line, words):
    path = tmp_path / "payout_points.csv"
    path.write_text(POINTS_CSV + line + "\n", encoding="utf-8")
    with pytest.raises(FileFormatError) as caught:
        load_payout_points(path)
    assert caught.value.code == "payout_points_invalid"
    assert "line 4" in caught.value.en_text and words in caught.value.en_text


def test_payout_points_parse_multiple_areas_and_undotted_codes(tmp_path):
    path = tmp_path / "payout_points.csv"
    path.write_text(POINTS_CSV.replace("32.01.01.1001,10", "3201011001; 32.01.01.1002 ;,10"),
                    encoding="utf-8")
    points = load_payout_points(path)
    community = points["KOM-PONDOKRAJEG"]
    assert community.serves == ("32.01.01.1001", "32.01.01.1002")
    assert community.point.kind == "komunitas" and community.kapasitas_per_hari == 10
    assert community.jam_buka == dt.time(9) and community.jam_tutup == dt.time(12)


def test_entitlement_rules_per_member_special_needs_and_cap(tmp_path):
    program = PROGRAM_TOML.replace("months = 3\n", """months = 3
cap = 800000
[[entitlement.rules]]
members_above = 3
per_member = 50000
[[entitlement.rules]]
special_needs = "lansia"
add = 100000
""")
    big = "3201014505900021,3201010101100021,Ani,Jl. X,32.01.01.1001,6,2,aktif,"
    plan = plan_rows(tmp_path, [SITI, BUDI, MARYAM, big], program=program)
    amounts = {r.nik_digits[-4:]: r.payload.amount for r in plan.recipients}
    # SITI: 4 members -> +50,000; BUDI: 3 -> base; MARYAM: lansia -> +100,000; 6 -> capped.
    assert amounts == {"0001": 650_000, "0002": 600_000, "0003": 700_000, "0021": 750_000}
    capped = program.replace("cap = 800000", "cap = 700000")
    plan = plan_rows(tmp_path, [big], program=capped)
    assert plan.recipients[0].payload.amount == 700_000


def test_capacity_short_fails_with_a_report_per_area(tmp_path):
    points = """\
id,jenis,nama,alamat,kode_wilayah,kapasitas_per_hari,jam_buka,jam_tutup
KP-CIBINONG,kantor_pos,Kantor Pos Cibinong,Jl. Raya Bogor No. 12,32.01.01,1,08:00,15:00
"""
    program = PROGRAM_TOML.replace("end = 2025-12-11", "end = 2025-11-22")  # 2 payout days
    rows = [f"32010145059000{n:02d},32010101011000{n:02d},Nama {n},Jl. X,32.01.01.1002,4,2,aktif,"
            for n in range(10, 15)]
    with pytest.raises(CapacityShortError) as caught:
        plan_rows(tmp_path, rows, points=points, program=program)
    error = caught.value
    assert error.code == "capacity_short"
    assert error.shortages == [{
        "desa": "32.01.01.1002", "desa_name": "Karadenan", "needed": 5, "available": 2,
        "unscheduled": 3, "points": [{"id": "KP-CIBINONG", "available": 2, "used": 2}]}]
    assert "needed 5, available 2" in error.en_text and "KP-CIBINONG" in error.en_text


def test_progress_reports_to_the_total(tmp_path):
    seen = []
    plan_publication(*write_world(tmp_path, [SITI, BUDI, MARYAM]),
                     progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3, 3)


def test_distribution_lists_are_private_sorted_and_masked(tmp_path):
    extra = [f"32010145059000{n:02d},32010101011000{n:02d},Nama {chr(90 - n)},Jl. X {n},"
             "32.01.01.1002,4,2,aktif," for n in range(10, 16)]
    plan = plan_rows(tmp_path, [SITI, BUDI, MARYAM, *extra])
    out = tmp_path / "private" / "distribution"
    paths = write_distribution_lists(plan, out)
    assert [p.name for p in paths] == ["KOM-PONDOKRAJEG.csv", "KP-CIBINONG.csv"]
    for path in paths:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with paths[1].open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 8
    keys = [(r["tanggal"], r["jam_mulai"] or "99", r["nama"]) for r in rows]
    assert keys == sorted(keys)
    maryam = next(r for r in rows if r["mode"] == "antar")
    assert maryam["nik_4_terakhir"] == "0003" and maryam["jam_mulai"] == ""
    assert maryam["sampai_tanggal"] == "2025-11-26"
    assert rows[0]["desa"] == "Karadenan" and rows[0]["jumlah"] == "600000"
    text = "".join(path.read_text(encoding="utf-8") for path in paths)
    assert "3201014505900001" not in text and "3201010101100001" not in text


def test_aggregates_count_per_desa_and_day_without_personal_data(tmp_path):
    plan = plan_rows(tmp_path, [SITI, BUDI, MARYAM])
    records = [(r.shard, r.payload) for r in plan.recipients]
    aggregates = compute_aggregates(records, Program("P", "Program", "2025"), suppress=False)
    assert list(aggregates) == ["32.01.01"]
    cibinong = aggregates["32.01.01"]
    assert cibinong["format"] == "blt-aggregates-v1"
    assert [d["kode"] for d in cibinong["desa"]] == ["32.01.01.1001", "32.01.01.1002",
                                                      "32.01.01.1003"]
    assert cibinong["desa"][0] == {"kode": "32.01.01.1001", "nama": "Pondok Rajeg",
                                   "recipients": 1, "collected": 0, "held": 0, "returned": 0,
                                   "pending": 1, "amount_total": 600_000, "amount_collected": 0}
    assert sum(day["scheduled"] for day in cibinong["days"]) == 3
    published = compute_aggregates(records, Program("P", "Program", "2025"))["32.01.01"]
    assert published["desa"][0]["recipients"] == "<10"  # small cells are never published
    text = repr(aggregates)
    for secret in SECRETS:
        assert secret not in text


def test_reasons_never_echo_personal_numbers_even_in_the_wrong_column(tmp_path):
    swapped = ("3201014505900009,3201010101100009,A B,Jl. X,3201014505900009,4,2,aktif,")
    bad_date = "3201014513900009,3201010101100009,A B,Jl. X,32.01.01.1001,4,2,aktif,"
    bad_kk = "3201014505900019,3201994505900019,A B,Jl. X,32.01.01.1001,4,2,aktif,"
    plan = plan_rows(tmp_path, [swapped, bad_date, bad_kk])
    assert codes(plan) == {2: "desa_unknown", 3: "nik_birth_date", 4: "kk_region"}
    for rejection in plan.rejected:
        for digits in ("3201014505900009", "451390", "45-13-90", "32.01.99", "320199"):
            assert digits not in rejection.reason
    assert "(bukan kode)" in plan.rejected[0].reason
    assert plan.rejected[1].reason == "bagian tanggal lahir pada NIK bukan tanggal yang valid"


def test_semicolon_separated_files_from_excel_are_read(tmp_path):
    recipients, points, program = write_world(tmp_path, [SITI, BUDI])
    recipients.write_text(recipients.read_text(encoding="utf-8").replace(",", ";"),
                          encoding="utf-8")
    semicolon_points = "\n".join(
        ";".join(f'"{field}"' if ";" in field else field for field in line.split(","))
        for line in POINTS_CSV.replace("32.01.01.1001,10", "32.01.01.1001;32.01.01.1002,10")
        .splitlines())
    points.write_text(semicolon_points + "\n", encoding="utf-8")
    plan = plan_publication(recipients, points, program)
    assert plan.rejected == [] and len(plan.recipients) == 2
    assert plan.payout_points["KOM-PONDOKRAJEG"].serves == ("32.01.01.1001", "32.01.01.1002")
    assert {r.payload.payout_point.id for r in plan.recipients} == {"KOM-PONDOKRAJEG"}
