"""A device's data directory: its configuration, wrapped peppers, and index versions.

    D/device.json      view, regions, device id, officer, central URL, backend (no secrets)
    D/keyring.json     the view's pepper(s), wrapped under the officer's passphrase
    D/index/CURRENT    which index file is live (and which one came before)
    D/index/DAMAGED    the live file failed its checksum (written by a check; a sync rebuilds)
    D/index/v*.sqlite  immutable index versions (or v*.json for TinyDB)

Switching to a new index version is one atomic rename of ``CURRENT``; the previous version is
kept, older ones are removed. The bot reads its pepper from a secret file (``pepper_file``,
which ``blt-bot`` may override from its configuration) instead of the keyring, never from the
index directory.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from blt_status.crypto import (
    PRODUCTION_WRAP_KDF,
    KdfProfile,
    b64d,
    b64e,
    unwrap_secret,
    wrap_secret,
)
from blt_status.errors import (
    DeviceError,
    FileFormatError,
    IndexCorrupt,
    IndexMissing,
    IndexStoreError,
    NotInstalled,
    PassphraseRequired,
)
from blt_status.i18n import N_
from blt_status.store import (
    BACKENDS,
    IndexMeta,
    IndexStore,
    atomic_write_bytes,
    backend_for,
    open_index,
)

__all__ = ["ALL_REGIONS", "Device", "DeviceConfig", "Keyring"]

DEVICE_FORMAT = "blt-device-v1"
ALL_REGIONS = "*"  # keyring key of the recipient view's single pepper


@dataclass(frozen=True)
class DeviceConfig:
    """What a device is for. Holds no secrets."""

    view: str  # officer | recipient
    regions: tuple[str, ...]  # kecamatan codes; empty for the whole country (recipient view)
    device_id: str
    officer: str | None = None
    central_url: str | None = None
    backend: str = "tinydb"
    pepper_file: str | None = None  # recipient view: pepper in a secret file
    # hosts a sync may follow a redirect to (``host`` or ``host:port``; ``*`` for any);
    # redirects within the same scheme, host and port are always followed
    redirect_hosts: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["regions"] = list(self.regions)
        data["redirect_hosts"] = list(self.redirect_hosts)
        data["extra"] = dict(self.extra)
        return {"format": DEVICE_FORMAT, **data}

    @classmethod
    def from_dict(cls, data: Any) -> DeviceConfig:
        try:
            if data.get("format") != DEVICE_FORMAT:
                raise ValueError("format")
            config = cls(
                view=str(data["view"]), regions=tuple(data.get("regions", [])),
                device_id=str(data["device_id"]), officer=data.get("officer"),
                central_url=data.get("central_url"), backend=str(data.get("backend", "tinydb")),
                pepper_file=data.get("pepper_file"), extra=dict(data.get("extra", {})),
                redirect_hosts=tuple(str(host) for host in data.get("redirect_hosts", [])),
            )
        except (AttributeError, KeyError, TypeError, ValueError):
            raise FileFormatError("device_config", file="device.json") from None
        if config.view not in ("officer", "recipient") or config.backend not in BACKENDS:
            raise FileFormatError("device_config", file="device.json")
        return config


@dataclass(frozen=True)
class Keyring:
    """Unwrapped peppers for one session: kecamatan code (or ``*``) -> pepper."""

    peppers: Mapping[str, bytes] = field(repr=False)

    def __repr__(self) -> str:
        return f"Keyring(regions={sorted(self.peppers)})"

    def to_bytes(self) -> bytes:
        return json.dumps({region: b64e(p) for region, p in self.peppers.items()}).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> Keyring:
        try:
            return cls({str(region): b64d(p) for region, p in json.loads(data).items()})
        except (ValueError, AttributeError, TypeError):
            raise FileFormatError("keyring_corrupt") from None


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_bytes())
    except FileNotFoundError:
        raise
    except (ValueError, OSError):
        raise FileFormatError("device_config", file=path.name) from None


class Device:
    """An installed device: ``Device.load(data_dir)``, then ``unlock`` and ``open_index``."""

    def __init__(self, data_dir: Path, config: DeviceConfig) -> None:
        self.data_dir = data_dir
        self.config = config

    # -- installing -------------------------------------------------------------------------

    @classmethod
    def create(cls, data_dir: Path, config: DeviceConfig, keyring: Keyring | None,
               passphrase: str | None, *, wrap_profile: KdfProfile = PRODUCTION_WRAP_KDF,
               ) -> Device:
        """Install a device; the keyring is stored only wrapped under ``passphrase``."""
        data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        if keyring is not None:
            if not passphrase:
                raise PassphraseRequired()
            wrapped = wrap_secret(keyring.to_bytes(), passphrase, wrap_profile)
            atomic_write_bytes(data_dir / "keyring.json", json.dumps(wrapped).encode())
        atomic_write_bytes(data_dir / "device.json",
                           json.dumps(config.to_dict(), indent=2).encode())
        (data_dir / "index").mkdir(exist_ok=True, mode=0o700)
        return cls(data_dir, config)

    @classmethod
    def load(cls, data_dir: Path) -> Device:
        if data_dir.exists() and not data_dir.is_dir():  # a file given as D: no device there
            raise NotInstalled(str(data_dir))
        try:
            config = DeviceConfig.from_dict(_read_json(data_dir / "device.json"))
        except FileNotFoundError:
            raise NotInstalled(str(data_dir)) from None
        return cls(data_dir, config)

    # -- secrets ----------------------------------------------------------------------------

    @property
    def needs_passphrase(self) -> bool:
        return self._pepper_file() is None

    def _pepper_file(self) -> Path | None:
        if self.config.view != "recipient":
            return None
        named = self.config.pepper_file  # the bot's BLT_BOT_PEPPER_FILE: bots.config
        return Path(named) if named else None

    def unlock(self, passphrase: str | None = None) -> Keyring:
        """The session's peppers: unwrapped with the passphrase, or the bot's secret file."""
        pepper_file = self._pepper_file()
        if pepper_file is not None:
            try:
                return Keyring({ALL_REGIONS: b64d(pepper_file.read_text().strip())})
            except (OSError, ValueError):
                raise DeviceError("pepper_file", path=str(pepper_file)) from None
        try:
            wrapped = json.loads((self.data_dir / "keyring.json").read_bytes())
        except FileNotFoundError:
            raise NotInstalled(str(self.data_dir)) from None
        except (ValueError, OSError):
            # the key file itself (it said device_config, the code for device.json)
            raise FileFormatError("keyring_corrupt") from None
        if passphrase is None:
            raise PassphraseRequired()
        return Keyring.from_bytes(unwrap_secret(wrapped, passphrase))

    # -- index versions ---------------------------------------------------------------------

    @property
    def index_dir(self) -> Path:
        return self.data_dir / "index"

    def _pointer(self) -> dict[str, Any] | None:
        try:
            pointer = _read_json(self.index_dir / "CURRENT")
        except FileNotFoundError:
            return None
        except FileFormatError:
            raise IndexCorrupt(str(self.index_dir / "CURRENT")) from None
        if not isinstance(pointer, dict) or not isinstance(pointer.get("file"), str):
            raise IndexCorrupt(str(self.index_dir / "CURRENT"))
        return pointer

    def pointer_state(self) -> str:
        """An opaque value that changes whenever a new index version is switched in."""
        try:
            return (self.index_dir / "CURRENT").read_text()
        except OSError:
            return ""

    def current_index_path(self) -> Path | None:
        pointer = self._pointer()
        return self.index_dir / Path(pointer["file"]).name if pointer else None

    def previous_index_path(self) -> Path | None:
        pointer = self._pointer()
        previous = pointer.get("previous") if pointer else None
        return self.index_dir / Path(previous).name if previous else None

    def open_index(self) -> IndexStore:
        """The live index version (IndexMissing / IndexCorrupt, also once a check found the
        file damaged: see :meth:`mark_damaged`)."""
        path = self.current_index_path()
        if path is None:
            raise IndexMissing(str(self.data_dir))
        damaged = self.damage_note()
        if damaged is not None and damaged.get("file") == path.name:
            raise IndexCorrupt(str(path), N_("a check found it damaged"))
        return open_index(path)

    def damage_note(self) -> dict[str, Any] | None:
        """What a check recorded about a damaged live file, if anything."""
        try:
            note = json.loads((self.index_dir / "DAMAGED").read_bytes())
        except (OSError, ValueError):
            return None
        return note if isinstance(note, dict) else None

    def mark_damaged(self, path: Path, damage: IndexCorrupt) -> None:
        """Record that ``path`` failed its check, so every frontend stops answering from it
        and the next ``blt-status sync`` rebuilds it."""
        note = {"file": path.name, "detail": damage.message("en")}
        with contextlib.suppress(OSError):
            atomic_write_bytes(self.index_dir / "DAMAGED", json.dumps(note).encode())

    def new_index_path(self, version: int) -> Path:
        """A fresh file name for building version ``version`` beside the live one."""
        suffix = BACKENDS[self.config.backend].suffix
        self.index_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.index_dir / f"v{version:08d}-{os.urandom(3).hex()}{suffix}"

    def write_index(self, meta: IndexMeta, records: Any) -> Path:
        """Build a complete index file for ``meta`` and switch to it."""
        path = self.new_index_path(meta.version)
        BACKENDS[self.config.backend].write(path, meta, records)
        self.switch_index(path)
        return path

    def switch_index(self, path: Path) -> None:
        """Make ``path`` live in one atomic step; keep one previous version, drop the rest."""
        backend = backend_for(path)  # refuses unknown suffixes
        try:
            current = self.current_index_path()
        except IndexCorrupt:  # a garbled pointer names nothing to keep: this one replaces it
            current = None
        pointer = {"file": path.name, "previous": current.name if current else None}
        atomic_write_bytes(self.index_dir / "CURRENT", json.dumps(pointer).encode())
        (self.index_dir / "DAMAGED").unlink(missing_ok=True)  # it named an older file
        keep = {needed.name for needed in backend.files(path)}
        if current is not None:
            keep.add(current.name)
            with contextlib.suppress(IndexStoreError):  # unreadable: nothing more to keep
                keep |= {needed.name for needed in backend_for(current).files(current)}
        for other in self.index_dir.glob("v*"):
            if other.name not in keep:
                other.unlink(missing_ok=True)
