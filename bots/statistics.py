"""``/statistik``: the share of recipients who collected and the rupiah disbursed, for the
user's kecamatan (once they looked themselves up in this chat) or a kabupaten from a list.

The figures are the central store's public per-kecamatan aggregates (small cells already
suppressed there), fetched from the bot's sync source and checked against the ``targets.json``
the bot's last sync verified: length and sha256 must match, so a file nobody signed is never
shown. The answer is never about one person: it names a region and its totals only.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from telegram import Update
from telegram.constants import ChatType
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    filters,
)
from tuf.api.metadata import Metadata, TargetFile, Targets

from blt_status.i18n import format_number, format_percent, translate
from blt_status.present import format_rupiah
from blt_status.regions import region_name
from bots.dialogue import Button, Reply

__all__ = ["ACTION_STATISTICS", "AggregateSource", "Figures", "SourceUnreachable", "register",
           "statistics_reply"]

_LOG = logging.getLogger("bots.statistics")

ACTION_STATISTICS = "stat:"  # followed by a kabupaten code
SOURCE = "statistics_source"
SMALL, HIDDEN = "<10", "≥10"
_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class Figures:
    """A region's totals as bounds (hidden cells are ranges): recipients, collected, rupiah."""

    code: str
    name: str
    recipients: tuple[float, float]
    collected: tuple[float, float]
    amount: tuple[float, float]  # rupiah collected
    version: int


def _bounds(value: Any, ceiling: float) -> tuple[float, float]:
    if value == SMALL:
        return (0, min(9, ceiling))
    if value == HIDDEN:
        return (10, ceiling)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return (value, value)
    return (0, ceiling)


class SourceUnreachable(Exception):
    """The verified metadata names a figures file, but it could not be fetched or checked."""


class AggregateSource:
    """The public aggregates of the version the bot's data dir last verified."""

    def __init__(self, data_dir: Path, base_url: str) -> None:
        self.metadata = data_dir / "tuf" / "metadata" / "targets.json"
        self.base_url = base_url.rstrip("/") + "/"
        self._cache: dict[str, dict[str, Any]] = {}

    def _targets(self) -> tuple[int, dict[str, TargetFile]]:
        signed = Metadata[Targets].from_bytes(self.metadata.read_bytes()).signed
        return signed.version, {name: info for name, info in signed.targets.items()
                                if name.startswith("aggregates/")}

    def kabupaten(self) -> list[tuple[str, str]]:
        """``(code, name)`` of every kabupaten with published aggregates."""
        _, targets = self._targets()
        codes = sorted({name.removeprefix("aggregates/")[:5] for name in targets})
        return [(code, region_name(code) or code) for code in codes]

    def _fetch(self, info: TargetFile) -> dict[str, Any]:
        digest = info.hashes.get("sha256", "")
        if digest in self._cache:
            return self._cache[digest]
        try:
            body = self._download(info, digest)
        except Exception as error:  # unreachable, refused, damaged: not "no verified data"
            raise SourceUnreachable(type(error).__name__) from None
        self._cache[digest] = body
        return body

    def _download(self, info: TargetFile, digest: str) -> dict[str, Any]:
        parent, _, name = info.path.rpartition("/")
        relative = f"targets/{parent}/{digest}.{name}"
        url = self.base_url + relative
        if url.startswith("file:"):
            from urllib.request import url2pathname

            data = Path(url2pathname(url.removeprefix("file://"))).read_bytes()
        else:
            response = httpx.get(url, timeout=10)
            response.raise_for_status()
            data = response.content
        if len(data) > _MAX_BYTES:
            raise ValueError("aggregates file too large")
        info.verify_length_and_hashes(data)  # only what the verified metadata names
        body: dict[str, Any] = json.loads(data)
        return body

    def figures(self, code: str) -> Figures | None:
        """A kecamatan's (``PP.KK.CC``) or kabupaten's (``PP.KK``) totals, None if unknown."""
        version, targets = self._targets()
        chosen = [info for name, info in sorted(targets.items())
                  if name.removeprefix("aggregates/").removesuffix(".json") == code
                  or name.removeprefix("aggregates/").startswith(code + ".")]
        if not chosen:
            return None
        recipients = [0.0, 0.0]
        collected = [0.0, 0.0]
        amount = [0.0, 0.0]
        for info in chosen:
            totals = self._fetch(info).get("totals") or {}
            people = _bounds(totals.get("recipients"), math.inf)
            got = _bounds(totals.get("collected"), people[1])
            money = totals.get("amount_collected")
            paid = (money, money) if isinstance(money, int) else (0.0, math.inf)
            for target, (low, high) in ((recipients, people), (collected, got),
                                        (amount, paid)):
                target[0] += low
                target[1] += high
        return Figures(code, region_name(code) or code, (recipients[0], recipients[1]),
                       (collected[0], collected[1]), (amount[0], amount[1]), version)


def _share(figures: Figures, lang: str) -> str:
    low_people, high_people = figures.recipients
    low, high = figures.collected
    if high_people == 0:
        return format_percent(0, lang)
    least = low / high_people if math.isfinite(high_people) else 0.0
    most = min(1.0, high / low_people) if low_people else 1.0
    if abs(most - least) < 0.0005:
        return format_percent(least, lang)
    return translate("between {low} and {high}", lang).format(
        low=format_percent(least, lang), high=format_percent(most, lang))


def _rupiah(bounds: tuple[float, float], lang: str) -> str:
    low, high = bounds
    text = format_rupiah(int(low), lang)
    return text if low == high else translate("at least {amount}", lang).format(amount=text)


