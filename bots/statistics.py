"""``/statistik``: the share of recipients who collected and the rupiah disbursed, for the
user's kecamatan (once they looked themselves up in this chat) or a kabupaten from a list.

The figures are the central store's public per-kecamatan aggregates (small cells already
suppressed there), fetched from the bot's sync source and checked against the ``targets.json``
the bot's last sync verified: length and sha256 must match, so a file nobody signed is never
shown. The answer is never about one person: it names a region and its totals only.

No Telegram here: :func:`answer` is what the Telegram handlers (``bots.telegram_adapter``) and
the console (``bots.console``) both send.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
from tuf.api.metadata import Metadata, TargetFile, Targets

from blt_status.i18n import format_number, format_percent, translate
from blt_status.present import format_rupiah
from blt_status.regions import region_name
from bots.dialogue import Button, Reply

if TYPE_CHECKING:
    from bots.engine import BotEngine

__all__ = ["ACTION_STATISTICS", "AggregateSource", "Figures", "SourceUnreachable", "answer",
           "source_for", "statistics_reply"]

_LOG = logging.getLogger("bots.statistics")

ACTION_STATISTICS = "stat:"  # followed by a kabupaten code
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
    if low == high:
        return format_rupiah(int(low), lang)
    if low == 0:  # every amount hidden: "at least Rp0" read as "nothing paid yet"
        return translate("hidden (small numbers)", lang)
    return translate("at least {amount}", lang).format(amount=format_rupiah(int(low), lang))


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


def source_for(engine: BotEngine, url: str | None = None) -> AggregateSource | None:
    """The figures of the version the engine's data dir last verified, fetched from ``url``
    (the console's demo gives its local ``public/`` folder) or else from the central URL the
    device syncs from; None when neither is known."""
    url = url or engine.device.config.central_url
    return AggregateSource(engine.device.data_dir, url) if url else None


async def answer(source: AggregateSource | None, lang: str, code: str | None) -> Reply:
    """``/statistik``'s answer for a kecamatan or kabupaten ``code``, or (None) the kabupaten
    to choose from. Never a traceback: figures that cannot be fetched now say "try later"
    (the log names the error class), no verified data version says "not available yet"."""
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
