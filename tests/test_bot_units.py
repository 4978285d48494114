"""The bot's parts that need no Telegram: limits, config, sealed state, dialogue, CLI, console."""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
import subprocess
import sys
import textwrap

import pytest
from conftest import NOT_LISTED_NIK, PEOPLE

from blt_status.crypto import b64e
from bots import dialogue
from bots.config import ConfigError, load_config
from bots.limits import LimitSettings, LookupLimiter
from bots.state import BotState, SubscriptionSecret

WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
NOON = dt.datetime(2025, 11, 23, 12, 0, tzinfo=WIB).timestamp()


def test_token_bucket_per_user_refills_and_users_are_independent():
    limiter = LookupLimiter(LimitSettings(user_lookups=5, user_window=600, user_daily=0,
                                          global_per_minute=0), WIB)
    assert all(limiter.check(1, NOON).allowed for _ in range(5))
    refused = limiter.check(1, NOON)
    assert not refused.allowed and refused.retry_at == pytest.approx(NOON + 120)
    assert limiter.check(2, NOON).allowed
    assert not limiter.check(1, NOON + 119).allowed
    assert limiter.check(1, NOON + 120).allowed


def test_daily_cap_resets_at_local_midnight():
    limiter = LookupLimiter(LimitSettings(user_lookups=0, user_daily=3, global_per_minute=0), WIB)
    assert all(limiter.check(1, NOON + i).allowed for i in range(3))
    refused = limiter.check(1, NOON + 10)
    midnight = dt.datetime(2025, 11, 24, tzinfo=WIB).timestamp()
    assert (refused.allowed, refused.retry_at) == (False, midnight)
    assert limiter.check(1, midnight + 1).allowed


def test_global_cap_and_lifted_limits():
    limiter = LookupLimiter(LimitSettings(user_lookups=0, user_daily=0, global_per_minute=2))
    assert limiter.check(1, NOON).allowed and limiter.check(2, NOON).allowed
    refused = limiter.check(3, NOON)
    assert refused.global_cap and refused.retry_at == pytest.approx(NOON + 30)
    lifted = LookupLimiter(LimitSettings.lifted())
    assert all(lifted.check(1, NOON).allowed for _ in range(1000))


def test_idle_users_are_forgotten_so_memory_stays_bounded(monkeypatch):
    monkeypatch.setattr(LookupLimiter, "MAX_TRACKED", 100)
    limiter = LookupLimiter(LimitSettings(user_lookups=5, user_window=600, user_daily=0,
                                          global_per_minute=0))
    for user in range(1000):
        limiter.check(user, NOON + user * 700)  # each earlier user has refilled by now
    assert limiter.tracked_users <= 100


def test_config_from_toml_then_environment(tmp_path):
    token_file = tmp_path / "token"
    token_file.write_text("111:from-file\n")
    config_file = tmp_path / "blt-bot.toml"
    config_file.write_text(textwrap.dedent(f"""
        data_dir = "/srv/bot"
        token_file = "{token_file}"
        language = "en"
        [limits]
        user_lookups = 3
        user_daily = 9
        [webhook]
        url = "https://bot.example/hook"
        secret_token = "s3cret"
    """))
    config = load_config(config_file, {})
    assert (config.token, str(config.data_dir), config.language) == ("111:from-file", "/srv/bot",
                                                                     "en")
    assert (config.limits.user_lookups, config.limits.user_daily) == (3, 9)
    assert (config.webhook_url, config.webhook_secret) == ("https://bot.example/hook", "s3cret")
    assert "from-file" not in repr(config)
    env = {"BLT_BOT_TOKEN": "222:env", "BLT_BOT_API_URL": "http://127.0.0.1:8081/bot",
           "BLT_BOT_DATA_DIR": "/srv/other"}
    config = load_config(config_file, env)
    assert (config.token, config.api_url, str(config.data_dir)) == (
        "222:env", "http://127.0.0.1:8081/bot", "/srv/other")
    assert str(config.resolved_state_file()) == "/srv/other/bot-state.json"


def test_bad_config_is_one_clear_error(tmp_path):
    broken = tmp_path / "broken.toml"
    broken.write_text("language = \n")
    with pytest.raises(ConfigError) as error:
        load_config(broken, {})
    assert error.value.code == "bot_config"


