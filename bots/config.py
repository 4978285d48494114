"""The bot's configuration: defaults, then a TOML file, then the environment, then the CLI.

    # blt-bot.toml (all keys optional)
    data_dir = "/var/lib/blt-bot/device"
    state_file = "/var/lib/blt-bot/state.json"
    pepper_file = "/etc/blt-bot/pepper"         # or BLT_BOT_PEPPER_FILE
    token_file = "/etc/blt-bot/token"           # or BLT_BOT_TOKEN
    api_url = "http://127.0.0.1:8081/bot"       # or BLT_BOT_API_URL (self-hosted Bot API)
    language = "id"
    timezone = "Asia/Jakarta"
    workers = 1             # > 1: one poller + N bot processes (docs/bot.md)
    [limits]
    user_lookups = 5        # per user per window
    user_window_seconds = 600
    user_daily = 20
    global_per_minute = 600
    [webhook]               # absent: long polling
    url = "https://bot.example.go.id/blt"
    listen = "127.0.0.1"
    port = 8443
    secret_token_file = "/etc/blt-bot/webhook-secret"   # or BLT_BOT_WEBHOOK_SECRET
"""

from __future__ import annotations

import datetime as dt
import os
import re
import tomllib
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from blt_status.errors import BltError
from blt_status.i18n import LANGUAGES
from blt_status.strict import first_unknown_key
from bots.limits import LimitSettings

__all__ = ["BotConfig", "ConfigError", "load_config"]


class ConfigError(BltError):
    code = "bot_config"


# Every key blt-bot.toml may hold (a table's keys under its name): anything else is refused.
CONFIG_KEYS: dict[str, frozenset[str]] = {
    "": frozenset({"data_dir", "state_file", "pepper_file", "token", "token_file", "api_url",
                   "language", "timezone", "workers", "reminder_hour", "concurrent_updates",
                   "lookup_workers", "limits", "webhook"}),
    "limits": frozenset({"user_lookups", "user_window_seconds", "user_daily",
                         "global_per_minute"}),
    "webhook": frozenset({"url", "listen", "port", "secret_token", "secret_token_file"}),
}
_MAX_SETTING = 10_000_000  # no count, limit, hour or port in the bot's settings is larger


def _refuse_unknown_keys(path: Path, data: Mapping[str, Any]) -> None:
    for table_name, keys in CONFIG_KEYS.items():
        table = data.get(table_name, {}) if table_name else data
        if not isinstance(table, dict):
            raise ConfigError("bot_config:table", path=path, table=table_name)
        unknown = first_unknown_key(table, keys)
        if unknown is not None:
            prefix = f"{table_name}." if table_name else ""
            raise ConfigError("config_unknown_key", where=path, key=prefix + unknown[0],
                              suggestion=prefix + unknown[1])


