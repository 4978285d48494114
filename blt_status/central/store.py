"""The central store on disk: keys, peppers, config; its state lives in the database.

    DIR/public/                    the TUF repository (served as-is; see blt_status.layout)
    DIR/private/          0700     never served
        config.json                KDF profile, expiries, central URL, root threshold,
                                   database URL, publish guards
        secrets.json               master pepper and epoch salts
        keys/<role>.pem            Ed25519 signing keys (PKCS#8 PEM): root-1..n, targets,
                                   snapshot, timestamp
        central.db                 the default (SQLite) database: roster, key cache, versions,
                                   payout ledger (see blt_status.central.db)
        inputs/<sha256>.<ext>      copies of the program and payout point files a version used
        distribution/<v>/          Kantor Pos distribution lists (names, masked NIK)

:class:`StoreSecrets` is the secret half (peppers, salts, signing keys, the state key that
seals private database rows); :class:`CentralStore` adds the folder, its lock and what is
published. Every file under ``private/`` is written 0600. The state key is derived from the
master pepper, so sealed rows are unreadable without ``secrets.json``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import os
import shutil
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata, Root, Targets, Timestamp

from blt_status._fs import (
    atomic_write_bytes,
    fsync_dir,
    make_private_dir,
    try_lock,
    write_file_unsynced,
)
from blt_status.crypto import (
    PRODUCTION_INDEX_KDF,
    TEST_INDEX_KDF,
    KdfProfile,
    b64d,
    b64e,
    new_secret,
)
from blt_status.errors import CentralError
from blt_status.indexer import IndexParams
from blt_status.records import Program, RecordPayload

__all__ = [
    "KDF_PROFILES",
    "CentralConfig",
    "CentralStore",
    "Epoch",
    "StateRecord",
    "StoreSecrets",
    "StoreState",
]

CONFIG_FORMAT = "blt-central-v1"
STATE_FORMAT = "blt-central-state-v1"
KDF_PROFILES = {"production": PRODUCTION_INDEX_KDF, "test": TEST_INDEX_KDF}
DEFAULT_EXPIRY_DAYS = {"root": 365, "targets": 28, "snapshot": 28, "timestamp": 3}
ONLINE_ROLES = ("targets", "snapshot", "timestamp")
# Publish guards (private/config.json "guards"): refuse a publish that removes more than this
# share of the published recipients, or in which more than this share of input rows is rejected.
DEFAULT_GUARDS = {"max_removed_fraction": 0.10, "max_rejected_fraction": 0.50}
_NONCE = 12


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _central_error(code: str, **fields: object) -> CentralError:
    return CentralError(code, **fields)


def write_private(path: Path, data: bytes, *, durable: bool = True) -> None:
    """Write a private file atomically with mode 0600 (its directories 0700)."""
    make_private_dir(path.parent)
    if durable:
        atomic_write_bytes(path, data, mode=0o600)
        os.chmod(path, 0o600)
    else:
        write_file_unsynced(path, data, 0o600)


@dataclass(frozen=True)
class CentralConfig:
    """What ``private/config.json`` holds (nothing secret)."""

    kdf: KdfProfile
    central_url: str | None
    root_threshold: int
    root_keys: int
    expiry_days: Mapping[str, int]
    created: str
    db_url: str | None = None  # None: the SQLite file in private/
    guards: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_GUARDS))

    def to_dict(self) -> dict[str, Any]:
        return {"format": CONFIG_FORMAT, "kdf": self.kdf.to_dict(),
                "central_url": self.central_url, "root_threshold": self.root_threshold,
                "root_keys": self.root_keys, "expiry_days": dict(self.expiry_days),
                "created": self.created, "database": self.db_url,
                "guards": dict(self.guards)}

    def guard(self, name: str) -> float:
        return float(self.guards.get(name, DEFAULT_GUARDS[name]))

    @classmethod
    def from_dict(cls, data: Any) -> CentralConfig:
        try:
            if data.get("format") != CONFIG_FORMAT:
                raise ValueError("format")
            return cls(KdfProfile.from_dict(data["kdf"]), data.get("central_url"),
                       int(data["root_threshold"]), int(data["root_keys"]),
                       {str(k): int(v) for k, v in data["expiry_days"].items()},
                       str(data.get("created", "")), data.get("database") or None,
                       {**DEFAULT_GUARDS, **{str(k): float(v) for k, v in
                                             (data.get("guards") or {}).items()}})
        except (AttributeError, KeyError, TypeError, ValueError):
            raise _central_error("store_corrupt", file="config.json") from None

    def expiry(self, role: str, now: dt.datetime) -> dt.datetime:
        return now + dt.timedelta(days=self.expiry_days[role])


@dataclass(frozen=True)
class Epoch:
    """One key epoch: an id, its salt, and the program it serves (bound at first publish)."""

    id: str
    salt: bytes = field(repr=False)
    program_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "salt": b64e(self.salt), "program_id": self.program_id}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Epoch:
        return cls(str(data["id"]), b64d(data["salt"]), data.get("program_id"))


@dataclass
class StateRecord:
    """The publisher's memory of one recipient (kept only inside sealed state objects).

    ``keys``/``blobs`` are per view: the Argon2id root key and the sealed record last
    published. ``key_shard`` is the kecamatan the officer key was derived for (its pepper).
    """

    shard: str
    payload: RecordPayload = field(repr=False)
    keys: dict[str, bytes] = field(default_factory=dict, repr=False)
    blobs: dict[str, bytes] = field(default_factory=dict, repr=False)
    key_shard: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"s": self.shard, "ks": self.key_shard, "p": self.payload.to_dict(),
                "k": {view: b64e(key) for view, key in self.keys.items()},
                "b": {view: b64e(blob) for view, blob in self.blobs.items()}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> StateRecord:
        return cls(str(data["s"]), RecordPayload.from_dict(data["p"]),
                   {view: b64d(key) for view, key in data["k"].items()},
                   {view: b64d(blob) for view, blob in data["b"].items()},
                   str(data.get("ks", "")))


@dataclass
class StoreState:
    """The publisher's state at one published version (``version`` 0: nothing published)."""

    version: int
    epoch_id: str | None
    records: dict[str, StateRecord] = field(default_factory=dict, repr=False)  # by NIK
    kecamatan: dict[str, int] = field(default_factory=dict)  # recipients per kecamatan
    inputs: dict[str, str] = field(default_factory=dict)  # program/payout_points -> file name
    canaries: dict[str, dict[str, str]] = field(default_factory=dict)
    program: Program | None = None

    def by_shard(self) -> dict[str, dict[str, StateRecord]]:
        shards: dict[str, dict[str, StateRecord]] = {}
        for nik, record in self.records.items():
            shards.setdefault(record.shard, {})[nik] = record
        return shards


