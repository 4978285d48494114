"""A carried-over roster (ingest, refresh) decides only the kecamatan whose inputs moved.

Every step runs on two stores fed the same inputs: one as shipped, one with the shortcut
turned off (every kecamatan decided again, as before it existed). Devices must get the same
answers from both, the aggregates must be the same bytes, and the version reports the same
counts; the shortcut store must have read only the kecamatan it had to.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from central_world import (  # noqa: F401  (db_url)
    db_url,
    postgres_database,
    published_payloads,
    write_csv,
    write_world,
)
from conftest import PEOPLE

import blt_status.central.publish as publish_module
from blt_status.central import CentralStore, ingest_payouts, publish_files
from blt_status.central.db import open_engine, versions
from blt_status.central.ledger import PayoutEvent
from blt_status.central.publish import FLAGGED, LEDGER_EVENTS, LEDGER_LAST, ingest_events, refresh
from blt_status.central.repo import target_path_on_disk
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.layout import aggregates_target

REPORT_HEADER = ["nik", "status", "waktu", "id_titik", "keterangan"]
NOW = dt.datetime(2025, 11, 27, 7, 0, tzinfo=dt.UTC)
WHERE = {person.nik: person.shard for person in PEOPLE}
KECAMATAN = sorted(set(WHERE.values()))


@contextlib.contextmanager
def second_database(db_url: str | None) -> Iterator[str | None]:  # noqa: F811
    if db_url is None:
        yield None
    else:
        with postgres_database() as url:
            yield url


class Twins:
    """The same operations on a store with the shortcut and on one without it."""

    def __init__(self, tmp_path: Path, urls: tuple[str | None, str | None],
                 monkeypatch: pytest.MonkeyPatch) -> None:
        self.world = write_world(tmp_path / "inputs")
        self.stores = [CentralStore.init(tmp_path / name, kdf=TEST_INDEX_KDF, db_url=url)
                       for name, url in zip(("settled", "full"), urls, strict=True)]
        self.monkeypatch = monkeypatch
        self.decided: list[str] = []
        self.tmp_path = tmp_path
        self.reports = 0

    def run(self, step: Callable[[CentralStore], Any]) -> tuple[Any, Any]:
        """``step`` on both stores; returns both results, and records what the first read."""
        decide = publish_module._decide
        self.decided = []

        def recording(*args: Any) -> Any:
            self.decided.append(args[4])
            return decide(*args)

        with self.monkeypatch.context() as patch:
            patch.setattr(publish_module, "_decide", recording)
            first = step(self.stores[0])
        with self.monkeypatch.context() as patch:
            patch.setattr(publish_module, "_settled", lambda *args: set())
            second = step(self.stores[1])
        self.check_same_output()
        return first, second

    def report(self, *rows: list[str]) -> Path:
        self.reports += 1
        return write_csv(self.tmp_path / f"report-{self.reports}.csv", REPORT_HEADER,
                         [list(row) for row in rows])

    def check_same_output(self) -> None:
        settled, full = self.stores
        assert settled.published_version() == full.published_version()
        for view in ("officer", "recipient"):
            assert published_payloads(settled, WHERE, view) == \
                published_payloads(full, WHERE, view)
        assert aggregates(settled) == aggregates(full)


def aggregates(store: CentralStore) -> dict[str, bytes]:
    from tuf.api.metadata import Metadata, Targets

    version = store.published_version()
    targets = Metadata[Targets].from_file(
        str(store.metadata_dir / f"{version}.targets.json")).signed.targets
    return {kec: target_path_on_disk(store.targets_dir, targets[aggregates_target(kec)])
            .read_bytes() for kec in KECAMATAN}


def same_report(first: Any, second: Any) -> None:
    """The same report but for the paths of each store's own files."""
    def shown(report: Any) -> dict[str, Any]:
        return {key: value for key, value in report.to_dict().items()
                if key not in ("distribution_dir", "distribution_lists")}

    assert shown(first) == shown(second)


