"""What every bot process needs to start: logging, the updates it asks for, and its engine.

Shared by ``bots.app`` (one process) and ``bots.sharded`` (a poller and N workers), so neither
imports the other.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from blt_status.commands._common import read_passphrase
from blt_status.device import Device
from blt_status.errors import DeviceError
from bots.config import BotConfig
from bots.engine import BotEngine, EngineSettings
from bots.limits import LimitSettings

__all__ = ["ALLOWED_UPDATES", "bot_device", "configure_logging", "make_engine"]

ALLOWED_UPDATES = ["message", "edited_message", "callback_query"]


def configure_logging(level: int = logging.INFO) -> None:
    """Our own events at INFO; library loggers that could print URLs (with the token) or
    update contents are kept at WARNING, and a logged exception shows its class name only:
    never a traceback (whose values could hold a message's text), unless ``BLT_DEBUG``."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for name in ("httpx", "httpcore", "telegram", "apscheduler", "tornado"):
        logging.getLogger(name).setLevel(logging.WARNING)
    if not os.environ.get("BLT_DEBUG"):
        for handler in logging.getLogger().handlers:
            handler.addFilter(_class_name_only)


def _class_name_only(record: logging.LogRecord) -> bool:
    """Replace a record's traceback by the exception's class name (PTB logs network failures
    with ``exc_info``)."""
    if record.exc_info and record.exc_info[0] is not None:
        record.msg = f"{record.getMessage()} [{record.exc_info[0].__name__}]"
        record.args = None
        record.exc_info = None
        record.exc_text = None
    return True


def bot_device(config: BotConfig, data_dir: Path) -> Device:
    """The bot's device, with the pepper file the configuration resolved (if any)."""
    device = Device.load(data_dir)
    if config.pepper_file:
        device = Device(device.data_dir,
                        dataclasses.replace(device.config, pepper_file=config.pepper_file))
    return device


def make_engine(config: BotConfig, data_dir: Path, *, console: bool = False,
                passphrase: str | None = None,
                clock: Callable[[], float] = time.time) -> BotEngine:
    """Load the device (pepper from the config's file if given), unlock it, build the engine."""
    device = bot_device(config, data_dir)
    if device.config.view != "recipient":
        raise DeviceError("bot_view")
    if device.needs_passphrase and passphrase is None:
        passphrase = read_passphrase()
    settings = EngineSettings(
        language=config.language, timezone=config.tz,
        limits=LimitSettings.lifted() if console else config.limits,
        chatter=LimitSettings.lifted() if console else EngineSettings().chatter,
        refresh_interval=config.refresh_interval, reminder_hour=config.reminder_hour,
        lookup_workers=config.lookup_workers,
    )
    state_path = None if console else config.resolved_state_file()
    return BotEngine.from_device(device, state_path, settings, passphrase=passphrase,
                                 clock=clock)
