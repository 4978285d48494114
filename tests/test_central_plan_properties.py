"""Hypothesis: messy recipient CSVs never crash the planner, and every row is accounted for."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from blt_status.central.demodata import DEMO_PROGRAM_TOML as PROGRAM_TOML
from blt_status.central.plan import plan_publication
from blt_status.errors import FileFormatError

COLUMNS = ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil", "status",
           "kebutuhan_khusus"]
POINTS_CSV = """\
id,jenis,nama,alamat,kode_wilayah,kapasitas_per_hari,jam_buka,jam_tutup
KP-CIBINONG,kantor_pos,Kantor Pos Cibinong,Jl. Raya Bogor No. 12,32.01.01,500,08:00,15:00
KOM-1,komunitas,Balai Desa Pondok Rajeg,Jl. Pondok Rajeg 1,32.01.01.1001;3201011002,100,09:00,12:00
"""

junk = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)


# A small pool of valid NIKs and KKs, so that duplicates of both happen often.
valid_nik = st.builds(lambda kecamatan, day, female, month, serial: (
    f"{kecamatan}{day + 40 * female:02d}{month:02d}85{serial:04d}"),
    st.sampled_from(["320101", "320102", "327102"]), st.integers(1, 3), st.booleans(),
    st.integers(1, 2), st.integers(1, 3))
fields = {
    "nik": st.one_of(valid_nik, valid_nik, valid_nik, st.sampled_from(
        ["3201 0145 0590 0001", "3201-0112-0385-0002", "3201014513900001", ""])),
    "no_kk": st.from_regex(r"32010101011000[0-2][1-9]", fullmatch=True),
    "nama": st.sampled_from(["Siti Aminah", "Budi", "Ani Lestari", "Dewi", "Agus Wijaya", ""]),
    "alamat": st.sampled_from(["Kp. Pabuaran RT 003/RW 005", "Jl. Mawar 1", "Gg. Melati"]),
    "kode_wilayah": st.sampled_from(["32.01.01.1001", "3201011002", "32.01.01.1003",
                                     "32.01.01.1005", "32.01.02.2001", "32.01.01",
                                     "99.99.99.9999"]),
    "jumlah_anggota": st.sampled_from(["1", "4", "2", "3", " 3 ", "0", "12"]),
    "desil": st.sampled_from(["1", "2", "3", "4", "4", "5", "10", "11"]),
    "status": st.sampled_from(["aktif", "aktif", "aktif", "nonaktif", "AKTIF", "x"]),
    "kebutuhan_khusus": st.sampled_from(["", "", "", "", "lansia", "disabilitas", "x"]),
}


def corrupt(row: dict[str, str], damage: list[tuple[str, str]]) -> list[str]:
    return [dict(row, **dict(damage)).get(column, "") for column in COLUMNS]


# Rows of plausible values (some ineligible, duplicated or unknown), a few with fields replaced
# by junk, and some junk rows of any length.
rows = st.lists(st.one_of(
    st.builds(corrupt, st.fixed_dictionaries(fields),
              st.lists(st.tuples(st.sampled_from(COLUMNS), junk), max_size=1)),
    st.builds(corrupt, st.fixed_dictionaries(fields), st.just([])),
    st.builds(corrupt, st.fixed_dictionaries(fields), st.just([])),
    st.lists(junk, max_size=11),
), max_size=25)


def write_inputs(directory: Path, body: bytes) -> tuple[Path, Path, Path]:
    recipients = directory / "recipients.csv"
    recipients.write_bytes(body)
    points = directory / "payout_points.csv"
    points.write_text(POINTS_CSV, encoding="utf-8")
    program = directory / "program.toml"
    program.write_text(PROGRAM_TOML, encoding="utf-8")
    return recipients, points, program


def check_accounting(plan) -> None:
    lines = [r.line for r in plan.recipients] + [r.line for r in plan.rejected]
    assert len(lines) == len(set(lines)) == plan.input_rows
    assert plan.input_rows == len(plan.recipients) + len(plan.rejected)
    assert [r.line for r in plan.rejected] == sorted(r.line for r in plan.rejected)
    niks = [r.nik_digits for r in plan.recipients]
    kks = [r.kk_digits for r in plan.recipients]
    assert len(niks) == len(set(niks)) and len(kks) == len(set(kks))
    for rejection in plan.rejected:
        assert set(rejection.nik_masked[:-4]) <= {"*"}
        assert rejection.code and rejection.reason


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(table=rows, bom=st.booleans(), crlf=st.booleans())
def test_messy_rows_never_crash_and_counts_add_up(tmp_path, table, bom, crlf):
    buffer = io.StringIO()
    # QUOTE_MINIMAL quotes only the line terminator's characters: a bare "\r" with "\n" lines
    # would split a row, so "\n" files quote everything.
    writer = csv.writer(buffer, lineterminator="\r\n" if crlf else "\n",
                        quoting=csv.QUOTE_MINIMAL if crlf else csv.QUOTE_ALL)
    writer.writerow(COLUMNS)
    writer.writerows(table)
    body = ("\ufeff" if bom else "") + buffer.getvalue()
    plan = plan_publication(*write_inputs(tmp_path, body.encode("utf-8")))
    check_accounting(plan)
    event("some published" if plan.recipients else "none published")
    for code in {rejection.code for rejection in plan.rejected}:
        event(f"rejected: {code}")
    non_blank = [row for row in table if any(str(value).strip() for value in row)]
    assert plan.input_rows == len(non_blank)
    for recipient in plan.recipients:
        original = [row for row in table if row and str(row[0]).strip()
                    and recipient.nik_digits == str(row[0]).replace(" ", "").replace("-", "")]
        assert original, "a published NIK comes from the input"


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=st.binary(max_size=400))
def test_arbitrary_bytes_give_a_plan_or_a_file_error(tmp_path, body):
    header = ",".join(COLUMNS).encode() + b"\n"
    try:
        plan = plan_publication(*write_inputs(tmp_path, header + body))
    except FileFormatError as error:
        assert error.code in {"csv_encoding", "csv_malformed"}
        assert "recipients.csv" in error.en_text
        return
    check_accounting(plan)
