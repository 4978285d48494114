"""Property: no reply repeats more than the last four digits of anything the user sent.

Sentences are generated the way people write: greetings, ``NIK saya``, a NIK with spaces, dots
or dashes (valid, of someone listed, or broken: bad birth date, unknown region, wrong length),
sometimes two NIKs, a date of birth, a phone number. They go through the engine's real entry
points (a message, ``/cek``, ``/ingatkan``, ``/start``) and every reply is checked: no run of
five digits from the message appears in it, however the reply spaces or punctuates its digits.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re

import pytest
from conftest import NOT_LISTED_NIK, PASSPHRASE, PEOPLE
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.engine import BotEngine, EngineSettings
from bots.limits import LimitSettings
from bots.state import BotState

NOW = dt.datetime(2025, 11, 23, 10, 0, tzinfo=dt.timezone(dt.timedelta(hours=7)))
_RUN = re.compile(r"\d(?:[ .\-/:,]?\d)*")  # digits, however they are spaced or punctuated
# Texts the bot prints that come from the data, not from the user: amounts and the data date.
_PUBLIC = re.compile(r"Rp[\d.,]+|^Data (per|as of) .*$", re.MULTILINE)


def _runs(text: str) -> list[str]:
    return [re.sub(r"\D", "", run) for run in _RUN.findall(text)]


def _windows(text: str, size: int = 5) -> set[str]:
    return {run[i:i + size] for run in _runs(text) for i in range(len(run) - size + 1)}


def _spell(digits: str, separator: str, grouping: int) -> str:
    return separator.join(digits[i:i + grouping] for i in range(0, len(digits), grouping))


_niks = st.one_of(
    st.sampled_from([person.nik for person in PEOPLE] + [NOT_LISTED_NIK]),
    st.builds(lambda nik, dob: nik[:6] + dob + nik[12:],  # a birth date that does not exist
              st.sampled_from([person.nik for person in PEOPLE]),
              st.sampled_from(["990588", "321390", "450088", "000000"])),
    st.builds(lambda rest: "99" + rest, st.from_regex(r"\A[0-9]{14}\Z")),  # unknown province
    st.from_regex(r"\A[0-9]{12,20}\Z"),  # anything
)
_written = st.builds(_spell, _niks, st.sampled_from(["", " ", ".", "-", "  ", " - "]),
                     st.sampled_from([4, 6, 2, 16]))
_words = st.sampled_from(["", "NIK saya", "nik:", "Selamat pagi, ini NIK", "tolong cek",
                          "NIK istri saya", "halo bot", "KTP", "punya ibu"])
_tails = st.sampled_from(["", "terima kasih", "lahir 12-05-1988", "hp 0812-3456-7890",
                          "RT 003/RW 005", "🙏", ", dan", "tgl 24/11"])
_sentence = st.one_of(
    st.builds(lambda a, nik, b: f"{a} {nik} {b}".strip(), _words, _written, _tails),
    st.builds(lambda a, one, two: f"{a} {one} dan {two}", _words, _written, _written),
    st.text(alphabet="0123456789 .-O", max_size=40),
)
_entry = st.sampled_from(["text", "cek", "ingatkan", "start"])


@pytest.fixture()
def engine(make_device):
    device = make_device(view="recipient", backend="sqlite")
    running = BotEngine(device, device.unlock(PASSPHRASE), BotState(None, b"k" * 32),
                        EngineSettings(limits=LimitSettings.lifted(),
                                       chatter=LimitSettings.lifted(), lookup_workers=1),
                        clock=lambda: NOW.timestamp())
    yield running
    running.close()


def test_no_reply_repeats_five_digits_the_user_sent(engine):
    async def send(entry: str, text: str):
        if entry == "cek":
            return await engine.on_lookup(7, 7, text)
        if entry == "ingatkan":
            return await engine.on_remind(7, 7, text)
        if entry == "start":
            return engine.on_start(7, text)
        return await engine.on_text(7, 7, text)

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(_sentence, _entry)
    def check(text: str, entry: str) -> None:
        outcome = asyncio.run(send(entry, text))
        sent = _windows(text)
        for reply in outcome.replies:
            shown = _windows(_PUBLIC.sub("", reply.text))
            assert not sent & shown, (entry, reply.text)
        if any(char.isdigit() for char in text) and entry != "start":
            assert outcome.delete_message
        if entry == "start":
            assert outcome.delete_message == any(char.isdigit() for char in text)

    check()


def test_the_property_catches_an_echo():
    """The checker itself: a reply that spells a NIK differently is still caught."""
    nik = PEOPLE[0].nik
    assert _windows(f"NIK saya {_spell(nik, ' ', 4)}") & _windows(
        f"Tanggal lahir pada NIK ({nik[6:8]}-{nik[8:10]}-{nik[10:12]}) tidak valid")
    assert not _windows(f"NIK {nik}") & _windows("👤 S*** A***** (NIK ****0001)")
