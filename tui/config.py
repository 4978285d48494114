"""The officer's TUI settings: ``D/tui.toml`` (language, idle lock, keymap), all optional.

    lang = "id"                 # or "en"
    idle_lock_minutes = 5
    [keymap]                    # binding id = key(s), as Textual's App.set_keymap takes them
    lookup = "ctrl+l"
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from blt_status.i18n import LANGUAGES

CONFIG_NAME = "tui.toml"


@dataclass(frozen=True)
class TuiConfig:
    """Settings read from ``tui.toml``; ``problems`` lists what was ignored and why."""

    lang: str | None = None  # None: $BLT_LANG, else id
    idle_lock_seconds: float = 300.0
    keymap: dict[str, str] = field(default_factory=dict)
    problems: tuple[str, ...] = ()

    @classmethod
    def load(cls, data_dir: Path | None) -> TuiConfig:
        """Read ``data_dir/tui.toml``; a missing file gives defaults, a bad one a problem."""
        if data_dir is None:
            return cls()
        path = data_dir / CONFIG_NAME
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return cls()
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            return cls(problems=(f"{CONFIG_NAME}: {type(error).__name__}",))
        problems: list[str] = []
        lang: str | None = data.get("lang")
        if lang is not None and lang not in LANGUAGES:
            problems.append(f"{CONFIG_NAME}: lang {lang!r}")
            lang = None
        idle = data.get("idle_lock_minutes", 5)
        if not isinstance(idle, int | float) or isinstance(idle, bool) or idle <= 0:
            problems.append(f"{CONFIG_NAME}: idle_lock_minutes")
            idle = 5
        raw_keymap = data.get("keymap", {})
        keymap: dict[str, str] = {}
        if isinstance(raw_keymap, dict):
            for binding_id, keys in raw_keymap.items():
                if isinstance(keys, str) and keys.strip():
                    keymap[str(binding_id)] = keys.strip()
                else:
                    problems.append(f"{CONFIG_NAME}: keymap.{binding_id}")
        else:
            problems.append(f"{CONFIG_NAME}: keymap")
        return cls(lang=lang, idle_lock_seconds=float(idle) * 60, keymap=keymap,
                   problems=tuple(problems))
