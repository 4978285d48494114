"""Fuzzing the NIK parser and the bot's handlers (the engine over bots.dialogue's replies).

Any text gives a NIK or a coded refusal; any sequence of messages, commands and button presses
gives the bot's answer without an exception, and no reply repeats five or more digits in a row
that the user sent. Examples per test: the Hypothesis profile.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import AS_OF, NOT_LISTED_NIK, PASSPHRASE, PEOPLE, PROGRAM
from hypothesis import given
from hypothesis import strategies as st
from support.fuzz import FUZZ, NASTY, coded

from blt_status.crypto import TEST_WRAP_KDF
from blt_status.device import Device, DeviceConfig
from blt_status.errors import BltError
from blt_status.indexer import IndexEntry, device_keyring, make_meta, seal_entries
from blt_status.nik import Kk, Nik, parse_kk, parse_nik
from bots import dialogue
from bots.engine import BotEngine, EngineSettings
from bots.limits import LimitSettings
from bots.state import BotState

KNOWN = [person.nik for person in PEOPLE] + [NOT_LISTED_NIK]
separated = st.builds(
    lambda nik, separator, cut: separator.join([nik[:cut], nik[cut:8], nik[8:]]),
    st.sampled_from(KNOWN), st.sampled_from(["", " ", ".", "-", " - ", "..", "\t", "\u00a0"]),
    st.integers(0, 8))
mutated = st.builds(lambda nik, index, char: nik[:index] + char + nik[index + 1:],
                    st.sampled_from(KNOWN), st.integers(0, 15),
                    st.sampled_from(["0", "9", "O", "l", "٣", "²", " ", "", "00"]))
nik_texts = st.one_of(separated, mutated, st.sampled_from(NASTY), st.text(max_size=40),
                      st.from_regex(r"[0-9 .\-]{0,300}", fullmatch=True),
                      st.integers(0, 10**30).map(str))


@FUZZ
@given(nik_texts)
def test_nik_parser_gives_a_nik_or_a_coded_refusal(text):
    outcome = coded(lambda: parse_nik(text, today=dt.date(2026, 1, 1)))
    if isinstance(outcome, Nik):
        assert len(outcome.digits) == 16 and outcome.digits.isascii()
        assert outcome.digits == re.sub(r"[ .\-]", "", text.strip())
        assert outcome.digits not in repr(outcome) and outcome.digits not in str(outcome)
    else:
        assert outcome.code in ("empty", "not_digits", "length", "province", "region",
                                "birth_date", "serial")
        if re.fullmatch(r"[0-9]+", text.strip()) and len(text.strip()) != 16:
            assert outcome.code == "length"  # however many digits: 5 or 100,000
    kk = coded(lambda: parse_kk(text))
    assert isinstance(kk, Kk | BltError)


# -- the bot ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def engine(index_params) -> Iterator[BotEngine]:
    with tempfile.TemporaryDirectory(prefix="blt-fuzz-bot-") as name:
        device = Device.create(Path(name) / "device", DeviceConfig("recipient", (), "fuzz",
                                                                   backend="sqlite"),
                               device_keyring(index_params, "recipient", ()), PASSPHRASE,
                               wrap_profile=TEST_WRAP_KDF)
        meta = make_meta(view="recipient", version=1, program=PROGRAM, params=index_params,
                         shards=[person.shard for person in PEOPLE], data_as_of=AS_OF)
        device.write_index(meta, seal_entries(
            [IndexEntry(person.nik, person.shard, person.payload) for person in PEOPLE],
            view="recipient", params=index_params))
        bot = BotEngine(device, device.unlock(PASSPHRASE), BotState(None, b"k" * 32),
                        EngineSettings(limits=LimitSettings.lifted(),
                                       chatter=LimitSettings.lifted(), lookup_workers=1))
        yield bot
        bot.close()


@pytest.fixture(scope="module")
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    event_loop = asyncio.new_event_loop()
    yield event_loop
    event_loop.close()


messages = st.one_of(nik_texts, st.sampled_from(KNOWN), st.text(max_size=300),
                     st.text(min_size=4000, max_size=4100, alphabet="0123456789 "))
actions = st.one_of(st.sampled_from([dialogue.ACTION_REMIND, dialogue.ACTION_HELP,
                                     dialogue.ACTION_AGAIN, "lang:id", "lang:en", "lang:xx"]),
                    st.text(max_size=70))
events = st.lists(st.one_of(
    st.tuples(st.sampled_from(["text", "lookup", "edited", "group", "language", "remind"]),
              messages),
    st.tuples(st.just("callback"), actions),
    st.tuples(st.sampled_from(["start", "help", "stop", "unknown", "media"]), st.just(""))),
    min_size=1, max_size=4)
_DIGIT_RUN = re.compile(r"[0-9]{5,}")


async def _handle(bot: BotEngine, kind: str, text: str, user: int) -> list[str]:
    if kind == "text":
        outcome = await bot.on_text(user, user, text)
    elif kind == "lookup":
        outcome = await bot.on_lookup(user, user, text)
    elif kind == "remind":
        outcome = await bot.on_remind(user, user, text)
    elif kind == "callback":
        outcome = await bot.on_callback(user, user, text)
    elif kind == "edited":
        outcome = bot.on_edited(user, text)
    elif kind == "group":
        outcome = bot.on_group_message(-user, text, is_command=text.startswith("/"))
    elif kind == "language":
        outcome = bot.on_language(user, text)
    elif kind == "start":
        outcome = bot.on_start(user)
    elif kind == "help":
        outcome = bot.on_help(user)
    elif kind == "stop":
        outcome = bot.on_stop(user, user)
    elif kind == "unknown":
        outcome = bot.on_unknown_command(user)
    else:
        outcome = bot.on_media(user, sensitive=True)
    replies = [*outcome.replies, *([outcome.edit] if outcome.edit else [])]
    assert all(reply.text.strip() for reply in replies)
    return [reply.text for reply in replies]


@FUZZ
@given(events, st.integers(1, 3))
def test_bot_handlers_answer_anything_without_repeating_digits(engine, loop, sequence, user):
    for kind, text in sequence:
        sent = re.sub(r"[ .\-]", "", text)
        for reply in loop.run_until_complete(_handle(engine, kind, text, user)):
            shown = reply.replace(" ", "")
            for run in _DIGIT_RUN.findall(sent):
                assert run not in shown, "a reply repeats digits the user sent"
