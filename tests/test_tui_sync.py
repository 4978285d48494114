"""The officer's whole day through the TUI against a real published world over loopback HTTP.

Unlock, look up three residents, open the dashboard, the central office ingests a Kantor Pos
report and publishes, sync from the TUI (progress, what changed), the dashboard and the
cards update without a restart, and the audit log verifies. Plus: a sync failing midway.
"""

from __future__ import annotations

import datetime as dt
import shutil

import pytest
from support.repository import Fault, RepositoryServer
from test_tui_app import CLOCK, look_up, make_app, paste, screen_text, settle, unlock

from blt_status.cli import main as cli_main
from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from tui.screens.dashboard import DashboardScreen
from tui.screens.sync import SyncScreen


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    # not yet ingested (the test ingests), and dated so that the app's fixed clock is ten days
    # before "today": every sample slot is still ahead
    return ensure_demo_world(tmp_path_factory.mktemp("demo-world"), recipients=60,
                             payouts=False, today=CLOCK.date() + dt.timedelta(days=10))


@pytest.fixture()
def officer(world, tmp_path):
    """A private copy of the demo officer device (the world is shared by this module)."""
    target = tmp_path / "officer"
    shutil.copytree(world.officer_dir, target)
    return Device.load(target)


async def test_sync_failing_midway_keeps_the_old_data(world, officer):
    with RepositoryServer(world.public_dir, faults=[Fault("timestamp", "drop")]) as server:
        app = make_app(officer, sync_source=server.url)
        async with app.run_test(size=(100, 30)) as pilot:
            await unlock(app, pilot, world.passphrase)
            await pilot.press("f4")
            await pilot.pause()
            assert f"Sumber: {server.url}" in screen_text(app)
            await pilot.press("s")
            await settle(app, pilot)
            shown = screen_text(app)
            assert "Sinkronisasi gagal:" in shown and "Traceback" not in shown
            await pilot.press("f2")
            shown = await look_up(app, pilot, world.sample_niks["scheduled"])
            assert "Terjadwal — belum diambil" in shown


async def test_officer_day_end_to_end(world, officer, tmp_path, monkeypatch, capsys):
    from blt_status.central.publish import ingest_payouts
    from blt_status.central.store import CentralStore

    central = tmp_path / "central"
    shutil.copytree(world.central_dir, central)
    store = CentralStore.open(central)
    niks = world.sample_niks
    with RepositoryServer(store.public_dir) as server:
        app = make_app(officer, sync_source=server.url)
        async with app.run_test(size=(120, 40)) as pilot:
            await unlock(app, pilot, world.passphrase)
            shown = await look_up(app, pilot, niks["scheduled"])
            assert "Terjadwal — belum diambil" in shown and "Rp600.000" in shown
            shown = await look_up(app, pilot, niks["will_be_collected"])
            assert "Terjadwal — belum diambil" in shown
            shown = await look_up(app, pilot, niks["not_listed"])
            assert "TIDAK DITEMUKAN" in shown
            await pilot.press("f3")
            await pilot.pause()
            assert isinstance(app.screen, DashboardScreen)
            before = screen_text(app)
            assert "Kec. Cibinong:" in before and "0/" in before

            ingest_payouts(store, world.payout_report_csv)  # the central office publishes v2

            await pilot.press("f4")
            await pilot.pause()
            assert isinstance(app.screen, SyncScreen)
            await pilot.press("s")
            await settle(app, pilot)
            shown = screen_text(app)
            assert "Selesai: data v1 → v2." in shown and "Data v2" in shown
            await pilot.press("f3")
            await pilot.pause()
            after = screen_text(app)
            assert after != before and "Data v2" in after
            summary = next(line for line in after.splitlines() if "Kec. Cibinong:" in line)
            assert not summary.split(": ", 1)[1].startswith("0/")
            await pilot.press("f2")
            shown = await look_up(app, pilot, niks["will_be_collected"])
            assert "Sudah disalurkan" in shown and "Diambil:" in shown
            await pilot.press("f5")
            await settle(app, pilot)
            # the unlock, four lookups and the sync (blt_status.audit's one rule)
            assert "OK: 6 entri" in screen_text(app)
    monkeypatch.setenv("BLT_PASSPHRASE", world.passphrase)
    monkeypatch.setenv("BLT_LANG", "en")
    assert cli_main(["audit", "verify", "--data-dir", str(officer.data_dir)]) == 0
    # ... and the command's own unlock
    assert capsys.readouterr().out.strip() == "OK: 7 entries, chain and MACs intact"


async def test_demo_world_opens_with_its_passphrase_on_screen(world, tmp_path):
    from tui.app import _demo

    # its own cache: the default demo is dated today and ingested, unlike this module's world
    data_dir, passphrase, source, samples = _demo("id", cache_dir=tmp_path / "demo",
                                                  recipients=60)
    assert data_dir == (tmp_path / "demo" / "officer").resolve()
    assert passphrase == world.passphrase
    app = make_app(Device.load(data_dir), demo_passphrase=passphrase, demo_samples=samples,
                   sync_source=source)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert f"Demo — kata sandi: {world.passphrase}" in screen_text(app)
        await unlock(app, pilot, passphrase)
        # a newcomer sees NIKs to try, without reading anything
        shown = screen_text(app)
        assert "Demo — coba NIK contoh" in shown
        scheduled = samples["scheduled"]
        assert " ".join(scheduled[i:i + 4] for i in range(0, 16, 4)) in shown
        shown = await look_up(app, pilot, samples["komunitas"])
        assert "Titik bayar komunitas" in shown


class _SlowServer:
    """A real loopback HTTP server that answers every request after a pause."""

    def __init__(self, directory, delay: float) -> None:
        import functools
        import http.server
        import threading
        import time

        class Handler(http.server.SimpleHTTPRequestHandler):
            def do_GET(self) -> None:
                time.sleep(delay)
                super().do_GET()

            def log_message(self, format, *args) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=str(directory)))
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


async def test_lookups_keep_working_while_a_sync_runs(world, officer, tmp_path):
    from blt_status.central.publish import ingest_payouts
    from blt_status.central.store import CentralStore

    central = tmp_path / "central"
    shutil.copytree(world.central_dir, central)
    store = CentralStore.open(central)
    ingest_payouts(store, world.payout_report_csv)
    with _SlowServer(store.public_dir, delay=0.25) as server:
        app = make_app(officer, sync_source=server.url)
        async with app.run_test(size=(100, 30)) as pilot:
            await unlock(app, pilot, world.passphrase)
            await pilot.press("f4", "s")
            await pilot.pause()
            assert app.sync_state.running
            await pilot.press("f2")
            await paste(pilot, world.sample_niks["will_be_collected"])
            await pilot.press("enter")
            while app.last_outcome is None:
                await pilot.pause(0.01)
            await pilot.pause()
            assert app.sync_state.running  # answered from v1 while v2 was still arriving
            shown = screen_text(app)
            assert "Terjadwal — belum diambil" in shown and "Data v1" in shown
            await settle(app, pilot)
            assert not app.sync_state.running and app.sync_state.error is None
            shown = await look_up(app, pilot, world.sample_niks["will_be_collected"])
            assert "Sudah disalurkan" in shown and "Data v2" in shown
