"""One unlocked session: the device, its keyring, the lookup service and the audit log.

Plain Python (no Textual): the screens call it from workers. A session that could not open
its index (missing or corrupt) still exists, so the officer can sync from it.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from blt_status.audit import AuditLog, AuditTrail
from blt_status.device import Device, Keyring
from blt_status.errors import BltError, NikError
from blt_status.lookup import LookupResult, LookupService
from blt_status.store import IndexMeta, IndexStore


@dataclass(frozen=True)
class LookupOutcome:
    """What one Enter produced: a result, an input error, or an index error."""

    result: LookupResult | None
    nik_error: NikError | None = None
    error: BltError | None = None


class Session:
    """The unlocked state; :meth:`close` forgets the keyring and closes the index."""

    def __init__(self, device: Device, keyring: Keyring, index: IndexStore | None = None,
                 ) -> None:
        """``index``: the live index opened ahead of time (while the passphrase was typed)."""
        self.device = device
        self._keyring: Keyring | None = keyring
        self.service: LookupService | None = None
        self.open_error: BltError | None = None
        self._open_service(index)
        # The one audit rule of every frontend (blt_status.audit.AuditTrail).
        self.trail = AuditTrail.open(device, keyring)

    @property
    def audit(self) -> AuditLog | None:
        return self.trail.log

    @property
    def audit_error(self) -> BltError | None:
        return self.trail.error

    @property
    def keyring(self) -> Keyring | None:
        return self._keyring

    def _open_service(self, index: IndexStore | None = None) -> None:
        assert self._keyring is not None
        try:
            self.service = LookupService(index, self._keyring, device=self.device) \
                if index is not None else LookupService.open(self.device, self._keyring)
            self.open_error = None
        except BltError as error:
            self.service = None
            self.open_error = error

    @property
    def meta(self) -> IndexMeta | None:
        return self.service.meta if self.service else None

    def refresh(self) -> bool:
        """Pick up an index version a sync switched in; True if the data changed."""
        if self._keyring is None:
            return False
        if self.service is None:
            self._open_service()
            return self.service is not None
        try:
            return self.service.refresh()
        except BltError as error:
            self.open_error = error  # the previous index stays in use
            return False

    def lookup(self, raw: str, *, now: dt.datetime | None = None) -> LookupOutcome:
        """Look ``raw`` up (call :meth:`audit_lookup` with the outcome right after)."""
        if self.service is None:
            return LookupOutcome(None, error=self.open_error)
        unloggable = self.trail.check_loggable()
        if unloggable is not None:  # every lookup is audited: none that cannot be
            return LookupOutcome(None, error=unloggable)
        try:
            return LookupOutcome(self.service.lookup(raw, now=now))
        except NikError as error:
            return LookupOutcome(None, nik_error=error)
        except BltError as error:
            return LookupOutcome(None, error=error)

    def audit_lookup(self, outcome: LookupOutcome, *, now: dt.datetime | None = None,
                     ) -> BltError | None:
        """Append the audit entry of one lookup (found / not_found / invalid)."""
        if self.service is None or outcome.error is not None:
            return None
        return self.trail.lookup(outcome.result, data_version=self.service.meta.version,
                                 now=now)

    def today_count(self, today: dt.date) -> int:
        return self.trail.count_on(today)

    def close(self) -> None:
        """Forget the keyring and close the index (on lock and on exit)."""
        if self.service is not None:
            self.service.close()
        self.service = None
        self._keyring = None
