"""Names a package re-exports, imported on first use (PEP 562), so a command loads only what
it needs: ``blt-status nik`` or ``--version`` no longer import the publisher, SQLAlchemy,
httpx and python-tuf because ``blt_status``, ``blt_status.central`` or ``blt_status.sync`` was
imported on the way.

Each package lists its names under ``TYPE_CHECKING`` too, so type checkers and readers see
where they come from. A re-exported name must not also be a submodule's name: importing the
submodule would replace the attribute.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str],
                 ) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, where ``exports`` maps each
    re-exported name to the module that defines it."""

    def __getattr__(name: str) -> Any:
        source = exports.get(name)
        if source is None:  # also how ``from package import submodule`` finds a submodule
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(source), name)
        setattr(sys.modules[package], name, value)  # the next lookup is a plain attribute
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
