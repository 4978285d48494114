"""Privacy: no NIK, KK number or name in any file under a data directory, or in any log."""

from __future__ import annotations

import logging
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import KNOWN_SECRETS, NOT_LISTED_NIK, PASSPHRASE, PEOPLE, secrets_found

from blt_status.device import Device
from blt_status.lookup import LookupService


def secrets_in(data: bytes) -> list[str]:
    """Which known secrets appear in ``data`` (see :func:`conftest.secrets_found`)."""
    return secrets_found(data, KNOWN_SECRETS)


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
@pytest.mark.parametrize("view", ["officer", "recipient"])
def test_no_plaintext_personal_data_on_disk_or_in_logs(make_device, backend: str, view: str,
                                                       caplog: pytest.LogCaptureFixture,
                                                       tmp_path: Path) -> None:
    caplog.set_level(logging.DEBUG)
    device = make_device(view=view, backend=backend, regions=("32.01.01", "32.01.02"))
    service = LookupService.open(Device.load(device.data_dir), device.unlock(PASSPHRASE))
    for person in PEOPLE:
        assert service.lookup(person.nik).found
    service.lookup(NOT_LISTED_NIK)
    cli = subprocess.run(
        [sys.executable, "-m", "blt_status.cli", "lookup", PEOPLE[0].nik, "--data-dir",
         str(device.data_dir)], capture_output=True, text=True,
        env={"BLT_PASSPHRASE": PASSPHRASE, "PATH": "/usr/bin:/bin"}, timeout=60)
    assert cli.returncode == 0
    service.close()

    files = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert len(files) >= 4  # device.json, keyring.json, CURRENT, the index itself
    for path in files:
        assert secrets_in(path.read_bytes()) == [], path
    assert secrets_in(caplog.text.encode()) == []
    assert PEOPLE[0].nik not in cli.stderr  # the terminal shows the name, never the NIK
    assert PEOPLE[0].nik not in cli.stdout
