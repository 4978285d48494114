"""Where a device keeps its sync machinery, and the record of the last sync result.

    D/tuf/root.bootstrap.json   the root from the enrollment bundle: the trust anchor
    D/tuf/metadata/             python-tuf's trusted metadata (root history, timestamp, ...)
    D/tuf/targets/              verified target files of an unfinished sync (resumable)
    D/sync.lock                 held while a sync runs (released by the OS if it dies)
    D/sync-state.json           the last sync: time, ok or error code, version (no secrets)
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from blt_status._fs import atomic_write_bytes, try_lock
from blt_status.device import Device
from blt_status.store import utcnow
from blt_status.sync._errors import sync_error

__all__ = ["PHASES", "SyncPaths", "read_last_sync", "sync_lock", "write_last_sync"]

STATE_FORMAT = "blt-sync-state-v1"
PHASES = ("metadata", "shards", "index", "switch", "switched")
"""The named points of a sync at which ``sync_device(..., checkpoint=...)`` is called."""


class SyncPaths:
    """The sync's files inside one device's data directory."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.tuf_dir = data_dir / "tuf"
        self.bootstrap_root = self.tuf_dir / "root.bootstrap.json"
        self.metadata_dir = self.tuf_dir / "metadata"
        self.targets_dir = self.tuf_dir / "targets"
        self.lock_file = data_dir / "sync.lock"
        self.state_file = data_dir / "sync-state.json"


@contextlib.contextmanager
def sync_lock(paths: SyncPaths) -> Iterator[bool]:
    """Hold the data directory's sync lock; yields False if another sync holds it."""
    with contextlib.ExitStack() as stack:
        try:
            held = stack.enter_context(try_lock(paths.lock_file))
        except OSError as error:
            raise sync_error("sync_disk", error.strerror or type(error).__name__) from None
        yield held


def write_last_sync(device: Device, *, ok: bool, code: str | None, message: str | None,
                    version: int | None, report: dict[str, Any] | None = None,
                    now: dt.datetime | None = None) -> None:
    state = {"format": STATE_FORMAT, "time": (now or utcnow()).isoformat(), "ok": ok,
             "code": code, "message": message, "version": version, "report": report}
    atomic_write_bytes(SyncPaths(device.data_dir).state_file,
                       json.dumps(state, indent=1).encode())


def read_last_sync(device: Device) -> dict[str, Any] | None:
    try:
        state = json.loads(SyncPaths(device.data_dir).state_file.read_bytes())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and state.get("format") == STATE_FORMAT else None
