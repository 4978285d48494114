"""Test and benchmark support for the sync: a signed repository with its own keys, and a server.

Not the publisher (that is ``blt_status.central``): :class:`SignedRepository` writes the same
published layout (``blt_status.layout``) from given files, holding every role key itself, so
the fault suite can make the repository misbehave in ways a correct publisher never would —
expired or rolled-back metadata, signatures by unknown keys, too few root signatures, a shard
of another region signed under this region's name. :class:`RepositoryServer` is a threaded
``http.server`` on 127.0.0.1 serving a directory, with per-path faults (dropped connection,
truncated or oversized body, HTTP errors, substituted bytes).
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import Metadata, MetaFile, Root, Snapshot, TargetFile, Targets, Timestamp

from blt_status.bundle import Bundle
from blt_status.central.repo import make_root
from blt_status.device import Keyring
from blt_status.layout import (
    PARAMS_TARGET,
    aggregates_file,
    aggregates_target,
    shard_file,
    shard_target,
)
from blt_status.records import SealedRecord
from blt_status.store import atomic_write_bytes

__all__ = ["TEST_EPOCH", "Fault", "RepositoryServer", "SignedRepository", "world_files"]

TEST_EPOCH = "e1"


def _in(days: float) -> dt.datetime:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).replace(microsecond=0)


class SignedRepository:
    """A TUF repository (consistent snapshots) under ``public_dir`` with in-memory keys."""

    def __init__(self, public_dir: Path, *, root_keys: int = 3, root_threshold: int = 2) -> None:
        self.public_dir = public_dir
        self.metadata_dir = public_dir / "metadata"
        self.targets_dir = public_dir / "targets"
        self.metadata_dir.mkdir(parents=True, exist_ok=True)
        self.targets_dir.mkdir(parents=True, exist_ok=True)
        self.root_signers: list[Signer] = [CryptoSigner.generate_ed25519()
                                           for _ in range(root_keys)]
        self.signers: dict[str, Signer] = {role: CryptoSigner.generate_ed25519()
                                           for role in ("targets", "snapshot", "timestamp")}
        self.root_threshold = root_threshold
        self.root_version = 0
        self.version = 0
        self.timestamp_version = 0
        self.targets: dict[str, TargetFile] = {}
        self.write_root()

    # -- root -------------------------------------------------------------------------------

    def write_root(self, *, signers: list[Signer] | None = None,
                   expires: dt.datetime | None = None) -> Metadata[Root]:
        """Write the next ``<n>.root.json`` (signed by ``signers``, default all root keys)."""
        self.root_version += 1
        metadata = make_root(root_signers=self.root_signers, role_signers=self.signers,
                             threshold=self.root_threshold, expires=expires or _in(365),
                             version=self.root_version, signed_by=signers)
        atomic_write_bytes(self.metadata_dir / f"{self.root_version}.root.json",
                           metadata.to_bytes(), mode=0o644)
        return metadata

    def root_dict(self, version: int = 1) -> dict[str, Any]:
        return json.loads((self.metadata_dir / f"{version}.root.json").read_bytes())

    def bundle(self, *, view: str, regions: tuple[str, ...], keyring: Keyring,
               central_url: str | None = None) -> Bundle:
        return Bundle(root=self.root_dict(), view=view, regions=regions, keyring=keyring,
                      central_url=central_url, label="test device")

    # -- publishing -------------------------------------------------------------------------

    def publish(self, files: Mapping[str, tuple[bytes, dict[str, Any]]]
                | Iterable[tuple[str, tuple[bytes, dict[str, Any]]]], *,
                keep: bool = True, targets_expires: dt.datetime | None = None,
                snapshot_expires: dt.datetime | None = None,
                timestamp_expires: dt.datetime | None = None,
                timestamp_signer: Signer | None = None) -> int:
        """The next version: ``files`` (target name -> bytes, custom) added or replaced.

        ``files`` may also be an iterable of pairs (a generator keeps memory flat for big
        repositories). ``keep`` carries the previous version's other targets over. Returns
        the version.
        """
        self.version += 1
        targets = dict(self.targets) if keep else {}
        pairs = files.items() if isinstance(files, Mapping) else files
        for name, (data, custom) in pairs:
            target = TargetFile.from_data(name, data, ["sha256"])
            target.unrecognized_fields["custom"] = dict(custom)
            parent, _, base = name.rpartition("/")
            path = self.targets_dir / parent / f"{target.hashes['sha256']}.{base}"
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.exists():
                path.write_bytes(data)
            targets[name] = target
        self.targets = targets
        targets_md = Metadata(Targets(version=self.version,
                                      expires=targets_expires or _in(30),
                                      targets=dict(sorted(targets.items()))))
        targets_md.sign(self.signers["targets"])
        targets_bytes = targets_md.to_bytes()
        (self.metadata_dir / f"{self.version}.targets.json").write_bytes(targets_bytes)
        snapshot_md = Metadata(Snapshot(
            version=self.version, expires=snapshot_expires or _in(30),
            meta={"targets.json": MetaFile.from_data(self.version, targets_bytes, ["sha256"])}))
        snapshot_md.sign(self.signers["snapshot"])
        snapshot_bytes = snapshot_md.to_bytes()
        (self.metadata_dir / f"{self.version}.snapshot.json").write_bytes(snapshot_bytes)
        self.write_timestamp(snapshot_bytes, expires=timestamp_expires, signer=timestamp_signer)
        return self.version

    def write_timestamp(self, snapshot_bytes: bytes | None = None, *,
                        expires: dt.datetime | None = None, signer: Signer | None = None,
                        snapshot_version: int | None = None) -> None:
        """A new timestamp for the current snapshot (or ``snapshot_version``'s, e.g. an old
        one), e.g. re-signed with another expiry."""
        version = snapshot_version or self.version
        if snapshot_bytes is None:
            snapshot_bytes = (self.metadata_dir / f"{version}.snapshot.json").read_bytes()
        self.timestamp_version += 1
        timestamp_md = Metadata(Timestamp(
            version=self.timestamp_version, expires=expires or _in(7),
            snapshot_meta=MetaFile.from_data(version, snapshot_bytes, ["sha256"])))
        timestamp_md.sign(signer or self.signers["timestamp"])
        atomic_write_bytes(self.metadata_dir / "timestamp.json", timestamp_md.to_bytes(),
                           mode=0o644)

    def target_path(self, name: str) -> Path:
        """The file on disk of target ``name`` in the current version."""
        target = self.targets[name]
        parent, _, base = name.rpartition("/")
        return self.targets_dir / parent / f"{target.hashes['sha256']}.{base}"

    def snapshot_files(self) -> dict[str, bytes]:
        """Every metadata file as it is now (to serve an old state again later)."""
        return {path.name: path.read_bytes() for path in self.metadata_dir.iterdir()}

    def restore_files(self, files: Mapping[str, bytes]) -> None:
        for name, data in files.items():
            (self.metadata_dir / name).write_bytes(data)


def world_files(*, view_records: Mapping[tuple[str, str], Iterable[SealedRecord]],
                params: tuple[bytes, dict[str, Any]],
                aggregates: Mapping[str, Mapping[str, Any]] | None = None,
                epoch: str = TEST_EPOCH) -> dict[str, tuple[bytes, dict[str, Any]]]:
    """Target files for shards ``{(view, region): records}``, params and aggregates."""
    files = {shard_target(view, region): shard_file(view, region, records, epoch=epoch)
             for (view, region), records in view_records.items()}
    files[PARAMS_TARGET] = params
    for region, body in (aggregates or {}).items():
        files[aggregates_target(region)] = aggregates_file(region, body)
    return files


# -- the server ---------------------------------------------------------------------------------


@dataclass
class Fault:
    """Misbehave on requests whose path contains ``match``.

    kinds: ``drop`` (full Content-Length, half the body, then close), ``truncate`` (a short
    body with a matching short Content-Length), ``oversize`` (``extra`` junk bytes appended),
    ``status`` (HTTP ``status``), ``body`` (serve ``body`` instead of the file), ``drip``
    (full Content-Length, then one byte every ``interval`` seconds), ``redirect`` (302 to
    ``location`` + the request path).
    """

    match: str
    kind: str
    status: int = 500
    extra: int = 1024 * 1024
    body: bytes = b""
    interval: float = 1.0
    location: str = ""
    hits: int = 0


@dataclass
class RepositoryServer:
    """A threaded HTTP server on 127.0.0.1 serving ``directory``, with injectable faults."""

    directory: Path
    faults: list[Fault] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(http.server.SimpleHTTPRequestHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.directory), **kwargs)

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                server.requests.append(self.path)
                fault = next((f for f in server.faults if f.match in self.path), None)
                if fault is None:
                    super().do_GET()
                    return
                fault.hits += 1
                server._misbehave(self, fault)

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> RepositoryServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> RepositoryServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _misbehave(self, handler: http.server.SimpleHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "status":
            handler.send_error(fault.status)
            return
        if fault.kind == "redirect":
            handler.send_response(302)
            handler.send_header("Location", fault.location.rstrip("/") + handler.path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        path = Path(handler.translate_path(handler.path))
        data = fault.body if fault.kind == "body" else path.read_bytes() \
            if path.is_file() else b""
        if fault.kind == "drop":
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            handler.wfile.write(data[: len(data) // 2])
            handler.wfile.flush()
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        if fault.kind == "drip":
            handler.send_response(200)
            handler.send_header("Content-Length", str(len(data)))
            handler.end_headers()
            try:
                for offset in range(len(data)):
                    handler.wfile.write(data[offset:offset + 1])
                    handler.wfile.flush()
                    time.sleep(fault.interval)
            except OSError:  # the client gave up: that is the point
                handler.close_connection = True
            return
        if fault.kind == "truncate":
            data = data[: len(data) // 2]
        elif fault.kind == "oversize":
            data = data + b"x" * fault.extra
        handler.send_response(200)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)