class StoreSecrets:
    """The secret half of a central store: peppers, epoch salts, signing keys, and the state
    key that seals private database rows. Nothing here touches the database or public/."""

    def __init__(self, private_dir: Path, config: CentralConfig) -> None:
        self.private_dir = private_dir
        self.config = config
        self._secrets: dict[str, Any] | None = None
        self._state_key_cache: bytes | None = None
        self._subject_key_cache: bytes | None = None
        self._aead: AESGCM | None = None

    # -- secrets and keys ------------------------------------------------------------------

    def _load_secrets(self) -> dict[str, Any]:
        if self._secrets is None:
            try:
                self._secrets = json.loads((self.private_dir / "secrets.json").read_bytes())
                b64d(self._secrets["master_pepper"])
            except (OSError, ValueError, KeyError, TypeError):
                raise _central_error("store_corrupt", file="secrets.json") from None
        return self._secrets

    @property
    def master_pepper(self) -> bytes:
        return b64d(self._load_secrets()["master_pepper"])

    def epochs(self) -> list[Epoch]:
        return [Epoch.from_dict(item) for item in self._load_secrets()["epochs"]]

    def epoch(self, epoch_id: str) -> Epoch:
        for epoch in self.epochs():
            if epoch.id == epoch_id:
                return epoch
        raise _central_error("store_corrupt:epoch", epoch=epoch_id)

    def epoch_for_program(self, program_id: str) -> tuple[Epoch, bool]:
        """The epoch serving ``program_id``; a new one (new salt) for a new program period.

        Returns ``(epoch, is_new)``; a new epoch is saved only by :meth:`save_epoch`.
        """
        epochs = self.epochs()
        for epoch in epochs:
            if epoch.program_id == program_id:
                return epoch, False
        last = epochs[-1]
        if last.program_id is None:  # the salt made at init, not bound yet
            return Epoch(last.id, last.salt, program_id), True
        return Epoch(f"e{len(epochs) + 1}", new_secret(16), program_id), True

    def save_epoch(self, epoch: Epoch) -> None:
        secrets = dict(self._load_secrets())
        epochs = [item for item in secrets["epochs"] if item["id"] != epoch.id]
        secrets["epochs"] = [*epochs, epoch.to_dict()]
        write_private(self.private_dir / "secrets.json", json.dumps(secrets, indent=1).encode())
        self._secrets = secrets

    def index_params(self, epoch: Epoch) -> IndexParams:
        return IndexParams(epoch_salt=epoch.salt, kdf=self.config.kdf,
                           master_pepper=self.master_pepper)

    def key_names(self, role: str) -> list[str]:
        """The key file names of a role: ``root-1``..``root-n`` or the role itself."""
        if role == "root":
            return [f"root-{index}" for index in range(1, self.config.root_keys + 1)]
        if role in ONLINE_ROLES:
            return [role]
        raise _central_error("role_unknown", role=role)

    @property
    def keys_dir(self) -> Path:
        return self.private_dir / "keys"

    def stage_key(self, name: str, signer: CryptoSigner) -> None:
        """Write a replacement key beside the current one (``<name>.pem.next``)."""
        write_private(self.keys_dir / f"{name}.pem.next", signer.private_bytes)

    def signer(self, name: str) -> CryptoSigner:
        """The signer of ``name`` (``root-1``.., ``targets``, ``snapshot``, ``timestamp``)."""
        try:
            pem = (self.private_dir / "keys" / f"{name}.pem").read_bytes()
            return CryptoSigner(load_pem_private_key(pem, None))
        except (OSError, ValueError, TypeError):
            raise _central_error("key_missing", name=name) from None

    # -- sealing private rows -----------------------------------------------------------

    def _state_key(self) -> bytes:
        if self._state_key_cache is None:
            self._state_key_cache = hmac.new(self.master_pepper, b"blt-central-state-v1",
                                             hashlib.sha256).digest()
        return self._state_key_cache

    @property
    def subject_key(self) -> bytes:
        """The key under which the database names people (see ``db.subject_of``).

        Derived once per store object: ingest names every person of every batch, and the
        master pepper never changes after ``init``.
        """
        if self._subject_key_cache is None:
            from blt_status.central.db import subject_key

            self._subject_key_cache = subject_key(self.master_pepper)
        return self._subject_key_cache

    def seal(self, data: bytes, aad: bytes) -> bytes:
        """AES-GCM seal private data for the database under the state key."""
        nonce = new_secret(_NONCE)
        return nonce + self._state_aead().encrypt(nonce, data, aad)

    def unseal(self, sealed: bytes, aad: bytes) -> bytes:
        try:
            return self._state_aead().decrypt(sealed[:_NONCE], sealed[_NONCE:], aad)
        except (InvalidTag, ValueError):
            raise CentralError("state_corrupt_db") from None

    def _state_aead(self) -> AESGCM:
        if self._aead is None:
            self._aead = AESGCM(self._state_key())
        return self._aead

    def keyed_hash(self, data: bytes) -> str:
        """A hash of private data that reveals nothing without the state key."""
        return hmac.digest(self._state_key(), data, "sha256").hex()


