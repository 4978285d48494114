"""``blt-status central report`` on a real store: JSON contract, formats, one-line refusals; the
HTML in headless Chromium with the network off, the PDF rendered with pdftoppm."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
from central_world import write_world
from conftest import PEOPLE

from blt_status.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PDFTOPPM = shutil.which("pdftoppm")
# Any request a page makes goes to a dead proxy and no name resolves: the network is off.
OFFLINE = ["--proxy-server=127.0.0.1:9", "--host-resolver-rules=MAP * ~NOTFOUND",
           "--proxy-bypass-list=<-loopback>"]


def run(capsys: pytest.CaptureFixture[str], *args: object, lang: str = "en",
        ) -> tuple[int, str, str]:
    code = main(["--lang", lang, *[str(arg) for arg in args]])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def published(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with the test world published and its payout report ingested."""
    base = tmp_path_factory.mktemp("report")
    world = write_world(base / "inputs")
    directory = base / "central"
    assert main(["central", "init", str(directory), "--kdf", "test"]) == 0
    assert main(["central", "publish", str(directory), "--recipients", str(world.recipients),
                 "--payout-points", str(world.payout_points), "--program",
                 str(world.program)]) == 0
    assert main(["central", "ingest-payouts", str(directory), str(world.report)]) == 0
    return directory


def test_json_contract_and_counts(published: Path, capsys) -> None:
    code, out, err = run(capsys, "central", "report", published, "--level", "kecamatan",
                         "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    keys = {"code", "name", "recipients", "entitled", "collected", "collected_amount", "held",
            "returned", "pending", "flagged"}
    assert {"level", "as_of", "rows", "total", "days"} <= set(data)
    assert data["level"] == "kecamatan" and data["version"] == 2
    assert all(set(row) == keys for row in data["rows"]) and set(data["total"]) == keys
    total = data["total"]
    # The world: 5 recipients; the report collects PEOPLE[0] and holds PEOPLE[3].
    assert total["recipients"] == len(PEOPLE)
    assert (total["collected"], total["held"], total["returned"]) == (1, 1, 0)
    assert total["pending"] == len(PEOPLE) - 2
    assert total["collected_amount"] == next(
        row["collected_amount"] for row in data["rows"] if row["collected"])
    assert data["days"] == [{"date": "2025-11-24", "collected": 1, "cumulative": 1}]
    assert {row["code"]: row["name"] for row in data["rows"]}["32.01.01"] == "Cibinong"
    text = json.dumps(data)
    assert not any(person.nik in text or person.name in text for person in PEOPLE)


def test_levels_agree_and_region_narrows(published: Path, capsys) -> None:
    totals = {}
    for level in ("provinsi", "kabupaten", "kecamatan", "desa", "titik"):
        code, out, err = run(capsys, "central", "report", published, "--level", level,
                             "--format", "csv")
        assert code == 0, err
        rows = list(csv.DictReader(io.StringIO(out)))
        assert rows[-1]["code"] == "TOTAL"
        totals[level] = rows[-1]["recipients"], rows[-1]["collected"], rows[-1]["held"]
    assert len(set(totals.values())) == 1
    code, out, _ = run(capsys, "central", "report", published, "--level", "desa", "--region",
                       "32.01.01", "--format", "json")
    rows = json.loads(out)["rows"]
    assert rows and all(row["code"].startswith("32.01.01.") for row in rows)


def test_table_speaks_indonesian_numbers(published: Path, capsys) -> None:
    code, out, err = run(capsys, "central", "report", published, lang="id")
    assert code == 0, err
    assert "Kabupaten Bogor" in out and "Jumlah" in out
    assert re.search(r"\d+\.\d{3}\.\d{3}", out)  # rupiah with dots
    assert "20,0 %" in out  # 1 of 5 collected


@pytest.mark.parametrize(("args", "code"), [
    (["--level", "provinsi", "--region", "32.01"], "report_region_level"),
    (["--region", "99"], "report_region_unknown"),
])
def test_refusals_are_one_line(published: Path, capsys, args, code) -> None:
    status, out, err = run(capsys, "central", "report", published, *args)
    assert status != 0 and out == ""
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error [{code}]: "), err


def test_nothing_published_is_refused(tmp_path: Path, capsys) -> None:
    assert main(["central", "init", str(tmp_path / "c"), "--kdf", "test"]) == 0
    capsys.readouterr()
    status, _, err = run(capsys, "central", "report", tmp_path / "c")
    assert status != 0 and err.startswith("error [report_nothing]: ")


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def png_has_colour(data: bytes) -> bool:
    """True when the first IDAT holds more than one distinct byte (not a blank page)."""
    start = data.index(b"IDAT") + 4
    length = struct.unpack(">I", data[start - 8:start - 4])[0]
    raw = zlib.decompressobj().decompress(data[start:start + length])
    return len(set(raw)) > 4


def test_html_works_offline_in_chromium(published: Path, tmp_path: Path, capsys) -> None:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed")
    out_file = tmp_path / "report.html"
    code, _, err = run(capsys, "central", "report", published, "--level", "desa",
                       "--format", "html", "--out", out_file)
    assert code == 0, err
    page = out_file.read_text(encoding="utf-8")
    assert not re.search(r"(src|href)=\"(https?:)?//", page)  # nothing to fetch
    assert 'id="map"' in page and 'id="chart-days"' in page and 'id="chart-modes"' in page
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", *OFFLINE]
    dom = subprocess.run([*browser, "--dump-dom", out_file.as_uri()], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    assert 'data-images-loaded="3"' in dom  # map and both charts decoded
    shot = tmp_path / "shot.png"
    subprocess.run([*browser, "--hide-scrollbars", "--window-size=1200,1600",
                    f"--screenshot={shot}", out_file.as_uri()], capture_output=True,
                   timeout=60, check=True)
    data = shot.read_bytes()
    assert png_size(data) == (1200, 1600) and len(data) > 20_000
    assert png_has_colour(data)


def test_pdf_renders_with_pdftoppm(published: Path, tmp_path: Path, capsys) -> None:
    if PDFTOPPM is None:
        pytest.skip("pdftoppm (poppler-utils) is not installed")
    out_file = tmp_path / "report.pdf"
    code, _, err = run(capsys, "central", "report", published, "--format", "pdf", "--out",
                       out_file)
    assert code == 0, err
    assert out_file.read_bytes().startswith(b"%PDF")
    subprocess.run([PDFTOPPM, "-png", "-r", "40", str(out_file), str(tmp_path / "page")],
                   check=True, timeout=60)
    pages = sorted(tmp_path.glob("page*.png"))
    assert len(pages) >= 2
    assert all(png_has_colour(page.read_bytes()) for page in pages)
