"""The demo world: a synthetic central store with an officer device and a bot, built once.

    world = ensure_demo_world()          # $BLT_DEMO_DIR or ~/.cache/blt-status/demo

Built the way an admin would: synthetic inputs (``central demo-data``) dated around today ->
``central init`` with the labelled TEST key-derivation profile -> publish -> ingest the sample
Kantor Pos payout report (so there are collected, held and returned records beside slots
today, tomorrow and one missed) -> enroll an officer for the kecamatan the report touches, and
the bot -> install both devices (officer: TinyDB, the demo passphrase; bot: SQLite, its pepper
in a secret file) -> sync both from the local ``public/`` folder. ``world.json`` is written
last: without it the cache is incomplete and is rebuilt; a world built for another day is
rebuilt too. A lock file makes concurrent callers wait for one build.

Everything here is synthetic and protected only by the TEST profile: NOT FOR REAL DATA.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from blt_status.store import locked

__all__ = ["DEMO_PASSPHRASE", "DemoWorld", "default_demo_dir", "ensure_demo_world"]

DEMO_PASSPHRASE = "demo-blt-2025"
WORLD_FORMAT = "blt-demo-world-v2"


@dataclass(frozen=True)
class DemoWorld:
    root: Path
    central_dir: Path
    public_dir: Path
    officer_dir: Path
    bot_dir: Path
    passphrase: str = field(repr=False)
    sample_niks: dict[str, str] = field(repr=False)  # label -> synthetic NIK
    region: str  # the officer device's kecamatan
    pepper_file: Path | None = None  # the bot's secret pepper file
    payout_report_csv: Path | None = None  # a sample Kantor Pos report (for ingest-payouts)


def default_demo_dir() -> Path:
    named = os.environ.get("BLT_DEMO_DIR")
    return Path(named) if named else Path.home() / ".cache" / "blt-status" / "demo"


def _world_from(root: Path, data: dict[str, Any]) -> DemoWorld:
    return DemoWorld(
        root=root, central_dir=root / "central", public_dir=root / "central" / "public",
        officer_dir=root / "officer", bot_dir=root / "bot", passphrase=data["passphrase"],
        sample_niks=dict(data["sample_niks"]), region=data["region"],
        pepper_file=root / "secrets" / "bot.pepper",
        payout_report_csv=root / "input" / "payout_report.csv",
    )


def _load_complete(root: Path, recipients: int, built_for: dict[str, Any],
                   ) -> DemoWorld | None:
    try:
        data = json.loads((root / "world.json").read_bytes())
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != WORLD_FORMAT \
            or data.get("recipients") != recipients \
            or any(data.get(key) != value for key, value in built_for.items()):
        return None
    world = _world_from(root, data)
    needed = (world.officer_dir / "index" / "CURRENT", world.bot_dir / "index" / "CURRENT",
              world.public_dir / "metadata" / "timestamp.json", world.pepper_file)
    return world if all(path is not None and path.exists() for path in needed) else None


def demo_today() -> dt.date:
    """Today in WIB (the demo's region, Kabupaten Bogor)."""
    from blt_status.timezones import WIB

    return dt.datetime.now(WIB).date()


def ensure_demo_world(cache_dir: Path | None = None, *, recipients: int = 2000,
                      progress: Callable[[str], None] | None = None,
                      today: dt.date | None = None, payouts: bool = True) -> DemoWorld:
    """The demo world in ``cache_dir``: reused if complete, else (re)built (see module doc).

    ``today`` (default: today in WIB) dates the program; ``payouts=False`` leaves the sample
    payout report un-ingested (for trying ``central ingest-payouts`` by hand).
    """
    root = (cache_dir or default_demo_dir()).resolve()
    built_for = {"today": (today or demo_today()).isoformat(), "payouts": payouts}
    world = _load_complete(root, recipients, built_for)
    if world is not None:
        return world
    with locked(root):
        world = _load_complete(root, recipients, built_for)  # another process may have built it
        if world is not None:
            return world
        return _build(root, recipients, progress or (lambda _phase: None), built_for)


def _build(root: Path, recipients: int, say: Callable[[str], None],
           built_for: dict[str, Any]) -> DemoWorld:
    from blt_status.central.demodata import write_demo_world
    from blt_status.central.enroll import enroll
    from blt_status.central.publish import ingest_payouts, publish_files
    from blt_status.central.store import CentralStore
    from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF
    from blt_status.store import atomic_write_bytes
    from blt_status.sync import install_bundle, sync_device

    for child in root.iterdir():  # an incomplete earlier build
        if child.name != ".lock":
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() \
                else child.unlink()
    say("demo-data")
    today = dt.date.fromisoformat(built_for["today"])
    files = write_demo_world(root / "input", recipients=recipients, today=today)
    say("central init")
    store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
    say("publish")
    publish_files(store, files.recipients_csv, files.payout_points_csv, files.program_toml)
    if built_for["payouts"]:
        say("ingest-payouts")
        ingest_payouts(store, files.payout_report_csv)
    region = files.report_kecamatan or max(
        store.load_state().by_shard().items(), key=lambda item: len(item[1]))[0]
    say("enroll")
    bundles = root / "bundles"
    bundles.mkdir(mode=0o700)
    enroll(store, regions=(region,)).write(bundles / "officer.json")
    enroll(store, bot=True).write(bundles / "bot.json")
    say("install")
    officer = install_bundle(root / "officer", bundles / "officer.json", DEMO_PASSPHRASE,
                             backend="tinydb", wrap_profile=TEST_WRAP_KDF)
    (root / "secrets").mkdir(mode=0o700)
    bot = install_bundle(root / "bot", bundles / "bot.json", None, backend="sqlite",
                         pepper_file=root / "secrets" / "bot.pepper")
    shutil.rmtree(bundles)  # bundles hold peppers: installed, so gone
    say("sync")
    for device in (officer, bot):
        sync_device(device, str(store.public_dir))
    samples = dict(files.sample_niks)
    if built_for["payouts"]:  # the report is in: name the samples by what they are now
        for status in ("collected", "held", "returned"):
            if f"will_be_{status}" in samples:
                samples[status] = samples[f"will_be_{status}"]
    data = {"format": WORLD_FORMAT, "recipients": recipients, **built_for,
            "passphrase": DEMO_PASSPHRASE,
            "region": region, "sample_niks": dict(sorted(samples.items())),
            "note": "synthetic demo data, TEST key-derivation profile: NOT FOR REAL DATA"}
    atomic_write_bytes(root / "world.json", json.dumps(data, indent=1).encode())
    return _world_from(root, data)
