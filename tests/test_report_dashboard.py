"""The admin dashboard (``blt-tui --central DIR``) through Pilot on a real central store: drill
down and back, refresh by itself after an ingest, language, a bad store; SVG snapshots."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import shutil
import time
from pathlib import Path

import pytest
from central_world import write_world
from test_tui_app import screen_text
from textual.widgets import Static

from blt_status.central.report_source import load_snapshot
from blt_status.central.store import CentralStore
from blt_status.cli import main as cli
from blt_status.i18n import set_lang
from tui.admin.app import AdminApp, AdminScreen, bar
from tui.app import main as tui_main


@pytest.fixture(autouse=True)
def _language_back_to_default():
    """set_lang is process-wide: leave it as found for the tests that follow."""
    yield
    set_lang(None)


SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]
AS_OF = dt.datetime(2025, 11, 24, 5, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("admin-world")


@pytest.fixture(scope="module")
def published(world_dir: Path) -> Path:
    """The test world published; no payouts ingested yet."""
    world = write_world(world_dir / "inputs")
    directory = world_dir / "central"
    assert cli(["central", "init", str(directory), "--kdf", "test"]) == 0
    assert cli(["central", "publish", str(directory), "--recipients", str(world.recipients),
                "--payout-points", str(world.payout_points), "--program",
                str(world.program)]) == 0
    return directory


@pytest.fixture()
def store_copy(published: Path, tmp_path: Path) -> Path:
    target = tmp_path / "central"
    shutil.copytree(published, target)
    return target


def fixed_time(store: CentralStore):
    """The store's data with a fixed data time (snapshots must not show the wall clock)."""
    return dataclasses.replace(load_snapshot(store), as_of=AS_OF)


def make_admin(directory: Path, *, poll: float = 0.05, lang: str = "id") -> AdminApp:
    return AdminApp(CentralStore.open(directory), lang=lang, poll_seconds=poll,
                    loader=fixed_time)


async def loaded(app: AdminApp, pilot, loads: int = 1, version: int | None = None) -> None:
    """Wait for ``loads`` loads (and, given ``version``, one of that published version)."""
    def done() -> bool:
        return app.loads >= loads and not app._busy and (
            version is None or (app.marker is not None and app.marker[0] == version))

    for _ in range(1000):
        if done():
            break
        await pilot.pause(0.02)
    assert done()
    await app.workers.wait_for_complete()
    await pilot.pause()
    # The summary grows from one line ("Loading…") to two: on a busy machine the frame with
    # the new text can come before the layout gives it its second line. Wait for that layout.
    summary = screen_of(app).query_one("#admin-summary", Static)
    for _ in range(250):
        if summary.size.height == str(summary.content).count("\n") + 1:
            break
        await pilot.pause(0.02)
    else:
        raise AssertionError("the summary's layout never caught up with its text: height "
                             f"{summary.size.height}, text {str(summary.content)!r}")
    await pilot.pause()  # the redraw after the load is on screen


def ingest(world_dir: Path, directory: Path) -> None:
    assert cli(["central", "ingest-payouts", str(directory),
                str(world_dir / "inputs" / "payout_report.csv")]) == 0


def screen_of(app: AdminApp) -> AdminScreen:
    assert isinstance(app.screen, AdminScreen)
    return app.screen


async def code_after(app: AdminApp, pilot, wanted, seconds: float = 10.0) -> str:
    """The code of the screen shown once ``wanted(code)`` holds (or after ``seconds``): a
    screen pushed or popped by a key is on top after the next idle, which a loaded machine can
    delay past one ``pause`` (a CI run read the screen below it)."""
    deadline = time.monotonic() + seconds
    while True:
        await pilot.pause(0.02)
        code = app.screen.code if isinstance(app.screen, AdminScreen) else ""
        if wanted(code) or time.monotonic() > deadline:
            return screen_of(app).code


async def test_drill_down_to_a_payout_point_and_back(published: Path) -> None:
    app = make_admin(published, lang="en")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(app, pilot)
        text = screen_text(app)
        assert "Indonesia" in text and "Jawa Barat" in text and "Collected 0 of 5" in text
        path = []
        for _ in range(4):  # provinsi, kabupaten, kecamatan, desa
            before = screen_of(app).code
            await pilot.press("enter")
            path.append(await code_after(app, pilot, lambda code, before=before: code != before))
        assert path[:3] == ["32", "32.01", "32.01.01"]
        assert path[3].startswith("32.01.01.")
        await pilot.press("enter")  # on a titik: it has no children
        await pilot.pause(0.2)
        assert screen_of(app).code == path[3]
        text = screen_text(app)
        assert "Cibinong" in text and "Kantor Pos Cibinong" in text
        for expected in ("32.01.01", "32.01", "32", ""):
            await pilot.press("backspace")
            assert await code_after(app, pilot, lambda code, expected=expected:
                                    code == expected) == expected
        await pilot.press("backspace")  # at the top: nothing happens
        assert screen_of(app).code == ""


