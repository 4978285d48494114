"""Signed distribution lists: publish writes them, verify-list catches each tampering, PDF text."""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path

import pytest
from central_world import write_world
from pypdf import PdfReader

from blt_status.central.lists import (
    PUBLIC_KEY_NAME,
    escape_cell,
    list_key,
    list_rows,
    verify_list,
    write_point_lists,
)
from blt_status.central.publish import publish_files
from blt_status.central.store import CentralStore
from blt_status.cli import main
from blt_status.crypto import TEST_INDEX_KDF


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> tuple[CentralStore, Path]:
    root = tmp_path_factory.mktemp("lists")
    world = write_world(root / "inputs")
    store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
    report = publish_files(store, world.recipients, world.payout_points, world.program,
                           workers=1)
    return store, Path(report.distribution_lists[0]).parent


def copy_lists(source: Path, tmp_path: Path) -> Path:
    target = tmp_path / "distribution" / source.name
    shutil.copytree(source, target)
    return target


def read_rows(path: Path) -> list[list[str]]:
    return list(csv.reader(io.StringIO(path.read_text(encoding="utf-8"))))


def write_rows(path: Path, rows: list[list[str]]) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    path.write_text(buffer.getvalue(), encoding="utf-8")


def codes(path: Path, **kwargs) -> list[str]:
    return [problem.code for problem in verify_list(path, **kwargs)[1]]


def test_publish_writes_signed_lists_that_verify(published, capsys):
    store, folder = published
    assert main(["--lang", "en", "central", "verify-list", str(_busiest(folder))]) == 0
    assert capsys.readouterr().out.startswith("Genuine: list of point")
    assert (store.private_dir / "lists" / "signing.pem").exists()
    assert (folder / PUBLIC_KEY_NAME).exists()
    for path in folder.glob("*.csv"):
        manifest, problems = verify_list(path)
        assert problems == [], path
        assert manifest["rows"] == len(read_rows(path)) - 1
        assert manifest["total_amount"] == sum(int(row[9]) for row in read_rows(path)[1:])
        assert manifest["point_id"] == path.stem and manifest["version"] == 1


def _busiest(folder: Path) -> Path:
    return max(folder.glob("*.csv"), key=lambda path: len(read_rows(path)))


@pytest.mark.parametrize(("tamper", "expected", "words"), [
    ("amount", "list_amount_altered", "baris 2: jumlah"),
    ("add", "list_row_added", "tidak ada di daftar yang ditandatangani"),
    ("remove", "list_row_removed", "baris 3 yang ditandatangani hilang"),
    ("reorder", "list_rows_reordered", "urutan baris berbeda dari yang ditandatangani"),
    ("name", "list_row_altered", "baris 2 berbeda dari baris yang ditandatangani"),
])
def test_verify_list_names_each_tampering(published, tmp_path, tamper, expected, words,
                                          capsys):
    _, source = published
    folder = copy_lists(source, tmp_path)
    path = _busiest(folder)
    rows = read_rows(path)
    assert len(rows) >= 3
    if tamper == "amount":
        rows[1][9] = str(int(rows[1][9]) + 100_000)
    elif tamper == "add":
        rows.append([*rows[1][:4], "Penyusup", "Jl. Palsu", *rows[1][6:]])
    elif tamper == "remove":
        del rows[2]
    elif tamper == "reorder":
        rows[1], rows[2] = rows[2], rows[1]
    else:
        rows[1][4] = "Nama Lain"
    write_rows(path, rows)
    assert expected in codes(path)
    assert main(["--lang", "en", "central", "verify-list", str(path)]) == 1
    out, err = capsys.readouterr()
    assert expected in out + err and "Traceback" not in err
    assert main(["central", "verify-list", str(path)]) == 1  # Indonesian by default
    assert words in capsys.readouterr().out


