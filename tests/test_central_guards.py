"""Safe publish: the change report, --dry-run, and the guards against emptying devices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from central_world import db_dump, db_url, write_csv, write_world  # noqa: F401  (db_url)
from conftest import PEOPLE
from test_central_publish import snapshot_tree

from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central.db import dispose_engines
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import CentralError

HEADER = ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil",
          "status", "kebutuhan_khusus"]


@pytest.fixture()
def world(tmp_path: Path):
    return write_world(tmp_path / "inputs")


@pytest.fixture()
def store(tmp_path: Path, world, db_url: str | None) -> CentralStore:  # noqa: F811
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    return store


def publish(store: CentralStore, world, recipients: Path, **options: bool):
    return publish_files(store, recipients, world.payout_points, world.program, workers=1,
                         **options)


def whole_store(store: CentralStore) -> tuple[dict[str, bytes], dict[str, list[tuple]]]:
    rows = db_dump(store)
    dispose_engines()  # SQLite: the last connection closing removes the WAL files
    return snapshot_tree(store.directory), rows


def refused(store: CentralStore, code: str, call) -> None:
    before = whole_store(store)
    with pytest.raises(CentralError) as caught:
        call()
    assert caught.value.code == code
    assert whole_store(store) == before
    assert store.published_version() == 1


def rows_of(people) -> list[list[str]]:
    from central_world import recipient_rows

    return recipient_rows(people)


def test_empty_header_only_and_all_rejected_inputs_are_refused(store: CentralStore, world,
                                                               tmp_path: Path) -> None:
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    refused(store, "publish_empty", lambda: publish(store, world, header_only))
    apostrophes = write_csv(tmp_path / "excel.csv", HEADER,
                            [["'" + row[0], *row[1:]] for row in rows_of(PEOPLE)])
    refused(store, "publish_empty", lambda: publish(store, world, apostrophes))
    assert publish(store, world, header_only, allow_empty=True).published == 0
    assert store.published_version() == 2


def test_mostly_rejected_input_is_refused(store: CentralStore, world, tmp_path: Path) -> None:
    rows = rows_of(PEOPLE)
    broken = write_csv(tmp_path / "broken.csv", HEADER,
                       rows + [["'" + row[0], *row[1:]] for row in rows] * 2)
    refused(store, "publish_mostly_rejected", lambda: publish(store, world, broken))
    report = publish(store, world, broken, allow_rejections=True)
    assert (report.published, len(report.rejected)) == (5, 10)


def test_shrinking_is_refused_unless_allowed(store: CentralStore, world, tmp_path: Path,
                                            ) -> None:
    fewer = write_world(tmp_path / "fewer", people=PEOPLE[:4], extra_rows=False).recipients
    refused(store, "publish_shrink", lambda: publish(store, world, fewer))  # 1 of 5 = 20 %
    only_cibinong = write_world(tmp_path / "cib", people=PEOPLE[:3],
                                extra_rows=False).recipients
    with pytest.raises(CentralError) as caught:
        publish(store, world, only_cibinong)
    assert "32.01.02" in caught.value.message("en")  # an emptied kecamatan is named
    # The threshold lives in the store's config.
    config_path = store.private_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["guards"]["max_removed_fraction"] = 0.25
    config_path.write_text(json.dumps(config))
    store = CentralStore.open(store.directory)
    report = publish(store, world, fewer)
    assert report.changes["32.01.02"] == {"added": 0, "removed": 1, "changed": 0,
                                          "unchanged": 1}
    assert publish(store, world, only_cibinong, allow_shrink=True).published == 3


def test_dry_run_reports_the_changes_and_writes_nothing(store: CentralStore, world,
                                                        tmp_path: Path) -> None:
    ingest_payouts(store, world.report)
    rows = rows_of(PEOPLE)
    rows[1][2] = "Budi Santoso Putra"  # changed
    del rows[4]  # removed from 32.01.02
    extra = ["3201016606990007", "3201010101100099", "Rina Kurnia", "Jl. Mawar 1",
             "32.01.01.1001", "3", "2", "aktif", ""]  # added to 32.01.01
    changed = write_csv(tmp_path / "changed.csv", HEADER, [*rows, extra])
    before = whole_store(store)
    report = publish(store, world, changed, dry_run=True, allow_shrink=True)
    assert whole_store(store) == before
    assert report.dry_run and report.version == 3 and report.published == 5
    assert report.changes == {
        "32.01.01": {"added": 1, "removed": 0, "changed": 1, "unchanged": 2},
        "32.01.02": {"added": 0, "removed": 1, "changed": 0, "unchanged": 1}}
    real = publish(store, world, changed, allow_shrink=True)
    assert (real.version, real.changes) == (3, report.changes)


def test_cli_dry_run_json_and_one_line_refusal(store: CentralStore, world,
                                               tmp_path: Path) -> None:
    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "blt_status.cli", "central", "publish",
                               str(store.directory), "--recipients", *args,
                               "--payout-points", str(world.payout_points), "--program",
                               str(world.program)], capture_output=True, text=True, timeout=120)

    before = whole_store(store)
    done = cli(str(world.recipients), "--dry-run", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["dry_run"] is True
    assert report["change_totals"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 5}
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    done = cli(str(header_only))
    assert done.returncode != 0 and done.stdout == ""
    assert done.stderr.startswith("error [publish_empty]: ") and done.stderr.count("\n") == 1
    assert whole_store(store) == before


@pytest.mark.parametrize("lang", ["id", "en"])
def test_a_refusal_says_why_the_rows_were_rejected(store: CentralStore, world, tmp_path: Path,
                                                   lang: str) -> None:
    """An admin whose spreadsheet put an apostrophe before every NIK learns from the one line
    what went wrong (the commonest rejection codes), not only how many rows were rejected."""
    rows = rows_of(PEOPLE)
    broken = write_csv(tmp_path / "broken.csv", HEADER,
                       rows + [["'" + row[0], *row[1:]] for row in rows] * 2)
    header_only = write_csv(tmp_path / "header.csv", HEADER, [])
    apostrophes = write_csv(tmp_path / "excel.csv", HEADER,
                            [["'" + row[0], *row[1:]] for row in rows])
    expected = {"id": "; terbanyak: nik_not_digits 10)", "en": "; most often: nik_not_digits 10)"}
    for recipients, code, shown in ((broken, "publish_mostly_rejected", expected[lang]),
                                    (apostrophes, "publish_empty",
                                     expected[lang].replace("10)", "5)")),
                                    (header_only, "publish_empty", None)):
        result = subprocess.run(
            [sys.executable, "-m", "blt_status.cli", "--lang", lang, "central", "publish",
             str(store.directory), "--recipients", str(recipients), "--payout-points",
             str(world.payout_points), "--program", str(world.program), "--workers", "1"],
            capture_output=True, text=True, check=False)
        assert result.returncode == 1, result.stderr
        assert result.stderr.startswith(f"error [{code}]: ") and result.stderr.count("\n") == 1
        if shown is None:
            assert "nik_" not in result.stderr  # nothing was rejected: no reasons to give
        else:
            assert shown in result.stderr, result.stderr
