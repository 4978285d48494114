"""The central store: validate inputs, schedule payouts, publish signed versions, enroll devices.

    store = CentralStore.init(DIR, kdf=TEST_INDEX_KDF)        # keys, peppers, config, root
    report = publish_files(store, recipients, points, program)  # the next signed version
    report = ingest_payouts(store, kantor_pos_report)           # statuses -> next version
    bundle = enroll(store, regions=["32.01.01"])                # blt_status.central.enroll

The names below are imported on first use (:mod:`blt_status._lazy`), so a command that reads
one module of the central store does not load the publisher.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from blt_status._lazy import lazy_exports

if TYPE_CHECKING:
    from blt_status.central.publish import (
        IngestReport,
        PublishReport,
        VersionResult,
        ingest_payouts,
        publish_files,
        publish_records,
        refresh,
        rotate_keys,
    )
    from blt_status.central.store import KDF_PROFILES, CentralStore

__all__ = [
    "KDF_PROFILES",
    "CentralStore",
    "IngestReport",
    "PublishReport",
    "VersionResult",
    "ingest_payouts",
    "publish_files",
    "publish_records",
    "refresh",
    "rotate_keys",
]

__getattr__, __dir__ = lazy_exports(__name__, {
    **dict.fromkeys(("KDF_PROFILES", "CentralStore"), "blt_status.central.store"),
    **dict.fromkeys(("IngestReport", "PublishReport", "VersionResult", "ingest_payouts",
                     "publish_files", "publish_records", "refresh", "rotate_keys"),
                    "blt_status.central.publish")})
