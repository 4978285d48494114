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

The mark. On every append made with the unlocked keyring, the log id, the entry count, the
hash of the last line and a count of detected resets are written into ``D/keyring.json`` (the
passphrase-protected keyring, outside ``D/audit/``), MACed under a key derived from the
peppers. Deleting ``D/audit/`` or putting back an older copy of it no longer verifies: the
keyring remembers more entries (or another head, or another log) than the folder holds, and a
log started afresh over a deleted one carries the detected reset for good.

Verification walks the chain from ``k_0`` and reports the first broken entry:

    edited entry        its MAC (or the next entry's ``prev`` hash) does not match
    reordered pair      the sequence number / ``prev`` hash / MAC of the first swapped entry
    deleted entry       the next entry's sequence number and ``prev`` hash do not match
    truncated tail      ``state.json`` counts more entries than the log holds, and its key
                        (one-way evolved) cannot be rolled back to match a shorter log
    deleted or older    the keyring's mark names more entries, another head or another log
    folder

An append interrupted after its line was written (a full disk while writing ``state.json``)
leaves a valid chain: that last line is MACed under the key ``state.json`` still holds, so
verification accepts it and the next append rolls the state forward and continues the chain.
A torn, half-written last line is dropped by the next append.

Events (:data:`ACTIONS`): ``unlock`` (ok / failed), ``lookup`` (found / not_found / invalid)
and ``sync`` (ok / unchanged / failed). :class:`AuditTrail` is the one rule both the CLI and
the TUI use; :func:`unlock` is the one passphrase rule (failed unlocks are logged and each
makes the next attempt wait longer, in every frontend).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import hmac
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blt_status._fs import atomic_write_bytes, locked
from blt_status.crypto import canonical_json
from blt_status.device import Device, Keyring
from blt_status.errors import AuditError, BltError, FileFormatError, WrongPassphrase, os_reason
from blt_status.i18n import N_, translate
from blt_status.store import utcnow

if TYPE_CHECKING:
    from blt_status.lookup import LookupResult

__all__ = [
    "ACTIONS",
    "RESULTS",
    "AuditEntry",
    "AuditError",
    "AuditLog",
    "AuditReport",
    "AuditTrail",
    "audit_dir",
    "audited",
    "describe",
    "failure_delay",
    "local_time",
    "short_tag",
    "unlock",
    "unlock_failures",
    "unlock_wait",
    "verify",
]

ANCHOR_FORMAT = "blt-audit-anchor-v1"
STATE_FORMAT = "blt-audit-state-v1"
MARK_FORMAT = "blt-audit-mark-v1"
ACTIONS: dict[str, tuple[str, ...]] = {
    "lookup": ("found", "not_found", "invalid"),
    "unlock": ("ok", "failed"),
    "sync": ("ok", "unchanged", "failed"),
}
RESULTS = ACTIONS["lookup"]
MIN_FREE_BYTES = 64 * 1024
"""Free space the audit log's disk must have for a lookup (an entry, its state and the mark
are a few KiB; less than this and the next fsynced write is likely to fail)."""
_GENESIS = "0" * 64


def audit_dir(data_dir: Path) -> Path:
    return data_dir / "audit"


def audited(device: Device) -> bool:
    """Which devices keep an audit log: officer devices (the bot answers only its user)."""
    return device.config.view == "officer"


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


# -- the mark in the keyring ------------------------------------------------------------------


@dataclass(frozen=True)
class _Mark:
    """What the passphrase-protected keyring remembers of the log."""

    log_id: str
    count: int
    head: str
    resets: int = 0

    def mac(self, keyring: Keyring) -> str:
        key = hmac.new(_device_secret(keyring), b"blt-audit-mark-key", hashlib.sha256).digest()
        return _mac(key, f"{MARK_FORMAT}|{self.log_id}|{self.count}|{self.head}|"
                         f"{self.resets}".encode())


def _keyring_file(data_dir: Path) -> Path:
    return data_dir / "keyring.json"


def _read_mark(data_dir: Path, keyring: Keyring) -> _Mark | None:
    """The keyring's mark, or None if it has none. A forged mark raises AuditError."""
    try:
        document = json.loads(_keyring_file(data_dir).read_bytes())
    except (OSError, ValueError):
        return None
    raw = document.get("audit_mark") if isinstance(document, dict) else None
    if raw is None:
        return None
    try:
        mark = _Mark(str(raw["log_id"]), int(raw["count"]), str(raw["head"]),
                     int(raw.get("resets", 0)))
        valid = hmac.compare_digest(str(raw["mac"]), mark.mac(keyring))
    except (KeyError, TypeError, ValueError, AttributeError):
        valid = False
    if not valid:
        raise AuditError("audit_mark")
    return mark


def _write_mark(data_dir: Path, keyring: Keyring, mark: _Mark) -> None:
    path = _keyring_file(data_dir)
    try:
        document = json.loads(path.read_bytes())
    except FileNotFoundError:
        return  # no passphrase-protected keyring on this device (a pepper file): no mark
    except ValueError:
        # damaged while the session was unlocked: the entry is written, the mark cannot be
        raise FileFormatError("keyring_corrupt") from None
    if not isinstance(document, dict):
        raise FileFormatError("keyring_corrupt")
    document["audit_mark"] = {"format": MARK_FORMAT, "log_id": mark.log_id,
                              "count": mark.count, "head": mark.head, "resets": mark.resets,
                              "mac": mark.mac(keyring)}
    atomic_write_bytes(path, json.dumps(document).encode())


# -- entries ----------------------------------------------------------------------------------


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
    def moment(self) -> dt.datetime | None:
        try:
            moment = dt.datetime.fromisoformat(self.time)
        except ValueError:
            return None
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    @property
    def day(self) -> dt.date | None:
        """The entry's date in the device's local time zone (what "today" means to an officer)."""
        moment = self.moment
        return moment.astimezone().date() if moment else None


@dataclass(frozen=True)
class AuditReport:
    """The outcome of a verification: ok, entries checked, first broken entry and why."""

    ok: bool
    count: int
    broken_at: int | None = None  # 1-based entry number
    reason: str = ""  # an English source text (a template of ``fields``), translated when shown
    fields: dict[str, object] = field(default_factory=dict)

    def reason_in(self, lang: str) -> str:
        """Why the log is broken, in ``lang``."""
        return translate(self.reason, lang).format(**self.fields) if self.reason else ""

    @property
    def reason_en(self) -> str:
        return self.reason_in("en")

    def message(self, lang: str = "id") -> str:
        if self.ok:
            return translate("OK: {count} entries, chain and MACs intact", lang).format(
                count=self.count)
        if self.broken_at:
            return translate("BROKEN at entry {entry}: {reason}", lang).format(
                entry=self.broken_at, reason=self.reason_in(lang))
        return translate("BROKEN at {reason}", lang).format(reason=self.reason_in(lang))


def _complete_lines(raw: bytes) -> tuple[list[bytes], int]:
    """The complete lines of the log and the byte length they take (a torn tail excluded)."""
    end = raw.rfind(b"\n") + 1
    return raw[:end].splitlines(), end


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

    @property
    def data_dir(self) -> Path:
        return self.directory.parent

    @classmethod
    def open(cls, device: Device, keyring: Keyring) -> AuditLog:
        """The device's log; a new one (anchor, k_0, empty log) on first use.

        A new log over a deleted one is not a clean slate: the keyring's mark still names
        the old log, so the new log starts with one more detected reset.
        """
        directory = audit_dir(device.data_dir)
        log = cls(directory, officer=device.config.officer or "",
                  device_id=device.config.device_id)
        with locked(directory):
            if not log.anchor_path.exists():
                if log.log_path.exists() or log.state_path.exists():
                    raise AuditError("audit_anchor_missing")
                previous = _read_mark(device.data_dir, keyring)
                log_id = os.urandom(16).hex()
                key = initial_key(keyring, log_id)
                log.log_path.touch(mode=0o600)
                log._write_state(key, 0, _GENESIS)
                anchor = {"format": ANCHOR_FORMAT, "log_id": log_id,
                          "created": utcnow().isoformat(), "device": log.device_id}
                atomic_write_bytes(log.anchor_path, canonical_json(anchor))
                if previous is not None:
                    _write_mark(device.data_dir, keyring,
                                _Mark(log_id, 0, _GENESIS, previous.resets + 1))
        return log

    @classmethod
    def attach(cls, device: Device) -> AuditLog | None:
        """The device's existing log, for appends without the keyring (a failed unlock, a
        sync); None if it has none yet (a log is created only with the keyring)."""
        directory = audit_dir(device.data_dir)
        if not (directory / "anchor.json").exists():
            return None
        return cls(directory, officer=device.config.officer or "",
                   device_id=device.config.device_id)

    def _log_id(self) -> str:
        try:
            return str(json.loads(self.anchor_path.read_bytes())["log_id"])
        except (OSError, ValueError, KeyError, TypeError):
            raise AuditError("audit_anchor_missing") from None

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
            raise AuditError("audit_state") from None

    def _recover(self, key: bytes, count: int, tail: str) -> tuple[bytes, int, str, list[bytes]]:
        """Finish an append that was interrupted: drop a torn last line; roll the state
        forward over a complete line that was written but not yet counted."""
        raw = self.log_path.read_bytes() if self.log_path.exists() else b""
        lines, end = _complete_lines(raw)
        if end != len(raw):
            with open(self.log_path, "r+b") as handle:
                handle.truncate(end)
                os.fsync(handle.fileno())
        if len(lines) == count + 1:
            try:
                entry = AuditEntry.from_line(lines[-1])
            except (ValueError, KeyError, TypeError):
                return key, count, tail, lines
            if entry.seq == count + 1 and hmac.compare_digest(entry.prev, tail) and \
                    hmac.compare_digest(entry.mac, _mac(key, canonical_json(entry.body()))):
                key, count, tail = evolve(key), count + 1, _line_hash(lines[-1])
                self._write_state(key, count, tail)
        return key, count, tail, lines

    def append(self, *, action: str, tag: str, result: str, data_version: int,
               now: dt.datetime | None = None, keyring: Keyring | None = None) -> AuditEntry:
        """Write one entry, then evolve the key and overwrite the old one on disk.

        With ``keyring`` (the session is unlocked) the new count and head are also bound
        into the keyring's mark; a log that no longer matches the mark (rolled back or
        replaced) is counted as a reset there, which verification reports for good.
        """
        if result not in ACTIONS.get(action, ()):
            raise ValueError(f"unknown audit event {action!r}/{result!r}")
        if tag and any(ch not in "0123456789abcdef" for ch in tag):
            raise ValueError("the audit tag must be lowercase hex")
        with locked(self.directory):
            key, count, tail, lines = self._recover(*self._read_state())
            resets = self._resets(keyring, count, lines) if keyring is not None else 0
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
            self._write_state(evolve(key), count + 1, _line_hash(line))  # fsyncs file and dir
            if keyring is not None:
                _write_mark(self.data_dir, keyring,
                            _Mark(self._log_id(), count + 1, _line_hash(line), resets))
        return entry

    def _resets(self, keyring: Keyring, count: int, lines: list[bytes]) -> int:
        """The resets to carry in the mark: one more if the log does not match it."""
        mark = _read_mark(self.data_dir, keyring)
        if mark is None:
            return 0
        matches = mark.log_id == self._log_id() and mark.count <= count and (
            mark.count == 0 or (len(lines) >= mark.count
                                and hmac.compare_digest(_line_hash(lines[mark.count - 1]),
                                                        mark.head)))
        return mark.resets if matches else mark.resets + 1

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


def _broken(count: int, at: int | None, reason: str, /, **fields: object) -> AuditReport:
    return AuditReport(False, count, at, reason, fields)


def _check_mark(data_dir: Path, keyring: Keyring, log_id: str | None,
                lines: list[bytes]) -> AuditReport | None:
    """The log against the keyring's mark: None if it matches (or there is no mark)."""
    try:
        mark = _read_mark(data_dir, keyring)
    except AuditError:
        return _broken(len(lines), None, N_("the log's mark in the keyring is not valid"))
    count = len(lines)
    if mark is None or (mark.count == 0 and mark.resets == 0 and log_id in (None, mark.log_id)):
        return None
    if log_id is None:
        return _broken(0, None, N_(
                "the audit folder is gone; the keyring records {recorded} entries"),
            recorded=mark.count)
    if mark.log_id != log_id:
        return _broken(count, None, N_("the log was replaced by a new one (audit folder deleted?)"))
    if mark.count > count:
        return _broken(count, count + 1, N_(
                "the keyring records {recorded} entries, the log holds {count} (an older copy "
                "put back?)"),
            recorded=mark.count, count=count)
    if mark.count and not hmac.compare_digest(_line_hash(lines[mark.count - 1]), mark.head):
        return _broken(count, mark.count, N_("the entry differs from the one the keyring records"))
    if mark.resets:
        return _broken(count, None, N_(
                "the audit log was deleted or put back from an older copy before ({times} "
                "times)"),
            times=mark.resets)
    return None


def verify(data_dir: Path, keyring: Keyring) -> AuditReport:
    """Walk the whole log from ``k_0``; the first entry that does not check out is reported."""
    directory = audit_dir(data_dir)
    anchor_path, log_path, state_path = (directory / "anchor.json", directory / "log.jsonl",
                                         directory / "state.json")
    if not directory.exists() or not any(p.exists() for p in (anchor_path, log_path,
                                                              state_path)):
        return _check_mark(data_dir, keyring, None, []) or AuditReport(True, 0)
    try:
        anchor = json.loads(anchor_path.read_bytes())
        if anchor.get("format") != ANCHOR_FORMAT:
            raise ValueError("format")
        log_id = str(anchor["log_id"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _broken(0, None, N_("the anchor (anchor.json) is missing or corrupt"))
    try:
        raw = log_path.read_bytes()
    except OSError:
        return _broken(0, None, N_("log.jsonl is missing"))
    lines, end = _complete_lines(raw)
    torn = end != len(raw)
    key = initial_key(keyring, log_id)
    keys = [key]
    prev = _GENESIS
    for number, line in enumerate(lines, start=1):
        try:
            entry = AuditEntry.from_line(line)
        except (ValueError, KeyError, TypeError):
            return _broken(number - 1, number, N_("the line cannot be read"))
        if entry.seq != number:
            return _broken(number - 1, number, N_(
                    "sequence number {seq}, expected {expected} (deleted or reordered)"),
                seq=entry.seq, expected=number)
        if not hmac.compare_digest(entry.prev, prev):
            return _broken(number - 1, number, N_(
                    "previous-entry hash does not match (an earlier entry was edited or "
                    "removed)"))
        if not hmac.compare_digest(entry.mac, _mac(key, canonical_json(entry.body()))):
            return _broken(number - 1, number, N_("MAC does not match (the entry was edited)"))
        prev = _line_hash(line)
        key = evolve(key)
        keys.append(key)
    count = len(lines)
    try:
        state = json.loads(state_path.read_bytes())
        state_key = bytes.fromhex(state["key"])
        state_count, state_tail, state_mac = int(state["count"]), str(state["tail"]), \
            str(state["mac"])
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return _broken(count, None, N_("state.json is missing or corrupt"))
    if torn and state_count != count:
        return _broken(count, count + 1, N_("the line cannot be read"))
    # An append interrupted after its line was written: the state still holds the key that
    # MACed that line (and the hash before it). The next append rolls it forward.
    interrupted = state_count == count - 1 and count >= 1
    expected_key = keys[state_count] if 0 <= state_count < len(keys) else b""
    if state_count != count and not interrupted:
        return _broken(count, min(state_count, count) + 1, N_(
                "the log holds {count} entries but the count says {counted} (tail truncated?)"),
            count=count, counted=state_count)
    if not hmac.compare_digest(state_key, expected_key) or not hmac.compare_digest(
            state_mac, _state_mac(state_key, state_count, state_tail)):
        return _broken(count, count or None, N_(
                "the current key does not match the chain (log truncated or rewritten)"))
    tail = _line_hash(lines[state_count - 1]) if state_count else _GENESIS
    if not hmac.compare_digest(state_tail, tail):
        return _broken(count, count or None, N_("the tail hash does not match"))
    return _check_mark(data_dir, keyring, log_id, lines) or AuditReport(True, count)


# -- the one audit rule of every frontend -------------------------------------------------------


class AuditTrail:
    """What a frontend logs, and how: one rule for the CLI and the TUI alike.

    ``AuditTrail.open(device, keyring)`` after an unlock (creates the log; appends bind the
    keyring's mark), ``AuditTrail.attach(device)`` without one (a failed unlock, a sync).
    Only officer devices keep a log; elsewhere every call does nothing. Recording never
    raises: it returns the error, so the frontend can say that the log could not be written.
    """

    def __init__(self, device: Device, log: AuditLog | None, keyring: Keyring | None = None,
                 error: BltError | None = None) -> None:
        self.device = device
        self.log = log
        self.keyring = keyring
        self.error = error

    @classmethod
    def open(cls, device: Device, keyring: Keyring) -> AuditTrail:
        if not audited(device):
            return cls(device, None)
        try:
            return cls(device, AuditLog.open(device, keyring), keyring)
        except BltError as error:
            return cls(device, None, keyring, error)
        except OSError as error:
            return cls(device, None, keyring, _write_error(error))

    @classmethod
    def attach(cls, device: Device) -> AuditTrail:
        return cls(device, AuditLog.attach(device) if audited(device) else None)

    def record(self, action: str, result: str, *, tag: str = "", data_version: int = 0,
               now: dt.datetime | None = None) -> BltError | None:
        """Append one event; the error if it could not be written (None when it was, or
        when this device keeps no log)."""
        if self.log is None:
            return self.error
        try:
            self.log.append(action=action, tag=tag, result=result, data_version=data_version,
                            now=now, keyring=self.keyring)
        except BltError as error:
            return error
        except OSError as error:
            return _write_error(error)
        return None

    def check_loggable(self) -> BltError | None:
        """Why the next entry could not be written, or None (also when this device keeps no
        log). Every lookup on an officer device must be audited, so a frontend asks this
        *before* it looks anything up or shows a result, and refuses the lookup on an error:
        the log could not be opened, its files are unreadable or not writable, or the disk
        holding it is (nearly) full."""
        if self.log is None:
            return self.error
        log = self.log
        try:
            log._read_state()
            log._log_id()
            if not os.access(log.directory, os.W_OK):
                raise PermissionError(errno.EACCES, "permission denied")
            with open(log.log_path, "ab"):  # opens for appending; writes nothing
                pass
            space = os.statvfs(log.directory)
            if space.f_bavail * space.f_frsize < MIN_FREE_BYTES:
                raise OSError(errno.ENOSPC, "no space left on device")
        except BltError as error:
            return error
        except OSError as error:
            return _write_error(error)
        return None

    def lookup(self, result: LookupResult | None, *, data_version: int,
               now: dt.datetime | None = None) -> BltError | None:
        """One lookup: ``result`` None for input that is not a NIK (nothing about it is
        logged but the fact); found / not found with the lookup tag otherwise."""
        if result is None:
            return self.record("lookup", "invalid", data_version=data_version, now=now)
        return self.record("lookup", "found" if result.found else "not_found",
                           tag=result.tag_hex, data_version=result.data_version, now=now)

    def entries(self) -> list[AuditEntry]:
        return self.log.entries() if self.log is not None else []

    def count_on(self, day: dt.date) -> int:
        return self.log.count_on(day) if self.log is not None else 0


def _write_error(error: OSError) -> AuditError:
    return AuditError("audit_write", reason=os_reason(error))  # in the reader's language


# -- the one passphrase rule -------------------------------------------------------------------

MAX_UNLOCK_WAIT = 30.0
_FAILURES_FILE = "unlock-failures.json"


def failure_delay(failures: int, base: float = 1.0) -> float:
    """Seconds to wait after ``failures`` wrong passphrases: base, 2×base, 4×base… (capped)."""
    if failures <= 0:
        return 0.0
    return min(base * float(2 ** min(failures - 1, 16)), MAX_UNLOCK_WAIT)


def _read_failures(device: Device) -> tuple[int, float]:
    try:
        data = json.loads((device.data_dir / _FAILURES_FILE).read_bytes())
        return int(data["count"]), float(data["last"])
    except (OSError, ValueError, KeyError, TypeError):
        return 0, 0.0


def unlock_failures(device: Device) -> int:
    """Wrong passphrases in a row on this device (in any frontend) since the last unlock."""
    return _read_failures(device)[0]


def unlock_wait(device: Device, *, base: float = 1.0,
                clock: Callable[[], float] = time.time) -> float:
    """Seconds the next passphrase attempt still has to wait."""
    count, last = _read_failures(device)
    return max(0.0, last + failure_delay(count, base) - clock())


def unlock(device: Device, passphrase: str | None, *, base_delay: float = 1.0,
           sleep: Callable[[float], None] | None = None,
           clock: Callable[[], float] | None = None,
           now: dt.datetime | None = None) -> Keyring:
    """Unlock the device's keyring, the way every frontend must.

    An attempt first waits out the delay earned by earlier wrong passphrases (kept in the data
    directory, so a new process or another frontend waits too); a wrong passphrase is logged
    (``unlock``/``failed``) and makes the next attempt wait twice as long; a right one is
    logged (``unlock``/``ok``) and clears the count. ``sleep`` and ``clock`` default to
    :func:`time.sleep` and :func:`time.time` (tests pass their own).
    """
    clock = clock or time.time
    wait = unlock_wait(device, base=base_delay, clock=clock)
    if wait > 0:
        (sleep or time.sleep)(wait)
    try:
        keyring = device.unlock(passphrase)
    except WrongPassphrase:
        count, _ = _read_failures(device)
        with contextlib.suppress(OSError):
            atomic_write_bytes(device.data_dir / _FAILURES_FILE,
                               json.dumps({"count": count + 1, "last": clock()}).encode())
        AuditTrail.attach(device).record("unlock", "failed", now=now)
        raise
    with contextlib.suppress(OSError):
        (device.data_dir / _FAILURES_FILE).unlink(missing_ok=True)
    AuditTrail.open(device, keyring).record("unlock", "ok", now=now)
    return keyring


# -- how an entry reads to a person --------------------------------------------------------------

_ACTION_WORDS = {
    "lookup": N_("NIK lookup"),
    "unlock": N_("Device unlock"),
    "sync": N_("Data sync"),
}
_RESULT_WORDS = {
    ("lookup", "found"): N_("NIK found"),
    ("lookup", "not_found"): N_("NIK not found"),
    ("lookup", "invalid"): N_("invalid NIK"),
    ("unlock", "ok"): N_("unlocked with the passphrase"),
    ("unlock", "failed"): N_("wrong passphrase entered"),
    ("sync", "ok"): N_("new data installed"),
    ("sync", "unchanged"): N_("data already up to date"),
    ("sync", "failed"): N_("sync failed"),
}


def describe(entry: AuditEntry, lang: str | None = None) -> tuple[str, str]:
    """The entry's action and result in words (``("Pencarian NIK", "ditemukan")``)."""
    action = _ACTION_WORDS.get(entry.action)
    result = _RESULT_WORDS.get((entry.action, entry.result))
    return (translate(action, lang) if action else entry.action,
            translate(result, lang) if result else entry.result)


def short_tag(tag: str) -> str:
    """A short handle for a lookup tag (``#a1b2``): enough to see repeats, not a NIK."""
    return f"#{tag[:4]}" if tag else "—"


# Indonesia's three zones by province (the first two digits of a region code); no DST.
_WIB = dt.timezone(dt.timedelta(hours=7), "WIB")
_WITA = dt.timezone(dt.timedelta(hours=8), "WITA")
_WIT = dt.timezone(dt.timedelta(hours=9), "WIT")
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96", "97"}


def local_time(moment: dt.datetime, region: str | None) -> dt.datetime:
    """``moment`` in the local zone of ``region`` (a kecamatan code; WIB when unknown);
    ``.tzname()`` is WIB, WITA or WIT. Replaceable by the core's time-zone module."""
    province = (region or "")[:2]
    zone = _WIT if province in _WIT_PROVINCES else _WITA if province in _WITA_PROVINCES \
        else _WIB
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(zone)
