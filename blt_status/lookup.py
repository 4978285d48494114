"""The lookup service both frontends call: raw input in, a typed answer (or a typed error) out.

    service = LookupService.open(device, keyring)
    result = service.lookup("3201 0145 0590 0001")     # NikError if the input is not a NIK

Every lookup derives one key per pepper the device holds (always the same number, found or
not, so timing does not reveal membership), probes the index by tag, and opens the record.
A new index version switched in by a sync is picked up by :meth:`LookupService.refresh`.
The service starts the index's background check (SQLite: page by page; TinyDB was checked in
full when opened); a damaged file is recorded on the device (``index/DAMAGED``) so that every
frontend refuses it and the next sync rebuilds it.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field
from typing import Any

from blt_status.crypto import IndexKey
from blt_status.device import ALL_REGIONS, Device, Keyring
from blt_status.errors import IndexCorrupt, IndexKeyMismatch
from blt_status.nik import Nik, fold_digits, parse_nik
from blt_status.records import RecordPayload, canary_tag, key_for, open_payload
from blt_status.store import IndexMeta, IndexStore, utcnow

__all__ = ["LookupResult", "LookupService"]


@dataclass(frozen=True)
class LookupResult:
    """The answer to one lookup. ``record`` is None when the NIK is not in this index."""

    nik: Nik
    record: RecordPayload | None = field(repr=False)
    view: str
    data_version: int
    data_as_of: dt.datetime
    expires: dt.datetime | None
    stale: bool
    kdf_label: str
    # The lookup tag (hex) and, when found, the record's key: what a subscriber (the bot's
    # reminders) needs to re-open this one record in a later index version without the NIK.
    tag_hex: str = ""
    record_key: IndexKey | None = field(default=None, repr=False, compare=False)

    @property
    def found(self) -> bool:
        return self.record is not None

    @property
    def status(self) -> str | None:
        return self.record.status if self.record else None

    def to_dict(self) -> dict[str, Any]:
        """The ``lookup --json`` object (contract in README.md and docs/design.md)."""
        record = self.record
        data: dict[str, Any] = {
            "found": self.found,
            "nik_last4": self.nik.last4,
            "view": self.view,
            "status": record.status if record else None,
            "amount": record.amount if record else None,
            "program": record.program.to_dict() if record else None,
            "schedule": record.schedule.to_dict() if record else None,
            "payout_point": record.payout_point.to_dict()
            if record and record.payout_point else None,
            "data_version": self.data_version,
            "data_as_of": self.data_as_of.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "stale": self.stale,
            "kdf_profile": self.kdf_label,
        }
        if record:
            data.update(
                name=record.name,
                address=record.address,
                household_size=record.household_size,
                kode_wilayah=record.kode_wilayah,
                special_needs=record.special_needs,
                collected_at=record.collected_at.isoformat() if record.collected_at else None,
                collected_point_id=record.collected_point_id,
                status_note=record.status_note,
                reason_code=record.reason_code,
            )
        return data


class LookupService:
    """Looks NIKs up in one device's index with one session's keyring."""

    def __init__(self, index: IndexStore, keyring: Keyring, *, device: Device | None = None,
                 ) -> None:
        self._lock = threading.Lock()
        self._keyring = keyring
        self._device = device
        self._pointer = device.pointer_state() if device else ""
        self._index = self._checked(index)
        self._start_check(self._index)

    def _start_check(self, index: IndexStore) -> None:
        device = self._device
        if device is None:
            index.check_in_background()
            return

        def on_damage(damage: IndexCorrupt) -> None:
            device.mark_damaged(index.path, damage)

        index.check_in_background(on_damage)

    @classmethod
    def open(cls, device: Device, keyring: Keyring) -> LookupService:
        """Open the device's live index (IndexMissing / IndexCorrupt / IndexKeyMismatch)."""
        return cls(device.open_index(), keyring, device=device)

    @property
    def meta(self) -> IndexMeta:
        return self._index.meta

    @property
    def index(self) -> IndexStore:
        return self._index

    def _checked(self, index: IndexStore) -> IndexStore:
        """Refuse an index built with other salt, KDF parameters or peppers than ours."""
        meta = index.meta
        for region, pepper in self._keyring.peppers.items():
            expected = meta.canaries.get(region)
            if expected is None:
                continue  # this region has no data in this index
            actual = canary_tag(epoch_salt=meta.epoch_salt, pepper=pepper, view=meta.view,
                                profile=meta.kdf)
            if actual != expected:
                index.close()
                raise IndexKeyMismatch(region)
        return index

    def refresh(self) -> bool:
        """Switch to a newer index version if a sync installed one; True if it did."""
        if self._device is None:
            return False
        state = self._device.pointer_state()
        if state == self._pointer:
            return False
        fresh = self._checked(self._device.open_index())
        self._start_check(fresh)
        with self._lock:
            old, self._index, self._pointer = self._index, fresh, state
        old.close()
        return True

    def check(self, raw: str) -> Nik:
        """Validate input only (no index work): for validate-as-you-type."""
        return parse_nik(fold_digits(raw))

    def lookup(self, raw: str, *, now: dt.datetime | None = None) -> LookupResult:
        nik = parse_nik(fold_digits(raw))
        with self._lock:
            index = self._index
        meta = index.meta
        record: RecordPayload | None = None
        record_key: IndexKey | None = None
        first_tag = ""
        # One derivation per pepper, whatever is found: no early exit.
        for region, pepper in sorted(self._keyring.peppers.items()):
            key = key_for(nik.digits, epoch_salt=meta.epoch_salt, pepper=pepper,
                          view=meta.view, profile=meta.kdf)
            first_tag = first_tag or key.tag.hex()
            sealed = index.get(key.tag)
            if sealed is not None and record is None and region in (ALL_REGIONS, sealed.shard):
                record = open_payload(sealed, key=key, view=meta.view)
                record_key = key
        return LookupResult(
            nik=nik, record=record, view=meta.view, data_version=meta.version,
            data_as_of=meta.data_as_of, expires=meta.expires,
            stale=meta.is_stale(now or utcnow()), kdf_label=meta.kdf.label,
            tag_hex=record_key.tag.hex() if record_key else first_tag, record_key=record_key,
        )

    def close(self) -> None:
        self._index.close()
