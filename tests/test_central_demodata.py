"""The demo world: realistic, consistent with the NIK rules, deterministic, usable end to end."""

from __future__ import annotations

import csv
import json
from collections import Counter
from pathlib import Path

import pytest

from blt_status.central.demodata import write_demo_world
from blt_status.central.payouts import apply_payouts, read_payout_report
from blt_status.central.plan import plan_publication
from blt_status.errors import CentralError
from blt_status.nik import parse_kk, parse_nik
from blt_status.regions import is_current_desa, kecamatan_of


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    files = write_demo_world(tmp_path_factory.mktemp("demo"), recipients=800, seed=7)
    plan = plan_publication(files.recipients_csv, files.payout_points_csv, files.program_toml)
    return files, plan


def read_rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_plan_succeeds_and_rejects_the_expected_kinds(world):
    _, plan = world
    assert plan.input_rows == 800 == len(plan.recipients) + len(plan.rejected)
    counts = plan.rejected_counts()
    assert set(counts) == {"desil_above_max", "not_active", "duplicate_kk", "duplicate_nik",
                           "nik_length"}
    assert 0.15 < counts["desil_above_max"] / 800 < 0.40
    assert 0.02 < counts["not_active"] / 800 < 0.09
    modes = Counter(r.payload.schedule.mode for r in plan.recipients)
    assert set(modes) == {"kantor_pos", "komunitas", "antar"}
    assert 0.01 < modes["antar"] / len(plan.recipients) < 0.06
    assert all(r.payload.schedule.date <= plan.program.end for r in plan.recipients)


def test_people_are_consistent_with_the_nik_rules_and_real_regions(world):
    files, _ = world
    rows = read_rows(files.recipients_csv)
    sexes, issued_elsewhere, valid = Counter(), 0, 0
    for row in rows:
        assert is_current_desa(row["kode_wilayah"]) and row["kode_wilayah"].startswith("32.01.")
        kk = parse_kk(row["no_kk"])
        assert kk.kecamatan.code == kecamatan_of(row["kode_wilayah"])
        assert "RT " in row["alamat"] and "/RW " in row["alamat"]
        assert row["nama"] and int(row["jumlah_anggota"]) >= 1
        assert 1 <= int(row["desil"]) <= 7
        if len(row["nik"]) != 16:
            continue  # the few mistyped NIKs
        nik = parse_nik(row["nik"])
        valid += 1
        sexes[nik.sex] += 1
        issued_elsewhere += nik.kecamatan.code != kecamatan_of(row["kode_wilayah"])
        assert 1930 < nik.birth_date.year < 2006
    assert valid >= 790
    assert 0.4 < sexes["F"] / valid < 0.7
    assert 0.05 < issued_elsewhere / valid < 0.16
    assert len({row["nama"].split()[0] for row in rows}) > 150


def test_payout_points_cover_each_kecamatan(world):
    _, plan = world
    points = plan.payout_points
    kantor_pos = [p for p in points.values() if p.jenis == "kantor_pos"]
    assert len(kantor_pos) == 40  # one per kecamatan of Kabupaten Bogor
    assert any(p.jenis == "komunitas" for p in points.values())
    assert all(len(p.serves) == 1 and p.serves[0].count(".") == 2 for p in kantor_pos)


def test_the_report_touches_one_kecamatan_and_applies_with_rejections(world):
    files, plan = world
    events, rejected, input_rows = read_payout_report(files.payout_report_csv)
    current = {r.nik_digits: r.payload for r in plan.recipients}
    shard_of = {r.nik_digits: r.shard for r in plan.recipients}
    changed, refused = apply_payouts(current, events, plan.payout_points, plan.program)
    assert {shard_of[nik] for nik in changed} == {files.report_kecamatan} == {"32.01.01"}
    statuses = Counter(record.status for record in changed.values())
    assert statuses["collected"] > statuses["held"] > 0 and statuses["returned"] == 1
    codes = sorted(r.code for r in rejected + refused)
    assert codes == ["duplicate", "nik_length", "outside_program", "unknown_nik",
                     "unknown_point"]
    assert input_rows == len(changed) + len(rejected) + len(refused)


def test_sample_niks_behave_as_labelled(world):
    files, plan = world
    samples = files.sample_niks
    by_nik = {r.nik_digits: r for r in plan.recipients}
    rows = read_rows(files.recipients_csv)
    line_of = {row["nik"]: line for line, row in enumerate(rows, start=2)}
    rejection = {r.line: r.code for r in plan.rejected}
    assert by_nik[samples["antar"]].payload.schedule.mode == "antar"
    assert by_nik[samples["komunitas"]].payload.schedule.mode == "komunitas"
    assert by_nik[samples["scheduled"]].payload.status == "scheduled"
    assert rejection[line_of[samples["ineligible"]]] == "desil_above_max"
    assert rejection[line_of[samples["not_active"]]] == "not_active"
    assert samples["not_listed"] not in line_of
    events, _, _ = read_payout_report(files.payout_report_csv)
    changed, _ = apply_payouts({n: r.payload for n, r in by_nik.items()}, events,
                               plan.payout_points, plan.program)
    assert changed[samples["will_be_collected"]].status == "collected"
    assert changed[samples["will_be_held"]].status == "held"
    assert changed[samples["will_be_returned"]].status == "returned"
    for label in ("scheduled", "antar", "komunitas"):
        assert samples[label] not in changed
        assert by_nik[samples[label]].shard == files.report_kecamatan


