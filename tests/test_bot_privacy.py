"""Privacy of the bot: a whole conversation, then every file it wrote and everything it logged
is searched for the NIKs, KK numbers and names of the test world. None may appear."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging

from conftest import KNOWN_SECRETS, NOT_LISTED_NIK, PEOPLE, secrets_found
from support.fake_bot_api import PHOTO, FakeBotApi, message_update
from test_bot_e2e import WIB, spaced, start_bot

from bots.app import configure_logging
from bots.telegram_adapter import run_reminders


async def test_a_whole_conversation_leaves_no_personal_data_anywhere(
        make_device, index_params, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    library_levels = {name: logging.getLogger(name).level
                      for name in ("httpx", "httpcore", "telegram", "apscheduler", "tornado")}
    configure_logging(logging.DEBUG)  # the bot's own logger levels, our loggers fully verbose
    device = make_device(view="recipient", backend="sqlite")
    from blt_status.crypto import b64e

    pepper = tmp_path / "secrets" / "pepper"
    pepper.parent.mkdir()
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    try:
        with FakeBotApi() as api:
            bot = await start_bot(api, device, pepper, tmp_path)
            try:
                await bot.say("/start")
                for person in PEOPLE:
                    await bot.say(spaced(person.nik))
                    await bot.press("remind")
                    await bot.say(f"/cek {person.nik}")
                    await bot.say(person.kk)  # a KK number sent by mistake
                    await bot.say(person.name)  # a name sent by mistake
                    await bot.say(person.nik, edited=True)
                    await bot.say(person.nik, chat_id=-100777, chat_type="group")
                    bot.clock.advance(3600)
                await bot.say(NOT_LISTED_NIK)
                await bot.say("/bahasa en")
                await bot.say(f"{PEOPLE[0].nik[:-1]}X")
                await bot.say(None, caption=PEOPLE[0].nik, **PHOTO)
                api.fail("sendMessage", status=502, times=4)
                await bot.say(PEOPLE[1].nik)  # a failure in the middle of an answer
                for _ in range(8):
                    await bot.say(PEOPLE[2].nik)  # a flood: rate-limited
                changed = [dataclasses.replace(p, payload=dataclasses.replace(
                    p.payload, status="held", status_note="data tidak padan")) for p in PEOPLE]
                make_device(view="recipient", backend="sqlite", data_dir=device.data_dir,
                            version=2, people=changed)
                # collected (Budi) and returned (Dewi) aid has nothing left to remind about
                assert len(bot.engine.state.subscriptions) == 3
                assert await run_reminders(bot.app, dt.datetime(2025, 11, 23, 9, tzinfo=WIB)) == 2
                await bot.say("/berhenti")
                await bot.say("/ingatkan")
                for update_id in (9001, 9002):  # a burst through the real handlers
                    await bot.feed(message_update(update_id, 31337, PEOPLE[3].nik))
            finally:
                await bot.app.shutdown()
                bot.engine.close()
            sent = api.sent_texts()
    finally:
        for name, level in library_levels.items():
            logging.getLogger(name).setLevel(level)

    assert len(sent) > 40
    assert any("Sudah disalurkan" in text for text in sent)
    assert sum("Payout status changed" in text for text in sent) == 2  # (now in English)
    state_file = tmp_path / "bot-state" / "state.json"
    assert state_file.exists()

    secrets = [s for s in KNOWN_SECRETS] + [NOT_LISTED_NIK]
    written = [path for path in tmp_path.rglob("*") if path.is_file() and path != pepper]
    assert written
    for path in written:
        found = secrets_found(path.read_bytes(), secrets)
        assert found == [], f"{[secret[:2] for secret in found]}… found in {path.name}"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    logged += "\n".join(str(record.args) for record in caplog.records)
    assert "bots." in "".join(record.name for record in caplog.records)
    for secret in secrets:
        assert secret not in logged
    for text in sent:  # and the replies show at most the last four digits, masked names
        for secret in secrets:
            assert secret not in text
