"""central reconcile: the money balances after any sequence of publishes and payout reports."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from pathlib import Path

import pytest
from central_world import recipient_rows, write_csv, write_world
from conftest import PEOPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from blt_status.central.payouts import WIB, detail_text, flag_detail
from blt_status.central.publish import ingest_payouts, publish_files
from blt_status.central.reconcile import MONEY_KEYS, FlagRow, Money, reconcile, reconcile_store
from blt_status.central.repo import target_path_on_disk
from blt_status.central.report_source import load_snapshot
from blt_status.central.store import CentralStore
from blt_status.cli import main
from blt_status.crypto import TEST_INDEX_KDF

REPORT_HEADER = ["nik", "status", "waktu", "id_titik", "keterangan"]
POINT_OF = {person.nik: (person.payload.payout_point.id if person.payload.payout_point
                         else "KP-CIBINONG") for person in PEOPLE}


def flag(code: str, severity: str, day: int) -> FlagRow:
    return FlagRow(code, severity, "0001", "KP-CIBINONG",
                   dt.datetime(2025, 11, day, 9, 0, tzinfo=WIB), "detail")


def test_reconcile_sums_per_kecamatan_and_sorts_flags():
    entries = [("32.01.01", "scheduled", 600_000), ("32.01.01", "collected", 600_000),
               ("32.01.02", "held", 750_000), ("32.01.02", "returned", 600_000)]
    flags = [flag("burst", "medium", 25), flag("point_mismatch", "high", 26),
             flag("outside_hours", "low", 20)]
    result = reconcile(entries, flags, since=dt.datetime(2025, 11, 21, tzinfo=WIB))
    data = result.to_dict()
    assert data["totals"] == {"entitled": 2_550_000, "paid": 600_000, "held": 750_000,
                              "returned": 600_000, "pending": 600_000}
    assert [item["code"] for item in data["by_kecamatan"]] == ["32.01.01", "32.01.02"]
    assert data["by_kecamatan"][0]["name"] == "Cibinong"
    assert [item["code"] for item in data["flags"]] == ["point_mismatch", "burst"]
    assert set(data["flags"][0]) == {"code", "severity", "nik_last4", "point_id", "time",
                                     "detail"}


def test_an_unknown_status_is_refused():
    with pytest.raises(Exception) as caught:
        Money().add("lost", 1)
    assert getattr(caught.value, "code", "") == "reconcile_status"


def _public_money(store: CentralStore) -> tuple[int, int] | None:
    """(amount_total, amount_collected) summed over the published aggregates; None when a
    small-cell rule withheld an amount (it is then checked against the report instead)."""
    from tuf.api.metadata import Metadata

    version = store.published_version()
    targets = Metadata.from_file(str(store.metadata_dir / f"{version}.targets.json")).signed
    total = collected = 0
    for name, target in targets.targets.items():
        if name.startswith("aggregates/"):
            doc = json.loads(target_path_on_disk(store.targets_dir, target).read_bytes())
            amounts = doc["totals"]["amount_total"], doc["totals"]["amount_collected"]
            if None in amounts:
                return None
            total += amounts[0]
            collected += amounts[1]
    return total, collected


people_subsets = st.lists(st.sampled_from(range(len(PEOPLE))), min_size=1, max_size=5,
                          unique=True)
report_rows = st.lists(st.tuples(st.sampled_from(range(len(PEOPLE))),
                                 st.sampled_from(["salur", "gagal", "kembali"]),
                                 st.integers(0, 20 * 24)), max_size=6)
steps = st.lists(st.one_of(st.tuples(st.just("publish"), people_subsets),
                           st.tuples(st.just("report"), report_rows)), min_size=1, max_size=4)


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(sequence=steps)
def test_money_balances_after_any_sequence_of_publishes_and_reports(sequence):
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        world = write_world(root / "inputs", extra_rows=False)
        store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
        publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
        for number, (kind, value) in enumerate(sequence):
            if kind == "publish":
                chosen = [PEOPLE[index] for index in sorted(value)]
                write_csv(world.recipients, ["nik", "no_kk", "nama", "alamat", "kode_wilayah",
                                             "jumlah_anggota", "desil", "status",
                                             "kebutuhan_khusus"], recipient_rows(chosen))
                publish_files(store, world.recipients, world.payout_points, world.program,
                              workers=1, allow_shrink=True)
            else:
                start = dt.datetime(2025, 11, 21, 8, 0, tzinfo=WIB)
                rows = [[PEOPLE[index].nik, status,
                         (start + dt.timedelta(hours=hours)).isoformat(),
                         POINT_OF[PEOPLE[index].nik], "tidak hadir"]
                        for index, status, hours in value]
                report = write_csv(root / f"report{number}.csv", REPORT_HEADER, rows)
                ingest_payouts(store, report, workers=1)
            result = reconcile_store(store)
            totals = result.totals
            assert totals.entitled == (totals.paid + totals.held + totals.returned
                                       + totals.pending)
            for money in result.by_kecamatan.values():
                assert money.balanced()
            assert all(getattr(totals, key) >= 0 for key in MONEY_KEYS)
            public = _public_money(store)
            assert public is None or (totals.entitled, totals.paid) == public
            # The progress report counts the same roster and ledger another way.
            leaves = load_snapshot(store).tally.leaves.values()
            assert (sum(leaf.row.entitled for leaf in leaves),
                    sum(leaf.row.collected_amount for leaf in leaves)) == (totals.entitled,
                                                                          totals.paid)
            assert result.recipients == len(store.load_state().records)


def test_reconcile_cli_json_contract_and_since(tmp_path: Path, capsys):
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    ingest_payouts(store, world.report, workers=1)
    assert main(["--lang", "en", "central", "reconcile", str(store.directory), "--json",
                 "--since", "2025-11-01"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == {"flags", "totals", "by_kecamatan"}
    assert set(data["totals"]) == set(MONEY_KEYS)
    assert data["totals"]["paid"] == 600_000 and data["totals"]["held"] > 0
    for item in data["by_kecamatan"]:
        assert set(item) == {"code", "name", *MONEY_KEYS}
    assert main(["--lang", "en", "central", "reconcile", str(store.directory)]) == 0
    out = capsys.readouterr().out
    assert "entitled" in out and "3,000,000" in out and "Flagged payouts" in out
    with pytest.raises(SystemExit) as usage:
        main(["central", "reconcile", str(store.directory), "--since", "kemarin"])
    assert usage.value.code == 2
    assert "error [usage]" in capsys.readouterr().err
    assert main(["central", "reconcile", str(tmp_path / "nowhere")]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error [") and "Traceback" not in err


def test_flag_details_are_read_in_the_admins_language(tmp_path: Path, capsys):
    """A flag's detail is stored as a template and its values: `central reconcile` shows it in
    Indonesian by default and in English with --lang en (numbers in each one's format); a
    detail an earlier release stored as English text is shown as it is."""
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    report = write_csv(tmp_path / "report.csv", REPORT_HEADER, [
        [PEOPLE[0].nik, "salur", "2025-11-24T16:30:00+07:00", "KP-GUNUNGPUTRI", ""]])
    ingest_payouts(store, report, workers=1)
    assert main(["central", "reconcile", str(store.directory)]) == 0
    out = capsys.readouterr().out
    assert "disalurkan di KP-GUNUNGPUTRI, seharusnya di KP-CIBINONG (titik kecamatan lain)" \
        in out
    assert "disalurkan pukul 16:30, titik buka" in out and "paid" not in out
    assert main(["--lang", "en", "central", "reconcile", str(store.directory), "--json"]) == 0
    details = {flag["code"]: flag["detail"]
               for flag in json.loads(capsys.readouterr().out)["flags"]}
    assert details["point_mismatch"] == ("paid at KP-GUNUNGPUTRI, assigned KP-CIBINONG "
                                         "(a point of another kecamatan)")
    assert details["outside_hours"].startswith("paid at 16:30, the point opens ")
    stored = flag_detail("amount {amount} differs from the entitlement {entitled}",
                         amount=1_200_000, entitled=600_000)
    assert detail_text(stored, "id") == "jumlah 1.200.000 berbeda dari hak 600.000"
    assert detail_text(stored, "en") == "amount 1,200,000 differs from the entitlement 600,000"
    assert detail_text("paid on 2025-11-27, a holiday", "id") == \
        "paid on 2025-11-27, a holiday"  # plain text of an earlier release
    assert detail_text('{"m": "no {such}", "v": {}}', "en") == '{"m": "no {such}", "v": {}}'
