"""``blt-bot --workers 2`` as real processes against the fake Bot API on 127.0.0.1.

The command runs as a user would run it (a subprocess of ``python -m bots.app``): one poller
process long-polls ``getUpdates`` and routes each user to one of two PTB worker processes.
What the bot did is read back from the fake API's recorded requests; reply texts are compared
exactly. Then: clean shutdown on SIGTERM (no orphan process), a worker that dies stops the bot
with a non-zero exit, webhook mode is refused, and a whole conversation leaves no NIK, KK or
name in any file or log line.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import KNOWN_SECRETS, NOT_LISTED_NIK, PEOPLE, secrets_found
from support.fake_bot_api import FakeBotApi, message_update
from test_bot_e2e import NOT_FOUND_ANSWER, SITI_PASSED_ANSWER, TOKEN, spaced

from blt_status.crypto import b64e
from bots import dialogue
from bots.config import BotConfig
from bots.sharded import shard_state_file

ROOT = Path(__file__).resolve().parent.parent
SITI, BUDI, MARYAM, AGUS, DEWI = PEOPLE
READY = "starting (long polling, 2 workers)"
INVALID_LETTER = ("⚠️ NIK hanya boleh berisi 16 angka (spasi, titik atau tanda hubung di "
                  "antaranya boleh).\nPeriksa lagi 16 angka NIK di KTP lalu kirim ulang.")


class ShardedBotProcess:
    """``python -m bots.app --config C [--workers 2]`` with its log in a file."""

    def __init__(self, tmp_path: Path, api: FakeBotApi, device, pepper: Path, *,
                 args: tuple[str, ...] = ("--workers", "2"), toml_extra: str = "") -> None:
        self.state = tmp_path / "bot-state" / "state.json"
        config = tmp_path / "blt-bot.toml"
        config.write_text(f'data_dir = "{device.data_dir}"\nstate_file = "{self.state}"\n'
                          f'pepper_file = "{pepper}"\napi_url = "{api.base_url}"\n'
                          f"{toml_extra}")
        self.log = tmp_path / "bot.log"
        env = {**os.environ, "BLT_BOT_TOKEN": TOKEN, "BLT_LANG": "en"}
        env.pop("BLT_BOT_CONFIG", None)
        self._log_file = self.log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bots.app", "--config", str(config), *args],
            cwd=ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT)

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_log(self, line: str, timeout: float = 40.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if line in self.text():
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"not logged: {line!r}\n{self.text()}")

    @property
    def worker_pids(self) -> list[int]:
        return [int(pid) for pid in re.findall(r"worker \d of 2 started \(pid (\d+)\)",
                                               self.text())]

    def stop(self, signum: int = signal.SIGTERM) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signum)
        try:
            return self.process.wait(timeout=40)
        finally:
            self._log_file.close()

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        for pid in self.worker_pids:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        self._log_file.close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture()
def api():
    with FakeBotApi() as server:
        yield server


@pytest.fixture()
def device_and_pepper(make_device, index_params, tmp_path):
    device = make_device(view="recipient", backend="sqlite")
    pepper = tmp_path / "secrets" / "pepper"
    pepper.parent.mkdir()
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    return device, pepper


@pytest.fixture()
def sharded(api, device_and_pepper, tmp_path):
    device, pepper = device_and_pepper
    bot = ShardedBotProcess(tmp_path, api, device, pepper)
    try:
        bot.wait_log(READY)
        yield bot
    finally:
        bot.kill()


def texts_to(api: FakeBotApi, chat_id: int) -> list[str]:
    return [str(call.params["text"]) for call in api.calls("sendMessage")
            if call.params.get("chat_id") == str(chat_id)]


def deleted_in(api: FakeBotApi, chat_id: int) -> list[str]:
    return [str(call.params["message_id"]) for call in api.calls("deleteMessage")
            if call.params.get("chat_id") == str(chat_id)]


def limited_texts(before: float, after: float) -> set[str]:
    """The 'try again at HH:MM' texts possible for a limit hit between ``before`` and
    ``after`` (5 lookups per 600 s: the next token is <= 120 s away, shown rounded up to
    the minute)."""
    tz = BotConfig().tz
    texts = set()
    for second in range(int(before) + 60, int(after) + 182):
        moment = dt.datetime.fromtimestamp(second, dt.UTC).replace(second=0, microsecond=0)
        texts.add(dialogue.rate_limited_reply(moment, tz, "id").text)
        # a limit hit just before midnight: "tomorrow at"
        texts.add(dialogue.rate_limited_reply(moment, tz, "id",
                                              moment - dt.timedelta(days=1)).text)
    return texts


def test_users_are_answered_by_their_shard_with_exact_texts_then_a_clean_stop(sharded, api):
    # users 1000/1002 go to worker 0, 1001/1003/1005 to worker 1
    api.push_update(message_update(1, 1000, spaced(SITI.nik), message_id=71))
    api.push_update(message_update(2, 1001, NOT_LISTED_NIK, message_id=72))
    api.push_update(message_update(3, 1002, "3201O14505900001", message_id=73))
    api.push_update(message_update(4, 1003, "/bahasa en", message_id=74))
    api.wait_for("sendMessage", 4, timeout=20)
    api.push_update(message_update(5, 1003, NOT_LISTED_NIK, message_id=75))
    api.push_update(message_update(6, 1002, "/start", message_id=76))
    api.wait_for("deleteMessage", 4, timeout=20)
    api.wait_for("sendMessage", 6, timeout=20)

    assert texts_to(api, 1000) == [SITI_PASSED_ANSWER]
    assert deleted_in(api, 1000) == ["71"]
    assert texts_to(api, 1001) == [NOT_FOUND_ANSWER]
    assert deleted_in(api, 1001) == ["72"]
    assert texts_to(api, 1002) == [INVALID_LETTER, dialogue.start_reply("id").text]
    assert deleted_in(api, 1002) == ["73"]  # a NIK-like message, invalid or not
    english = texts_to(api, 1003)
    assert english[0] == "Language set to English."
    assert english[1].startswith("❌ NIK ****0009 was not found in the recipients' data.")
    assert english[1].endswith("Data as of 20 November 2025 13:00 WIB (version 1). "
                               "[TEST/DEMO DATA]")
    assert deleted_in(api, 1003) == ["75"]

    # the language lives in the state shard of that user's worker, and only there
    state = sharded.state
    shard0, shard1 = shard_state_file(state, 0, 2), shard_state_file(state, 1, 2)
    assert '"1003": "en"' in shard1.read_text()
    assert "1003" not in shard0.read_text()
    assert not state.exists()  # no single-process state file in sharded mode

    # the per-user rate limit holds across messages of one user (5 per 10 minutes)
    before = time.time()
    for update_id in range(10, 16):
        api.push_update(message_update(update_id, 1005, NOT_LISTED_NIK,
                                       message_id=100 + update_id))
    api.wait_for("deleteMessage", 10, timeout=20)
    after = time.time()
    answers = texts_to(api, 1005)
    assert len(answers) == 6
    assert answers.count(NOT_FOUND_ANSWER) == 5
    limited = [text for text in answers if text != NOT_FOUND_ANSWER]
    assert len(limited) == 1 and limited[0] in limited_texts(before, after)
    api.push_update(message_update(16, 1005, spaced(SITI.nik), message_id=116))
    api.push_update(message_update(17, 1007, spaced(SITI.nik), message_id=117))
    api.wait_for("deleteMessage", 12, timeout=20)
    assert len(texts_to(api, 1005)) == 6  # still limited: silent, but the NIK is deleted
    assert deleted_in(api, 1005)[-1] == "116"
    assert texts_to(api, 1007) == [SITI_PASSED_ANSWER]  # another user of the same worker is not

    workers = sharded.worker_pids
    assert len(workers) == 2 and all(_alive(pid) for pid in workers)
    assert sharded.stop(signal.SIGTERM) == 0
    assert not any(_alive(pid) for pid in workers)  # no orphans
    log = sharded.text()
    assert "stopped (worker 0: 3 updates, worker 1: 11 updates)" in log
    # Telegram's acknowledgement: the last getUpdates asks for offset = last update_id + 1
    assert str(api.calls("getUpdates")[-1].params["offset"]) == "18"


def test_a_worker_that_dies_stops_the_bot_with_a_clear_line(sharded, api):
    workers = sharded.worker_pids
    os.kill(workers[1], signal.SIGKILL)
    assert sharded.process.wait(timeout=30) == 1
    log = sharded.text()
    assert f"bot worker blt-bot-shard1 (pid {workers[1]}) exited with code -9; stopping the " \
           "bot" in log
    assert "Traceback" not in log
    assert not any(_alive(pid) for pid in workers)


def test_workers_do_not_outlive_a_killed_poller(sharded):
    workers = sharded.worker_pids
    sharded.process.kill()  # SIGKILL: no chance to stop them
    sharded.process.wait(timeout=10)
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers)
    assert "the poller process is gone; stopping" in sharded.text()


def test_sigint_drains_and_stops_and_workers_come_from_the_toml(api, device_and_pepper,
                                                                tmp_path):
    device, pepper = device_and_pepper
    single = tmp_path / "bot-state" / "state.json"  # what a single-process bot had kept
    single.parent.mkdir()
    single.write_text(json.dumps({"format": "blt-bot-state-v1",
                                  "languages": {"2001": "en", "2002": "id"},
                                  "subscriptions": [], "checked_version": 1}))
    bot = ShardedBotProcess(tmp_path, api, device, pepper, args=(), toml_extra="workers = 2\n")
    try:
        bot.wait_log(READY)
        for update_id, user in enumerate((2000, 2001, 2002, 2003), 1):
            api.push_update(message_update(update_id, user, "/bantuan"))
        api.wait_for("sendMessage", 4, timeout=20)
        workers = bot.worker_pids
        assert bot.stop(signal.SIGINT) == 0
        assert not any(_alive(pid) for pid in workers)
        help_id, help_en = dialogue.help_reply("id").text, dialogue.help_reply("en").text
        assert [texts_to(api, user) for user in (2000, 2001, 2002, 2003)] == [
            [help_id], [help_en], [help_id], [help_id]]
        # each shard file was seeded with its own users only
        shard0 = json.loads(shard_state_file(single, 0, 2).read_text())
        shard1 = json.loads(shard_state_file(single, 1, 2).read_text())
        assert (shard0["languages"], shard1["languages"]) == ({"2002": "id"}, {"2001": "en"})
    finally:
        bot.kill()


def test_webhook_mode_with_workers_is_refused(api, device_and_pepper, tmp_path):
    device, pepper = device_and_pepper
    bot = ShardedBotProcess(tmp_path, api, device, pepper, args=("--workers", "2", "--webhook"))
    try:
        assert bot.process.wait(timeout=30) == 2
        lines = bot.text().strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error [bot_workers_webhook]: Webhook mode")
    finally:
        bot.kill()


def test_a_sharded_conversation_leaves_no_personal_data_anywhere(sharded, api, tmp_path):
    update_id = 0
    sent = 0
    for number, person in enumerate(PEOPLE):
        chat = 3000 + number
        for text in (spaced(person.nik), f"/ingatkan {person.nik}", person.kk, person.name,
                     f"/cek {person.nik}"):
            update_id += 1
            api.push_update(message_update(update_id, chat, text))
            sent += 1
    update_id += 1
    api.push_update(message_update(update_id, 3100, NOT_LISTED_NIK))
    # Agus (held) once more from a chat of shard 0: the only other reminders asked for there
    # are for collected or returned aid, or dates that have passed
    update_id += 1
    api.push_update(message_update(update_id, 3010, f"/ingatkan {PEOPLE[3].nik}"))
    api.wait_for("sendMessage", sent + 2, timeout=30)
    assert sharded.stop(signal.SIGTERM) == 0
    texts = api.sent_texts()
    # reminders on for Agus (held) in two chats only: the two scheduled people's 2025 dates
    # have passed (these processes run on the real clock), and collected or returned aid has
    # nothing left to remind about
    assert sum(text.startswith("🔔") for text in texts) == 2
    assert texts.count(dialogue.remind_past_reply("id").text) == 2
    assert texts.count(dialogue.remind_final_reply("collected", "id").text) == 1
    assert texts.count(dialogue.remind_final_reply("returned", "id").text) == 1
    shards = sorted((tmp_path / "bot-state").glob("state.shard*-of2.json"))
    assert [path.name for path in shards] == ["state.shard0-of2.json", "state.shard1-of2.json"]
    assert all('"subscriptions": [\n  {' in path.read_text() for path in shards)

    secrets = [*KNOWN_SECRETS, NOT_LISTED_NIK]
    written = [path for path in tmp_path.rglob("*")
               if path.is_file() and path.parent.name != "secrets"]
    assert sharded.log in written
    for path in written:
        found = secrets_found(path.read_bytes(), secrets)
        assert found == [], f"{[secret[:2] for secret in found]}… found in {path.name}"
    for text in texts:
        for secret in secrets:
            assert secret not in text
