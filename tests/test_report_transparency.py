"""The public progress aggregates hide small cells, and nobody can subtract their way to one
person: by sums inside one document, or by comparing two published versions."""

from __future__ import annotations

import json
from pathlib import Path

from central_world import write_world
from conftest import PEOPLE
from hypothesis import given, settings
from hypothesis import strategies as st

from blt_status.central.disclosure import HIDDEN, SMALL, THRESHOLD, feasible, suppress
from blt_status.central.repo import target_path_on_disk
from blt_status.central.store import CentralStore
from blt_status.cli import main as cli
from blt_status.layout import aggregates_target


def document(desa: list[tuple[int, int, int, int]], days: list[int]) -> dict:
    """A kecamatan's raw aggregates: per desa (collected, held, returned, pending)."""
    rows = []
    for index, (collected, held, returned, pending) in enumerate(desa):
        recipients = collected + held + returned + pending
        rows.append({"kode": f"32.01.01.{1001 + index}", "nama": "", "recipients": recipients,
                     "collected": collected, "held": held, "returned": returned,
                     "pending": pending, "amount_total": recipients * 600_000,
                     "amount_collected": collected * 600_000})
    keys = ("recipients", "collected", "held", "returned", "pending", "amount_total",
            "amount_collected")
    totals = {key: sum(row[key] for row in rows) for key in keys}
    # Spread the scheduled and collected people over the days as given.
    scheduled = _spread(totals["recipients"], days)
    collected = _spread(totals["collected"], days)
    return {"format": "blt-aggregates-v1", "region": "32.01.01", "totals": totals,
            "desa": rows, "days": [{"date": f"2025-11-{21 + i:02d}", "scheduled": s,
                                    "collected": c}
                                   for i, (s, c) in enumerate(zip(scheduled, collected,
                                                                  strict=True))]}