def test_subscription_secrets_are_sealed_and_bound_to_chat_and_tag(tmp_path):
    path = tmp_path / "state.json"
    state = BotState(path, b"k" * 32)
    state.subscribe(42, "ab" * 16, SubscriptionSecret(b"r" * 32, "scheduled", "0001"))
    state.set_language(42, "en")
    text = path.read_text()
    assert "0001" not in text and "scheduled" not in text and b64e(b"r" * 32) not in text
    again = BotState(path, b"k" * 32)
    secret = again.open(again.subscriptions[0])
    assert secret is not None and (secret.status, secret.last4) == ("scheduled", "0001")
    assert again.language(42, "id") == "en"
    moved = again.subscriptions[0]
    moved.chat_id = 43  # a blob copied to another chat does not open
    assert again.open(moved) is None
    assert BotState(path, b"x" * 32).open(BotState(path, b"x" * 32).subscriptions[0]) is None


def test_collected_and_home_delivery_wording():
    budi = PEOPLE[1].payload.for_recipient()
    lines = dialogue.record_lines(budi, "0002", WIB, "id")
    assert lines[6:8] == ["✅ Diambil pada Jumat, 21 November 2025 16:17 WIB di Balai Desa "
                          "Sukahati.",
                          "Jika Anda tidak merasa mengambilnya, segera lapor ke kantor desa "
                          "atau Kemensos 171."]
    maryam = PEOPLE[2].payload.for_recipient()
    lines = dialogue.record_lines(maryam, "0003", WIB, "en")
    assert lines[6:8] == ["🏠 Delivered at home: an officer will come between Tuesday, 25 "
                          "November 2025 and Saturday, 29 November 2025.",
                          "Served by: Kantor Pos Cibinong."]
    # a home delivery once paid: received at home, brought by the serving office
    delivered = dataclasses.replace(
        maryam, status="collected", collected_at=dt.datetime(2025, 11, 26, 4, 5, tzinfo=dt.UTC))
    lines = "\n".join(dialogue.record_lines(delivered, "0003", WIB, "id"))
    assert "✅ Diterima di rumah pada Rabu, 26 November 2025 11:05 WIB, diantar oleh " \
           "Kantor Pos Cibinong." in lines
    assert "Jika Anda tidak merasa menerimanya" in lines and "Diambil" not in lines
    lines = "\n".join(dialogue.record_lines(delivered, "0003", WIB, "en"))
    assert "✅ Received at home on Wednesday, 26 November 2025 11:05 WIB, brought by " \
           "Kantor Pos Cibinong." in lines and "If you did not receive it" in lines
    assert dialogue.map_search_url("Balai Desa", "Jl. A No. 1") == (
        "https://www.google.com/maps/search/?api=1&query=Balai+Desa%2C+Jl.+A+No.+1")


def test_dialogue_and_engine_never_import_telegram():
    code = ("import sys, bots.dialogue, bots.engine, bots.console, bots.limits, bots.state; "
            "assert not any(m == 'telegram' or m.startswith('telegram.') for m in sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def _blt_bot(*args: str, stdin: str = "", env: dict | None = None) -> subprocess.CompletedProcess:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("BLT_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "bots.app", *args], input=stdin,
                          capture_output=True, text=True, env=full_env, timeout=60)


def test_missing_token_is_one_error_line_and_non_zero_exit(tmp_path):
    result = _blt_bot("--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error [bot_token_missing]: BLT_BOT_TOKEN belum diisi (atau token_file di konfigurasi); "
        "untuk mencoba tanpa token jalankan `blt-bot --console`."]


def test_console_chats_against_the_same_index_without_network(make_device, index_params,
                                                                tmp_path):
    device = make_device(view="recipient", backend="sqlite")
    pepper = tmp_path / "pepper"
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    # Agus (held): a reminder for a status change still makes sense on the real clock
    stdin = f"{PEOPLE[3].nik}\n[ingatkan]\n/bahasa en\n{NOT_LISTED_NIK}\nhalo\n"
    result = _blt_bot("--console", "--data-dir", str(device.data_dir),
                      env={"BLT_BOT_PEPPER_FILE": str(pepper)}, stdin=stdin)
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert out.startswith(dialogue.start_reply("id").text)
    assert "👤 A*** W***** (NIK ****0004)" in out
    assert "🔔 Pengingat aktif untuk A*** W***** (NIK ****0004)" in out
    assert "❌ NIK ****0009 was not found in the recipients' data." in out
    assert dialogue.no_nik_reply("en").text in out
    assert PEOPLE[3].nik not in out and NOT_LISTED_NIK not in out


