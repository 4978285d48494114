"""The officer's audit log: hash-chained entries under a forward-secure, evolving MAC key.

Files in ``D/audit/`` (no NIK, KK or name is ever written, only the lookup tag in hex)::

    anchor.json   log id and creation time: the verifier's starting point (no key material)
    log.jsonl     one entry per line: seq, time, officer, device, action, tag, result,
                  data_version, prev (SHA-256 of the previous line), mac
    state.json    the *current* MAC key k_n, the entry count n and the tail hash, MACed with k_n

Keys. ``k_0 = HMAC-SHA256(device secret, "blt-audit-k0|" + log_id)`` where the device secret
is a hash of the peppers in the device keyring: only whoever can unlock the keyring (the
officer's passphrase) or holds the kecamatan pepper (the central office) can compute it. Entry
``i`` is MACed with ``k_i``; then ``k_{i+1} = SHA-256("blt-audit-evolve|" + k_i)`` replaces
``k_i`` in ``state.json`` by an atomic write, so the key that could forge entry ``i`` is gone
from the disk once the entry is written (forward security): someone who takes the laptop later
can append new entries but cannot rewrite, reorder or remove past ones unnoticed.

Verification walks the chain from ``k_0`` and reports the first broken entry:

    edited entry        its MAC (or the next entry's ``prev`` hash) does not match
    reordered pair      the sequence number / ``prev`` hash / MAC of the first swapped entry
    deleted entry       the next entry's sequence number and ``prev`` hash do not match
    truncated tail      ``state.json`` counts more entries than the log holds, and its key
                        (one-way evolved) cannot be rolled back to match a shorter log
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blt_status.crypto import canonical_json
from blt_status.device import Device, Keyring
from blt_status.errors import AuditError
from blt_status.store import atomic_write_bytes, locked, utcnow

__all__ = [
    "RESULTS",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditReport",
    "audit_dir",
    "verify",
]

ANCHOR_FORMAT = "blt-audit-anchor-v1"
STATE_FORMAT = "blt-audit-state-v1"
RESULTS = ("found", "not_found", "invalid")
_GENESIS = "0" * 64


def audit_dir(data_dir: Path) -> Path:
    return data_dir / "audit"


def _device_secret(keyring: Keyring) -> bytes:
    material = b"".join(region.encode() + b"=" + pepper + b";"
                        for region, pepper in sorted(keyring.peppers.items()))
    return hashlib.sha256(b"blt-audit-device|" + material).digest()


def initial_key(keyring: Keyring, log_id: str) -> bytes:
    """``k_0`` of the log ``log_id`` (only the keyring's holder can compute it)."""
    return hmac.new(_device_secret(keyring), b"blt-audit-k0|" + log_id.encode(),
                    hashlib.sha256).digest()


def evolve(key: bytes) -> bytes:
    """``k_{i+1}`` from ``k_i``: one-way, so old keys cannot be recovered from new ones."""
    return hashlib.sha256(b"blt-audit-evolve|" + key).digest()


def _mac(key: bytes, data: bytes) -> str:
    return hmac.new(key, data, hashlib.sha256).hexdigest()


def _line_hash(line: bytes) -> str:
    return hashlib.sha256(line).hexdigest()


def _state_mac(key: bytes, count: int, tail: str) -> str:
    return _mac(key, f"blt-audit-state|{count}|{tail}".encode())


@dataclass(frozen=True)
class AuditEntry:
    """One audit line as written (no personal data: the tag is the index's pseudonym)."""

    seq: int
    time: str
    officer: str
    device: str
    action: str
    tag: str
    result: str
    data_version: int
    prev: str
    mac: str = ""

    def body(self) -> dict[str, Any]:
        return {
            "seq": self.seq, "time": self.time, "officer": self.officer, "device": self.device,
            "action": self.action, "tag": self.tag, "result": self.result,
            "data_version": self.data_version, "prev": self.prev,
        }

    def to_line(self) -> bytes:
        return canonical_json({**self.body(), "mac": self.mac})

    @classmethod
    def from_line(cls, line: bytes) -> AuditEntry:
        data = json.loads(line)
        return cls(
            seq=int(data["seq"]), time=str(data["time"]), officer=str(data["officer"]),
            device=str(data["device"]), action=str(data["action"]), tag=str(data["tag"]),
            result=str(data["result"]), data_version=int(data["data_version"]),
            prev=str(data["prev"]), mac=str(data["mac"]),
        )

    @property
    def day(self) -> dt.date | None:
        """The entry's date in the device's local time zone (what "today" means to an officer)."""
        try:
            return dt.datetime.fromisoformat(self.time).astimezone().date()
        except ValueError:
            return None


@dataclass(frozen=True)
class AuditReport:
    """The outcome of a verification: ok, entries checked, first broken entry and why."""

    ok: bool
    count: int
    broken_at: int | None = None  # 1-based entry number
    reason_id: str = ""
    reason_en: str = ""

    def message(self, lang: str = "id") -> str:
        if self.ok:
            return (f"OK: {self.count} entries, chain and MACs intact" if lang == "en"
                    else f"OK: {self.count} entri, rantai dan MAC utuh")
        where = (f"entry {self.broken_at}: " if lang == "en" else f"entri {self.broken_at}: ") \
            if self.broken_at else ""
        return (f"BROKEN at {where}{self.reason_en}" if lang == "en"
                else f"RUSAK pada {where}{self.reason_id}")


class AuditLog:
    """Appends to one device's audit log. ``AuditLog.open(device, keyring)`` creates it."""

    def __init__(self, directory: Path, *, officer: str, device_id: str) -> None:
        self.directory = directory
        self.officer = officer
        self.device_id = device_id

    @property
    def log_path(self) -> Path:
        return self.directory / "log.jsonl"

    @property
    def state_path(self) -> Path:
        return self.directory / "state.json"

    @property
    def anchor_path(self) -> Path:
        return self.directory / "anchor.json"

    @classmethod
    def open(cls, device: Device, keyring: Keyring) -> AuditLog:
        """The device's log; a new one (anchor, k_0, empty log) on first use."""
        directory = audit_dir(device.data_dir)
        log = cls(directory, officer=device.config.officer or "",
                  device_id=device.config.device_id)
        with locked(directory):
            if not log.anchor_path.exists():
                if log.log_path.exists() or log.state_path.exists():
                    raise AuditError("audit_anchor_missing",
                                     "Jangkar log audit hilang: log tidak dapat diverifikasi.",
                                     "The audit log's anchor is missing: it cannot be verified.")
                log_id = os.urandom(16).hex()
                key = initial_key(keyring, log_id)
                log.log_path.touch(mode=0o600)
                log._write_state(key, 0, _GENESIS)
                anchor = {"format": ANCHOR_FORMAT, "log_id": log_id,
                          "created": utcnow().isoformat(), "device": log.device_id}
                atomic_write_bytes(log.anchor_path, canonical_json(anchor))
        return log

    def _write_state(self, key: bytes, count: int, tail: str) -> None:
        state = {"format": STATE_FORMAT, "count": count, "tail": tail, "key": key.hex(),
                 "mac": _state_mac(key, count, tail)}
        atomic_write_bytes(self.state_path, canonical_json(state))

    def _read_state(self) -> tuple[bytes, int, str]:
        try:
            state = json.loads(self.state_path.read_bytes())
            if state.get("format") != STATE_FORMAT:
                raise ValueError("format")
            return bytes.fromhex(state["key"]), int(state["count"]), str(state["tail"])
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            raise AuditError("audit_state", "Status log audit rusak atau hilang.",
                             "The audit log's state file is corrupt or missing.") from None

    def append(self, *, action: str, tag: str, result: str, data_version: int,
               now: dt.datetime | None = None) -> AuditEntry:
        """Write one entry, then evolve the key and overwrite the old one on disk."""
        if result not in RESULTS:
            raise ValueError(f"unknown audit result {result!r}")
        if tag and any(ch not in "0123456789abcdef" for ch in tag):
            raise ValueError("the audit tag must be lowercase hex")
        with locked(self.directory):
            key, count, tail = self._read_state()
            entry = AuditEntry(
                seq=count + 1, time=(now or utcnow()).isoformat(), officer=self.officer,
                device=self.device_id, action=action, tag=tag, result=result,
                data_version=data_version, prev=tail)
            entry = AuditEntry(**{**entry.body(), "mac": _mac(key, canonical_json(entry.body()))})
            line = entry.to_line()
            with open(self.log_path, "ab") as handle:
                handle.write(line + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            next_key = evolve(key)
            self._write_state(next_key, count + 1, _line_hash(line))  # fsyncs file and dir
        return entry

    def entries(self) -> list[AuditEntry]:
        """Every parseable entry (for display; use :func:`verify` to check them)."""
        found: list[AuditEntry] = []
        try:
            raw = self.log_path.read_bytes()
        except OSError:
            return found
        for line in raw.splitlines():
            with contextlib.suppress(ValueError, KeyError, TypeError):
                found.append(AuditEntry.from_line(line))
        return found

    def count_on(self, day: dt.date) -> int:
        """Lookups logged on ``day`` (local date of the entry)."""
        return sum(1 for entry in self.entries() if entry.day == day and entry.action == "lookup")


def _broken(count: int, at: int | None, reason_id: str, reason_en: str) -> AuditReport:
    return AuditReport(False, count, at, reason_id, reason_en)


def verify(data_dir: Path, keyring: Keyring) -> AuditReport:
    """Walk the whole log from ``k_0``; the first entry that does not check out is reported."""
    directory = audit_dir(data_dir)
    anchor_path, log_path, state_path = (directory / "anchor.json", directory / "log.jsonl",
                                         directory / "state.json")
    if not directory.exists() or not any(p.exists() for p in (anchor_path, log_path,
                                                              state_path)):
        return AuditReport(True, 0)
    try:
        anchor = json.loads(anchor_path.read_bytes())
        if anchor.get("format") != ANCHOR_FORMAT:
            raise ValueError("format")
        log_id = str(anchor["log_id"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _broken(0, None, "jangkar (anchor.json) hilang atau rusak",
                       "the anchor (anchor.json) is missing or corrupt")
    try:
        raw = log_path.read_bytes()
    except OSError:
        return _broken(0, None, "berkas log.jsonl hilang", "log.jsonl is missing")
    if raw and not raw.endswith(b"\n"):
        raw += b"\n"  # a torn last line is reported as unreadable below
    lines = raw.splitlines()
    key = initial_key(keyring, log_id)
    prev = _GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            entry = AuditEntry.from_line(line)
        except (ValueError, KeyError, TypeError):
            return _broken(number - 1, number, "baris tidak terbaca", "the line cannot be read")
        if entry.seq != number:
            return _broken(number - 1, number,
                           f"nomor urut {entry.seq}, seharusnya {number} (dihapus atau ditukar)",
                           f"sequence number {entry.seq}, expected {number} "
                           "(deleted or reordered)")
        if not hmac.compare_digest(entry.prev, prev):
            return _broken(number - 1, number,
                           "hash entri sebelumnya tidak cocok (entri sebelumnya diubah/dihapus)",
                           "previous-entry hash does not match (an earlier entry was edited "
                           "or removed)")
        if not hmac.compare_digest(entry.mac, _mac(key, canonical_json(entry.body()))):
            return _broken(number - 1, number, "MAC tidak cocok (isi entri diubah)",
                           "MAC does not match (the entry was edited)")
        prev = _line_hash(line)
        key = evolve(key)
    count = len(lines)
    try:
        state = json.loads(state_path.read_bytes())
        state_key = bytes.fromhex(state["key"])
        state_count, state_tail, state_mac = int(state["count"]), str(state["tail"]), \
            str(state["mac"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _broken(count, None, "berkas state.json hilang atau rusak",
                       "state.json is missing or corrupt")
    if state_count != count:
        return _broken(count, min(state_count, count) + 1,
                       f"log berisi {count} entri, catatan jumlah {state_count} (ekor dipotong?)",
                       f"the log holds {count} entries but the count says {state_count} "
                       "(tail truncated?)")
    if not hmac.compare_digest(state_key, key) or not hmac.compare_digest(
            state_mac, _state_mac(state_key, state_count, state_tail)):
        return _broken(count, count or None,
                       "kunci saat ini tidak sesuai rantai (log dipotong atau ditulis ulang)",
                       "the current key does not match the chain (log truncated or rewritten)")
    if not hmac.compare_digest(state_tail, prev):
        return _broken(count, count or None, "hash ekor tidak cocok",
                       "the tail hash does not match")
    return AuditReport(True, count)
