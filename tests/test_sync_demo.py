"""The demo world: built once through the real publisher and sync, cached, rebuilt if broken."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

import blt_status.central.demodata as demodata
from blt_status.demo import ensure_demo_world
from blt_status.device import Device
from blt_status.lookup import LookupService
from blt_status.sync import device_status


@pytest.fixture()
def builds(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    original = demodata.write_demo_world

    def counting(out_dir: Path, **kwargs: object) -> demodata.DemoFiles:
        calls.append(out_dir)
        return original(out_dir, **kwargs)

    monkeypatch.setattr(demodata, "write_demo_world", counting)
    return calls


def test_demo_world_is_built_once_and_answers(tmp_path: Path, builds: list[Path]):
    phases: list[str] = []
    results = []
    threads = [threading.Thread(target=lambda: results.append(ensure_demo_world(
        tmp_path / "demo", recipients=120, progress=phases.append))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(builds) == 1 and len(results) == 2 and results[0] == results[1]
    world = results[0]
    assert phases[0] == "demo-data" and phases[-1] == "sync"

    officer = Device.load(world.officer_dir)
    assert officer.config.view == "officer" and officer.config.backend == "tinydb"
    assert officer.config.regions == (world.region,)
    bot = Device.load(world.bot_dir)
    assert bot.config.backend == "sqlite" and bot.config.pepper_file
    assert not (world.bot_dir / "keyring.json").exists()
    assert not (world.root / "bundles").exists()
    assert device_status(bot)["version"] == 2  # published, then the payout report ingested

    service = LookupService.open(officer, officer.unlock(world.passphrase))
    assert service.lookup(world.sample_niks["scheduled"]).found
    assert not service.lookup(world.sample_niks["not_listed"]).found
    service.close()
    bot_service = LookupService.open(bot, bot.unlock())
    assert bot_service.lookup(world.sample_niks["scheduled"]).record.name.count("*")
    bot_service.close()

    assert ensure_demo_world(tmp_path / "demo", recipients=120) == world
    assert len(builds) == 1


def test_incomplete_demo_world_is_rebuilt(tmp_path: Path, builds: list[Path],
                                          monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("BLT_DEMO_DIR", str(tmp_path / "env-demo"))
    world = ensure_demo_world(recipients=60)
    assert world.root == (tmp_path / "env-demo").resolve()
    (world.officer_dir / "index" / "CURRENT").unlink()  # a build killed half-way, say
    rebuilt = ensure_demo_world(recipients=60)
    assert len(builds) == 2
    assert device_status(Device.load(rebuilt.officer_dir))["version"] == 2
