"""Every text the code marks for translation has a Bahasa Indonesia translation that fits it.

The code's texts are found by reading the source (``ast``): every literal passed to ``_``,
``N_`` or ``translate`` in ``blt_status/``, ``tui/`` and ``bots/``, plus every ``help`` and
``description`` of the three commands' argument parsers (translated when shown).
"""

from __future__ import annotations

import argparse
import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from blt_status.i18n import LANGUAGES

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("blt_status", "tui", "bots")
LOCALE = ROOT / "blt_status" / "locale"
MARKERS = {"_", "N_", "translate"}


def source_files() -> Iterator[Path]:
    for package in PACKAGES:
        yield from sorted((ROOT / package).rglob("*.py"))


def marked_texts() -> dict[str, str]:
    """msgid -> where it is first used (``path:line``)."""
    found: dict[str, str] = {}
    for path in source_files():
        tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and node.args):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else (
                node.func.attr if isinstance(node.func, ast.Attribute) else "")
            first = node.args[0]
            if name in MARKERS and isinstance(first, ast.Constant) and isinstance(
                    first.value, str) and first.value:
                found.setdefault(first.value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def parser_texts(parser: argparse.ArgumentParser, where: str) -> dict[str, str]:
    """Every help text and description of ``parser`` and its subparsers."""
    texts: dict[str, str] = {}
    if parser.description:
        texts[parser.description] = where
    for action in parser._actions:  # argparse has no public API for this
        if action.help and action.help is not argparse.SUPPRESS:
            texts[action.help] = f"{where} {'/'.join(action.option_strings) or action.dest}"
        if isinstance(action, argparse._SubParsersAction):
            for choice in action._choices_actions:
                if choice.help:
                    texts[choice.help] = f"{where} {choice.dest}"
            for name, child in action.choices.items():
                texts.update(parser_texts(child, f"{where} {name}"))
    return texts


def command_parsers() -> dict[str, argparse.ArgumentParser]:
    from blt_status.cli import build_parser as blt_status_parser
    from bots.app import build_parser as bot_parser
    from tui.app import build_parser as tui_parser

    return {"blt-status": blt_status_parser(), "blt-tui": tui_parser(), "blt-bot": bot_parser()}


def all_parser_texts() -> dict[str, str]:
    texts: dict[str, str] = {}
    for name, parser in command_parsers().items():
        texts.update(parser_texts(parser, name))
    return texts


def fields(text: str) -> set[str]:
    names = {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    return names | set(re.findall(r"%\(\w+\)[sr]|%[sr]", text))


def catalogs() -> list[Path]:
    return sorted((LOCALE / "id" / "LC_MESSAGES").glob("*.po"))


def catalog_ids() -> set[str]:
    """Every msgid with a (non-fuzzy, non-empty) translation in some ``.po`` file."""
    ids: set[str] = set()
    for path in catalogs():
        with path.open("rb") as handle:
            ids |= {message.id for message in read_po(handle, locale="id")
                    if message.id and message.string and not message.fuzzy}
    return ids


def test_the_language_list_is_the_catalog_folders_plus_english() -> None:
    assert LANGUAGES[0] == "id"
    assert sorted(path.name for path in LOCALE.iterdir() if path.is_dir()) == sorted(
        lang for lang in LANGUAGES if lang != "en")


def test_every_marked_text_is_found_by_the_extractor() -> None:
    texts = marked_texts()
    assert "usage: " in texts  # argparse's own words (blt_status/commands/_common.py)
    assert "Wrong passphrase." in texts  # the error registry
    assert any(where.startswith("tui/") for where in texts.values())


@pytest.mark.parametrize("kind", ["marked", "parsers"])
def test_every_text_has_an_indonesian_translation(kind: str) -> None:
    texts = marked_texts() if kind == "marked" else all_parser_texts()
    known = catalog_ids()
    missing = {text: where for text, where in texts.items() if text not in known}
    assert missing == {}, "no translation in blt_status/locale/id/LC_MESSAGES/*.po:\n" + "\n".join(
        f"  {where}: {text!r}" for text, where in sorted(missing.items(), key=lambda i: i[1]))


@pytest.mark.parametrize("path", catalogs(), ids=lambda path: path.name)
def test_each_catalog_is_clean(path: Path) -> None:
    """Readable, no fuzzy entries, no duplicates, and translations keep every placeholder."""
    with path.open("rb") as handle:
        catalog = read_po(handle, locale="id")
    problems = []
    for message in catalog:
        if not message.id:
            continue
        if message.fuzzy:
            problems.append(f"fuzzy: {message.id!r}")
        if not message.string:
            problems.append(f"empty: {message.id!r}")
        elif fields(message.id) != fields(str(message.string)):
            problems.append(f"placeholders differ: {message.id!r} -> {message.string!r}")
    assert problems == []


def test_no_text_has_two_different_translations() -> None:
    """The catalogs are merged into one: a text translated twice would take whichever file
    sorts last, silently changing what people read."""
    from babel.messages.pofile import read_po

    folder = Path(__file__).resolve().parent.parent / "blt_status" / "locale" / "id" / \
        "LC_MESSAGES"
    seen: dict[object, tuple[str, object]] = {}
    clashes = []
    for path in sorted(folder.glob("*.po")):
        with path.open("rb") as handle:
            for message in read_po(handle):
                if not message.id:
                    continue
                first = seen.setdefault(message.id, (path.name, message.string))
                if first[1] != message.string:
                    clashes.append(f"{message.id!r}: {first[0]} vs {path.name}")
    assert clashes == []
