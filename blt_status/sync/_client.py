"""``sync_device``: fetch, verify and install a new index version from the central store.

The protocol is python-tuf's ``ngclient.Updater`` (bootstrapped from the enrolled root, never
from the network) over :class:`HttpxFetcher`. On top of TUF's checks, every shard's signed
``custom.blt`` view/region, and the view/region/count in the shard file's own header, must be
this device's before a record is used. Only targets whose hash changed since the live index
are downloaded; unchanged shards are copied from the live index. The new index is built
beside the live one and switched in atomically (``Device.switch_index``); any failure leaves
the live index untouched and raises one :class:`SyncError` with a stable code.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import os
import re
import time
import urllib.parse
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.exceptions import RepositoryError
from tuf.api.metadata import Metadata, Root, TargetFile, Targets
from tuf.api.serialization import DeserializationError
from tuf.ngclient import Updater, UpdaterConfig

from blt_status.audit import AuditTrail
from blt_status.crypto import KdfProfile
from blt_status.device import ALL_REGIONS, Device
from blt_status.errors import BltError, FileFormatError, IndexStoreError, SyncError
from blt_status.layout import (
    PARAMS_FORMAT,
    PARAMS_TARGET,
    SHARD_FORMAT,
    aggregates_target,
    read_shard,
    shard_target,
)
from blt_status.records import Program, SealedRecord
from blt_status.store import BACKENDS, IndexMeta, IndexStore, utcnow
from blt_status.sync._errors import sync_error, translate
from blt_status.sync._fetcher import DeadlineExceeded, HttpxFetcher, MissingFile, file_url_to_path
from blt_status.sync._settings import DEFAULT_TIMEOUT
from blt_status.sync._state import SyncPaths, sync_lock, write_last_sync

__all__ = ["SyncProgress", "SyncReport", "resolve_source", "sync_device"]

# Length caps for metadata (targets are capped by their signed length). Targets metadata of
# a whole country (two views x ~7,300 kecamatan, plus aggregates) stays well under 64 MB.
UPDATER_CONFIG = UpdaterConfig(
    max_root_rotations=32,
    root_max_length=512 * 1024,
    timestamp_max_length=16 * 1024,
    snapshot_max_length=4 * 1024 * 1024,
    targets_max_length=64 * 1024 * 1024,
    app_user_agent="blt-status",
)
MAX_PARAMS_BYTES = 1024 * 1024
PROGRESS_EVERY = 20_000  # records between "index" progress reports
_REGION = re.compile(r"^\d{2}\.\d{2}\.\d{2}$")


@dataclass(frozen=True)
class SyncProgress:
    """One progress report: ``phase`` is metadata, shards, index or switch."""

    phase: str
    done: int
    total: int


@dataclass
class SyncReport:
    """What a sync did. ``changed`` is False when the device was already up to date."""

    changed: bool
    version_before: int | None
    version_after: int
    shards_downloaded: int
    shards_reused: int
    records: int
    bytes_downloaded: int
    shards_removed: int = 0
    data_as_of: str | None = None
    expires: str | None = None
    seconds: float = 0.0
    repaired: bool = False  # the live version was rebuilt (damaged, unchecked or --repair)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class PublishedParams:
    """``params.json``: what a device needs to derive keys for this version."""

    epoch_salt: bytes = field(repr=False)
    kdf: KdfProfile
    program: Program
    canaries: dict[str, bytes]  # region (kecamatan, or "*" for the recipient view) -> tag
    published_at: dt.datetime | None


def parse_params(data: bytes, view: str) -> PublishedParams:
    """Read ``params.json`` (``canaries`` may be ``{view: {region: hex}}`` or flat)."""
    try:
        doc = json.loads(data)
        if doc.get("format") != PARAMS_FORMAT:
            raise ValueError("format")
        canaries_doc = doc.get("canaries") or {}
        if isinstance(canaries_doc.get(view), dict):
            canaries_doc = canaries_doc[view]
        canaries = {str(region): bytes.fromhex(tag) for region, tag in canaries_doc.items()
                    if isinstance(tag, str)}
        published = doc.get("published_at") or doc.get("data_as_of")
        published_at = dt.datetime.fromisoformat(published) if published else None
        if published_at is not None and published_at.tzinfo is None:
            published_at = published_at.replace(tzinfo=dt.UTC)
        return PublishedParams(
            epoch_salt=base64.b64decode(doc["epoch_salt"], validate=True),
            kdf=KdfProfile.from_dict(doc["kdf"]),
            program=Program.from_dict(doc["program"]),
            canaries=canaries,
            published_at=published_at,
        )
    except FileFormatError as error:
        raise sync_error("sync_params", error.en_text.rstrip(".")) from None
    except (ValueError, KeyError, TypeError, AttributeError):
        raise sync_error("sync_params", "params.json is not readable") from None


def resolve_source(source: str | None, device: Device, *, option: str = "--from") -> str:
    """The repository base URL (ending in ``/``) for ``--from`` or the enrolled central URL.

    Accepts an ``http(s)://`` URL of ``DIR/public``, a ``file://`` URL, or a local directory
    that is ``DIR/public`` itself or holds it (a copy carried on a USB stick). Anything else
    is ``sync_source`` in one translated sentence, before any network access (``http://``,
    ``http://[::1`` or a port past 65535 reached httpx and came back as an English
    ``sync_network`` text). ``option`` names the frontend's option for a source
    (``blt-tui --sync-from``).
    """
    if source is not None and not source.strip():
        # given but blank (`--from ""`, an empty variable in a script): refused, not
        # silently replaced by the enrolled URL
        raise SyncError("sync_source:folder", source='""')
    chosen = source or device.config.central_url
    if not chosen:
        raise SyncError("sync_source:none", option=option)
    shown = "".join(ch if ch.isprintable() else "?" for ch in chosen)[:200]
    if "://" in chosen:
        try:
            parts = urllib.parse.urlsplit(chosen)
            port = parts.port  # a ValueError when it is no number from 0 to 65535
        except ValueError:
            raise SyncError("sync_source:url", source=shown) from None
        scheme = parts.scheme.lower()
        if scheme in ("http", "https"):
            if not parts.hostname or port == 0 or shown != chosen \
                    or any(ch.isspace() for ch in chosen):
                raise SyncError("sync_source:url", source=shown)
            return scheme + chosen[len(parts.scheme):].rstrip("/") + "/"
        if scheme != "file":
            raise SyncError("sync_source:scheme", source=shown)
    path = file_url_to_path(chosen) if chosen.startswith("file:") else Path(chosen)
    for candidate in (path / "public", path):
        if (candidate / "metadata").is_dir():
            return candidate.resolve().as_uri() + "/"
    raise SyncError("sync_source:folder", source=shown)


@dataclass(frozen=True)
class SyncOptions:
    """How one sync runs.

    ``timeout``: seconds the whole sync may take (network and all); ``repair``: rebuild the
    live version from the repository even when it is current; ``checkpoint``: called with
    each phase name of :data:`blt_status.sync._state.PHASES` as the sync passes it (tests stop
    a sync there to kill it).
    """

    timeout: float = DEFAULT_TIMEOUT
    repair: bool = False
    checkpoint: Callable[[str], None] | None = None


def sync_device(device: Device, source: str | None = None, *,
                progress: Callable[[SyncProgress], None] | None = None,
                timeout: float = DEFAULT_TIMEOUT, repair: bool = False,
                checkpoint: Callable[[str], None] | None = None,
                source_option: str = "--from") -> SyncReport:
    """Bring the device's index up to the central store's current version (see module doc).

    Ends with ``sync_timeout`` once ``timeout`` seconds have passed; ``repair`` rebuilds the
    live version from the repository even when it is current (see :class:`SyncOptions`).
    ``source_option``: how the frontend calls its source option, for the message when there
    is none (``--from`` on the command line, ``--sync-from`` in ``blt-tui``).
    """
    if not timeout > 0:
        raise sync_error("sync_source", "--timeout must be a positive number of seconds")
    options = SyncOptions(timeout=timeout, repair=repair, checkpoint=checkpoint)
    paths = SyncPaths(device.data_dir)
    base_url = resolve_source(source, device, option=source_option)
    with sync_lock(paths) as locked:
        if not locked:
            raise sync_error("sync_busy")
        return _locked_sync(device, paths, base_url, progress, options)


def _locked_sync(device: Device, paths: SyncPaths, base_url: str,
                 progress: Callable[[SyncProgress], None] | None,
                 options: SyncOptions) -> SyncReport:
    try:
        report = _Sync(device, paths, base_url, progress, options).run()
    except Exception as error:
        if isinstance(error, DeadlineExceeded):
            error = SyncError("sync_timeout", seconds=f"{options.timeout:g}")
        try:
            translated = translate(error)
        except Exception:
            _record_failure(device, "internal", type(error).__name__)
            raise
        _record_failure(device, translated.code, translated.message("en"))
        raise translated from None
    # Audited like every officer action (after the switch: a full audit disk never blocks it).
    AuditTrail.attach(device).record("sync", "ok" if report.changed else "unchanged",
                                     data_version=report.version_after)
    with contextlib.suppress(OSError):  # the new index is live; only its record failed
        write_last_sync(device, ok=True, code=None, message=None, version=report.version_after,
                        report=report.to_dict())
    return report


def _record_failure(device: Device, code: str, message: str) -> None:
    # The disk itself failing must not hide the real error.
    version = _live_version(device)
    with contextlib.suppress(OSError):
        write_last_sync(device, ok=False, code=code, message=message, version=version)
    AuditTrail.attach(device).record("sync", "failed", data_version=version or 0)


def _live_version(device: Device) -> int | None:
    try:
        with device.open_index() as index:
            return index.meta.version
    except (BltError, OSError):
        return None


def _first_hash(info: TargetFile) -> str:
    return info.hashes.get("sha256") or next(iter(info.hashes.values()))


def _blt_custom(info: TargetFile) -> dict[str, Any]:
    custom = info.custom
    blt = custom.get("blt") if isinstance(custom, dict) else None
    return blt if isinstance(blt, dict) else {}


class _Sync:
    """One sync run (kept as an object so each step stays short)."""

    def __init__(self, device: Device, paths: SyncPaths, base_url: str,
                 progress: Callable[[SyncProgress], None] | None,
                 options: SyncOptions | None = None) -> None:
        self.device = device
        self.view = device.config.view
        self.paths = paths
        self.base_url = base_url
        self.progress = progress
        self.options = options or SyncOptions()
        self.deadline = time.monotonic() + self.options.timeout
        self.fetcher = HttpxFetcher(deadline=self.deadline,
                                    redirect_hosts=device.config.redirect_hosts)
        self.downloaded = 0
        self.repairing = False  # the live index is not reused: rebuilt from the repository
        self.live_version: int | None = None

    def checkpoint(self, phase: str) -> None:
        if self.options.checkpoint is not None:
            self.options.checkpoint(phase)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise DeadlineExceeded("the sync's deadline has passed")

    def emit(self, phase: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(SyncProgress(phase, done, total))

    # -- steps ------------------------------------------------------------------------------

    def run(self) -> SyncReport:
        started = dt.datetime.now(dt.UTC)
        try:
            return self._run(started)
        finally:
            self.fetcher.close()

    def _run(self, started: dt.datetime) -> SyncReport:
        self._clean_scratch()
        updater = self._updater()
        self.emit("metadata", 0, 1)
        updater.refresh()
        targets_md = Metadata[Targets].from_bytes(
            (self.paths.metadata_dir / "targets.json").read_bytes())
        timestamp_md = Metadata.from_bytes(
            (self.paths.metadata_dir / "timestamp.json").read_bytes())
        version = targets_md.signed.version
        expires = timestamp_md.signed.expires
        self.emit("metadata", 1, 1)
        self.checkpoint("metadata")

        params_info = updater.get_targetinfo(PARAMS_TARGET)
        if params_info is None or _blt_custom(params_info).get("kind", "params") != "params":
            raise sync_error("sync_params", "the repository has no params.json target")
        if params_info.length > MAX_PARAMS_BYTES:
            raise sync_error("sync_too_large", "params.json")
        params = parse_params(Path(self._fetch(updater, params_info)).read_bytes(), self.view)

        current = self._open_current()
        try:
            return self._build(updater, targets_md, version, expires, params, params_info,
                               current, started)
        finally:
            if current is not None:
                current.close()

    def _build(self, updater: Updater, targets_md: Metadata[Targets], version: int,
               expires: dt.datetime, params: PublishedParams, params_info: TargetFile,
               current: IndexStore | None, started: dt.datetime) -> SyncReport:
        backend = BACKENDS[self.device.config.backend]
        shard_infos = self._shard_infos(updater, targets_md)
        reusable = (current is not None and current.path.suffix == backend.suffix
                    and current.meta.view == self.view
                    and current.meta.epoch_salt == params.epoch_salt
                    and current.meta.kdf == params.kdf)
        old_targets: dict[str, str] = dict(current.meta.extra.get("targets", {})) \
            if reusable and current is not None else {}
        new_targets = {shard_target(self.view, region): _first_hash(info)
                       for region, info in shard_infos.items()}
        changed = [region for region, info in sorted(shard_infos.items())
                   if old_targets.get(info.path) != _first_hash(info)]
        removed = sorted(set(current.meta.shards) - set(shard_infos)) \
            if reusable and current is not None else []
        aggregates, aggregate_hashes = self._aggregates(updater, current if reusable else None)
        new_targets.update(aggregate_hashes)
        new_targets[PARAMS_TARGET] = _first_hash(params_info)

        version_before = current.meta.version if current is not None else self.live_version
        data_as_of = params.published_at or utcnow()
        if (reusable and current is not None and not changed and not removed
                and current.meta.version == version and current.meta.expires == expires
                and current.meta.extra.get("aggregates", {}) == aggregates):
            return SyncReport(False, version_before, version, 0, len(shard_infos),
                              current.meta.record_count, self.fetcher.bytes_received,
                              data_as_of=current.meta.data_as_of.isoformat(),
                              expires=expires.isoformat(),
                              seconds=(dt.datetime.now(dt.UTC) - started).total_seconds())

        shard_files = self._download_shards(updater, {r: shard_infos[r] for r in changed})
        self.check_deadline()
        canaries = self._canaries(params, shard_infos)
        extra: dict[str, Any] = {"targets": new_targets}
        if self.view == "officer":
            extra["aggregates"] = aggregates
        meta = IndexMeta(view=self.view, version=version, data_as_of=data_as_of,
                         expires=expires, program=params.program, kdf=params.kdf,
                         epoch_salt=params.epoch_salt, shards=dict.fromkeys(shard_infos, 0),
                         canaries=canaries, extra=extra)

        counter = _RecordCounter(self, sum(int(_blt_custom(shard_infos[r]).get("records", 0))
                                           for r in shard_files))
        replaced: dict[str, Iterable[SealedRecord]] = {
            region: counter.wrap(self._shard_records(path, region))
            for region, path in shard_files.items()
        }
        for region in removed:
            replaced[region] = []
        new_path = self.device.new_index_path(version)
        self.emit("index", 0, 1)
        try:
            if reusable and current is not None:
                written = backend.derive(current, new_path, meta, replaced)
            else:
                written = backend.write(new_path, meta, _chain(replaced))
            _check_counts(written, shard_infos)
            self.emit("index", 1, 1)
            self.checkpoint("switch")
            self.emit("switch", 0, 1)
            self.device.switch_index(new_path)
        except BaseException:
            try:
                live = self.device.current_index_path()
            except IndexStoreError:  # a garbled pointer names no file, so not this one
                live = None
            if live != new_path:
                new_path.unlink(missing_ok=True)
            raise
        self.emit("switch", 1, 1)
        self.checkpoint("switched")
        self._clear_targets_cache()
        return SyncReport(
            changed=True, version_before=version_before, version_after=version,
            shards_downloaded=len(shard_files), shards_reused=len(shard_infos) - len(changed),
            records=written.record_count, bytes_downloaded=self.fetcher.bytes_received,
            shards_removed=len(removed), data_as_of=data_as_of.isoformat(),
            expires=expires.isoformat(),
            seconds=(dt.datetime.now(dt.UTC) - started).total_seconds(),
            repaired=self.repairing)

    # -- pieces -----------------------------------------------------------------------------

    def _updater(self) -> Updater:
        self.paths.metadata_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.paths.targets_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            bootstrap = self.paths.bootstrap_root.read_bytes()
            Metadata[Root].from_bytes(bootstrap)  # the device's own file: not the server's fault
        except (FileNotFoundError, DeserializationError, RepositoryError):
            raise SyncError("sync_not_enrolled") from None
        return Updater(str(self.paths.metadata_dir), self.base_url + "metadata/",
                       str(self.paths.targets_dir), self.base_url + "targets/",
                       fetcher=self.fetcher, config=UPDATER_CONFIG, bootstrap=bootstrap)

    def _open_current(self) -> IndexStore | None:
        """The live index to build on, or None to rebuild everything from the repository:
        when there is none, when it is damaged (TinyDB is checked in full when opened; a
        SQLite file that a check found damaged is marked so), when it carries no checksum
        (written by an older release), or when ``--repair`` asks for it."""
        try:
            if self.device.current_index_path() is None:
                return None
            current = self.device.open_index()
        except IndexStoreError:  # the file, or the CURRENT pointer to it, is damaged
            self.repairing = True
            return None
        if self.options.repair or current.checksum is None:
            self.repairing = True
            self.live_version = current.meta.version
            current.close()
            return None
        return current

    def _shard_infos(self, updater: Updater, targets_md: Metadata[Targets],
                     ) -> dict[str, TargetFile]:
        """The shards this device needs, each checked against the device's view and region."""
        if self.view == "officer":
            regions = sorted(self.device.config.regions)
        else:
            prefix, suffix = f"shards/{self.view}/", ".jsonl"
            regions = sorted(path[len(prefix):-len(suffix)]
                             for path in targets_md.signed.targets
                             if path.startswith(prefix) and path.endswith(suffix))
        infos: dict[str, TargetFile] = {}
        for region in regions:
            if not _REGION.match(region):
                raise sync_error("sync_shard_mismatch", f"unexpected shard name {region!r}")
            info = updater.get_targetinfo(shard_target(self.view, region))
            if info is None:
                continue  # no recipients in this kecamatan in this version
            blt = _blt_custom(info)
            if (blt.get("kind") != "shard" or blt.get("view") != self.view
                    or blt.get("region") != region):
                raise sync_error("sync_shard_mismatch",
                                 f"{info.path} is signed as {blt.get('view')}/"
                                 f"{blt.get('region')}")
            infos[region] = info
        return infos

    def _aggregates(self, updater: Updater, current: IndexStore | None,
                    ) -> tuple[dict[str, Any], dict[str, str]]:
        if self.view != "officer":
            return {}, {}
        old_targets = current.meta.extra.get("targets", {}) if current is not None else {}
        old_aggregates = current.meta.extra.get("aggregates", {}) if current is not None else {}
        aggregates: dict[str, Any] = {}
        hashes: dict[str, str] = {}
        for region in sorted(self.device.config.regions):
            info = updater.get_targetinfo(aggregates_target(region))
            if info is None:
                continue
            blt = _blt_custom(info)
            if blt.get("kind", "aggregates") != "aggregates" or \
                    blt.get("region", region) != region:
                raise sync_error("sync_shard_mismatch", f"{info.path} is signed for another "
                                 "region")
            if info.length > MAX_PARAMS_BYTES:
                raise sync_error("sync_too_large", info.path)
            hashes[info.path] = _first_hash(info)
            if old_targets.get(info.path) == hashes[info.path] and region in old_aggregates:
                aggregates[region] = old_aggregates[region]
                continue
            try:
                aggregates[region] = json.loads(Path(self._fetch(updater, info)).read_bytes())
            except ValueError:
                raise sync_error("sync_bad_metadata", f"{info.path} is not JSON") from None
        return aggregates, hashes

    def _download_shards(self, updater: Updater, infos: dict[str, TargetFile],
                         ) -> dict[str, Path]:
        files: dict[str, Path] = {}
        self.emit("shards", 0, len(infos))
        for number, (region, info) in enumerate(sorted(infos.items()), start=1):
            path = Path(self._fetch(updater, info))
            self._check_header(path, region, _blt_custom(info))
            files[region] = path
            self.emit("shards", number, len(infos))
            self.checkpoint("shards")
        return files

    def _fetch(self, updater: Updater, info: TargetFile) -> str:
        """A verified local copy of a target: from the cache of an unfinished sync, or fetched."""
        cached = updater.find_cached_target(info)
        if cached is not None:
            return cached
        destination = self.paths.targets_dir / urllib.parse.quote(info.path, "")
        partial = destination.with_name(destination.name + ".part")
        try:
            updater.download_target(info, filepath=str(partial))
            os.replace(partial, destination)
        except MissingFile:
            raise SyncError("target_missing", target=info.path) from None
        finally:
            partial.unlink(missing_ok=True)
        return str(destination)

    def _check_header(self, path: Path, region: str, blt: dict[str, Any]) -> None:
        """The shard file's own header must say this view and region, and the signed count."""
        try:
            with open(path, "rb") as handle:
                header = json.loads(handle.readline())
        except (OSError, ValueError):
            raise sync_error("sync_shard_invalid", f"{region}: no header") from None
        if not isinstance(header, dict) or header.get("format") != SHARD_FORMAT:
            raise sync_error("sync_shard_invalid", f"{region}: unknown format")
        if header.get("view") != self.view or header.get("region") != region:
            raise sync_error("sync_shard_mismatch",
                             f"expected {self.view}/{region}, the file says "
                             f"{header.get('view')}/{header.get('region')}")
        if "records" in blt and header.get("records") != blt["records"]:
            raise sync_error("sync_shard_mismatch",
                             f"{region}: header and signed record counts differ")

    def _shard_records(self, path: Path, region: str) -> Iterator[SealedRecord]:
        with open(path, "rb") as handle:
            yield from read_shard(handle, view=self.view, region=region)

    def _canaries(self, params: PublishedParams, shard_infos: dict[str, TargetFile],
                  ) -> dict[str, bytes]:
        wanted = set(self.device.config.regions) if self.view == "officer" else {ALL_REGIONS}
        canaries = {region: tag for region, tag in params.canaries.items() if region in wanted}
        if shard_infos and not canaries:
            raise sync_error("sync_params", "params.json has no canary for this device")
        return canaries

    def _clean_scratch(self) -> None:
        """Remove scratch files a killed sync left behind (we hold the lock)."""
        for directory in (self.device.index_dir, self.paths.targets_dir):
            if not directory.is_dir():
                continue
            for leftover in directory.iterdir():
                if ".tmp-" in leftover.name or leftover.name.endswith(".part"):
                    leftover.unlink(missing_ok=True)

    def _clear_targets_cache(self) -> None:
        for cached in self.paths.targets_dir.iterdir():
            if cached.is_file():
                cached.unlink(missing_ok=True)


class _RecordCounter:
    """Counts records streamed into the new index, for progress and the pause hook."""

    def __init__(self, sync: _Sync, total: int) -> None:
        self.sync = sync
        self.total = total
        self.count = 0

    def wrap(self, records: Iterator[SealedRecord]) -> Iterator[SealedRecord]:
        for record in records:
            self.count += 1
            if self.count == 1:
                self.sync.checkpoint("index")
            if self.count % PROGRESS_EVERY == 0:
                self.sync.emit("index", self.count, self.total)
            yield record


def _chain(replaced: dict[str, Iterable[SealedRecord]]) -> Iterator[SealedRecord]:
    for region in sorted(replaced):
        yield from replaced[region]


def _check_counts(meta: IndexMeta, shard_infos: dict[str, TargetFile]) -> None:
    for region, info in shard_infos.items():
        expected = _blt_custom(info).get("records")
        if expected is not None and meta.shards.get(region, 0) != expected:
            raise sync_error("sync_shard_invalid",
                             f"{region}: {meta.shards.get(region, 0)} records, signed {expected}")
