"""TUF metadata for the public repository, built and signed with python-tuf's metadata API.

One publish is one :class:`RepoTransaction`: target files are added first (content-addressed,
so an unchanged file is neither rewritten nor re-announced), then ``<v>.targets.json`` and
``<v>.snapshot.json``, and last ``timestamp.json`` — the single commit point a TUF client reads
first. Until :meth:`RepoTransaction.commit` replaces ``timestamp.json`` no client can see the
new version; :meth:`RepoTransaction.rollback` removes everything the transaction wrote, leaving
``public/`` byte-identical to before.
"""

from __future__ import annotations

import contextlib
import copy
import datetime as dt
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from securesystemslib.signer import Signer
from tuf.api.metadata import (
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)

from blt_status._fs import atomic_write_bytes, fsync_dir, sync_paths, write_file_unsynced

__all__ = ["RepoTransaction", "make_next_root", "make_root", "target_path_on_disk"]

SPEC_HASH = "sha256"


def make_root(*, root_signers: Sequence[Signer], role_signers: Mapping[str, Signer],
              threshold: int, expires: dt.datetime, version: int = 1,
              signed_by: Sequence[Signer] | None = None) -> Metadata[Root]:
    """Root metadata with consistent snapshots, signed by every root key (or ``signed_by``)."""
    root = Root(version=version, expires=expires, consistent_snapshot=True)
    for signer in root_signers:
        root.add_key(signer.public_key, "root")
    root.roles["root"].threshold = threshold
    for role, signer in role_signers.items():
        root.add_key(signer.public_key, role)
    metadata = Metadata(root)
    for signer in root_signers if signed_by is None else signed_by:
        metadata.sign(signer, append=True)
    return metadata


def make_next_root(current: Metadata[Root], *, new_keys: Mapping[str, Sequence[Signer]],
                   old_root_signers: Sequence[Signer], expires: dt.datetime,
                   ) -> Metadata[Root]:
    """Root N+1 with the keys of some roles replaced, signed by old and new root keys.

    A client trusting root N accepts N+1 only with a threshold of N's root keys *and* of its
    own: so it is signed by every old root key and, if the root keys change, every new one.
    """
    root = copy.deepcopy(current.signed)
    root.version = current.signed.version + 1
    root.expires = expires
    for role, signers in new_keys.items():
        for keyid in list(root.roles[role].keyids):
            root.revoke_key(keyid, role)
        for signer in signers:
            root.add_key(signer.public_key, role)
    metadata = Metadata(root)
    signers = [*old_root_signers, *new_keys.get("root", ())]
    for signer in signers:
        metadata.sign(signer, append=True)
    return metadata


def target_path_on_disk(targets_dir: Path, target: TargetFile) -> Path:
    """Where a consistent-snapshot target lives: ``targets/<dir>/<sha256>.<name>``."""
    parent, _, name = target.path.rpartition("/")
    base = targets_dir / parent if parent else targets_dir
    return base / f"{target.hashes[SPEC_HASH]}.{name}"


class RepoTransaction:
    """Stage the files of one new version, then commit (timestamp last) or roll back."""

    def __init__(self, public_dir: Path, version: int) -> None:
        self.public_dir = public_dir
        self.metadata_dir = public_dir / "metadata"
        self.targets_dir = public_dir / "targets"
        self.version = version
        self.targets: dict[str, TargetFile] = {}
        self.new_files: list[Path] = []
        self._new_dirs: list[Path] = []
        self.committed = False

    # -- staging ---------------------------------------------------------------------------

    def _mkdirs(self, directory: Path) -> None:
        missing: list[Path] = []
        current = directory
        while not current.exists():
            missing.append(current)
            current = current.parent
        for path in reversed(missing):
            path.mkdir()
            self._new_dirs.append(path)

    def _write_new(self, path: Path, data: bytes, *, durable: bool = True) -> None:
        existed = path.exists()
        self._mkdirs(path.parent)
        if durable:
            atomic_write_bytes(path, data, mode=0o644)
        else:
            write_file_unsynced(path, data, 0o644)
        if not existed:
            self.new_files.append(path)

    def add_target(self, name: str, data: bytes, custom: Mapping[str, Any]) -> tuple[TargetFile,
                                                                                    bool]:
        """Announce ``data`` as target ``name``; returns (target, whether a new file was written).

        An identical file (same hash) already on disk is reused, not rewritten.
        """
        target = TargetFile.from_data(name, data, [SPEC_HASH])
        target.unrecognized_fields["custom"] = dict(custom)
        return target, self.keep_target(target, data)

    def keep_target(self, target: TargetFile, data: bytes | None = None) -> bool:
        """Announce a target (e.g. carried over from the previous version)."""
        self.targets[target.path] = target
        path = target_path_on_disk(self.targets_dir, target)
        if path.exists():
            return False
        if data is None:
            raise FileNotFoundError(target.path)
        self._write_new(path, data, durable=False)  # made durable by write_metadata
        return True

    # -- metadata --------------------------------------------------------------------------

    def write_metadata(self, *, targets_signer: Signer, snapshot_signer: Signer,
                       timestamp_signer: Signer, expires: Mapping[str, dt.datetime],
                       unrecognized: Mapping[str, Any] | None = None) -> Metadata[Timestamp]:
        """Write ``<v>.targets.json`` and ``<v>.snapshot.json``; return the unwritten timestamp.

        First makes every staged target file durable, so no metadata ever names a file that
        a crash could lose.
        """
        sync_paths(self.new_files)
        targets = Targets(version=self.version, expires=expires["targets"],
                          targets=dict(sorted(self.targets.items())),
                          unrecognized_fields=dict(unrecognized or {}))
        targets_md = Metadata(targets)
        targets_md.sign(targets_signer)
        targets_bytes = targets_md.to_bytes()
        self._write_new(self.metadata_dir / f"{self.version}.targets.json", targets_bytes)

        snapshot = Snapshot(version=self.version, expires=expires["snapshot"],
                            meta={"targets.json": MetaFile.from_data(
                                self.version, targets_bytes, [SPEC_HASH])})
        snapshot_md = Metadata(snapshot)
        snapshot_md.sign(snapshot_signer)
        snapshot_bytes = snapshot_md.to_bytes()
        self._write_new(self.metadata_dir / f"{self.version}.snapshot.json", snapshot_bytes)

        timestamp = Timestamp(version=self.version, expires=expires["timestamp"],
                              snapshot_meta=MetaFile.from_data(self.version, snapshot_bytes,
                                                               [SPEC_HASH]))
        timestamp_md = Metadata(timestamp)
        timestamp_md.sign(timestamp_signer)
        return timestamp_md

    def commit(self, timestamp: Metadata[Timestamp]) -> None:
        """Replace ``timestamp.json`` atomically: from now on clients see the new version."""
        atomic_write_bytes(self.metadata_dir / "timestamp.json", timestamp.to_bytes(), mode=0o644)
        fsync_dir(self.metadata_dir)
        self.committed = True

    def rollback(self) -> None:
        """Remove every file and directory this transaction created (before commit)."""
        if self.committed:
            return
        for path in reversed(self.new_files):
            path.unlink(missing_ok=True)
        for directory in reversed(self._new_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(directory)
        self.new_files.clear()
        self._new_dirs.clear()