async def test_refreshes_by_itself_after_an_ingest(world_dir: Path, store_copy: Path) -> None:
    app = make_admin(store_copy, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        assert "Collected 0 of 5" in screen_text(app)
        await pilot.press("enter")  # keys keep working while the poll runs
        await pilot.pause()
        assert screen_of(app).code == "32"
        await asyncio.to_thread(ingest, world_dir, store_copy)
        # The poll may load twice: once after the ledger append, once after the publish.
        await loaded(app, pilot, 2, version=2)
        text = screen_text(app)
        assert "Collected 1 of 5 (20.0%)" in text and "held 1" in text
        assert screen_of(app).code == "32"  # the admin stays where they were
        assert app.marker[0] == 2 and app.marker[1] >= 2


async def test_language_and_bars(published: Path) -> None:
    app = make_admin(published, lang="id")
    async with app.run_test(size=(80, 24)) as pilot:
        await loaded(app, pilot)
        assert "Tersalur 0 dari 5" in screen_text(app)
        assert "Muat ulang" in screen_text(app)  # the key bar
        await pilot.press("enter")  # a drill step keeps the key words
        await pilot.pause()
        assert "Naik" in screen_text(app) and "Muat ulang" in screen_text(app)
        await pilot.press("f6")
        await pilot.pause()
        text = screen_text(app)
        assert "Collected 0 of 5" in text and "Reload" in text and "Muat ulang" not in text
        await pilot.press("backspace")
        await pilot.pause()
        assert "Reload" in screen_text(app)
    assert bar(0.5, 10) == "█████░░░░░" and bar(1.5, 4) == "████" and bar(0, 3) == "░░░"


def test_bad_store_is_one_error_line(tmp_path: Path, capsys) -> None:
    assert tui_main(["--central", str(tmp_path / "nothing"), "--lang", "en"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error [store_missing]: ") and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_national(snap_compare, published, size) -> None:
    app = make_admin(published, poll=60)

    async def run_before(pilot) -> None:
        await loaded(app, pilot)

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_drilled_to_kecamatan(snap_compare, published, size) -> None:
    app = make_admin(published, poll=60)

    async def run_before(pilot) -> None:
        await loaded(app, pilot)
        for _ in range(3):
            await pilot.press("enter")
            await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=run_before)


@pytest.mark.parametrize("size", SIZES)
def test_snapshot_after_ingest(snap_compare, world_dir, store_copy, size) -> None:
    app = make_admin(store_copy, poll=0.05)

    async def run_before(pilot) -> None:
        await loaded(app, pilot)
        await pilot.press("enter")
        await pilot.pause()
        await asyncio.to_thread(ingest, world_dir, store_copy)
        # The poll may load twice: once after the ledger append, once after the publish.
        await loaded(app, pilot, 2, version=2)
        app.poll_seconds = 60

    assert snap_compare(app, terminal_size=size, run_before=run_before)


async def test_flagged_payouts_are_counted_and_listed(store_copy: Path, capsys) -> None:
    from conftest import PEOPLE

    from blt_status.central.ledger import Flag, Ledger, PayoutEvent

    store = CentralStore.open(store_copy)
    person = PEOPLE[1]
    event = PayoutEvent(person.nik, "salur", dt.datetime(2025, 11, 24, 9, 30,
                                                         tzinfo=dt.timezone(dt.timedelta(hours=7))),
                        "KP-CIBINONG", "api", "msg-1", "ref-1", amount=600_000)
    epoch = store.load_state(records=False).epoch_id
    Ledger(store).append([event], epoch_id=epoch, flags={0: [Flag("burst", "high", "many")]})
    capsys.readouterr()
    assert cli(["--lang", "en", "central", "report", str(store_copy), "--format", "json"]) == 0
    total = __import__("json").loads(capsys.readouterr().out)["total"]
    assert (total["collected"], total["flagged"], total["collected_amount"]) == (1, 1, 600_000)
    app = make_admin(store_copy, lang="en")
    async with app.run_test(size=(120, 40)) as pilot:
        await loaded(app, pilot)
        text = screen_text(app)
    assert "Flagged payouts (1)" in text and f"…{person.nik[-4:]} burst (high)" in text
    assert person.nik not in text and person.name not in text
