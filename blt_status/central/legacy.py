"""Migrating a store of the file-based release (``private/state/``) into the database.

That release kept the publisher's state as a manifest per version (``state/<v>.json``) and one
AES-GCM sealed object per kecamatan (``state/objects/<id>.bin``: payloads, cached root keys,
sealed records), and payout results only inside the payloads. :func:`migrate_store` reads the
published version's state and writes, in ONE database transaction, the roster, the key cache,
the version row and, for every collected/held/returned record, a ledger event
(source ``migrated``) so that the status survives the next publish. The old files are only
renamed (to ``private/state.migrated/``) after that transaction commits: a migration that fails
leaves the old store exactly as it was.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from blt_status._fs import fsync_dir
from blt_status.central.db import (
    database_url,
    db_errors,
    key_cache,
    open_engine,
    roster,
    subject_of,
    versions,
)
from blt_status.central.ledger import Ledger, PayoutEvent
from blt_status.central.store import CentralStore, StateRecord
from blt_status.crypto import VIEWS
from blt_status.errors import BltError, CentralError
from blt_status.records import RecordPayload

__all__ = ["MigrateReport", "legacy_state_version", "migrate_store"]

LEGACY_STATE_FORMAT = "blt-central-state-v1"
_NONCE = 12
_STATUS_EVENTS = {"collected": "salur", "held": "gagal", "returned": "kembali"}


@dataclass
class MigrateReport:
    version: int
    records: int
    kecamatan: int
    events: int
    keys: int

    def to_dict(self) -> dict[str, int]:
        return {"version": self.version, "records": self.records,
                "kecamatan": self.kecamatan, "events": self.events, "keys": self.keys}


def _state_dir(store: CentralStore) -> Path:
    return store.private_dir / "state"


def legacy_state_version(store: CentralStore) -> int | None:
    """The published version if its state is still in the old files (else None)."""
    version = store.published_version()
    if version and (_state_dir(store) / f"{version}.json").is_file():
        return version
    return None


def _read_object(store: CentralStore, kecamatan: str, object_id: str) -> dict[str, StateRecord]:
    path = _state_dir(store) / "objects" / f"{object_id}.bin"
    try:
        sealed = path.read_bytes()
        aad = f"{LEGACY_STATE_FORMAT}|{kecamatan}".encode()
        body = AESGCM(store._state_key()).decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        data = json.loads(zlib.decompress(body))
        return {nik: StateRecord.from_dict(item) for nik, item in data.items()}
    except (OSError, InvalidTag, ValueError, KeyError, TypeError, zlib.error):
        raise CentralError("migrate_failed",
                           reason=f"the state of kecamatan {kecamatan} is unreadable") from None


def _planned(payload: RecordPayload) -> RecordPayload:
    """The payload as planned: the payout result moves to the ledger."""
    return replace(payload, status="scheduled", collected_at=None, collected_point_id=None,
                   status_note=None)


def migrate_store(store: CentralStore, *, now: dt.datetime | None = None) -> MigrateReport:
    """Move the published version's file state into the database (all or nothing)."""
    from blt_status.central.publish import _view_hash, _view_payload
    from blt_status.central.roster import content_hash, roster_row

    with store.lock():
        version = legacy_state_version(store)
        if version is None:
            raise CentralError("migrate_nothing", directory=str(store.directory))
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        try:
            manifest: dict[str, Any] = json.loads(
                (_state_dir(store) / f"{version}.json").read_bytes())
            objects = dict(manifest["objects"])
            epoch_id = str(manifest["epoch"])
            program = manifest["program"]
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise CentralError("migrate_failed",
                               reason=f"manifest {version}.json: {type(error).__name__}"
                               ) from None
        url = database_url(store)
        try:
            with db_errors(url), open_engine(store).begin() as connection:
                if connection.execute(sa.select(versions.c.version)
                                      .where(versions.c.version == version)).first():
                    raise CentralError("migrate_nothing", directory=str(store.directory))
                counts: dict[str, int] = {}
                events: list[PayoutEvent] = []
                keys = 0
                for kecamatan, object_id in sorted(objects.items()):
                    records = _read_object(store, kecamatan, object_id)
                    counts[kecamatan] = len(records)
                    rows, cache = [], []
                    for nik, record in sorted(records.items()):
                        subject = subject_of(store, nik)
                        planned = _planned(record.payload)
                        rows.append(roster_row(store, subject, nik, record.shard, planned,
                                               version=version,
                                               payload_hash=content_hash(store, record.shard,
                                                                         planned)))
                        for view in VIEWS:
                            if view not in record.keys:
                                continue
                            published = _view_payload(record.payload, view)
                            cache.append({
                                "epoch_id": epoch_id, "subject": subject, "view": view,
                                "key_shard": record.key_shard if view == "officer" else "",
                                "root_key": store.seal(record.keys[view],
                                                       f"key|{subject}|{view}".encode()),
                                "blob": record.blobs.get(view),
                                "blob_hash": _view_hash(store, record.shard, published),
                                "version": version})
                        event = _event_of(nik, subject, record.payload, version, now)
                        if event is not None:
                            events.append(event)
                    if rows:
                        connection.execute(sa.insert(roster), rows)
                    if cache:
                        connection.execute(sa.insert(key_cache), cache)
                        keys += len(cache)
                Ledger(store).append_in(connection, events, epoch_id=epoch_id, received_at=now)
                connection.execute(sa.insert(versions).values(
                    version=version, epoch_id=epoch_id,
                    created_at=now.astimezone(dt.UTC).replace(tzinfo=None),
                    program=json.dumps(program, sort_keys=True),
                    inputs=json.dumps(manifest.get("inputs", {}), sort_keys=True),
                    canaries=json.dumps(manifest.get("canaries", {}), sort_keys=True),
                    records=sum(counts.values()), kecamatan=json.dumps(dict(sorted(
                        counts.items()))), changes=json.dumps({})))
        except BltError:
            raise
        except Exception as error:  # the transaction is rolled back: the old store is intact
            raise CentralError("migrate_failed", reason=type(error).__name__) from None
        # Committed: the old files are history now (renamed, not deleted: a backup to keep).
        target = store.private_dir / "state.migrated"
        if target.exists():
            target = store.private_dir / f"state.migrated-{now:%Y%m%dT%H%M%S}"
        os.replace(_state_dir(store), target)
        fsync_dir(store.private_dir)
        return MigrateReport(version, sum(counts.values()), len(counts), len(events), keys)


def _event_of(nik: str, subject: str, payload: RecordPayload, version: int,
              now: dt.datetime) -> PayoutEvent | None:
    """The ledger fact behind an old record's payout status (None: still scheduled)."""
    status = _STATUS_EVENTS.get(payload.status)
    if status is None:
        return None
    occurred = payload.collected_at if status == "salur" and payload.collected_at else now
    point = payload.collected_point_id or (payload.payout_point.id if payload.payout_point
                                           else "")
    return PayoutEvent(nik, status, occurred, point, "migrated", f"state-v{version}", subject,
                       None if status == "salur" else "lainnya", payload.status_note or "")
