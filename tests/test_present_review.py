"""docs/texts.md (every bot reply, officer card and lookup text, for native-speaker review) is
current, and every text the bot and the shared wording mark for translation has Indonesian."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from blt_status.i18n import translations

ROOT = Path(__file__).resolve().parent.parent


def test_docs_texts_md_is_current(tmp_path):
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "texts.py"), "--check"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    stale = tmp_path / "texts.md"
    stale.write_text("old\n", encoding="utf-8")
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "texts.py"), "--check",
                             "--out", str(stale)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 1 and "is not current" in result.stderr


def _marked(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            and node.func.id == "translate" and node.args
            and isinstance(node.args[0], ast.Constant)]


@pytest.mark.parametrize("module", ["bots/dialogue.py", "blt_status/present.py"])
def test_every_marked_text_has_indonesian(module):
    marked = _marked(ROOT / module)
    assert len(marked) > 8
    catalog = translations("id")
    missing = [text for text in marked
               if catalog.gettext(text) == text and text != "• /bahasa — Bahasa Indonesia / "
               "English."]
    assert missing == []
