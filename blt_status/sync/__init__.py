"""The device side of the data flow: install from a bundle, sync over TUF, report status.

    device = install_bundle(data_dir, bundle_path, passphrase)        # blt-status init
    report = sync_device(device, "http://host/public")                # blt-status sync
    device_status(device)                                             # blt-status status

``sync_device`` uses python-tuf's ``ngclient.Updater`` over an httpx fetcher, downloads only
the shards whose hash changed, checks each shard's view and region, builds the new index beside
the live one and switches atomically. Failures are :class:`blt_status.errors.SyncError` with a
stable code (listed in ``blt_status.sync._errors``); the live index is never touched by one.
"""

from blt_status.sync._client import (
    DEFAULT_TIMEOUT,
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
