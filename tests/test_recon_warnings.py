"""Roster warnings in the publish report: one person under two NIKs, spreadsheet-damaged numbers."""

from __future__ import annotations

import json
from pathlib import Path

from central_world import recipient_rows, write_csv, write_world

from blt_status.cli import main

HEADER = ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil", "status",
          "kebutuhan_khusus"]


def publish(tmp_path: Path, capsys, rows: list[list[str]], *extra: str) -> tuple[dict, str]:
    world = write_world(tmp_path / "inputs", extra_rows=False)
    write_csv(world.recipients, HEADER, rows)
    central = tmp_path / "central"
    assert main(["central", "init", str(central), "--kdf", "test"]) == 0
    capsys.readouterr()
    code = main(["--lang", "en", "central", "publish", str(central), "--recipients",
                 str(world.recipients), "--payout-points", str(world.payout_points),
                 "--program", str(world.program), *extra])
    out, err = capsys.readouterr()
    assert code == 0, err
    return (json.loads(out) if "--json" in extra else {}), out


def row(nik: str, kk: str, name: str, desa: str = "32.01.01.1001") -> list[str]:
    return [nik, kk, name, "Jl. Mawar 1", desa, "3", "2", "aktif", ""]


def test_the_same_person_under_two_niks_is_a_warning_not_a_rejection(tmp_path, capsys):
    rows = [*recipient_rows(),
            row("3201015203800011", "3201010101100081", "Rina  Kurnia"),
            row("3201015203800027", "3201010101100082", "rina kurnia."),
            row("3201015203800035", "3201010101100083", "Rina Kurnia", "32.01.01.1002")]
    report, _ = publish(tmp_path, capsys, rows, "--json")
    assert report["published"] == len(rows) and report["rejected"] == []
    warnings = [w for w in report["warnings"] if w["code"] == "same_person_two_niks"]
    assert len(warnings) == 1
    assert warnings[0]["lines"] == [len(rows) - 1, len(rows)]
    assert "Rina" not in json.dumps(report["warnings"])
    _, text = publish(tmp_path / "again", capsys, rows)
    assert "WARNING [same_person_two_niks]" in text


def test_numbers_rounded_by_a_spreadsheet_are_a_warning(tmp_path, capsys):
    rows = [row(f"32010152038{n:04d}0", f"32010101011{n:04d}0", f"Warga {chr(65 + n)}")
            for n in range(1, 9)]
    rows.append(row("3.20102E+15", "3201010101100999", "Warga Z"))
    report, _ = publish(tmp_path, capsys, rows, "--json")
    damaged = {w["reason"].split(":")[0]: w for w in report["warnings"]
               if w["code"] == "excel_damaged_numbers"}
    assert set(damaged) == {"column nik", "column no_kk"}
    assert damaged["column nik"]["lines"] == list(range(2, 11))
    assert "8 of 8 numbers end in 0" in damaged["column nik"]["reason"]
    assert report["published"] == 8  # the scientific one is rejected as before, others publish


def test_an_ordinary_roster_has_no_warnings(tmp_path, capsys):
    report, _ = publish(tmp_path, capsys, recipient_rows(), "--json")
    assert report["warnings"] == []