def test_console_answers_statistik_from_the_demo_worlds_figures(tmp_path):
    """/statistik is in /bantuan's list, yet the console called it an unknown command."""
    import json

    from blt_status.regions import region_name
    from bots.statistics import AggregateSource, statistics_reply

    demo = tmp_path / "demo"

    def chat(stdin: str) -> str:
        result = _blt_bot("--console", stdin=stdin, env={"BLT_DEMO_DIR": str(demo)})
        assert result.returncode == 0, result.stderr
        assert "Traceback" not in result.stderr
        return result.stdout

    out = chat("/statistik\n[Kabupaten Bogor]\n")  # builds the demo world on first use
    figures = AggregateSource(demo / "bot", (demo / "central" / "public").as_uri())
    bogor = figures.figures("32.01")
    assert bogor is not None and bogor.recipients[1] > 0
    assert "Pilih kabupaten/kota Anda:\n[Kabupaten Bogor]" in out
    assert statistics_reply(bogor, "id").text in out
    assert "Perintah tidak dikenal" not in out

    missed = json.loads((demo / "world.json").read_text())["sample_niks"]["missed"]
    kecamatan = f"{missed[:2]}.{missed[2:4]}.{missed[4:6]}"  # the demo lives where it was issued
    out = chat(f"{missed}\n/statistik\n/bahasa en\n/statistics\n")
    own = figures.figures(kecamatan)
    assert own is not None and own.name == region_name(kecamatan)
    assert statistics_reply(own, "id").text in out and statistics_reply(own, "en").text in out
    assert missed not in out


@pytest.mark.parametrize("failure", ["unreachable", "token"])
def test_no_bot_api_at_start_is_one_coded_line_without_a_traceback(make_device, index_params,
                                                                    tmp_path, failure):
    """No route to the Bot API (or a revoked token) printed PTB's 100-line traceback and
    `error [internal]` (exit 70), as if the bot had a bug."""
    from support.fake_bot_api import FakeBotApi

    device = make_device(view="recipient", backend="sqlite")
    pepper = tmp_path / "pepper"
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    env = {"BLT_BOT_TOKEN": "123456:SECRET-token-never-printed",
           "BLT_BOT_PEPPER_FILE": str(pepper)}
    with FakeBotApi() as api:
        if failure == "token":  # the server answers, and refuses the token
            api.fail("getMe", status=401, description="Unauthorized")
            result = _blt_bot("--data-dir", str(device.data_dir),
                              env={**env, "BLT_BOT_API_URL": api.base_url})
        closed = api.base_url
    if failure == "unreachable":  # the fake API has stopped: nothing listens there any more
        result = _blt_bot("--data-dir", str(device.data_dir),
                          env={**env, "BLT_BOT_API_URL": closed})
    code = "bot_token_invalid" if failure == "token" else "bot_unreachable"
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr and "SECRET" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(f"error [{code}]: "), result.stderr


def test_a_webhook_port_in_use_is_one_coded_line(make_device, index_params, tmp_path):
    """A webhook port another service holds was `error [internal]: OSError`, exit 70."""
    import socket

    from support.fake_bot_api import FakeBotApi

    device = make_device(view="recipient", backend="sqlite")
    pepper = tmp_path / "pepper"
    pepper.write_text(b64e(index_params.pepper("recipient", "")))
    with socket.socket() as taken, FakeBotApi() as api:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "bot.toml"
        config.write_text(f'[webhook]\nurl = "https://bot.example.invalid/hook"\n'
                          f'listen = "127.0.0.1"\nport = {port}\n')
        result = _blt_bot("--data-dir", str(device.data_dir), "--webhook", "--config",
                          str(config), env={"BLT_BOT_TOKEN": "123456:TEST-token",
                                            "BLT_BOT_API_URL": api.base_url,
                                            "BLT_BOT_PEPPER_FILE": str(pepper)})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith(
        f"error [serve_port]: Tidak bisa membuka 127.0.0.1:{port} ("), result.stderr


def test_a_pepper_file_that_does_not_open_the_index_stops_the_bot_at_start(make_device,
                                                                          tmp_path):
    """A wrong pepper file (another bot's, a re-enrolment's) started the bot anyway, and it
    told every recipient "the data is being updated" for ever: no sync mends a wrong pepper."""
    device = make_device(view="recipient", backend="sqlite")
    pepper = tmp_path / "pepper"
    pepper.write_text(b64e(b"another bot's pepper, not ours!!"))
    result = _blt_bot("--console", "--data-dir", str(device.data_dir),
                      env={"BLT_BOT_PEPPER_FILE": str(pepper)}, stdin=f"{PEOPLE[0].nik}\n")
    assert result.returncode == 1, result.stdout
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert result.stderr.startswith("error [index_key_mismatch]: ")
    assert "Data sedang diperbarui" not in result.stdout


