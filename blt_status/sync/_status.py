"""``device_status``: what a device holds and how fresh it is, without any secret.

Reads only ``device.json``, the live index's metadata and the last sync record, so it needs no
passphrase. Past the signed expiry the data is still shown — with ``stale`` set and a note that
it may be out of date.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from blt_status.device import Device
from blt_status.errors import IndexCorrupt, IndexStoreError
from blt_status.store import utcnow
from blt_status.sync._state import read_last_sync

__all__ = ["device_status"]


def device_status(device: Device, *, now: dt.datetime | None = None,
                  check: bool = False) -> dict[str, Any]:
    """Version, data_as_of, expires, stale, counts per region, regions, view, KDF, last sync.

    ``check`` also checks the live index file against its build-time checksum in full
    (``status --check``; ``checked`` is then True or False); a damaged file is recorded so
    that the frontends refuse it and the next sync rebuilds it.
    """
    config = device.config
    status: dict[str, Any] = {
        "installed": True,
        "data_dir": str(device.data_dir),
        "device_id": config.device_id,
        "view": config.view,
        "regions": list(config.regions),
        "backend": config.backend,
        "central_url": config.central_url,
        "label": config.extra.get("label", ""),
        "index": None,
        "version": None,
        "data_as_of": None,
        "expires": None,
        "stale": None,
        "records": 0,
        "counts": {},
        "program": None,
        "kdf_profile": None,
        "kdf_insecure": None,
        "index_error": None,
        "checked": None,
        "last_sync": read_last_sync(device),
    }
    try:
        index = device.open_index()
    except IndexStoreError as error:
        status["index_error"] = error.to_dict()
        return status
    with index:
        if check:
            try:
                index.verify()
                status["checked"] = True
            except IndexCorrupt as damage:
                device.mark_damaged(index.path, damage)
                status["checked"] = False
                status["index_error"] = damage.to_dict()
        meta = index.meta
        status.update(
            index=index.path.name,
            version=meta.version,
            data_as_of=meta.data_as_of.isoformat(),
            expires=meta.expires.isoformat() if meta.expires else None,
            stale=meta.is_stale(now or utcnow()),
            records=meta.record_count,
            counts=dict(sorted(meta.shards.items())),
            program=meta.program.to_dict(),
            kdf_profile=meta.kdf.label,
            kdf_insecure=meta.kdf.insecure,
        )
    return status