class CentralStore(StoreSecrets):
    """A central store directory: open it, lock it, read what is published and its state
    (the keys and secrets are :class:`StoreSecrets`')."""

    def __init__(self, directory: Path, config: CentralConfig) -> None:
        super().__init__(directory / "private", config)
        self.directory = directory
        self.public_dir = directory / "public"
        self.metadata_dir = self.public_dir / "metadata"
        self.targets_dir = self.public_dir / "targets"
        self._lock_depth = 0

    def __repr__(self) -> str:
        return f"CentralStore({str(self.directory)!r}, kdf={self.config.kdf.name})"

    # -- creation --------------------------------------------------------------------------

    @classmethod
    def init(cls, directory: Path, *, kdf: KdfProfile = PRODUCTION_INDEX_KDF,
             central_url: str | None = None, root_threshold: int = 2, root_keys: int = 3,
             now: dt.datetime | None = None, db_url: str | None = None) -> CentralStore:
        """Create a new store: keys, master pepper, first epoch salt, config, ``1.root.json``,
        and the database schema (``db_url``, e.g. ``postgresql+psycopg://user@host/blt``, or
        the SQLite file ``private/central.db``).

        Refuses an existing non-empty directory (``store_exists``).
        """
        directory = Path(directory)
        if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
            raise _central_error("store_exists", directory=directory)
        if not 1 <= root_threshold <= root_keys:
            raise _central_error("root_threshold")
        if central_url is not None and not central_url.startswith(("http://", "https://")):
            raise _central_error("central_url")
        created_dir = not directory.exists()
        now = (now or _utcnow()).replace(microsecond=0)
        config = CentralConfig(kdf, central_url.rstrip("/") + "/" if central_url else None,
                               root_threshold, root_keys, dict(DEFAULT_EXPIRY_DAYS),
                               now.isoformat(), db_url or None)
        store = cls(directory, config)
        try:
            directory.mkdir(parents=True, exist_ok=True)
            make_private_dir(store.private_dir)
            signers: dict[str, CryptoSigner] = {}
            for name in [f"root-{i}" for i in range(1, root_keys + 1)] + list(ONLINE_ROLES):
                signer = CryptoSigner.generate_ed25519()
                write_private(store.private_dir / "keys" / f"{name}.pem", signer.private_bytes)
                signers[name] = signer
            secrets = {"master_pepper": b64e(new_secret(32)),
                       "epochs": [Epoch("e1", new_secret(16)).to_dict()]}
            write_private(store.private_dir / "secrets.json",
                          json.dumps(secrets, indent=1).encode())
            write_private(store.private_dir / "config.json",
                          json.dumps(config.to_dict(), indent=1).encode())
            from blt_status.central.repo import make_root

            root = make_root(
                root_signers=[signers[f"root-{i}"] for i in range(1, root_keys + 1)],
                role_signers={role: signers[role] for role in ONLINE_ROLES},
                threshold=root_threshold, expires=config.expiry("root", now))
            store.metadata_dir.mkdir(parents=True)
            (store.targets_dir).mkdir()
            atomic_write_bytes(store.metadata_dir / "1.root.json", root.to_bytes(), mode=0o644)
            from blt_status.central.db import open_engine

            open_engine(store)  # creates the schema; db_unreachable/db_schema refuse here
        except BaseException:
            from blt_status.central.db import dispose_engines

            dispose_engines(store)
            if created_dir:
                shutil.rmtree(directory, ignore_errors=True)
            else:
                for child in directory.iterdir():
                    shutil.rmtree(child, ignore_errors=True) if child.is_dir() \
                        else child.unlink(missing_ok=True)
            raise
        return store

    @classmethod
    def open(cls, directory: Path, *, migrate: bool = True) -> CentralStore:
        """Open a store; one made by the file-based release is migrated into the database
        on first use (``migrate=False``: leave that to ``central migrate``)."""
        store = cls._open(Path(directory))
        if migrate:
            from blt_status.central.legacy import legacy_state_version, migrate_store

            if legacy_state_version(store) is not None:
                migrate_store(store)
        return store

    @classmethod
    def _open(cls, directory: Path) -> CentralStore:
        config_path = directory / "private" / "config.json"
        try:
            data = json.loads(config_path.read_bytes())
        except FileNotFoundError:
            raise _central_error("store_missing", directory=directory) from None
        except (OSError, ValueError):
            raise _central_error("store_corrupt", file="config.json") from None
        return cls(directory, CentralConfig.from_dict(data))

    def require_writable(self) -> None:
        """Refuse a command that writes when the store cannot be written here
        (``store_read_only``, one line naming the folder), before it writes anything: a
        read-only copy, a read-only mount, another user's store. The SQLite database is
        checked too; a PostgreSQL one answers for itself (a replica refuses the write)."""
        from blt_status.central.db import database_url, sqlite_read_only

        for folder in (self.private_dir, self.metadata_dir, self.targets_dir):
            if folder.is_dir() and not os.access(folder, os.W_OK):
                raise _central_error("store_read_only", path=folder)
        url = database_url(self)
        if url.startswith("sqlite:///") and sqlite_read_only(Path(url.removeprefix(
                "sqlite:///"))):
            raise _central_error("store_read_only", path=url.removeprefix("sqlite:///"))

    @contextlib.contextmanager
    def lock(self, *, wait: float = 0, write: bool = True) -> Iterator[None]:
        """Hold the store's writer lock (one publish at a time); ``store_busy`` if taken
        (after waiting up to ``wait`` seconds for it). ``write``: the holder will write
        (``store_read_only`` first if the store cannot be written); a dry run only reads."""
        if write:
            self.require_writable()
        if self._lock_depth:
            self._lock_depth += 1
            try:
                yield
            finally:
                self._lock_depth -= 1
            return
        with try_lock(self.private_dir / "publish.lock", wait=wait) as held:
            if not held:
                raise _central_error("store_busy")
            self._lock_depth = 1
            try:
                yield
            finally:
                self._lock_depth = 0

    def settle_keys(self) -> None:
        """Finish or undo a key rotation a crash interrupted.

        A staged ``<name>.pem.next`` whose key the newest root names replaces the current key
        (which moves to ``keys/retired/``); one the root does not name was never committed.
        """
        staged = sorted(self.keys_dir.glob("*.pem.next"))
        if not staged:
            return
        root = self.root().signed
        named = {keyid for role in root.roles.values() for keyid in role.keyids}
        for path in staged:
            name = path.name.removesuffix(".pem.next")
            try:
                signer = CryptoSigner(load_pem_private_key(path.read_bytes(), None))
            except (OSError, ValueError, TypeError):
                path.unlink(missing_ok=True)
                continue
            if signer.public_key.keyid not in named:
                path.unlink()
                continue
            current = self.keys_dir / f"{name}.pem"
            if current.exists():
                retired = self.keys_dir / "retired" / f"{name}.{new_secret(4).hex()}.pem"
                make_private_dir(retired.parent)
                os.replace(current, retired)
            os.replace(path, current)
        fsync_dir(self.keys_dir)

    # -- published metadata ----------------------------------------------------------------

    def root_version(self) -> int:
        versions = [int(path.name.split(".")[0]) for path in self.metadata_dir.glob("*.root.json")
                    if path.name.split(".")[0].isdigit()]
        return max(versions, default=0)

    def _metadata(self, kind: type, name: str) -> Metadata[Any]:
        """A signed metadata file of ``public/metadata`` (of type ``kind``); a missing or
        unreadable one is a damaged store (``store_corrupt``), never a traceback."""
        try:
            metadata: Metadata[Any] = Metadata.from_file(str(self.metadata_dir / name))
        except Exception:
            metadata = None  # type: ignore[assignment]
        if metadata is None or not isinstance(metadata.signed, kind):
            raise _central_error("store_corrupt", file=f"public/metadata/{name}")
        return metadata

    def root(self) -> Metadata[Root]:
        """The newest root metadata (``init`` writes ``1.root.json``: none is a damaged
        store)."""
        version = self.root_version()
        return self._metadata(Root, f"{max(version, 1)}.root.json")

    def published_version(self) -> int:
        """The version the published ``timestamp.json`` points at (0: nothing published).

        Without ``timestamp.json`` the store is damaged, not empty, when its root is gone too
        or its database holds a published version (``store_corrupt``): otherwise ``status``
        would say "nothing published" and exit 0, and ``publish`` would start again at 1.
        """
        path = self.metadata_dir / "timestamp.json"
        if not path.exists():
            if self.root_version() == 0:
                raise _central_error("store_corrupt", file="public/metadata/1.root.json")
            if self._database_version() > 0:
                raise _central_error("store_corrupt", file="public/metadata/timestamp.json")
            return 0
        version = self._metadata(Timestamp, "timestamp.json").signed.snapshot_meta.version
        return int(version)

    def _database_version(self) -> int:
        """The newest version the database says was published (0: none)."""
        import sqlalchemy as sa

        from blt_status.central.db import database_url, db_errors, open_engine, versions

        with db_errors(database_url(self)), open_engine(self).connect() as connection:
            return int(connection.execute(sa.select(sa.func.max(versions.c.version)))
                       .scalar() or 0)

    def summary(self) -> dict[str, Any]:
        """What is published now: versions, expiry dates, counts, KDF (no personal data)."""
        version = self.published_version()
        root = self.root().signed
        summary: dict[str, Any] = {
            "directory": str(self.directory), "version": version,
            "root_version": root.version, "root_expires": root.expires.isoformat(),
            "root_threshold": root.roles["root"].threshold,
            "kdf": self.config.kdf.to_dict(), "kdf_label": self.config.kdf.label,
            "insecure": self.config.kdf.insecure, "central_url": self.config.central_url,
        }
        if version == 0:
            return summary
        timestamp = self._metadata(Timestamp, "timestamp.json").signed
        targets = self._metadata(Targets, f"{version}.targets.json").signed
        state = self.load_state(records=False)
        summary.update({
            "timestamp_expires": timestamp.expires.isoformat(),
            "targets_expires": targets.expires.isoformat(),
            "expired": timestamp.expires <= dt.datetime.now(dt.UTC),
            "epoch": state.epoch_id, "program": state.program.to_dict() if state.program
            else None, "records": sum(state.kecamatan.values()),
            "kecamatan": sorted(state.kecamatan), "targets": len(targets.targets),
        })
        return summary

    # -- private state (in the database) ---------------------------------------------------

    def load_state(self, *, records: bool = True) -> StoreState:
        """The published version as the publisher knows it (empty before the first publish).

        ``records``: every recipient with the published payload (roster + ledger) and the
        cached keys; memory grows with the roster, so big jobs use ``roster.current_roster``.
        """
        from blt_status.central.db import database_url, db_errors, key_cache, open_engine
        from blt_status.central.publish import published_info
        from blt_status.central.roster import current_roster, roster_counts

        info = published_info(self)
        if info is None:
            return StoreState(0, None)
        version, program, inputs, epoch_id = info
        with db_errors(database_url(self)), open_engine(self).connect() as connection:
            import sqlalchemy as sa

            from blt_status.central.db import versions

            row = connection.execute(sa.select(versions.c.canaries)
                                     .where(versions.c.version == version)).first()
            canaries = json.loads(row.canaries) if row is not None else {}
        state = StoreState(version, epoch_id, kecamatan=roster_counts(self, version=version),
                           inputs=dict(inputs), canaries=canaries, program=program)
        if not records:
            return state
        by_subject: dict[str, StateRecord] = {}
        for entry in current_roster(self, version=version):
            record = StateRecord(entry.kecamatan, entry.payload, key_shard=entry.kecamatan)
            state.records[entry.nik_digits] = record
            by_subject[entry.subject] = record
        with db_errors(database_url(self)), open_engine(self).connect() as connection:
            query = sa.select(key_cache).where(key_cache.c.epoch_id == epoch_id)
            for row in connection.execute(query):
                found = by_subject.get(row.subject)
                if found is None:
                    continue
                found.keys[row.view] = self.unseal(row.root_key,
                                                   f"key|{row.subject}|{row.view}".encode())
                if row.blob is not None:
                    found.blobs[row.view] = row.blob
        return state

    def save_input(self, source: Path, suffix: str) -> str:
        """Keep a copy of an input file (program, payout points) by content hash."""
        data = source.read_bytes()
        name = f"{hashlib.sha256(data).hexdigest()}{suffix}"
        path = self.private_dir / "inputs" / name
        if not path.exists():
            write_private(path, data)
        return name

    def input_path(self, name: str) -> Path:
        return self.private_dir / "inputs" / name
