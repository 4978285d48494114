"""The bot end to end: the real PTB Application against a fake Bot API on 127.0.0.1.

Updates go in through ``Application.process_update`` (and, in one test, real long polling of
``getUpdates``); what the bot did is read back from the fake API's recorded requests. Reply
texts are compared exactly.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import time
from pathlib import Path

import pytest
from conftest import NOT_LISTED_NIK, PEOPLE
from support.fake_bot_api import PHOTO, STICKER, VOICE, FakeBotApi, callback_update, message_update
from telegram import Update
from telegram.request import HTTPXRequest

import blt_status.lookup
from blt_status.crypto import b64e
from bots import dialogue
from bots.app import make_engine
from bots.config import BotConfig
from bots.limits import LimitSettings
from bots.telegram_adapter import build_application, run_reminders

TOKEN = "123456:TEST-TOKEN-not-real"
USER = 4242
WIB = dt.timezone(dt.timedelta(hours=7))
START = dt.datetime(2025, 11, 23, 10, 0, tzinfo=WIB)  # the day before Siti's payout
SITI, BUDI, MARYAM, AGUS, DEWI = PEOPLE

SITI_ANSWER = """\
✅ Terdaftar sebagai penerima BLT Pangan 2025.
👤 S*** A***** (NIK ****0001)
Status: Terjadwal — belum diambil
💰 Jumlah: Rp600.000
Wajib diterima utuh, tanpa potongan apa pun — laporkan setiap potongan ke kantor desa atau \
Kemensos 171.
Program: BLT Pangan 2025, periode Oktober-Desember 2025

📅 Tanggal: Senin, 24 November 2025
🕗 Jam: 08:00–09:00 WIB
📍 Tempat: Kantor Pos Cibinong (Kantor Pos)
   Jl. Raya Bogor No. 12, Cibinong
   Peta: https://www.google.com/maps/search/?api=1&query=Kantor+Pos+Cibinong%2C+Jl.+Raya+\
Bogor+No.+12%2C+Cibinong

Yang dibawa:
• KTP-el asli
• Kartu Keluarga (KK) asli
• Surat undangan/barcode PBP (bila ada)

Langkah berikutnya:
• Datang sesuai jam yang tertera dengan membawa dokumen tersebut; bantuan diterima utuh, \
tanpa potongan apa pun.

Data per 20 November 2025 13:00 WIB (versi 1). [DATA UJI/DEMO]"""

# The same answer after the slot (the test world's records do not carry the programme's end).
SITI_PASSED_ANSWER = SITI_ANSWER.replace(
    "Status: Terjadwal — belum diambil", "Status: Jadwal sudah lewat — belum diambil").replace(
    "• Datang sesuai jam yang tertera dengan membawa dokumen tersebut; bantuan diterima utuh, "
    "tanpa potongan apa pun.",
    "• Jadwal Anda (Senin, 24 November 2025, 08:00–09:00 WIB) sudah lewat dan bantuan belum "
    "diambil.\n• Tanyakan ke operator desa atau Kantor Pos apakah Anda masih bisa datang, atau "
    "telepon Kemensos 171 (gratis).")

NOT_FOUND_ANSWER = """\
❌ NIK ****0009 tidak ditemukan dalam data penerima.
• NIK ini tidak ada dalam daftar periode ini untuk wilayah yang dicakup data ini.
• Kemungkinan: tidak memenuhi syarat periode ini (desil atau status), terdaftar di wilayah \
lain, atau data di sini lebih lama dari daftar terbaru.
• Periksa tanggal data di bawah, lalu tanyakan ke kantor desa atau hubungi Kemensos 171.
💡 Pastikan yang dikirim adalah NIK di KTP, bukan nomor KK (Kartu Keluarga).

Data per 20 November 2025 13:00 WIB (versi 1). [DATA UJI/DEMO]"""

START_TEXT = """\
Halo! Bot ini memberi tahu penerima BLT Pangan (KPM) kapan dan di mana bantuan diambil, \
berapa jumlahnya, dan apakah sudah disalurkan. Kirim NIK Anda (16 angka di KTP), boleh dengan \
spasi, titik atau tanda hubung.

Pengecekan bersifat pribadi: NIK tidak disimpan dan pesan berisi NIK dihapus setelah \
dijawab. Ketik /bantuan untuk jalur resmi dan /bahasa untuk mengganti bahasa.