def test_same_seed_same_bytes_other_seed_other_world(tmp_path):
    first = write_demo_world(tmp_path / "a", recipients=150, seed=3)
    again = write_demo_world(tmp_path / "b", recipients=150, seed=3)
    other = write_demo_world(tmp_path / "c", recipients=150, seed=4)
    for name in ("recipients_csv", "payout_points_csv", "program_toml", "payout_report_csv"):
        assert getattr(first, name).read_bytes() == getattr(again, name).read_bytes()
    assert first.sample_niks == again.sample_niks
    assert first.recipients_csv.read_bytes() != other.recipients_csv.read_bytes()


def test_a_city_of_kelurahan_works_too(tmp_path):
    files = write_demo_world(tmp_path, kabupaten="3171", recipients=300, seed=1)
    plan = plan_publication(files.recipients_csv, files.payout_points_csv, files.program_toml)
    assert plan.recipients and all(r.shard.startswith("31.71.") for r in plan.recipients)
    assert files.report_kecamatan.startswith("31.71.")


@pytest.mark.parametrize("code", ["32.99", "32", "32.01.01", "ab"])
def test_unknown_kabupaten_is_refused(tmp_path, code):
    with pytest.raises(CentralError) as caught:
        write_demo_world(tmp_path, kabupaten=code, recipients=100)
    assert caught.value.code == "demo_kabupaten"


def test_a_spread_world_keeps_kecamatan_near_the_asked_size(tmp_path):
    """``per_kecamatan``: a larger file spreads over more kecamatan (past the kabupaten, into
    the next of its province) instead of growing each kecamatan; the world still plans."""
    files = write_demo_world(tmp_path, recipients=2100, per_kecamatan=50, seed=5)
    rows = read_rows(files.recipients_csv)
    per_kecamatan = Counter(kecamatan_of(row["kode_wilayah"]) for row in rows)
    assert len(per_kecamatan) == 42  # ceil(2100 / 50): Bogor's 40, then two of 32.02
    assert sum(kec.startswith("32.01.") for kec in per_kecamatan) == 40
    assert sum(kec.startswith("32.02.") for kec in per_kecamatan) == 2
    assert max(per_kecamatan.values()) < 2 * 50 and min(per_kecamatan.values()) > 50 // 3
    assert all(is_current_desa(row["kode_wilayah"]) for row in rows)
    plan = plan_publication(files.recipients_csv, files.payout_points_csv, files.program_toml)
    assert {r.shard for r in plan.recipients} == set(per_kecamatan)
    kantor_pos = {p.serves[0] for p in plan.payout_points.values() if p.jenis == "kantor_pos"}
    assert kantor_pos == set(per_kecamatan)
    assert files.report_kecamatan == "32.01.01"
    events, _, _ = read_payout_report(files.payout_report_csv)
    assert events


def test_a_spread_world_of_one_kabupaten_is_its_first_kecamatan(tmp_path):
    files = write_demo_world(tmp_path, recipients=300, per_kecamatan=100, seed=5)
    kecamatan = {kecamatan_of(row["kode_wilayah"]) for row in read_rows(files.recipients_csv)}
    assert kecamatan == {"32.01.01", "32.01.02", "32.01.03"}
    with pytest.raises(CentralError) as caught:
        write_demo_world(tmp_path / "small", recipients=300, per_kecamatan=5)
    assert caught.value.code == "demo_too_small"


def test_around_today_dates_the_program_so_a_lookup_shows_days_to_come(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The README's walk-through uses --around-today: with the fixed 2025 program every sample
    answered "the schedule has passed" a year later."""
    import datetime as dt
    import tomllib

    from blt_status.cli import main

    out = tmp_path / "demo"
    assert main(["central", "demo-data", str(out), "--recipients", "2000", "--around-today",
                 "--json"]) == 0
    samples = json.loads(capsys.readouterr().out)["sample_niks"]
    today = dt.date.today()
    window = tomllib.loads((out / "program.toml").read_text(encoding="utf-8"))["schedule"]
    assert window["start"] <= today <= window["end"]
    plan = plan_publication(out / "recipients.csv", out / "payout_points.csv",
                            out / "program.toml", today=today)
    dates = {r.nik_digits: r.payload.schedule.date for r in plan.recipients}
    assert dates[samples["tomorrow"]] == today + dt.timedelta(days=1)
    assert dates[samples["today"]] == today
