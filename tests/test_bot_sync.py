"""Reminders after a real sync: the demo world's central store ingests a Kantor Pos payout
report, ``blt-status sync`` installs the new version in the bot's data dir, and the running bot
(no restart) tells the subscribed recipients whose status changed."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys

from support.fake_bot_api import FakeBotApi, callback_update, message_update
from test_bot_e2e import START, start_bot

from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from bots.telegram_adapter import run_reminders


def _blt_status(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "blt_status.cli", *args], check=True,
                   capture_output=True, timeout=120)


async def test_status_changes_from_a_real_ingest_and_sync_reach_subscribers(tmp_path):
    today = START.date()
    world = ensure_demo_world(tmp_path / "demo", recipients=200, today=today, payouts=False)
    collected, held = world.sample_niks["will_be_collected"], world.sample_niks["will_be_held"]
    with FakeBotApi() as api:
        bot = await start_bot(api, Device.load(world.bot_dir), world.pepper_file, tmp_path)
        # before the window: the reminders are for slots still ahead
        bot.clock.now = (START - dt.timedelta(days=10)).timestamp()
        try:
            for chat, nik in ((501, collected), (502, held)):
                bot.next_id += 1
                await bot.feed(message_update(bot.next_id, chat, nik))
                bot.next_id += 1
                await bot.feed(callback_update(bot.next_id, chat, "remind"))
            assert len(bot.engine.state.subscriptions) == 2
            assert all("Status: Terjadwal — belum diambil" in text
                       for text in api.sent_texts()[::2])
            await run_reminders(bot.app)  # version 1 seen: nothing to say
            api.clear()

            _blt_status("central", "ingest-payouts", str(world.central_dir),
                        str(world.payout_report_csv))
            _blt_status("sync", "--from", str(world.public_dir), "--data-dir",
                        str(world.bot_dir))
            await run_reminders(bot.app)
            by_chat = {int(call.params["chat_id"]): call.params["text"]
                       for call in api.calls("sendMessage")}
            assert by_chat[501].startswith("🔔 Status bantuan berubah: Terjadwal — belum "
                                           "diambil → Sudah disalurkan.")
            assert by_chat[502].startswith("🔔 Status bantuan berubah: Terjadwal — belum "
                                           "diambil → Ditahan — perlu tindakan.")
            assert bot.engine.index_version == 2
        finally:
            await bot.app.shutdown()
            bot.engine.close()