⚠️ Bot ini TIDAK PERNAH meminta PIN, OTP, kata sandi, foto, atau uang, dan tidak pernah \
mengirim tautan untuk "pendaftaran". Bantuan ini gratis."""


def spaced(nik: str) -> str:
    return " ".join(nik[i:i + 4] for i in range(0, 16, 4))


class Clock:
    def __init__(self, moment: dt.datetime) -> None:
        self.now = moment.timestamp()

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclasses.dataclass
class BotUnderTest:
    app: object
    api: FakeBotApi
    clock: Clock
    config: BotConfig
    next_id: int = 100

    @property
    def engine(self):
        return self.app.bot_data["engine"]

    async def feed(self, update: dict) -> None:
        await self.app.process_update(Update.de_json(update, self.app.bot))

    async def say(self, text: str | None, *, chat_id: int = USER, chat_type: str = "private",
                  edited: bool = False, **content) -> int:
        self.next_id += 1
        await self.feed(message_update(self.next_id, chat_id, text, chat_type=chat_type,
                                       edited=edited, user_id=USER, **content))
        return self.next_id

    async def press(self, data: str, message_id: int = 1) -> None:
        self.next_id += 1
        await self.feed(callback_update(self.next_id, USER, data, message_id=message_id))


@pytest.fixture()
def api():
    with FakeBotApi() as server:
        yield server


@pytest.fixture()
def recipient_device(make_device, index_params, tmp_path):
    device = make_device(view="recipient", backend="sqlite")
    secrets = tmp_path / "secrets"
    secrets.mkdir()
    pepper = secrets / "pepper"
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    return device, pepper


def bot_config(api: FakeBotApi, device, pepper: Path, tmp_path: Path, **changes) -> BotConfig:
    config = BotConfig(token=TOKEN, api_url=api.base_url, data_dir=device.data_dir,
                       state_file=tmp_path / "bot-state" / "state.json", pepper_file=str(pepper),
                       retry_backoff=0.05, send_retries=3, lookup_workers=1)
    return config.with_changes(**changes)


async def start_bot(api, device, pepper, tmp_path, *, request=None, **changes) -> BotUnderTest:
    config = bot_config(api, device, pepper, tmp_path, **changes)
    clock = Clock(START)
    engine = make_engine(config, device.data_dir, clock=clock)
    app = build_application(config, engine, request=request, reminder_loop=False)
    await app.initialize()
    return BotUnderTest(app, api, clock, config)


@pytest.fixture()
async def bot(api, recipient_device, tmp_path):
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path)
    yield running
    await running.app.shutdown()
    running.engine.close()


@pytest.fixture()
def kdf_calls(monkeypatch):
    """Counts Argon2id derivations made by lookups."""
    calls = []
    original = blt_status.lookup.key_for

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(blt_status.lookup, "key_for", counting)
    return calls


# -- conversation ------------------------------------------------------------------------------


async def test_start_is_two_paragraphs_and_the_anti_scam_line(bot):
    await bot.say("/start")
    assert bot.api.sent_texts() == [START_TEXT]
    assert bot.api.calls("sendMessage")[0].params["chat_id"] == str(USER)


async def test_found_answer_is_exact_has_buttons_and_the_nik_message_is_deleted(bot):
    message_id = await bot.say(spaced(SITI.nik))
    methods = [call.method for call in bot.api.calls() if call.method != "getMe"]
    assert methods == ["sendMessage", "deleteMessage"]  # answer first, then delete
    send = bot.api.calls("sendMessage")[0]
    assert send.params["text"] == SITI_ANSWER
    keyboard = send.params["reply_markup"]["inline_keyboard"]
    assert [[button["text"] for button in row] for row in keyboard] == [
        ["🔔 Ingatkan saya", "🗺️ Peta"], ["🔎 Cek NIK lain", "❓ Bantuan"]]
    assert keyboard[0][1]["url"].startswith("https://www.google.com/maps/search/?api=1&query=")
    delete = bot.api.calls("deleteMessage")[0]
    assert (delete.params["chat_id"], delete.params["message_id"]) == (str(USER), str(message_id))


async def test_not_found_explains_why_and_costs_the_same_derivations(bot, kdf_calls):
    await bot.say(NOT_LISTED_NIK)
    await bot.say(f"/cek {SITI.nik[:4]}.{SITI.nik[4:8]}-{SITI.nik[8:]}")
    texts = bot.api.sent_texts()
    assert texts[0] == NOT_FOUND_ANSWER
    assert texts[1] == SITI_ANSWER
    assert len(kdf_calls) == 2  # one per lookup, found or not
    assert len(bot.api.calls("deleteMessage")) == 2


@pytest.mark.parametrize(("text", "expected"), [
    ("3201O14505900001", "⚠️ NIK hanya boleh berisi 16 angka (spasi, titik atau tanda hubung di "
                         "antaranya boleh).\nPeriksa lagi 16 angka NIK di KTP lalu kirim ulang."),
    ("320101450590001", "⚠️ NIK harus 16 angka, yang diberikan 15 angka.\nPeriksa lagi 16 angka "
                        "NIK di KTP lalu kirim ulang."),
    ("32010145059000011", "⚠️ NIK harus 16 angka, yang diberikan 17 angka.\nPeriksa lagi 16 "
                          "angka NIK di KTP lalu kirim ulang."),
    ("😀🙏", "Kirim NIK Anda (16 angka di KTP) untuk melihat jadwal bantuan. Ketik /bantuan "
            "untuk petunjuk."),
    ("1" * 500, "Pesan terlalu panjang. Kirim hanya 16 angka NIK."),
])
async def test_bad_text_gets_a_short_helpful_reply_without_key_work(bot, kdf_calls, text,
                                                                    expected):
    await bot.say(text)
    assert bot.api.sent_texts() == [expected]
    assert kdf_calls == []
    assert len(bot.api.calls("deleteMessage")) == (1 if any(c.isdigit() for c in text) else 0)


async def test_stickers_photos_voice_edits_and_unknown_commands(bot):
    await bot.say(None, **STICKER)
    await bot.say(None, **VOICE)
    await bot.say(None, **PHOTO)
    await bot.say(SITI.nik, edited=True)
    await bot.say("/foo")
    assert bot.api.sent_texts() == [
        dialogue.media_reply("id").text,
        dialogue.media_reply("id").text,
        dialogue.photo_reply("id").text,
        dialogue.edited_reply("id").text,
        dialogue.unknown_command_reply("id").text,
    ]
    # the photo (a KTP, perhaps) and the edited NIK are deleted
    assert len(bot.api.calls("deleteMessage")) == 2


async def test_help_lists_official_channels(bot):
    await bot.say("/bantuan")
    text = bot.api.sent_texts()[0]
    assert text == dialogue.help_reply("id").text
    assert "Kemensos 171" in text and "cekbansos.kemensos.go.id" in text


async def test_a_failed_deletion_does_not_stop_the_answer(bot):
    bot.api.fail("deleteMessage", status=400, description="Bad Request: message can't be deleted")
    await bot.say(SITI.nik)
    await bot.say("/start")
    assert bot.api.sent_texts() == [SITI_ANSWER, START_TEXT]


# -- abuse resistance --------------------------------------------------------------------------


async def test_rate_limit_before_any_derivation_then_polite_retry_time(bot, kdf_calls):
    for _ in range(5):
        await bot.say(NOT_LISTED_NIK)
    assert len(kdf_calls) == 5
    await bot.say(NOT_LISTED_NIK)
    await bot.say(SITI.nik)  # still limited: silent, but the NIK is deleted
    assert len(kdf_calls) == 5
    texts = bot.api.sent_texts()
    assert texts[5:] == ["Demi melindungi data penerima, jumlah pengecekan dibatasi. Silakan "
                         "coba lagi pukul 10:02 WIB."]
    assert len(bot.api.calls("deleteMessage")) == 7
    bot.clock.advance(121)
    await bot.say(SITI.nik)
    assert bot.api.sent_texts()[-1] == SITI_ANSWER
    assert len(kdf_calls) == 6


async def test_global_cap_says_busy(api, recipient_device, tmp_path, kdf_calls):
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path,
                              limits=LimitSettings(user_lookups=0, user_daily=0,
                                                   global_per_minute=2))
    try:
        for chat in (1, 2, 3):
            running.next_id += 1
            await running.feed(message_update(running.next_id, chat, NOT_LISTED_NIK))
        assert len(kdf_calls) == 2
        assert api.sent_texts()[-1] == ("Layanan sedang ramai. Silakan coba lagi pukul "
                                        "10:01 WIB.")
    finally:
        await running.app.shutdown()
        running.engine.close()


async def test_group_chats_get_no_lookup(bot, kdf_calls):
    await bot.say(spaced(SITI.nik), chat_id=-1001234, chat_type="supergroup")
    await bot.say("halo semua, kapan cair?", chat_id=-1001234, chat_type="supergroup")
    await bot.say(f"/cek {SITI.nik}", chat_id=-1001234, chat_type="supergroup")
    expected = ("Demi privasi, pengecekan NIK hanya lewat chat pribadi dengan bot "
                "@blt_status_bot. Jangan kirim NIK di grup.")
    assert bot.api.sent_texts() == [expected, expected]
    assert kdf_calls == []
    assert bot.api.calls("deleteMessage") == []


# -- language --------------------------------------------------------------------------------


async def test_language_switch_is_kept_per_user(bot, api, recipient_device, tmp_path):
    await bot.say("/bahasa")
    prompt = bot.api.calls("sendMessage")[0]
    assert prompt.params["text"] == "Pilih bahasa:"
    assert prompt.params["reply_markup"]["inline_keyboard"] == [[
        {"text": "Bahasa Indonesia", "callback_data": "lang:id"},
        {"text": "English", "callback_data": "lang:en"}]]
    await bot.press("lang:en", message_id=555)
    assert len(bot.api.calls("answerCallbackQuery")) == 1
    edit = bot.api.calls("editMessageText")[0]
    assert (edit.params["text"], edit.params["message_id"]) == ("Language set to English.", "555")
    await bot.say(NOT_LISTED_NIK)
    assert bot.api.sent_texts()[-1].startswith("❌ NIK ****0009 was not found in the "
                                               "recipients' data.")
    await bot.say(PEOPLE[0].nik)  # the amount as English readers write rupiah
    assert "💰 Amount: Rp600,000\n" in bot.api.sent_texts()[-1]
    # kept across a restart
    await bot.app.shutdown()
    bot.engine.close()
    device, pepper = recipient_device
    again = await start_bot(api, device, pepper, tmp_path)
    try:
        await again.say("/start")
        assert api.sent_texts()[-1] == dialogue.start_reply("en").text
        assert api.sent_texts()[-1].startswith("Hello! This bot tells")
    finally:
        await again.app.shutdown()
        again.engine.close()
    await bot.app.initialize()  # so the fixture's teardown has something to shut down


# -- reminders --------------------------------------------------------------------------------


def _with_status(person, **changes):
    return dataclasses.replace(person, payload=dataclasses.replace(person.payload, **changes))


async def test_reminders_day_before_then_status_change_after_a_new_index(bot, make_device,
                                                                          recipient_device):
    device, _ = recipient_device
    await bot.say(SITI.nik)
    await bot.press("remind")
    assert bot.api.sent_texts()[-1] == (
        "🔔 Pengingat aktif untuk S*** A***** (NIK ****0001): pesan dikirim sehari sebelum "
        "jadwal dan saat status berubah. Matikan dengan /berhenti.")
    state_text = bot.config.state_file.read_text()
    assert bot.engine.state.subscriptions[0].tag_hex in state_text

    morning = dt.datetime(2025, 11, 23, 8, 0, tzinfo=WIB)
    assert await run_reminders(bot.app, morning) == 1
    reminder = bot.api.sent_texts()[-1]
    siti_record = SITI.payload.for_recipient()
    assert reminder == dialogue.reminder_reply(siti_record, "0001", bot.config.tz, "id").text
    assert reminder.startswith("🔔 Pengingat: besok, Senin, 24 November 2025, jadwal bantuan "
                               "Anda.\n\n👤 S*** A***** (NIK ****0001)\n")
    assert await run_reminders(bot.app, morning + dt.timedelta(hours=1)) == 0  # once only

    # a sync switches in version 2, where Siti's aid has been collected
    collected_at = dt.datetime(2025, 11, 24, 1, 30, tzinfo=dt.UTC)
    people = [_with_status(SITI, status="collected", collected_at=collected_at,
                           collected_point_id="KP-CIBINONG"), *PEOPLE[1:]]
    make_device(view="recipient", backend="sqlite", data_dir=device.data_dir, version=2,
                people=people)
    assert await run_reminders(bot.app, morning + dt.timedelta(hours=3)) == 1
    changed = bot.api.sent_texts()[-1]
    assert changed.startswith("🔔 Status bantuan berubah: Terjadwal — belum diambil → Sudah "
                              "disalurkan.\n\n👤 S*** A***** (NIK ****0001)\n")
    assert "✅ Diambil pada Senin, 24 November 2025 08:30 WIB di Kantor Pos Cibinong." in changed
    assert bot.engine.index_version == 2
    # the new version answers lookups too, without a restart
    await bot.say(SITI.nik)
    assert "Status: Sudah disalurkan" in bot.api.sent_texts()[-1]
    assert "(versi 2)" in bot.api.sent_texts()[-1]

    # version 3 no longer lists her: the subscription ends with a message
    make_device(view="recipient", backend="sqlite", data_dir=device.data_dir, version=3,
                people=PEOPLE[1:])
    assert await run_reminders(bot.app, morning + dt.timedelta(hours=4)) == 1
    assert bot.api.sent_texts()[-1] == dialogue.subscription_gone_reply("0001", "id").text
    assert bot.engine.state.subscriptions == []


async def test_reminder_needs_a_lookup_and_berhenti_deletes_it(bot):
    await bot.say("/ingatkan")
    assert bot.api.sent_texts()[-1] == dialogue.remind_needs_lookup_reply("id").text
    await bot.say(f"/ingatkan {AGUS.nik}")
    assert bot.api.sent_texts()[-1].startswith("🔔 Pengingat aktif untuk A*** W***** "
                                               "(NIK ****0004)")
    assert len(bot.engine.state.subscriptions) == 1
    await bot.say("/berhenti")
    assert bot.api.sent_texts()[-1] == "Pengingat dimatikan dan datanya sudah dihapus."
    assert bot.engine.state.subscriptions == []
    assert '"subscriptions": []' in bot.config.state_file.read_text()


# -- data missing or stale ---------------------------------------------------------------------


async def test_missing_index_says_data_is_being_updated_with_last_valid_date(
        api, recipient_device, tmp_path):
    device, pepper = recipient_device
    first = await start_bot(api, device, pepper, tmp_path)  # records the last valid date
    await first.app.shutdown()
    first.engine.close()
    for path in device.index_dir.iterdir():
        path.unlink()
    running = await start_bot(api, device, pepper, tmp_path)
    try:
        await running.say(SITI.nik)
        assert api.sent_texts() == ["Data sedang diperbarui. Silakan coba lagi beberapa saat "
                                    "lagi. Data terakhir yang valid: per 20 November 2025 "
                                    "13:00 WIB."]
    finally:
        await running.app.shutdown()
        running.engine.close()


async def test_expired_index_still_answers_and_says_so(api, make_device, index_params, tmp_path):
    device = make_device(view="recipient", backend="sqlite",
                         expires=dt.datetime(2025, 11, 21, tzinfo=dt.UTC))
    pepper = tmp_path / "pepper"
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    running = await start_bot(api, device, pepper, tmp_path)
    try:
        await running.say(SITI.nik)
        assert api.sent_texts()[0].endswith(
            "Data per 20 November 2025 13:00 WIB (versi 1). [DATA UJI/DEMO]\n⚠️ Masa berlaku "
            "data ini sudah lewat; data sedang diperbarui dan mungkin belum terbaru.")
    finally:
        await running.app.shutdown()
        running.engine.close()


# -- the Bot API failing ---------------------------------------------------------------------


async def test_flood_control_429_is_waited_out(bot):
    bot.api.fail("sendMessage", status=429, retry_after=1)
    await bot.say("/start")
    assert bot.api.sent_texts() == [START_TEXT, START_TEXT]  # refused once, then delivered
    first, second = bot.api.calls("sendMessage")
    assert second.at - first.at >= 1.0


async def test_5xx_and_timeouts_are_retried(api, recipient_device, tmp_path):
    device, pepper = recipient_device
    request = HTTPXRequest(read_timeout=0.3, connect_timeout=1.0)
    running = await start_bot(api, device, pepper, tmp_path, request=request)
    try:
        api.fail("sendMessage", status=500)
        await running.say("/start")
        api.fail("sendMessage", delay=0.8)
        await running.say(SITI.nik)
        texts = api.sent_texts()
        assert texts == [START_TEXT, START_TEXT, SITI_ANSWER, SITI_ANSWER]
        assert len(api.calls("deleteMessage")) == 1
    finally:
        await running.app.shutdown()
        running.engine.close()


async def test_persistent_failure_reaches_the_error_handler_without_personal_data(bot, caplog):
    caplog.set_level(logging.INFO)
    bot.api.fail("sendMessage", status=502, times=4)  # every retry of the answer fails
    await bot.say(SITI.nik)
    errors = [r for r in caplog.records if r.name == "bots.telegram" and r.levelname == "ERROR"]
    assert [r.getMessage() for r in errors] == [
        f"handling update {bot.next_id} failed: NetworkError"]
    assert api_texts_after_failure(bot) == [dialogue.error_reply("id").text]
    await bot.say("/start")  # and the bot carries on
    assert bot.api.sent_texts()[-1] == START_TEXT


def api_texts_after_failure(bot: BotUnderTest) -> list[str]:
    """What was sent successfully once the four failing attempts were used up."""
    return bot.api.sent_texts()[4:]


# -- real long polling through base_url ---------------------------------------------------------


async def test_long_polling_through_base_url(api, recipient_device, tmp_path):
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path)
    app = running.app
    await app.start()
    await app.updater.start_polling(poll_interval=0.0, timeout=1)
    try:
        api.push_update(message_update(1, USER, "/start"))
        api.push_update(message_update(2, USER, spaced(SITI.nik), message_id=77))
        await asyncio.to_thread(api.wait_for, "deleteMessage", 1)
        assert set(api.sent_texts()) == {START_TEXT, SITI_ANSWER}
        assert api.calls("deleteMessage")[0].params["message_id"] == "77"
        assert api.calls("getUpdates")  # it really polled
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        running.engine.close()


# -- webhook mode with secret_token --------------------------------------------------------------


async def test_webhook_mode_checks_the_secret_token(api, recipient_device, tmp_path):
    import socket

    import httpx

    from bots.app import webhook_arguments

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path, webhook_port=port,
                              webhook_url="https://bot.example/blt-hook",
                              webhook_secret="s3cret-token")
    app = running.app
    arguments = webhook_arguments(running.config)
    assert arguments["url_path"] == "blt-hook"
    await app.start()
    await app.updater.start_webhook(**arguments)
    try:
        set_webhook = api.calls("setWebhook")[0].params
        assert (set_webhook["url"], set_webhook["secret_token"]) == (
            "https://bot.example/blt-hook", "s3cret-token")
        url = f"http://127.0.0.1:{port}/blt-hook"
        async with httpx.AsyncClient() as client:
            refused = await client.post(url, json=message_update(1, USER, "/start"))
            assert refused.status_code == 403
            accepted = await client.post(url, json=message_update(2, USER, "/start"), headers={
                "X-Telegram-Bot-Api-Secret-Token": "s3cret-token"})
            assert accepted.status_code == 200
        await asyncio.to_thread(api.wait_for, "sendMessage", 1)
        assert api.sent_texts() == [START_TEXT]
    finally:
        await app.updater.stop()
        await app.stop()
        await app.shutdown()
        running.engine.close()


async def test_a_version_switched_under_a_lookup_is_retried_once(bot, monkeypatch):
    from blt_status.errors import IndexCorrupt

    service = bot.engine._service
    original = service.lookup
    failures = []

    def flaky(raw):
        if not failures:
            failures.append(1)
            raise IndexCorrupt("index", "ProgrammingError")  # what a closed version raises
        return original(raw)

    monkeypatch.setattr(service, "lookup", flaky)
    await bot.say(SITI.nik)
    assert bot.api.sent_texts() == [SITI_ANSWER]
    assert failures == [1]


# -- schedules in time, NIKs as people write them, nothing echoed ------------------------------


async def test_a_slot_that_has_passed_says_so_and_refuses_a_reminder(bot):
    bot.clock.now = dt.datetime(2025, 11, 24, 9, 0, tzinfo=WIB).timestamp()  # slot's end
    await bot.say(SITI.nik)
    send = bot.api.calls("sendMessage")[0]
    assert send.params["text"] == SITI_PASSED_ANSWER
    keyboard = send.params["reply_markup"]["inline_keyboard"]
    assert "🔔 Ingatkan saya" not in [button["text"] for row in keyboard for button in row]
    await bot.say("/ingatkan")
    assert bot.api.sent_texts()[-1] == dialogue.remind_past_reply("id").text
    await bot.say(f"/ingatkan {SITI.nik}")
    assert bot.api.sent_texts()[-1] == dialogue.remind_past_reply("id").text
    assert bot.engine.state.subscriptions == []


async def test_inside_the_slot_says_until_when(bot):
    bot.clock.now = dt.datetime(2025, 11, 24, 8, 15, tzinfo=WIB).timestamp()
    await bot.say(SITI.nik)
    text = bot.api.sent_texts()[0]
    assert "🕗 Jam: 08:00–09:00 WIB\n" in text
    assert "Jadwal Anda sedang berlangsung, sampai pukul 09:00 WIB." in text
    assert "Status: Terjadwal — belum diambil" in text


@pytest.mark.parametrize("text", [
    f"NIK saya {spaced(SITI.nik)}",
    f"NIK: {SITI.nik}",
    f"tolong cek ya, nik {SITI.nik[:4]}.{SITI.nik[4:8]}.{SITI.nik[8:12]}.{SITI.nik[12:]} "
    "terima kasih",
    f"Selamat pagi. NIK {'-'.join(spaced(SITI.nik).split())}, lahir 1990.",
])
async def test_a_nik_in_a_sentence_is_read_and_the_message_deleted(bot, text):
    message_id = await bot.say(text)
    assert bot.api.sent_texts() == [SITI_ANSWER]
    assert [call.params["message_id"] for call in bot.api.calls("deleteMessage")] == \
        [str(message_id)]


LINK_TEXT = """\
⚠️ Bot ini tidak membuka atau memeriksa tautan, dan tidak pernah mengirim tautan untuk \
"pendaftaran" atau untuk mengecek bantuan.
Cek bantuan resmi ada di cekbansos.kemensos.go.id: alamat yang berbeda satu huruf pun adalah \
situs lain. Jangan pernah mengetik NIK, PIN, atau OTP di situs yang Anda terima lewat pesan.
Untuk mengecek bantuan Anda, kirim NIK (16 angka) di sini."""


@pytest.mark.parametrize(("text", "entities"), [
    ("http://bit.ly/cek-bansos-2026", []),
    ("ini asli? www.bansos-kemensos.com/daftar", []),
    ("Dapat pesan: s.id/cekbansos, katanya harus isi NIK", []),
    # a hyperlink whose text names no address: only Telegram's entity says it is a link
    ("Klik di sini untuk daftar", [{"type": "text_link", "offset": 0, "length": 13,
                                    "url": "http://bansos.example/x"}]),
])
async def test_a_link_without_a_nik_gets_the_scam_link_warning(bot, kdf_calls, text,
                                                                entities):
    """Fake "cek bansos" links are how NIKs are harvested: a message holding one (as text or
    as Telegram's link entity) is told the bot opens no links and where the official check is,
    not "a NIK has 16 digits; this one has 4"; nothing is derived."""
    message_id = await bot.say(text, **({"entities": entities} if entities else {}))
    assert bot.api.sent_texts() == [LINK_TEXT]
    assert kdf_calls == []
    deleted = [call.params["message_id"] for call in bot.api.calls("deleteMessage")]
    assert deleted == ([str(message_id)] if any(c.isdigit() for c in text) else [])


@pytest.mark.parametrize("text", ["Jl. Anggrek No. 42, Kab. Bogor", "email saya budi@gmail.com",
                                  "Terima kasih. Sdr.Budi", "dll. co"])
async def test_text_that_only_looks_dotted_is_no_link(bot, text):
    await bot.say(text)
    assert len(bot.api.sent_texts()) == 1
    assert bot.api.sent_texts() != [LINK_TEXT]


async def test_a_nik_sent_with_a_link_is_still_looked_up(bot):
    await bot.say(f"link bit.ly/xyz minta NIK, ini NIK saya {SITI.nik}")
    assert bot.api.sent_texts() == [SITI_ANSWER]


async def test_the_scam_link_warning_is_in_english_for_english_users(bot):
    await bot.say("/bahasa en")
    await bot.say("https://bansos-2026.site/login")
    assert bot.api.sent_texts()[-1] == dialogue.link_reply("en").text
    assert bot.api.sent_texts()[-1].startswith("⚠️ This bot does not open or check links")


async def test_two_niks_ask_for_one_at_a_time_and_echo_none(bot, kdf_calls):
    await bot.say(f"NIK saya {SITI.nik} dan istri {spaced(AGUS.nik)}")
    await bot.say(f"{SITI.nik} {AGUS.nik}")
    assert bot.api.sent_texts() == [dialogue.several_niks_reply("id").text] * 2
    assert kdf_calls == []
    assert len(bot.api.calls("deleteMessage")) == 2


async def test_a_start_payload_with_a_nik_is_deleted(bot):
    message_id = await bot.say(f"/start {SITI.nik}")
    assert bot.api.sent_texts() == [START_TEXT]
    assert [call.params["message_id"] for call in bot.api.calls("deleteMessage")] == \
        [str(message_id)]
    await bot.say("/start")
    assert len(bot.api.calls("deleteMessage")) == 1  # a plain /start is kept


async def test_an_invalid_birth_date_reply_repeats_no_digits(bot):
    invalid = SITI.nik[:6] + "990588" + SITI.nik[12:]  # day 99: no such date
    await bot.say(f"NIK saya {spaced(invalid)}")
    reply = bot.api.sent_texts()[0]
    assert reply == ("⚠️ Tanggal lahir pada NIK (angka ke-7 sampai ke-12) tidak valid.\n"
                     "Periksa lagi 16 angka NIK di KTP lalu kirim ulang.")
    for region_error in ("9901014505900001", "3201994505900001"):
        await bot.say(region_error)
        assert bot.api.sent_texts()[-1].startswith(
            "⚠️ Kode wilayah di awal NIK tidak dikenal.")


_ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
_PERSIAN = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
_FULL_WIDTH = str.maketrans("0123456789 ", "０１２３４５６７８９　")


@pytest.mark.parametrize("text", [
    SITI.nik.translate(_ARABIC_INDIC),
    f"NIK saya {SITI.nik.translate(_PERSIAN)}",
    spaced(SITI.nik).translate(_FULL_WIDTH),  # a phone keyboard in full-width mode
    spaced(SITI.nik).replace(" ", "\u00a0"),  # no-break spaces from a pasted text
    "\u2013".join(spaced(SITI.nik).split()),  # en dashes (a word processor's "-")
    f"/cek {SITI.nik.translate(_FULL_WIDTH)}",
])
async def test_a_nik_in_other_digits_or_pasted_separators_is_read(bot, text):
    """16 digits the person did type, in another script or with a pasted space or dash, got
    "a NIK may hold only 16 digits": they are the NIK, and get its answer."""
    message_id = await bot.say(text)
    assert bot.api.sent_texts() == [SITI_ANSWER]
    assert [call.params["message_id"] for call in bot.api.calls("deleteMessage")] == \
        [str(message_id)]


@pytest.mark.parametrize("command", ["/cek", "/ingatkan"])
async def test_a_page_after_a_command_is_too_long_and_answered_at_once(bot, kdf_calls, command):
    """`/cek 1 1 1 …` (Telegram allows 4,096 characters) took the NIK finder about a minute
    of the event loop, during which the bot answered nobody."""
    started = time.monotonic()
    await bot.say(f"{command} " + "1 " * 2040)
    assert time.monotonic() - started < 5
    assert bot.api.sent_texts() == [dialogue.too_long_reply("id").text]
    assert len(bot.api.calls("deleteMessage")) == 1 and kdf_calls == []


# -- what /ingatkan, /bantuan and the limits promise ---------------------------------------------


@pytest.mark.parametrize("second", [NOT_LISTED_NIK, "3201O14505900001", "/cek 320101450590001"])
async def test_ingatkan_acts_on_the_latest_lookup_only(bot, second):
    """Siti found, then a NIK that found nobody (or was not a NIK): /ingatkan subscribed the
    chat to Siti, a person this chat was no longer asking about."""
    await bot.say(SITI.nik)
    await bot.say(second)
    await bot.say("/ingatkan")
    await bot.press("remind")
    assert bot.api.sent_texts()[-2:] == [dialogue.remind_needs_lookup_reply("id").text] * 2
    assert bot.engine.state.subscriptions == []
    await bot.say(AGUS.nik)  # a new lookup that finds someone: that one, and only that one
    await bot.say("/ingatkan")
    assert bot.api.sent_texts()[-1].startswith("🔔 Pengingat aktif untuk A*** W***** "
                                               "(NIK ****0004)")
    assert len(bot.engine.state.subscriptions) == 1


COLLECTED_NOTHING_TO_REMIND = ("Bantuan ini sudah diambil, jadi tidak ada yang perlu "
                               "diingatkan. Pengingat tidak dipasang.")
RETURNED_NOTHING_TO_REMIND = (
    "Bantuan ini sudah dikembalikan (tidak diambil tepat waktu), jadi tidak ada yang perlu "
    "diingatkan. Pengingat tidak dipasang. Tanyakan ke kantor desa atau hubungi Kemensos 171 "
    "untuk periode berikutnya.")


async def test_ingatkan_for_collected_or_returned_aid_says_there_is_nothing_to_remind(bot):
    """Collected and returned are final (the ledger's FINAL_STATUSES): no status change and no
    day-before reminder will ever come, yet the bot said "Reminders are on"."""
    await bot.say(BUDI.nik)  # collected
    keyboard = bot.api.calls("sendMessage")[-1].params["reply_markup"]["inline_keyboard"]
    assert "🔔 Ingatkan saya" not in [button["text"] for row in keyboard for button in row]
    await bot.say("/ingatkan")
    assert bot.api.sent_texts()[-1] == COLLECTED_NOTHING_TO_REMIND
    await bot.say(f"/ingatkan {DEWI.nik}")  # returned
    assert bot.api.sent_texts()[-1] == RETURNED_NOTHING_TO_REMIND
    await bot.say("/bahasa en")
    await bot.say(f"/ingatkan {BUDI.nik}")
    await bot.press("remind")  # an old answer's button: the same plain answer
    await bot.say(f"/ingatkan {DEWI.nik}")
    assert bot.api.sent_texts()[-3:] == [
        "This aid has already been collected, so there is nothing to remind you about. No "
        "reminder was set."] * 2 + [
        "This aid was returned (it was not collected in time), so there is nothing to remind "
        "you about. No reminder was set. Ask the desa office or Kemensos 171 about the next "
        "period."]
    assert bot.engine.state.subscriptions == []


async def test_a_kk_number_sent_instead_of_the_nik_gets_a_hint_without_the_number(bot):
    """A KK number is built like a NIK and passes its checks: it was answered "NIK ****0001
    not found" and nothing more."""
    await bot.say(spaced(SITI.kk))
    answer = bot.api.sent_texts()[-1]
    assert answer.startswith("❌ NIK ****0001 tidak ditemukan dalam data penerima.\n")
    assert ("\n💡 Pastikan yang dikirim adalah NIK di KTP, bukan nomor KK (Kartu Keluarga).\n\n"
            "Data per ") in answer
    await bot.say(f"/ingatkan {SITI.kk}")
    assert bot.api.sent_texts()[-1] == (
        "Pengingat hanya bisa dipasang untuk NIK yang terdaftar.\n💡 Pastikan yang dikirim "
        "adalah NIK di KTP, bukan nomor KK (Kartu Keluarga).")
    await bot.say("/bahasa en")
    await bot.say(SITI.kk)
    assert "\n💡 Check that you sent the NIK on the KTP, not the KK (family card) number.\n" \
        in bot.api.sent_texts()[-1]
    for text in bot.api.sent_texts():
        assert SITI.kk not in text and SITI.kk[:12] not in text
    assert len(bot.api.calls("deleteMessage")) == 3


async def test_the_daily_limit_says_tomorrow(api, recipient_device, tmp_path):
    """The daily cap ends at midnight: "try again at 00:00 WIB" read as a few minutes' wait."""
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path,
                              limits=LimitSettings(user_lookups=0, user_daily=2,
                                                   global_per_minute=0))
    try:
        for _ in range(3):
            await running.say(NOT_LISTED_NIK)
        assert api.sent_texts()[-1] == ("Demi melindungi data penerima, jumlah pengecekan "
                                        "dibatasi. Silakan coba lagi besok pukul 00:00 WIB.")
        await running.say("/bahasa en")
        running.clock.advance(24 * 3600)  # the next day: two more, then the same in English
        for _ in range(3):
            await running.say(NOT_LISTED_NIK)
        assert api.sent_texts()[-1] == ("To protect recipients' data, the number of checks is "
                                        "limited. Please try again tomorrow at 00:00 WIB.")
    finally:
        await running.app.shutdown()
        running.engine.close()


async def test_the_global_cap_just_before_midnight_says_tomorrow(api, recipient_device,
                                                                 tmp_path):
    device, pepper = recipient_device
    running = await start_bot(api, device, pepper, tmp_path,
                              limits=LimitSettings(user_lookups=0, user_daily=0,
                                                   global_per_minute=1))
    running.clock.now = dt.datetime(2025, 11, 23, 23, 59, 30, tzinfo=WIB).timestamp()
    try:
        for chat in (1, 2):
            running.next_id += 1
            await running.feed(message_update(running.next_id, chat, NOT_LISTED_NIK))
        assert api.sent_texts()[-1] == ("Layanan sedang ramai. Silakan coba lagi besok pukul "
                                        "00:01 WIB.")
    finally:
        await running.app.shutdown()
        running.engine.close()


async def test_bantuan_lists_statistik(bot):
    await bot.say("/bantuan")
    await bot.say("/bahasa en")
    await bot.say("/help")
    texts = bot.api.sent_texts()
    assert "\n• /statistik — kemajuan penyaluran di wilayah Anda (angka publik).\n" in texts[0]
    assert "\n• /statistik — payout progress in your area (public figures).\n" in texts[-1]
