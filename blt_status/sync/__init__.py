"""The device side of the data flow: install from a bundle, sync over TUF, report status.

    device = install_bundle(data_dir, bundle_path, passphrase)        # blt-status init
    report = sync_device(device, "http://host/public")                # blt-status sync
    device_status(device)                                             # blt-status status

``sync_device`` uses python-tuf's ``ngclient.Updater`` over an httpx fetcher, downloads only
the shards whose hash changed, checks each shard's view and region, builds the new index beside
the live one and switches atomically. Failures are :class:`blt_status.errors.SyncError` with a
stable code (listed in ``blt_status.sync._errors``); the live index is never touched by one.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blt_status._lazy import lazy_exports

if TYPE_CHECKING:
    from blt_status.sync._client import (
        UPDATER_CONFIG,
        PublishedParams,
        SyncProgress,
        SyncReport,
        parse_params,
        resolve_source,
        sync_device,
    )
    from blt_status.sync._errors import sync_error
    from blt_status.sync._fetcher import HttpxFetcher
    from blt_status.sync._install import install_bundle
    from blt_status.sync._settings import DEFAULT_TIMEOUT
    from blt_status.sync._state import SyncPaths, read_last_sync
    from blt_status.sync._status import device_status

__all__ = [
    "DEFAULT_TIMEOUT",
    "UPDATER_CONFIG",
    "HttpxFetcher",
    "PublishedParams",
    "SyncPaths",
    "SyncProgress",
    "SyncReport",
    "device_status",
    "install_bundle",
    "parse_params",
    "read_last_sync",
    "resolve_source",
    "sync_device",
    "sync_error",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("UPDATER_CONFIG", "PublishedParams", "SyncProgress", "SyncReport",
                     "parse_params", "resolve_source", "sync_device"), "blt_status.sync._client"),
    "DEFAULT_TIMEOUT": "blt_status.sync._settings", "sync_error": "blt_status.sync._errors",
    "HttpxFetcher": "blt_status.sync._fetcher",
    "install_bundle": "blt_status.sync._install", "SyncPaths": "blt_status.sync._state",
    "read_last_sync": "blt_status.sync._state", "device_status": "blt_status.sync._status"})
