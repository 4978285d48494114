"""``/statistik`` through the real PTB stack against the fake Bot API, on the demo world's
real central store, public aggregates and a synced bot data dir."""

from __future__ import annotations

import re

import pytest
from support.fake_bot_api import FakeBotApi
from test_bot_e2e import start_bot

from blt_status.central.report_source import load_report
from blt_status.central.roster import current_roster
from blt_status.central.store import CentralStore
from blt_status.cli import main as cli
from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from blt_status.regions import region_name
from bots.statistics import AggregateSource


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """The demo world after its payout report was ingested and the bot synced."""
    world = ensure_demo_world(tmp_path_factory.mktemp("stat") / "demo", recipients=300)
    assert cli(["central", "ingest-payouts", str(world.central_dir),
                str(world.payout_report_csv)]) == 0
    assert cli(["sync", "--from", str(world.public_dir), "--data-dir", str(world.bot_dir)]) == 0
    return world


def percents(text: str) -> list[float]:
    return [float(number.replace(",", ".")) / 100
            for number in re.findall(r"(\d+(?:,\d)?) %", text)]


async def run_bot(world, tmp_path, script):
    with FakeBotApi() as api:
        bot = await start_bot(api, Device.load(world.bot_dir), world.pepper_file, tmp_path)
        bot.app.bot_data["statistics_source"] = AggregateSource(world.bot_dir,
                                                                world.public_dir.as_uri())
        try:
            return await script(bot, api)
        finally:
            await bot.app.shutdown()
            bot.engine.close()


async def test_without_a_lookup_the_user_picks_a_kabupaten(world, tmp_path) -> None:
    async def script(bot, api):
        await bot.say("/statistik")
        first = api.calls("sendMessage")[-1].params
        await bot.press("stat:32.01")
        return first, api.sent_texts()[-1]

    first, answer = await run_bot(world, tmp_path, script)
    assert first["text"] == "Pilih kabupaten/kota Anda:"
    assert first["reply_markup"]["inline_keyboard"] == [
        [{"callback_data": "stat:32.01", "text": "Kabupaten Bogor"}]]
    report = load_report(CentralStore.open(world.central_dir), level="kabupaten").total
    assert answer.startswith("📊 Kemajuan bantuan di Kabupaten Bogor")
    shown = percents(answer)
    assert shown and min(shown) <= report.share <= max(shown)  # the truth is in what we say
    paid = re.search(r"Tersalur: (?:sedikitnya )?Rp([\d.]+)", answer)
    if paid is None:  # every kecamatan's amount is a small, hidden number
        assert "Tersalur: disembunyikan (angka kecil)" in answer
    else:  # a lower bound where cells are hidden
        assert 0 <= int(paid.group(1).replace(".", "")) <= report.collected_amount
    assert "tidak ada yang bisa dikenali" in answer


async def test_after_a_lookup_it_answers_for_the_users_kecamatan(world, tmp_path) -> None:
    nik = world.sample_niks["will_be_collected"]
    entry = next(entry for entry in current_roster(CentralStore.open(world.central_dir))
                 if entry.nik_digits == nik)

    async def script(bot, api):
        await bot.say(nik)
        api.clear()
        await bot.say("/statistik")
        return api.sent_texts()

    texts = await run_bot(world, tmp_path, script)
    assert len(texts) == 1  # one answer, no "unknown command" after it
    answer = texts[0]
    assert answer.startswith(f"📊 Kemajuan bantuan di {region_name(entry.kecamatan)}")
    assert nik[-4:] not in answer and entry.payload.name not in answer  # never about one person


async def test_without_verified_data_it_says_so(world, tmp_path) -> None:
    async def script(bot, api):
        bot.app.bot_data["statistics_source"] = AggregateSource(tmp_path / "nothing",
                                                                world.public_dir.as_uri())
        await bot.say("/statistik")
        return api.sent_texts()

    texts = await run_bot(world, tmp_path, script)
    assert texts == ["Statistik belum tersedia: bot belum punya versi data yang terverifikasi."]


def test_an_amount_hidden_everywhere_is_called_hidden_not_rp0() -> None:
    """Every kecamatan's amount hidden read "Tersalur: sedikitnya Rp0": "nothing paid yet"."""
    from bots.statistics import Figures, statistics_reply

    hidden = Figures("32.01.03", "Citeureup", (0, 9), (0, 9), (0, float("inf")), 3)
    text = statistics_reply(hidden, "id").text
    assert "Tersalur: disembunyikan (angka kecil)" in text and "Rp0" not in text
    assert "Disbursed: hidden (small numbers)" in statistics_reply(hidden, "en").text
    some = Figures("32.01", "Kabupaten Bogor", (300, 309), (12, 21), (7_200_000, float("inf")), 3)
    assert "Tersalur: sedikitnya Rp7.200.000" in statistics_reply(some, "id").text
    exact = Figures("32.01.01", "Cibinong", (53, 53), (12, 12), (7_200_000, 7_200_000), 3)
    assert "Tersalur: Rp7.200.000" in statistics_reply(exact, "id").text
