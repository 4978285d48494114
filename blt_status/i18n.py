"""One way to speak the user's language: gettext catalogs, Bahasa Indonesia by default.

Source texts are English and marked ``_("...")`` where they are used, or ``N_("...")`` where
they are defined before the language is known (module constants, the error registry) and
translated later with ``_(text)``. The Indonesian texts are gettext ``.po`` catalogs in
``blt_status/locale/id/LC_MESSAGES/`` — one file per area (``core.po``, ``central.po``,
``bot.po``, ``tui.po``, ...), merged when first used. Babel reads them at run time, so there
is no compile step and nothing generated is committed.

The language is, in order: :func:`set_lang` (``--lang``), ``BLT_LANG``, then ``id``.
"""

from __future__ import annotations

import functools
import gettext
import io
import os
from importlib import resources

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal

__all__ = [
    "DEFAULT_LANG",
    "LANGUAGES",
    "N_",
    "_",
    "current_lang",
    "format_number",
    "format_percent",
    "ngettext",
    "set_lang",
    "translate",
]

LANGUAGES = ("id", "en")
"""Every language blt-status speaks: the one list (``--lang`` choices, catalogs, tests)."""
DEFAULT_LANG = "id"
_BABEL_LOCALES = {"id": "id_ID", "en": "en_US"}
_chosen: list[str] = []  # set_lang's choice (a list so no ``global`` is needed)


def normalise_lang(text: str | None) -> str | None:
    """``"en"``, ``"en_US.UTF-8"``, ``"ID"`` -> a code of :data:`LANGUAGES`, else None."""
    if not text:
        return None
    code = text.strip().lower()[:2]
    return code if code in LANGUAGES else None


def set_lang(lang: str | None) -> None:
    """Choose the language for this process (None: back to ``BLT_LANG`` or the default)."""
    _chosen.clear()
    chosen = normalise_lang(lang)
    if chosen:
        _chosen.append(chosen)


def current_lang() -> str:
    if _chosen:
        return _chosen[0]
    return normalise_lang(os.environ.get("BLT_LANG")) or DEFAULT_LANG


@functools.cache
def translations(lang: str) -> gettext.NullTranslations:
    """The merged catalog of ``lang`` (English is the source language: no catalog)."""
    if lang == "en" or lang not in LANGUAGES:
        return gettext.NullTranslations()
    merged = Catalog(locale=_BABEL_LOCALES[lang], domain="blt_status")
    folder = resources.files("blt_status") / "locale" / lang / "LC_MESSAGES"
    for entry in sorted(folder.iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".po"):
            continue
        with entry.open("rb") as handle:
            catalog = read_po(handle, locale=_BABEL_LOCALES[lang])
        for message in catalog:
            if message.id and message.string and not message.fuzzy:
                merged[message.id] = message
    buffer = io.BytesIO()
    write_mo(buffer, merged)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def translate(text: str, lang: str | None = None) -> str:
    """``text`` (an English source text) in ``lang`` (default: the current language)."""
    return translations(lang or current_lang()).gettext(text)


def _(text: str) -> str:
    """``text`` in the current language."""
    return translations(current_lang()).gettext(text)


def N_(text: str) -> str:
    """Mark ``text`` for translation without translating it now."""
    return text


def ngettext(singular: str, plural: str, count: int, lang: str | None = None) -> str:
    return translations(lang or current_lang()).ngettext(singular, plural, count)


def format_number(value: float, lang: str | None = None, *, decimals: int = 0) -> str:
    """``1234567`` -> ``1.234.567`` (id) or ``1,234,567`` (en)."""
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return format_decimal(value, format=pattern, locale=_BABEL_LOCALES[lang or current_lang()])


def format_percent(fraction: float, lang: str | None = None, *, decimals: int = 1) -> str:
    """``0.566`` -> ``56,6 %`` (id) or ``56.6%`` (en)."""
    lang = lang or current_lang()
    number = format_number(fraction * 100, lang, decimals=decimals)
    return f"{number} %" if lang == "id" else f"{number}%"
