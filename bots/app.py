"""``blt-bot``: run the recipients' Telegram bot (polling or webhook), or chat in the terminal.

    blt-bot --data-dir /var/lib/blt-bot/device            # token from BLT_BOT_TOKEN
    blt-bot --config /etc/blt-bot/blt-bot.toml
    blt-bot --console [--data-dir D]                      # no token, no network; demo data
                                                          # when no data dir is given
Every failure is one line ``error [code]: message`` and a non-zero exit.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from blt_status.cli import CliParser, add_lang
from blt_status.commands._common import print_error, read_passphrase
from blt_status.errors import BltError
from blt_status.i18n import _, set_lang
from bots.config import BotConfig, ConfigError, load_config
from bots.runtime import ALLOWED_UPDATES, bot_device, configure_logging, make_engine

__all__ = ["build_parser", "configure_logging", "main", "make_engine", "webhook_arguments"]

_LOG = logging.getLogger("bots.app")


def build_parser() -> argparse.ArgumentParser:
    parser = CliParser(  # translated --help, one-line usage errors, --version
        prog="blt-bot", version=True,
        description="The BLT Pangan recipients' Telegram bot: a NIK in, the payout date, time, "
        "place and amount out. Token from BLT_BOT_TOKEN; Bot API server from BLT_BOT_API_URL.",
    )
    parser.add_argument("--data-dir", type=Path, metavar="D",
                        help="the bot's device data directory (recipient view; "
                        "default: data_dir in the config, $BLT_BOT_DATA_DIR)")
    parser.add_argument("--console", action="store_true",
                        help="chat in this terminal (no token, no network); without a data dir "
                        "a local demo world is built and used")
    parser.add_argument("--config", type=Path, metavar="FILE",
                        help="TOML configuration file (default: $BLT_BOT_CONFIG)")
    parser.add_argument("--state-file", type=Path, metavar="FILE",
                        help="where languages and reminders are kept "
                        "(default: D/bot-state.json)")
    add_lang(parser, "default language of replies and messages")
    parser.add_argument("--webhook", action="store_true",
                        help="receive updates by webhook ([webhook] in the config) instead of "
                        "long polling")
    parser.add_argument("--workers", type=int, metavar="N", default=None,
                        help="bot processes (default 1; N > 1: one poller routes each user to "
                        "one of N processes, polling only)")
    return parser


def _error(code: str, **fields: object) -> int:
    print_error(BltError(code, **fields))
    return 2


def _console(config: BotConfig) -> int:
    from bots.console import run_console

    data_dir = config.data_dir
    passphrase = None
    figures_url = None  # /statistik: the device's central URL
    if data_dir is None:
        from blt_status.demo import ensure_demo_world

        print("Menyiapkan data demo... / preparing the demo data...", file=sys.stderr)
        world = ensure_demo_world()
        data_dir = Path(world.bot_dir)
        passphrase = world.passphrase
        figures_url = world.public_dir.as_uri()  # the demo's device syncs from this folder
        preferred = ("today", "tomorrow", "missed", "collected", "held", "returned", "antar",
                     "not_listed")
        labels = [label for label in preferred if label in world.sample_niks] or \
            list(world.sample_niks)[:4]
        print(f"Data demo (sintetis) di {data_dir}. Coba NIK contoh / try these sample NIKs:",
              file=sys.stderr)
        for label in labels:
            print(f"  {world.sample_niks[label]}  ({label})", file=sys.stderr)
    engine = make_engine(config, data_dir, console=True, passphrase=passphrase)
    try:
        run_console(engine, statistics_url=figures_url)
    finally:
        engine.close()
    return 0


def _serve(config: BotConfig, webhook: bool) -> int:
    from bots.telegram_adapter import build_application

    if not config.token:
        return _error("bot_token_missing")
    if config.data_dir is None:
        return _error("bot_no_data")
    if config.workers > 1:
        return _serve_sharded(config, webhook)
    engine = make_engine(config, config.data_dir)
    application = build_application(config, engine)
    if webhook and not config.webhook_url:
        return _error("bot_webhook")
    from telegram.error import BadRequest, InvalidToken, NetworkError

    try:
        if webhook:
            _LOG.info("starting (webhook on %s:%d)", config.webhook_listen, config.webhook_port)
            application.run_webhook(**webhook_arguments(config))
        else:
            _LOG.info("starting (long polling)")
            application.run_polling(allowed_updates=ALLOWED_UPDATES)
    except InvalidToken:  # at start (getMe): a wrong or revoked token, not a bug
        raise BltError("bot_token_invalid") from None
    except NetworkError as error:  # at start: no route to the Bot API server, not a bug
        if isinstance(error, BadRequest):
            raise
        raise BltError("bot_unreachable", url=api_origin(config),
                       reason=type(error).__name__) from None
    except OSError as error:  # the webhook's listen address is taken or not ours
        if not webhook:
            raise
        raise BltError("serve_port", host=config.webhook_listen, port=config.webhook_port,
                       reason=error.strerror or type(error).__name__) from None
    return 0


def api_origin(config: BotConfig) -> str:
    """Where the bot talks to, as scheme and host only (never a token or a password)."""
    parts = urllib.parse.urlsplit(config.api_url or "https://api.telegram.org/bot")
    return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"


def _serve_sharded(config: BotConfig, webhook: bool) -> int:
    """``--workers N``: check the device here (one clear error), then poller + N workers."""
    from bots.sharded import run_sharded

    if webhook:
        return _error("bot_workers_webhook")
    assert config.data_dir is not None
    device = bot_device(config, config.data_dir)
    passphrase = read_passphrase() if device.needs_passphrase else None
    make_engine(config.with_changes(state_file=None), config.data_dir, console=True,
                passphrase=passphrase).close()  # view, unlock and index checked once, here
    return run_sharded(config, passphrase=passphrase)


def webhook_arguments(config: BotConfig) -> dict[str, Any]:
    """What ``run_webhook``/``Updater.start_webhook`` get: the URL's last path segment is the
    local path; Telegram must echo ``secret_token`` in a header on every call."""
    url = config.webhook_url or ""
    return {"listen": config.webhook_listen, "port": config.webhook_port,
            "url_path": url.rstrip("/").rsplit("/", 1)[-1], "webhook_url": url,
            "secret_token": config.webhook_secret, "allowed_updates": ALLOWED_UPDATES}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    set_lang(args.lang)  # --lang, else BLT_LANG, else Indonesian (blt_status.i18n)
    try:
        config = load_config(args.config)
        changes: dict[str, object] = {}
        if args.data_dir:
            changes["data_dir"] = args.data_dir
        if args.state_file:
            changes["state_file"] = args.state_file
        if args.lang:
            changes["language"] = args.lang
        if args.workers is not None:
            if args.workers < 1:
                raise ConfigError("bot_config:workers")
            changes["workers"] = args.workers
        config = config.with_changes(**changes)
        if args.console:
            logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
            return _console(config)
        configure_logging()
        return _serve(config, args.webhook)
    except (BltError, ConfigError) as error:
        print_error(error)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # never a traceback (it could hold message content)
        hint = _("run again with BLT_DEBUG=1 for details")
        if os.environ.get("BLT_DEBUG"):
            raise
        print(f"error [internal]: {type(error).__name__} ({hint})", file=sys.stderr)
        return 70


if __name__ == "__main__":
    raise SystemExit(main())
