"""``/statistik`` when the figures cannot be fetched: through the real PTB stack against the
fake Bot API, on the demo world's synced bot data dir, with the figures' server down or failing
on loopback."""

from __future__ import annotations

import http.server
import logging
import socket
import threading
from collections.abc import Iterator

import pytest
from support.fake_bot_api import FakeBotApi
from test_bot_e2e import start_bot

from blt_status.cli import main as cli
from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from bots.statistics import AggregateSource

UNREACHABLE_ID = "Statistik tidak bisa diambil saat ini. Silakan coba lagi nanti."
UNREACHABLE_EN = "The statistics cannot be fetched right now. Please try again later."
NO_DATA_ID = "Statistik belum tersedia: bot belum punya versi data yang terverifikasi."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """The demo world, synced: the bot has a verified data version naming the figures."""
    world = ensure_demo_world(tmp_path_factory.mktemp("stat") / "demo", recipients=120)
    assert cli(["sync", "--from", str(world.public_dir), "--data-dir", str(world.bot_dir)]) == 0
    return world


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _Failing(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_error(503)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture()
def failing_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Failing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()


async def _ask(world, tmp_path, base_url: str) -> list[str]:
    with FakeBotApi() as api:
        bot = await start_bot(api, Device.load(world.bot_dir), world.pepper_file, tmp_path)
        bot.app.bot_data["statistics_source"] = AggregateSource(world.bot_dir, base_url)
        try:
            await bot.say("/statistik")
            await bot.press("stat:32.01")
            await bot.say("/bahasa en")
            await bot.press("stat:32.01")
            return [text for text in api.sent_texts() if text != "Language set to English."]
        finally:
            await bot.app.shutdown()
            bot.engine.close()


async def test_a_figures_server_that_cannot_be_reached_is_not_called_no_data(world, tmp_path,
                                                                             caplog):
    """The bot has a verified version, but fetching its figures failed: the user was told
    the bot had no verified data version."""
    caplog.set_level(logging.WARNING)
    texts = await _ask(world, tmp_path, f"http://127.0.0.1:{_closed_port()}/")
    assert texts[0] == "Pilih kabupaten/kota Anda:"  # the verified metadata is there
    assert texts[1:] == [UNREACHABLE_ID, UNREACHABLE_EN]
    warnings = [r.getMessage() for r in caplog.records if r.name == "bots.statistics"]
    assert warnings == ["statistics not fetched [ConnectError]"] * 2
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_failing_figures_server_says_try_later(world, tmp_path, failing_server):
    texts = await _ask(world, tmp_path, failing_server)
    assert texts[1:] == [UNREACHABLE_ID, UNREACHABLE_EN]


async def test_without_verified_metadata_it_still_says_no_data(world, tmp_path):
    with FakeBotApi() as api:
        bot = await start_bot(api, Device.load(world.bot_dir), world.pepper_file, tmp_path)
        bot.app.bot_data["statistics_source"] = AggregateSource(tmp_path / "nothing",
                                                                world.public_dir.as_uri())
        try:
            await bot.say("/statistik")
            await bot.press("stat:32.01")
            assert api.sent_texts() == [NO_DATA_ID, NO_DATA_ID]
        finally:
            await bot.app.shutdown()
            bot.engine.close()