def test_ingest_and_refresh_read_only_the_kecamatan_that_moved(
        tmp_path: Path, db_url: str | None,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    with second_database(db_url) as other:
        twins = Twins(tmp_path, (db_url, other), monkeypatch)
        world = twins.world
        same_report(*twins.run(lambda store: publish_files(
            store, world.recipients, world.payout_points, world.program, workers=1,
            now=NOW)))
        assert twins.decided == KECAMATAN  # a publish from files reads everything

        # One payout in Gunung Putri: Cibinong is kept without being read.
        held = twins.report([PEOPLE[3].nik, "gagal", "2025-11-26T10:10:00+07:00",
                             "KP-GUNUNGPUTRI", "nama tidak sesuai KTP"])
        first, second = twins.run(lambda store: ingest_payouts(store, held, now=NOW))
        same_report(first, second)
        assert (first.applied, first.shards_written) == (1, 2)
        assert twins.decided == ["32.01.02"]

        # Paid in Cibinong at Gunung Putri's post office after hours: flags, counted in the
        # aggregates; both kecamatan whose counts move are read again, no other.
        paid = twins.report([PEOPLE[0].nik, "salur", "2025-11-24T16:30:00+07:00",
                             "KP-GUNUNGPUTRI", ""])
        first, second = twins.run(lambda store: ingest_payouts(store, paid, now=NOW))
        same_report(first, second)
        flagged = latest_inputs(twins.stores[0])[FLAGGED]
        assert flagged, "the report raised no flag: the test lost its point"
        assert "32.01.01" in twins.decided
        assert set(twins.decided) <= {"32.01.01", *flagged}

        # Nothing new: a refresh re-signs and reads no kecamatan at all.
        first, second = twins.run(lambda store: refresh(store, now=NOW))
        assert (first.changes, first.keys_reused, first.shards_written) == \
            (second.changes, second.keys_reused, second.shards_written)
        assert twins.decided == []

        # A flag on a payout the version has already seen (as a later review could raise):
        # no new event, yet Gunung Putri's flagged count moves, so its aggregates are redone
        # (the same bytes here: counts under ten are published as "<10").
        for store in twins.stores:
            add_flag(store, PEOPLE[3].nik[-4:], "32.01.02")
        twins.run(lambda store: refresh(store, now=NOW))
        assert twins.decided == ["32.01.02"]

        # A publish from files still reads everything (its rows come from the file).
        first, second = twins.run(lambda store: publish_files(
            store, world.recipients, world.payout_points, world.program, workers=1,
            now=NOW))
        same_report(first, second)
        assert twins.decided == KECAMATAN


def test_an_event_committed_after_the_published_snapshot_is_not_missed(
        tmp_path: Path, db_url: str | None,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """On PostgreSQL a writer can take an event id before a publish counts the ledger and
    commit after it: the id is below the version's largest, yet the version never saw it. The
    count up to that id then differs from the version's, and everything is read again."""
    with second_database(db_url) as other:
        twins = Twins(tmp_path, (db_url, other), monkeypatch)
        world = twins.world
        twins.run(lambda store: publish_files(
            store, world.recipients, world.payout_points, world.program, workers=1,
            now=NOW))
        event = PayoutEvent(PEOPLE[1].nik, "salur", dt.datetime(
            2025, 11, 24, 9, 17, tzinfo=dt.timezone(dt.timedelta(hours=7))), "KP-CIBINONG",
            "api", "late-1", "1", None, "")
        for store in twins.stores:
            ingest_events(store, [event], publish=False, now=NOW)
            # As if the published version had counted the ledger while this event's id was
            # taken and its transaction not yet committed.
            inputs = latest_inputs(store)
            with open_engine(store).connect() as connection:
                count, last = publish_module._ledger_events(connection,
                                                            latest_row(store).epoch_id)
            set_latest_inputs(store, {**inputs, LEDGER_LAST: str(last),
                                      LEDGER_EVENTS: str(count - 1)})
        first, second = twins.run(lambda store: refresh(store, now=NOW))
        assert (first.changes, first.keys_reused) == (second.changes, second.keys_reused)
        assert twins.decided == KECAMATAN
        payloads = published_payloads(twins.stores[0], WHERE)
        assert payloads[PEOPLE[1].nik].status == "collected"


def test_a_version_without_the_markers_is_read_whole(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A version published by an earlier release holds no ledger markers: the first ingest
    after the upgrade reads every kecamatan (and writes the markers for the next one)."""
    twins = Twins(tmp_path, (None, None), monkeypatch)
    world = twins.world
    twins.run(lambda store: publish_files(
        store, world.recipients, world.payout_points, world.program, workers=1, now=NOW))
    for store in twins.stores:
        inputs = latest_inputs(store)
        for key in (LEDGER_LAST, FLAGGED):
            inputs.pop(key)
        set_latest_inputs(store, inputs)
    held = twins.report([PEOPLE[3].nik, "gagal", "2025-11-26T10:10:00+07:00",
                         "KP-GUNUNGPUTRI", ""])
    twins.run(lambda store: ingest_payouts(store, held, now=NOW))
    assert twins.decided == KECAMATAN
    assert {LEDGER_LAST, FLAGGED} <= set(latest_inputs(twins.stores[0]))
    twins.run(lambda store: refresh(store, now=NOW))
    assert twins.decided == []


def add_flag(store: CentralStore, nik_last4: str, kecamatan: str) -> None:
    from blt_status.central.db import flags, payout_events

    with open_engine(store).begin() as connection:
        event_id = connection.execute(sa.select(sa.func.max(payout_events.c.id)).where(
            payout_events.c.nik_last4 == nik_last4)).scalar_one()
        connection.execute(flags.insert().values(
            event_id=event_id, code="outside_hours", severity="warn",
            detail="paid outside the point's hours", kecamatan=kecamatan))


def latest_row(store: CentralStore) -> Any:
    with open_engine(store).connect() as connection:
        return connection.execute(sa.select(versions).where(
            versions.c.version == store.published_version())).one()


def latest_inputs(store: CentralStore) -> dict[str, Any]:
    return dict(json.loads(latest_row(store).inputs))


def set_latest_inputs(store: CentralStore, inputs: dict[str, Any]) -> None:
    with open_engine(store).begin() as connection:
        connection.execute(versions.update().where(
            versions.c.version == store.published_version()).values(
                inputs=json.dumps(inputs, sort_keys=True)))


def test_a_new_program_period_counts_only_its_own_flags(
        tmp_path: Path, db_url: str | None) -> None:  # noqa: F811
    """The public "ditandai" counts are those of the published program period: a payout
    flagged in the last period is not counted against the new one."""
    world = write_world(tmp_path / "inputs")
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF, db_url=db_url)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1,
                  now=NOW)
    paid = write_csv(tmp_path / "paid.csv", REPORT_HEADER, [
        [PEOPLE[0].nik, "salur", "2025-11-24T16:30:00+07:00", "KP-GUNUNGPUTRI", ""]])
    ingest_payouts(store, paid, now=NOW)
    assert latest_inputs(store)[FLAGGED] == {"32.01.01": 1}
    refresh(store, now=NOW)
    assert latest_inputs(store)[FLAGGED] == {"32.01.01": 1}
    next_period = tmp_path / "next.toml"
    next_period.write_text(world.program.read_text(encoding="utf-8").replace(
        "BLT-PANGAN-2025", "BLT-PANGAN-2026"), encoding="utf-8")
    result = publish_files(store, world.recipients, world.payout_points, next_period,
                           workers=1, now=NOW)
    assert result.keys_derived == 2 * len(PEOPLE)  # a new epoch: the test is where it means
    assert latest_inputs(store)[FLAGGED] == {}
    refresh(store, now=NOW)
    assert latest_inputs(store)[FLAGGED] == {}
