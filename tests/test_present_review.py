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


@pytest.mark.parametrize("module", ["bots/dialogue.py", "bots/statistics.py",
                                    "blt_status/present.py"])
def test_every_marked_text_has_indonesian(module):
    marked = _marked(ROOT / module)
    assert len(marked) > 8
    catalog = translations("id")
    missing = [text for text in marked
               if catalog.gettext(text) == text and text != "• /bahasa — Bahasa Indonesia / "
               "English."]
    assert missing == []


def _reply_modules() -> list[str]:
    """``bots.X`` for every bots/*.py that defines a function returning a ``Reply``."""
    modules = []
    for path in sorted((ROOT / "bots").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        if any(isinstance(node, ast.FunctionDef) and isinstance(node.returns, ast.Name)
               and node.returns.id == "Reply" for node in ast.walk(tree)):
            modules.append(f"bots.{path.stem}")
    return modules


def test_every_bot_reply_is_rendered_for_review(monkeypatch):
    """Every public function of the bot that builds a reply is called by scripts/texts.py,
    and every text such a module marks for translation is rendered there: a new reply (or a
    new wording inside one) the review file does not show fails here."""
    import importlib
    import importlib.util
    import inspect

    modules = _reply_modules()
    assert {"bots.dialogue", "bots.statistics"} <= set(modules)
    called: set[str] = set()
    translated: set[str] = set()
    reply_functions: set[str] = set()

    def counting(name: str, function):
        def wrapper(*args, **kwargs):
            called.add(name)
            return function(*args, **kwargs)
        return wrapper

    def recording(function):
        def wrapper(text: str, lang: str) -> str:
            translated.add(text)
            return function(text, lang)
        return wrapper

    for module_name in modules:
        module = importlib.import_module(module_name)
        for name, function in vars(module).items():
            # a coroutine (statistics.answer) only picks one of these replies: it writes none
            if (inspect.isfunction(function) and function.__module__ == module_name
                    and not name.startswith("_") and not inspect.iscoroutinefunction(function)
                    and inspect.signature(function).return_annotation in ("Reply",)):
                reply_functions.add(f"{module_name}.{name}")
                monkeypatch.setattr(module, name, counting(f"{module_name}.{name}", function))
        if hasattr(module, "translate"):
            monkeypatch.setattr(module, "translate", recording(module.translate))
    spec = importlib.util.spec_from_file_location("review_texts", ROOT / "scripts" / "texts.py")
    assert spec is not None and spec.loader is not None
    texts = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(texts)
    review = texts.render_review()
    assert len(reply_functions) > 25
    assert sorted(reply_functions - called) == []
    marked = {text for module_name in modules
              for text in _marked(ROOT / (module_name.replace(".", "/") + ".py"))}
    assert sorted(marked - translated) == []
    assert "[🔔 Remind me]" in review and "[🔔 Ingatkan saya]" in review  # buttons shown too
