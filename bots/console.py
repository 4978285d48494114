"""``blt-bot --console``: chat with the bot in a terminal — same engine, no token, no network.

Each input line is one message (``/start``, ``/cek NIK``, a NIK, ``/bahasa en``...); each reply
is printed with its buttons as ``[label]``. Buttons are pressed by typing their label in
brackets, e.g. ``[Bantuan]``. EOF (Ctrl-D) or ``/keluar`` ends the session. ``/statistik``
reads the public figures from the device's central URL, as the bot does (the demo's: its local
``public/`` folder).
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bots import statistics
from bots.dialogue import Reply
from bots.engine import BotEngine, Outcome
from bots.statistics import AggregateSource

__all__ = ["render_reply", "run_console"]

CONSOLE_USER = 1  # the one "chat" of a console session


def render_reply(reply: Reply) -> str:
    lines = [reply.text]
    for row in reply.buttons:
        lines.append("  ".join(f"[{b.label}]" + (f" {b.url}" if b.url else "") for b in row))
    return "\n".join(lines)


async def _statistics(engine: BotEngine, figures: AggregateSource | None,
                      code: str | None) -> Outcome:
    reply = await statistics.answer(figures, engine.language(CONSOLE_USER), code)
    return Outcome((reply,))


async def _dispatch(engine: BotEngine, line: str, last: Reply | None,
                    figures: AggregateSource | None = None) -> Outcome:
    user = chat = CONSOLE_USER
    text = line.strip()
    if text.startswith("[") and text.endswith("]") and last is not None:
        label = text[1:-1].strip().lower()
        for row in last.buttons:
            for button in row:
                if button.action and label in button.label.lower():
                    if button.action.startswith(statistics.ACTION_STATISTICS):
                        return await _statistics(engine, figures, button.action.removeprefix(
                            statistics.ACTION_STATISTICS))
                    return await engine.on_callback(user, chat, button.action)
    if text.startswith("/"):
        command, _, argument = text[1:].partition(" ")
        command = command.split("@")[0].lower()
        if command in ("start", "mulai"):
            return engine.on_start(user, argument)
        if command in ("bantuan", "help"):
            return engine.on_help(user)
        if command in ("bahasa", "language"):
            return engine.on_language(user, argument)
        if command in ("cek", "check"):
            return await engine.on_lookup(user, chat, argument)
        if command in ("ingatkan", "remind"):
            return await engine.on_remind(user, chat, argument)
        if command in ("berhenti", "stop"):
            return engine.on_stop(user, chat)
        if command in ("statistik", "statistics"):
            return await _statistics(engine, figures, engine.recent_kecamatan(chat))
        return engine.on_unknown_command(user, text)
    return await engine.on_text(user, chat, text)


async def _loop(engine: BotEngine, source: TextIO, sink: TextIO, prompt: str,
                figures: AggregateSource | None) -> None:
    last: Reply | None = None
    while True:
        if prompt:
            sink.write(prompt)
            sink.flush()
        line = await asyncio.to_thread(source.readline)
        if not line:
            if prompt:
                sink.write("\n")
            return
        if line.strip() in ("/keluar", "/quit", "/exit"):
            return
        if not line.strip():
            continue
        outcome = await _dispatch(engine, line, last, figures)
        replies = list(outcome.replies) + ([outcome.edit] if outcome.edit else [])
        for reply in replies:
            sink.write(render_reply(reply) + "\n\n")
            if reply.buttons:
                last = reply
        if outcome.delete_message:
            sink.write("(pesan berisi NIK dihapus dari chat / message with the NIK deleted)\n\n")
        sink.flush()


def run_console(engine: BotEngine, source: TextIO | None = None, sink: TextIO | None = None,
                *, statistics_url: str | None = None) -> None:
    """Read lines until EOF, print the bot's replies. ``statistics_url``: where ``/statistik``
    fetches the figures (default: the device's central URL)."""
    source = source or sys.stdin
    sink = sink or sys.stdout
    prompt = "> " if source.isatty() else ""
    sink.write(render_reply(engine.on_start(CONSOLE_USER).replies[0]) + "\n\n")
    sink.flush()
    try:
        asyncio.run(_loop(engine, source, sink, prompt,
                          statistics.source_for(engine, statistics_url)))
    except KeyboardInterrupt:
        sink.write("\n")