def _spread(total: int, weights: list[int]) -> list[int]:
    if not weights:
        return []
    share = [total * w // max(sum(weights), 1) for w in weights]
    share[0] += total - sum(share)
    return share


def cells(doc: dict) -> dict:
    """Every published count by where it is: (section, row, key)."""
    out = {("totals", "", key): doc["totals"][key]
           for key in ("recipients", "collected", "held", "returned", "pending")}
    for row in doc["desa"]:
        out.update({("desa", row["kode"], key): row[key]
                    for key in ("recipients", "collected", "held", "returned", "pending")})
    for day in doc["days"]:
        out.update({("days", day["date"], key): day[key] for key in ("scheduled", "collected")})
    return out


counts = st.integers(0, 40)


@settings(max_examples=150, deadline=None)
@given(desa=st.lists(st.tuples(counts, st.integers(0, 12), st.integers(0, 5), counts),
                     min_size=1, max_size=4),
       days=st.lists(st.integers(1, 5), min_size=1, max_size=3))
def test_no_hidden_cell_can_be_computed(desa, days) -> None:
    raw = document(desa, days)
    published = suppress(raw)
    shown = [value for value in cells(published).values() if value not in (SMALL, HIDDEN)]
    assert all(value >= THRESHOLD for value in shown)  # no small number is ever shown
    raw_cells, published_cells = cells(raw), cells(published)
    for where, raw_value in raw_cells.items():
        if where not in published_cells:  # a day left out: only when all its counts are small
            assert where[0] == "days" and raw_value < THRESHOLD
            assert published.get("days_complete") is False
            continue
        value = published_cells[where]
        if value == SMALL:
            assert raw_value < THRESHOLD
        elif value == HIDDEN:
            assert raw_value >= THRESHOLD
        else:
            assert value == raw_value
    bounds = feasible(published)
    for cell, (low, high) in bounds.items():
        section, index, key = cell
        value = (published["totals"][key] if section == "totals"
                 else published[section][index][key])
        if value in (SMALL, HIDDEN):
            assert low < high, f"{cell} can be computed from the published sums"
    for row in [published["totals"], *published["desa"]]:
        assert (row["amount_total"] is None) == (row["recipients"] in (SMALL, HIDDEN))
        assert (row["amount_collected"] is None) == (row["collected"] in (SMALL, HIDDEN))


def test_subtracting_the_other_desa_from_the_total_reveals_nobody() -> None:
    # Desa 1: 30 people, 15 collected. Desa 2: one person, who collected.
    raw = document([(15, 0, 0, 15), (1, 0, 0, 0)], [1])
    naive = raw["totals"]["collected"] - raw["desa"][0]["collected"]
    assert naive == 1  # what an unsuppressed document gives away
    published = suppress(raw)
    assert published["desa"][1]["collected"] == SMALL
    assert published["desa"][1]["recipients"] == SMALL
    low, high = feasible(published)[("desa", 1, "collected")]
    assert low < high
    # The total or the big desa's count was hidden too, so the difference is not known.
    assert HIDDEN in (published["totals"]["collected"], published["desa"][0]["collected"])


def test_flagged_count_is_a_small_cell() -> None:
    raw = document([(20, 0, 0, 20)], [1])
    raw["totals"]["flagged"] = 3
    assert suppress(raw)["totals"]["flagged"] == SMALL
    raw["totals"]["flagged"] = 12
    assert suppress(raw)["totals"]["flagged"] == 12


def published_aggregates(store_dir: Path, version: int, kecamatan: str) -> dict:
    store = CentralStore.open(store_dir)
    from tuf.api.metadata import Metadata, Targets

    targets = Metadata[Targets].from_file(
        str(store.metadata_dir / f"{version}.targets.json")).signed.targets
    path = target_path_on_disk(store.targets_dir, targets[aggregates_target(kecamatan)])
    return json.loads(path.read_bytes())


def test_two_published_versions_do_not_tell_whether_one_person_collected(tmp_path) -> None:
    """Publish, then ingest one person's payout: the two public aggregates are the same."""
    world = write_world(tmp_path / "inputs", report_rows=[
        [PEOPLE[4].nik, "salur", "2025-11-25T10:00:00+07:00", "KP-GUNUNGPUTRI", ""]])
    directory = tmp_path / "central"
    assert cli(["central", "init", str(directory), "--kdf", "test"]) == 0
    assert cli(["central", "publish", str(directory), "--recipients", str(world.recipients),
                "--payout-points", str(world.payout_points), "--program",
                str(world.program)]) == 0
    kecamatan = PEOPLE[4].payload.kode_wilayah.rsplit(".", 1)[0]
    before = published_aggregates(directory, 1, kecamatan)
    assert cli(["central", "ingest-payouts", str(directory), str(world.report)]) == 0
    after = published_aggregates(directory, 2, kecamatan)
    report = json.loads(_report_json(directory))
    assert report["total"]["collected"] == 1  # the ledger has the payout...
    assert before == after  # ...and the public aggregates cannot show it
    assert after["totals"]["collected"] == SMALL
    text = json.dumps(after)
    assert not any(person.nik in text or person.name in text for person in PEOPLE)


def _report_json(directory: Path) -> str:
    import contextlib
    import io
    import sys

    buffer = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    with contextlib.redirect_stdout(buffer):
        assert cli(["central", "report", str(directory), "--format", "json"]) == 0
        sys.stdout.flush()
    buffer.seek(0)
    return buffer.read()


async def test_officer_dashboard_shows_flagged_payouts(make_device) -> None:
    from test_tui_app import make_app, screen_text, settle, unlock

    from blt_status.central.plan import compute_aggregates
    from blt_status.records import Program

    records = [(person.payload.kode_wilayah.rsplit(".", 1)[0], person.payload)
               for person in PEOPLE]
    aggregates = compute_aggregates(records, Program("P", "Program", "2025"),
                                    flagged={"32.01.01": 12, "32.01.02": 2})
    device = make_device(regions=("32.01.01", "32.01.02"), extra={"aggregates": aggregates})
    app = make_app(device)
    async with app.run_test(size=(120, 40)) as pilot:
        await unlock(app, pilot)
        await pilot.press("f3")
        await settle(app, pilot)
        text = screen_text(app)
    assert "ditandai 12" in text and "ditandai <10" in text


def test_every_publish_carries_the_flagged_count_into_the_public_aggregates(tmp_path) -> None:
    """The officer dashboard's "ditandai" comes from the published aggregates of a real
    publish: the flagged payouts per kecamatan, small-cell suppressed like every count."""
    from blt_status.central.report_source import flagged_per_kecamatan

    world = write_world(tmp_path / "inputs", report_rows=[  # paid at another kecamatan's point
        [PEOPLE[0].nik, "salur", "2025-11-25T10:00:00+07:00", "KP-GUNUNGPUTRI", ""]])
    directory = tmp_path / "central"
    assert cli(["central", "init", str(directory), "--kdf", "test"]) == 0
    assert cli(["central", "publish", str(directory), "--recipients", str(world.recipients),
                "--payout-points", str(world.payout_points), "--program",
                str(world.program)]) == 0
    kecamatan = PEOPLE[0].payload.kode_wilayah.rsplit(".", 1)[0]
    assert published_aggregates(directory, 1, kecamatan)["totals"]["flagged"] == SMALL
    assert cli(["central", "ingest-payouts", str(directory), str(world.report)]) == 0
    assert flagged_per_kecamatan(CentralStore.open(directory)) == {kecamatan: 1}
    assert published_aggregates(directory, 2, kecamatan)["totals"]["flagged"] == SMALL