def test_a_list_of_another_point_or_version_is_refused(published, tmp_path):
    _, source = published
    folder = copy_lists(source, tmp_path)
    lists = sorted(folder.glob("*.csv"))
    first, second = lists[0], lists[1]
    # Another point's list (with its manifest) under this point's name.
    shutil.copy(second, first)
    shutil.copy(second.with_name(second.stem + ".manifest.json"),
                first.with_name(first.stem + ".manifest.json"))
    assert codes(first) == ["list_wrong_point"]
    assert codes(second, version=7) == ["list_wrong_version"]
    moved = tmp_path / "distribution" / "9"
    shutil.copytree(folder, moved)
    assert codes(moved / second.name) == ["list_wrong_version"]


def test_a_manifest_signed_by_another_key_is_refused(published, tmp_path):
    store, source = published
    folder = copy_lists(source, tmp_path)
    path = _busiest(folder)
    manifest_file = path.with_name(path.stem + ".manifest.json")
    manifest = json.loads(manifest_file.read_text())
    manifest["total_amount"] += 1
    manifest_file.write_text(json.dumps(manifest))
    assert codes(path) == ["list_signature"]
    # Re-signed with a forger's key: refused against the store's public key.
    forger = list_key(tmp_path / "forger")
    state = store.load_state()
    rows = list_rows((nik, record.payload) for nik, record in state.records.items())
    write_point_lists(rows, [path.stem], tmp_path / "forged", version=1,
                      program=state.program, key=forger)
    assert codes(tmp_path / "forged" / path.name, public_key=source / PUBLIC_KEY_NAME,
                 version=1) == ["list_signature"]


@pytest.mark.parametrize(("value", "escaped"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+62811", "'+62811"),
    ("-1+1", "'-1+1"), ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\r=1", "'\r=1"),
    ("Siti", "Siti"), ("600000", "600000"), ("", ""),
])
def test_cells_are_escaped_against_formula_injection(value, escaped):
    assert escape_cell(value) == escaped


def test_central_lists_command_excel_and_pdf(published, tmp_path, capsys):
    store, _ = published
    out_dir = tmp_path / "cetak"
    assert main(["--lang", "id", "central", "lists", str(store.directory), "--out",
                 str(tmp_path / "teks")]) == 0
    assert "daftar bertanda tangan versi 1" in capsys.readouterr().out
    assert main(["--lang", "en", "central", "lists", str(store.directory), "--out", str(out_dir),
                 "--excel", "--pdf", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["version"] == 1 and result["lists"]
    path = _busiest(out_dir)
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf") and data.split(b"\r\n")[0].count(b";") == 11
    assert verify_list(path, version=1)[1] == []
    rows = read_rows(store.private_dir / "distribution" / "1" / path.name)[1:]
    pdf = PdfReader(str(path.with_suffix(".pdf")))
    text = "\n".join(page.extract_text() for page in pdf.pages)
    manifest = json.loads(path.with_name(path.stem + ".manifest.json").read_text())
    assert "BLT Pangan" in text and path.stem in text and "Versi: 1" in text
    assert manifest["key_fingerprint"] in text
    assert "Tanda tangan" in text and f"Halaman 1 dari {len(pdf.pages)}" in text
    for row in rows:
        assert row[4] in text and f"************{row[8]}" in text
    total = sum(int(row[9]) for row in rows)
    assert f"Rp{total:,}".replace(",", ".") in text


def test_a_long_list_has_page_totals_and_numbers(published, tmp_path):
    store, _ = published
    state = store.load_state()
    rows = list_rows((nik, record.payload) for nik, record in state.records.items())
    point_id, members = max(rows.items(), key=lambda item: len(item[1]))
    many = {point_id: members * 20}
    write_point_lists(many, [point_id], tmp_path, version=3, program=state.program,
                      key=list_key(tmp_path), pdf=True)
    pdf = PdfReader(str(tmp_path / f"{point_id}.pdf"))
    assert len(pdf.pages) >= 2
    first = pdf.pages[0].extract_text()
    assert "Jumlah halaman ini (18 penerima)" in first
    assert f"Halaman 1 dari {len(pdf.pages)}" in first
    assert "Jumlah seluruhnya" in pdf.pages[-1].extract_text()
