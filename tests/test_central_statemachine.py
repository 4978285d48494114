"""Any sequence of publishes (rows added, removed, changed), ingests and re-publishes gives the
statuses a simple model predicts: status = roster + ledger. On SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

import pytest
from central_world import (
    POINTS,
    postgres_database,
    published_payloads,
    write_csv,
    write_world,
)
from conftest import PEOPLE
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from blt_status.central import CentralStore, publish_files
from blt_status.central.db import dispose_engines
from blt_status.central.ledger import PayoutEvent
from blt_status.central.publish import ingest_events
from blt_status.central.roster import current_roster
from blt_status.crypto import TEST_INDEX_KDF

WIB = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2025, 11, 21, 8, 0, tzinfo=WIB)  # the demo program runs 21.11-11.12
HEADER = ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota", "desil",
          "status", "kebutuhan_khusus"]
DESA = ["32.01.01.1001", "32.01.02.2001"]
KECAMATAN = ["32.01.01", "32.01.02"]
# (NIK, KK, name); two more than PEOPLE so that recipients can come and go.
POOL = [(person.nik, person.kk, person.name) for person in PEOPLE] + [
    ("3201016606990007", "3201010101100092", "Rina Kurnia"),
    ("3201025502950015", "3201020202100016", "Lina Marlina")]
FINAL = {"salur", "kembali"}


class LedgerModel(RuleBasedStateMachine):
    """The model: roster = {NIK: (address variant, desa variant)}; ledger = accepted events."""

    base: Path
    url: str | None

    def __init__(self) -> None:
        super().__init__()
        self.counter = itertools.count(1)
        self.roster: dict[str, tuple[int, int]] = {}
        self.events: dict[str, list[tuple[dt.datetime, int, str, str]]] = {}
        self.store: CentralStore | None = None
        self.shown: dict[str, tuple[object, ...]] = {}

    @initialize()
    def make_store(self) -> None:
        dispose_engines()
        run = next(RUNS)
        directory = self.base / f"run{run}"
        world = write_world(directory / "inputs", extra_rows=False)
        self.points, self.program = world.payout_points, world.program
        url = self.url
        if url is not None:  # one database per test: empty it for each example
            import sqlalchemy as sa

            engine = sa.create_engine(url)
            with engine.begin() as connection:
                tables = sa.inspect(connection).get_table_names()
                if "versions" in tables:
                    connection.execute(sa.text("TRUNCATE versions, roster, key_cache, flags, "
                                               "payout_events RESTART IDENTITY CASCADE"))
            engine.dispose()
        self.directory = directory
        self.store = CentralStore.init(directory / "central", kdf=TEST_INDEX_KDF, db_url=url)

    def _publish(self) -> None:
        assert self.store is not None
        rows = []
        for index, (nik, kk, name) in enumerate(POOL):
            if nik not in self.roster:
                continue
            address, desa = self.roster[nik]
            rows.append([nik, kk, name, f"Jl. Melati {address}", DESA[desa], "4",
                         str(1 + index % 4), "aktif", ""])
        csv = write_csv(self.directory / f"r{next(self.counter)}.csv", HEADER, rows)
        report = publish_files(self.store, csv, self.points, self.program, workers=1,
                               allow_empty=True, allow_shrink=True, allow_rejections=True)
        assert report.published == len(self.roster) and not report.rejected
        self.snapshot()

    def snapshot(self) -> None:
        """What the version just published holds (devices see ledger changes from then on
        only after the next publish)."""
        self.shown = {nik: (*self.expected(nik), f"Jl. Melati {address}", DESA[desa])
                      for nik, (address, desa) in self.roster.items()}

    @rule(chosen=st.lists(st.tuples(st.sampled_from(range(len(POOL))), st.integers(0, 1),
                                    st.integers(0, 1)), max_size=len(POOL)))
    def publish(self, chosen: list[tuple[int, int, int]]) -> None:
        self.roster = {POOL[index][0]: (address, desa) for index, address, desa in chosen}
        self._publish()

    @precondition(lambda self: self.store is not None and self.store.published_version() > 0)
    @rule()
    def republish(self) -> None:
        self._publish()

    @precondition(lambda self: self.store is not None and self.store.published_version() > 0)
    @rule(data=st.data(), publish=st.booleans())
    def ingest(self, data: st.DataObject, publish: bool) -> None:
        assert self.store is not None
        members = [index for index, person in enumerate(POOL) if person[0] in self.roster]
        people = st.sampled_from(members) if members else st.sampled_from(range(len(POOL)))
        batch = data.draw(st.lists(st.tuples(
            st.one_of(people, st.sampled_from(range(len(POOL)))),
            st.sampled_from(["salur", "gagal", "kembali"]), st.integers(0, 5 * 24 * 60)),
            min_size=1, max_size=4))
        events, expected_accepted = [], 0
        published_roster = set(self.roster)  # every publish rule publishes the model's roster
        for index, status, minutes in batch:
            nik = POOL[index][0]
            ref = str(next(self.counter))
            at = START + dt.timedelta(minutes=minutes)
            events.append(PayoutEvent(nik, status, at, POINTS[0][0], "api", "m", ref,
                                      None if status == "salur" else "lainnya"))
            history = self.events.setdefault(nik, [])
            if nik in published_roster and not any(item[2] in FINAL for item in history):
                history.append((at, int(ref), status, POINTS[0][0]))
                expected_accepted += 1
        report = ingest_events(self.store, events, publish=publish, workers=1)
        assert report.applied == expected_accepted
        if publish:
            self.snapshot()

    def expected(self, nik: str) -> tuple[str, dt.datetime | None]:
        status, collected = "scheduled", None
        for at, _, kind, _ in sorted(self.events.get(nik, [])):
            if status in ("collected", "returned"):
                break
            status = {"salur": "collected", "gagal": "held", "kembali": "returned"}[kind]
            collected = at if kind == "salur" else None
        return status, collected

    @invariant()
    def published_statuses_follow_the_model(self) -> None:
        if self.store is None or self.store.published_version() == 0:
            return
        seen = {}
        for entry in current_roster(self.store):
            payload = entry.payload
            seen[entry.nik_digits] = (payload.status, payload.collected_at,
                                      payload.address, payload.kode_wilayah)
        assert set(seen) == set(self.roster)
        # What devices get: opened from the published shards (any kecamatan it could be in).
        shards = {}
        for kecamatan in KECAMATAN:
            found = published_payloads(self.store, {nik: kecamatan for nik, _, _ in POOL})
            assert not set(found) & set(shards), "a recipient in two shards"
            shards.update(found)
        assert set(shards) == set(self.roster)
        for nik, (address, desa) in self.roster.items():
            status, collected = self.expected(nik)
            assert seen[nik] == (status, collected, f"Jl. Melati {address}", DESA[desa]), nik
            payload = shards[nik]
            assert (payload.status, payload.collected_at, payload.address,
                    payload.kode_wilayah) == self.shown[nik], nik


RUNS = itertools.count()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_statuses_follow_roster_and_ledger(backend: str, tmp_path: Path) -> None:
    examples = int(os.environ.get("BLT_STATEFUL_EXAMPLES", "12" if backend == "sqlite" else "8"))
    config = settings(max_examples=examples, stateful_step_count=8, deadline=None,
                      suppress_health_check=list(HealthCheck))

    def run(url: str | None) -> None:
        machine = type("Machine", (LedgerModel,), {"base": tmp_path, "url": url})
        machine.TestCase.settings = config
        machine.TestCase().runTest()

    if backend == "sqlite":
        run(None)
    else:
        with postgres_database() as url:
            run(url)
    dispose_engines()
