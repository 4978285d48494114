"""The core never imports a frontend: each blt_status module, alone, in a fresh interpreter."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import pytest

import blt_status

FORBIDDEN = ("textual", "telegram", "tui", "bots")
MODULES = sorted(info.name for info in pkgutil.walk_packages(blt_status.__path__, "blt_status."))


def test_modules_were_found() -> None:
    assert {"blt_status.nik", "blt_status.lookup", "blt_status.store", "blt_status.cli"} <= set(
        MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_core_module_imports_no_frontend(module: str) -> None:
    code = (
        f"import sys, importlib; importlib.import_module({module!r}); "
        f"bad = [m for m in sys.modules if m.split('.')[0] in {FORBIDDEN!r}]; "
        "print(','.join(bad)); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, f"{module} loaded {result.stdout.strip()} {result.stderr}"
