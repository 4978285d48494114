"""SVG snapshots of every officer screen at 80x24 and 120x40, with fixed data and clock.

Regenerate after an intended change with ``pytest tests/test_tui_snapshots.py
--snapshot-update`` and review the SVGs. Cursor blinking is off and the clock is fixed.
"""

from __future__ import annotations

import pytest
from conftest import PEOPLE
from test_tui_app import BOTH_KECAMATAN, look_up, make_app, settle, unlock

from tui.aggregates import sample_aggregates

SIZES = [pytest.param((80, 24), id="80x24"), pytest.param((120, 40), id="120x40")]


@pytest.fixture()
def app(make_device):
    device = make_device(regions=BOTH_KECAMATAN, extra={"aggregates": sample_aggregates()})
    return make_app(device, demo_passphrase="demo-sandi-123")


def _after_unlock(*keys: str, nik: str | None = None):
    async def run_before(pilot) -> None:
        await unlock(pilot.app, pilot)
        if nik:
            await look_up(pilot.app, pilot, nik)
        for key in keys:
            await pilot.press(key)
            await settle(pilot.app, pilot)
    return run_before


@pytest.mark.parametrize("size", SIZES)
def test_unlock_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size)


@pytest.mark.parametrize("size", SIZES)
def test_lookup_screen_with_result(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after_unlock(nik=PEOPLE[3].nik))


@pytest.mark.parametrize("size", SIZES)
def test_dashboard_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after_unlock("f3"))


@pytest.mark.parametrize("size", SIZES)
def test_sync_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after_unlock("f4"))


@pytest.mark.parametrize("size", SIZES)
def test_audit_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size,
                        run_before=_after_unlock("f5", nik=PEOPLE[0].nik))


@pytest.mark.parametrize("size", SIZES)
def test_help_screen(snap_compare, app, size):
    assert snap_compare(app, terminal_size=size, run_before=_after_unlock("f1"))
