"""The central store: validate inputs, schedule payouts, publish signed versions, enroll devices.

    store = CentralStore.init(DIR, kdf=TEST_INDEX_KDF)        # keys, peppers, config, root
    report = publish_files(store, recipients, points, program)  # the next signed version
    report = ingest_payouts(store, kantor_pos_report)           # statuses -> next version
    bundle = enroll(store, regions=["32.01.01"])                # a device's trust + peppers
"""

from blt_status.central.enroll import enroll
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
    "enroll",
    "ingest_payouts",
    "publish_files",
    "publish_records",
    "refresh",
    "rotate_keys",
]
