"""The officer's TUI settings: ``D/tui.toml`` (language, idle lock, keymap), all optional.

    lang = "id"                 # or "en"
    idle_lock_minutes = 5
    [keymap]                    # binding id = key(s), as Textual's App.set_keymap takes them
    lookup = "ctrl+l"

A key other than these is a typo and refused (``config_unknown_key``, with the nearest valid
key suggested): ``blt-tui`` does not start. A bad value is shown as a problem and ignored.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from blt_status.errors import BltError
from blt_status.i18n import LANGUAGES
from blt_status.strict import first_unknown_key

CONFIG_NAME = "tui.toml"
CONFIG_KEYS = frozenset({"lang", "idle_lock_minutes", "keymap"})
MAX_IDLE_LOCK_MINUTES = 24 * 60


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
        unknown = first_unknown_key(data, CONFIG_KEYS)
        if unknown is not None:
            raise BltError("config_unknown_key", where=path, key=unknown[0],
                           suggestion=unknown[1])
        problems: list[str] = []
        lang: str | None = data.get("lang")
        if lang is not None and lang not in LANGUAGES:
            problems.append(f"{CONFIG_NAME}: lang {lang!r}")
            lang = None
        idle = data.get("idle_lock_minutes", 5)
        if (not isinstance(idle, int | float) or isinstance(idle, bool)
                or not 0 < idle <= MAX_IDLE_LOCK_MINUTES):
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