def statistics_reply(figures: Figures, lang: str) -> Reply:
    """The answer: a region, its share collected and the rupiah disbursed (never a person)."""
    people = figures.recipients
    count = (format_number(int(people[0]), lang) if people[0] == people[1]
             else translate("fewer than 10", lang) if people[1] < 10 else "≥10")
    lines = [translate("📊 Aid progress in {region}", lang).format(region=figures.name),
             translate("Collected: {share} of {count} recipients", lang).format(
                 share=_share(figures, lang), count=count),
             translate("Disbursed: {amount}", lang).format(amount=_rupiah(figures.amount, lang)),
             translate("Public figures, data version {version}; small numbers are hidden so "
                       "that no one can be singled out.", lang).format(version=figures.version)]
    return Reply("\n".join(lines))


def kabupaten_reply(choices: list[tuple[str, str]], lang: str) -> Reply:
    buttons = tuple((Button(name, action=ACTION_STATISTICS + code),)
                    for code, name in choices[:40])
    return Reply(translate("Choose your kabupaten/kota:", lang), buttons)


def unavailable_reply(lang: str) -> Reply:
    return Reply(translate("Statistics are not available yet: the bot has no verified data "
                           "version.", lang))


def unreachable_reply(lang: str) -> Reply:
    """The figures are known to exist but could not be fetched now (network, server, file)."""
    return Reply(translate("The statistics cannot be fetched right now. Please try again "
                           "later.", lang))


# -- Telegram --------------------------------------------------------------------------------


def _source(context: ContextTypes.DEFAULT_TYPE) -> AggregateSource | None:
    data = context.application.bot_data
    source = data.get(SOURCE)
    if source is None:
        engine = data.get("engine")
        url = getattr(getattr(getattr(engine, "device", None), "config", None),
                      "central_url", None)
        if engine is None or not url:
            return None
        source = data[SOURCE] = AggregateSource(engine.device.data_dir, url)
    return source if isinstance(source, AggregateSource) else None


def _user_kecamatan(context: ContextTypes.DEFAULT_TYPE, chat_id: int) -> str | None:
    """The kecamatan of the record this chat looked up (while the engine still holds it)."""
    engine = context.application.bot_data.get("engine")
    if engine is None:
        return None
    kecamatan: str | None = engine.recent_kecamatan(chat_id)
    return kecamatan


async def _answer(context: ContextTypes.DEFAULT_TYPE, chat_id: int, lang: str,
                  code: str | None) -> Reply:
    source = _source(context)
    if source is None:
        return unavailable_reply(lang)
    try:
        if code is None:
            choices = await asyncio.to_thread(source.kabupaten)
            return kabupaten_reply(choices, lang) if choices else unavailable_reply(lang)
        figures = await asyncio.to_thread(source.figures, code)
    except SourceUnreachable as error:  # the bot has data; the figures' server did not answer
        _LOG.warning("statistics not fetched [%s]", error)
        return unreachable_reply(lang)
    except Exception:  # no (or no readable) verified metadata: say so, never a traceback
        return unavailable_reply(lang)
    return statistics_reply(figures, lang) if figures else unavailable_reply(lang)


def _lang(context: ContextTypes.DEFAULT_TYPE, user_id: int) -> str:
    engine = context.application.bot_data.get("engine")
    if engine is not None:
        with contextlib.suppress(Exception):
            return str(engine.language(user_id))
    return "id"


async def _on_statistics(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """/statistik: the user's kecamatan if known, else a kabupaten button list."""
    chat = update.effective_chat
    user = update.effective_user
    if chat is None or user is None:
        raise ApplicationHandlerStop
    lang = _lang(context, user.id)
    reply = await _answer(context, chat.id, lang, _user_kecamatan(context, chat.id))
    await _send(context, chat.id, reply)
    raise ApplicationHandlerStop


async def _on_choice(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    """A kabupaten button: answer with its figures."""
    query = update.callback_query
    chat = update.effective_chat
    if query is None or chat is None or update.effective_user is None:
        raise ApplicationHandlerStop
    await query.answer()
    code = (query.data or "").removeprefix(ACTION_STATISTICS)
    if chat.type == ChatType.PRIVATE and len(code) == 5:
        lang = _lang(context, update.effective_user.id)
        await _send(context, chat.id, await _answer(context, chat.id, lang, code))
    raise ApplicationHandlerStop


async def _send(context: ContextTypes.DEFAULT_TYPE, chat_id: int, reply: Reply) -> None:
    from bots.telegram_adapter import reply_markup, send_with_retries

    config = context.application.bot_data.get("config")
    await send_with_retries(
        lambda: context.bot.send_message(chat_id, reply.text, reply_markup=reply_markup(reply)),
        retries=getattr(config, "send_retries", 2), backoff=getattr(config, "retry_backoff", 0.5))


def register(application: Application[Any, Any, Any, Any, Any, Any],
             source: AggregateSource | None = None) -> None:
    """Add ``/statistik`` and its buttons ahead of the bot's other handlers (group -1)."""
    if source is not None:
        application.bot_data[SOURCE] = source
    private = filters.ChatType.PRIVATE & filters.UpdateType.MESSAGE
    application.add_handler(CommandHandler(["statistik", "statistics"], _on_statistics,
                                           filters=private), group=-1)
    application.add_handler(CallbackQueryHandler(_on_choice, pattern=r"^stat:"), group=-1)
