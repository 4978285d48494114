"""The central store: validate inputs, schedule payouts, publish signed versions, enroll devices."""

from blt_status.central.publish import (
    IngestReport,
    PublishReport,
    ingest_payouts,
    publish_files,
    publish_records,
)
from blt_status.central.store import KDF_PROFILES, CentralStore

__all__ = [
    "KDF_PROFILES",
    "CentralStore",
    "IngestReport",
    "PublishReport",
    "ingest_payouts",
    "publish_files",
    "publish_records",
]