def test_console_without_a_device_is_one_error_line(tmp_path):
    result = _blt_bot("--console", "--data-dir", str(tmp_path / "nothing"))
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith("error [not_installed]")


def test_any_text_gets_an_outcome_and_no_reply_echoes_the_digits(make_device, index_params,
                                                                  tmp_path):
    """Property: whatever a user types, the engine answers without crashing and no reply
    contains five or more consecutive digits that the user sent."""
    import asyncio
    import re

    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    from bots.engine import BotEngine, EngineSettings
    from bots.state import BotState

    device = make_device(view="recipient", backend="sqlite")
    keyring = device.unlock("kata sandi uji 123")
    engine = BotEngine(device, keyring, BotState(None, b"k" * 32),
                       EngineSettings(limits=LimitSettings.lifted(),
                                      chatter=LimitSettings.lifted(), lookup_workers=1))
    digits_run = re.compile(r"\d{5,}")
    nik_like = st.builds(lambda base, sep: sep.join([base[:4], base[4:8], base[8:12], base[12:]]),
                         st.sampled_from([p.nik for p in PEOPLE] + [NOT_LISTED_NIK]),
                         st.sampled_from(["", " ", ".", "-", "  "]))

    @settings(max_examples=150, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.one_of(st.text(max_size=300), nik_like,
                     st.text(alphabet="0123456789 .-xO", max_size=40)))
    def check(text):
        outcome = asyncio.run(engine.on_text(7, 7, text))
        for reply in outcome.replies:
            for run in digits_run.findall(text.replace(" ", "").replace(".", "")
                                          .replace("-", "")):
                assert run not in reply.text.replace(" ", "")

    try:
        check()
    finally:
        engine.close()


# -- code health: --version, one pepper resolution, no import circle, retries -----------------


def test_version_prints_and_exits_zero():
    result = _blt_bot("--version")
    assert result.returncode == 0, result.stderr
    from blt_status import __version__
    assert result.stdout.strip() == f"blt-bot {__version__}"


def test_the_pepper_file_is_resolved_once_in_the_bot_config(make_device, tmp_path,
                                                             monkeypatch):
    from bots.runtime import bot_device

    written = tmp_path / "bot.toml"
    written.write_text('pepper_file = "/from/the/file"\n')
    assert load_config(written, environ={}).pepper_file == "/from/the/file"
    assert load_config(written, environ={"BLT_BOT_PEPPER_FILE": "/env"}).pepper_file == "/env"
    assert load_config(None, environ={}).pepper_file is None
    # the core device no longer reads the environment: only what the bot resolved counts
    device = make_device(view="recipient", backend="sqlite")
    monkeypatch.setenv("BLT_BOT_PEPPER_FILE", str(tmp_path / "ignored"))
    assert device.needs_passphrase
    monkeypatch.delenv("BLT_BOT_PEPPER_FILE")
    patched = bot_device(load_config(None, environ={"BLT_BOT_PEPPER_FILE": "/env"}),
                         device.data_dir)
    assert patched.config.pepper_file == "/env" and not patched.needs_passphrase


def test_sharded_and_app_do_not_import_each_other():
    code = ("import sys, bots.sharded, bots.runtime; "
            "print('bots.app' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


async def test_send_with_retries_retries_network_errors_but_not_flood_control():
    from telegram.error import BadRequest, NetworkError, RetryAfter

    from bots.telegram_adapter import send_with_retries

    calls: list[int] = []

    async def failing(error: Exception, times: int):
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "sent"

    assert await send_with_retries(lambda: failing(NetworkError("502"), 2), retries=3,
                                   backoff=0.001) == "sent"
    assert len(calls) == 3
    for error in (RetryAfter(1), BadRequest("chat not found")):
        calls.clear()
        with pytest.raises(type(error)):
            await send_with_retries(lambda error=error: failing(error, 1), retries=3,
                                    backoff=0.001)
        assert len(calls) == 1  # AIORateLimiter waits out flood control; bad requests are final
    calls.clear()
    with pytest.raises(NetworkError):
        await send_with_retries(lambda: failing(NetworkError("down"), 9), retries=2,
                                backoff=0.001)
    assert len(calls) == 3