@dataclass(frozen=True)
class BotConfig:
    token: str | None = field(default=None, repr=False)
    api_url: str | None = None
    data_dir: Path | None = None
    state_file: Path | None = None
    pepper_file: str | None = None
    language: str = "id"
    timezone: str = "Asia/Jakarta"
    limits: LimitSettings = field(default_factory=LimitSettings)
    reminder_hour: int = 7
    reminder_interval: float = 60.0
    refresh_interval: float = 5.0
    concurrent_updates: int = 4
    lookup_workers: int = 2
    outgoing_per_second: float = 30.0
    outgoing_per_chat_per_minute: float = 20.0
    send_retries: int = 3
    retry_backoff: float = 1.0
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = 8443
    webhook_secret: str | None = field(default=None, repr=False)
    workers: int = 1  # > 1: bots.sharded (one poller, N PTB worker processes)

    @property
    def tz(self) -> dt.tzinfo:
        try:
            return zoneinfo.ZoneInfo(self.timezone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            return dt.timezone(dt.timedelta(hours=7), "WIB")

    def resolved_state_file(self) -> Path | None:
        if self.state_file is not None:
            return self.state_file
        return self.data_dir / "bot-state.json" if self.data_dir else None

    def with_changes(self, **changes: Any) -> BotConfig:
        return replace(self, **changes)


def _read_secret_file(path: str, what: str) -> str:
    try:
        return Path(path).read_text().strip()
    except OSError:
        raise ConfigError("bot_config:secret_file", what=what, path=path) from None


def _int(value: Any, name: str, low: int = 0, high: int = _MAX_SETTING) -> int:
    """A whole number in range: a TOML integer, or ASCII digits (never ``int("²")``)."""
    if isinstance(value, str) and re.fullmatch(r"[0-9]{1,9}", value.strip()):
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ConfigError("config_number", where="blt-bot.toml", key=name, low=low, high=high)
    return value


def load_config(path: Path | None = None, environ: Mapping[str, str] | None = None,
                ) -> BotConfig:
    """Defaults, overlaid by the TOML file (``path`` or ``BLT_BOT_CONFIG``), then the env."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    named = path or (Path(env["BLT_BOT_CONFIG"]) if env.get("BLT_BOT_CONFIG") else None)
    if named is not None:
        try:
            data = tomllib.loads(named.read_text())
        except OSError:
            raise ConfigError("bot_config:unreadable", path=named) from None
        except tomllib.TOMLDecodeError as error:
            raise ConfigError("bot_config:toml", path=named, reason=error) from None
        _refuse_unknown_keys(named, data)
    limits_data = data.get("limits", {})
    webhook = data.get("webhook", {})
    limits = LimitSettings(
        user_lookups=_int(limits_data.get("user_lookups", 5), "user_lookups"),
        user_window=float(_int(limits_data.get("user_window_seconds", 600),
                               "user_window_seconds")),
        user_daily=_int(limits_data.get("user_daily", 20), "user_daily"),
        global_per_minute=_int(limits_data.get("global_per_minute", 600), "global_per_minute"),
    )
    token = data.get("token")
    if data.get("token_file"):
        token = _read_secret_file(str(data["token_file"]), "token")
    token = env.get("BLT_BOT_TOKEN") or token
    secret = webhook.get("secret_token")
    if webhook.get("secret_token_file"):
        secret = _read_secret_file(str(webhook["secret_token_file"]), "secret_token")
    secret = env.get("BLT_BOT_WEBHOOK_SECRET") or secret
    data_dir = env.get("BLT_BOT_DATA_DIR") or data.get("data_dir")
    state_file = env.get("BLT_BOT_STATE_FILE") or data.get("state_file")
    language = env.get("BLT_BOT_LANGUAGE") or data.get("language", "id")
    if language not in LANGUAGES:
        raise ConfigError("bot_config:language", languages=", ".join(LANGUAGES))
    return BotConfig(
        token=token or None,
        api_url=env.get("BLT_BOT_API_URL") or data.get("api_url") or None,
        data_dir=Path(data_dir) if data_dir else None,
        state_file=Path(state_file) if state_file else None,
        # resolved here, once: the environment, else the file; the device's own is the default
        pepper_file=env.get("BLT_BOT_PEPPER_FILE") or data.get("pepper_file") or None,
        language=language,
        timezone=str(data.get("timezone", "Asia/Jakarta")),
        limits=limits,
        reminder_hour=_int(data.get("reminder_hour", 7), "reminder_hour", 0, 23),
        concurrent_updates=_int(data.get("concurrent_updates", 4), "concurrent_updates", 1,
                                1024),
        lookup_workers=_int(data.get("lookup_workers", os.cpu_count() or 2), "lookup_workers",
                            1, 1024),
        webhook_url=webhook.get("url") or env.get("BLT_BOT_WEBHOOK_URL") or None,
        webhook_listen=str(webhook.get("listen", "127.0.0.1")),
        webhook_port=_int(webhook.get("port", 8443), "webhook.port", 1, 65535),
        webhook_secret=secret or None,
        workers=_workers(data.get("workers", 1)),
    )


def _workers(value: Any) -> int:
    return _int(value, "workers", 1, 1024)
