"""The demo world is a payout week in progress around the day it is built for: slots today and
tomorrow, past slots (one missed with nothing collected), collected, held and returned records,
and a day-before reminder that fires. ``today`` is injected, so this is deterministic."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest

from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from blt_status.lookup import LookupService
from blt_status.present import schedule_timing
from blt_status.timezones import WIB
from bots import dialogue
from bots.engine import BotEngine, EngineSettings
from bots.limits import LimitSettings
from bots.state import BotState

TODAY = dt.date(2026, 3, 11)
EARLY = dt.datetime.combine(TODAY, dt.time(6, 0), tzinfo=WIB)  # before any slot of the day


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return ensure_demo_world(tmp_path_factory.mktemp("demo"), recipients=120, today=TODAY)


def test_the_demo_world_is_dated_around_today(world):
    officer = Device.load(world.officer_dir)
    service = LookupService.open(officer, officer.unlock(world.passphrase))
    try:
        records = {label: service.lookup(world.sample_niks[label]).record
                   for label in ("today", "tomorrow", "missed", "collected", "held", "returned")}
    finally:
        service.close()
    assert records["today"].schedule.date == TODAY
    assert schedule_timing(records["today"], EARLY).phase == "today"
    assert records["tomorrow"].schedule.date == TODAY + dt.timedelta(days=1)
    assert schedule_timing(records["tomorrow"], EARLY).phase == "upcoming"
    missed = records["missed"]
    assert missed.status == "scheduled" and missed.schedule.date < TODAY
    assert schedule_timing(missed, EARLY).phase == "missed"  # the window is still open
    assert missed.program.end is not None and missed.program.end > TODAY
    assert [records[label].status for label in ("collected", "held", "returned")] == \
        ["collected", "held", "returned"]
    assert records["collected"].collected_at.date() < TODAY


def test_a_reminder_fires_for_tomorrows_slot(world):
    bot = Device.load(world.bot_dir)
    morning = dt.datetime.combine(TODAY, dt.time(8, 0), tzinfo=WIB)
    engine = BotEngine(bot, bot.unlock(), BotState(None, b"k" * 32),
                       EngineSettings(timezone=WIB, limits=LimitSettings.lifted(),
                                      chatter=LimitSettings.lifted(), lookup_workers=1),
                       clock=lambda: morning.timestamp())
    try:
        answer = asyncio.run(engine.on_text(9, 9, world.sample_niks["tomorrow"]))
        assert "Status: Terjadwal — belum diambil" in answer.replies[0].text
        subscribed = asyncio.run(engine.on_remind(9, 9))
        assert subscribed.replies[0].text.startswith("🔔 Pengingat aktif")
        messages = engine.tick(morning)
        assert len(messages) == 1 and messages[0][0] == 9
        assert messages[0][1].text.startswith("🔔 Pengingat: besok, ")
        # the missed slot: said so, and no reminder for a date that has passed
        missed = asyncio.run(engine.on_text(9, 9, world.sample_niks["missed"]))
        assert "Status: Jadwal sudah lewat — belum diambil" in missed.replies[0].text
        assert "Anda masih bisa datang sampai" in missed.replies[0].text
        refused = asyncio.run(engine.on_remind(9, 9))
        assert refused.replies == (dialogue.remind_past_reply("id"),)
    finally:
        engine.close()
