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


# What a short command must not load: the central store's database layer, the sync client's
# network and TUF stack, the retry library, the charts and the cluster. Each costs tens to
# hundreds of milliseconds at every start (``bench/bench_cli_start.py``).
HEAVY = ("sqlalchemy", "alembic", "psycopg", "httpx", "tuf", "securesystemslib", "tenacity",
         "matplotlib", "plotext", "fpdf", "segno", "dask", "distributed")


@pytest.mark.parametrize("argv", [["--version"], ["--help"], ["central", "--help"],
                                  ["nik", "3201014505900001"],
                                  ["--lang", "en", "nik", "3201014505900001", "--json"],
                                  ["nik", "32010145059000"]])
def test_a_short_command_loads_no_database_network_or_chart_library(argv: list[str]) -> None:
    code = (
        "import sys\n"
        "from blt_status.cli import main\n"
        "try:\n"
        f"    status = main({argv!r})\n"
        "except SystemExit as stop:\n"
        "    status = stop.code\n"
        f"loaded = sorted({{name.split('.')[0] for name in sys.modules}} & {set(HEAVY)!r})\n"
        "print('LOADED', ','.join(loaded), file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert "Traceback" not in result.stderr, result.stderr
    loaded = result.stderr.rsplit("LOADED", 1)[1].strip()
    assert loaded == "", f"blt-status {' '.join(argv)} loaded {loaded}"


def test_the_lazy_package_names_are_the_modules_names() -> None:
    """``from blt_status.central import CentralStore`` and the like still work, give the
    defining module's object, and a name no module defines is an AttributeError."""
    import blt_status.central
    import blt_status.sync
    from blt_status.central.publish import publish_files
    from blt_status.central.store import CentralStore
    from blt_status.sync._client import sync_device
    from blt_status.sync._settings import DEFAULT_TIMEOUT

    assert blt_status.central.CentralStore is CentralStore
    assert blt_status.central.publish_files is publish_files
    assert blt_status.sync.sync_device is sync_device
    assert blt_status.sync.DEFAULT_TIMEOUT == DEFAULT_TIMEOUT
    assert blt_status.LookupService.__module__ == "blt_status.lookup"
    for package in (blt_status, blt_status.central, blt_status.sync):
        assert set(package.__all__) <= set(dir(package))
        for name in package.__all__:
            assert getattr(package, name) is not None
        with pytest.raises(AttributeError):
            package.no_such_name  # noqa: B018
