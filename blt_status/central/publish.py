"""Publishing a version: seal records per view, write shard/params/aggregate targets, sign.

The flow of one version (``publish_files`` and ``ingest_payouts`` both end in
:func:`publish_records`):

1. Compare the new records with the publisher's private state: which kecamatan changed.
2. Argon2id root keys for NIKs not yet known in this epoch (spread over all cores, chunked),
   sealing their records in the same worker; known NIKs reuse their cached key, and an
   unchanged record reuses its sealed blob, so an unchanged shard has the same bytes and hash.
3. Stage the targets of changed kecamatan (both views and the aggregates) and ``params.json``;
   unchanged kecamatan carry their previous target entries over untouched.
4. Seal the new private state, write ``<v>.targets.json`` and ``<v>.snapshot.json``, and replace
   ``timestamp.json`` last. Any error before that removes everything written: ``public/`` is
   byte-identical to before and the store stays at the previous version.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tuf.api.metadata import Metadata, TargetFile, Targets

from blt_status.central.repo import RepoTransaction, target_path_on_disk
from blt_status.central.store import (
    CentralStore,
    Epoch,
    StateRecord,
    StoreState,
    make_private_dir,
    sync_paths,
)
from blt_status.crypto import VIEWS, IndexKey
from blt_status.errors import CentralError
from blt_status.indexer import IndexParams
from blt_status.layout import (
    PARAMS_TARGET,
    aggregates_file,
    aggregates_target,
    params_document,
    shard_file,
    shard_target,
)
from blt_status.records import (
    CANARY_INPUT,
    Program,
    RecordPayload,
    SealedRecord,
    seal_payload,
)
from blt_status.store import atomic_write_bytes

__all__ = [
    "IngestReport",
    "Progress",
    "PublishReport",
    "VersionResult",
    "ingest_payouts",
    "publish_files",
    "publish_records",
    "refresh",
    "rotate_keys",
]

Progress = Callable[[str, int, int], None]
"""``progress(stage, done, total)``: e.g. ``("sealing", 12000, 20000)``."""

Aggregator = Callable[[Iterable[tuple[str, RecordPayload]]], Mapping[str, Mapping[str, Any]]]

_MIN_PARALLEL_ITEMS = 64
KEEP_TARGET_VERSIONS = 3  # devices mid-sync on a recent version still find its files
KEEP_DISTRIBUTION_LISTS = 2  # the lists hold names: keep few copies


# -- reports -----------------------------------------------------------------------------------


@dataclass
class VersionResult:
    """What one signed version contains and what it wrote."""

    version: int
    published: int
    shards_written: int
    shards_unchanged: int
    keys_derived: int
    keys_reused: int
    kecamatan: list[str]
    epoch: str
    data_as_of: dt.datetime
    distribution_lists: list[Path] = field(default_factory=list)


@dataclass
class PublishReport:
    version: int
    published: int
    rejected: list[dict[str, Any]]
    input_rows: int
    shards_written: int
    shards_unchanged: int
    keys_derived: int = 0
    keys_reused: int = 0
    kecamatan: list[str] = field(default_factory=list)
    kdf: str = ""
    distribution_lists: list[str] = field(default_factory=list)
    warnings: list[dict[str, Any]] = field(default_factory=list)  # roster warnings (recon)

    def rejected_by_code(self) -> dict[str, int]:
        return _count_codes(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "published": self.published,
            "warnings": self.warnings,
            "rejected": self.rejected,
            "input_rows": self.input_rows,
            "rejected_count": len(self.rejected),
            "shards_written": self.shards_written,
            "shards_unchanged": self.shards_unchanged,
            "keys_derived": self.keys_derived,
            "keys_reused": self.keys_reused,
            "kecamatan": self.kecamatan,
            "rejected_by_code": self.rejected_by_code(),
            "kdf": self.kdf,
            "distribution_dir": (str(Path(self.distribution_lists[0]).parent)
                                 if self.distribution_lists else None),
            "distribution_lists": len(self.distribution_lists),
        }


@dataclass
class IngestReport:
    version: int
    applied: int
    rejected: list[dict[str, Any]]
    input_rows: int
    shards_written: int
    shards_unchanged: int = 0
    changed_records: int = 0
    kecamatan: list[str] = field(default_factory=list)

    def rejected_by_code(self) -> dict[str, int]:
        return _count_codes(self.rejected)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "applied": self.applied,
            "rejected": self.rejected,
            "input_rows": self.input_rows,
            "rejected_count": len(self.rejected),
            "rejected_by_code": self.rejected_by_code(),
            "changed_records": self.changed_records,
            "shards_written": self.shards_written,
            "shards_unchanged": self.shards_unchanged,
            "kecamatan": self.kecamatan,
        }


def _count_codes(rejected: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for item in rejected:
        counts[str(item["code"])] = counts.get(str(item["code"]), 0) + 1
    return dict(sorted(counts.items()))


# -- key derivation and sealing (worker side) -------------------------------------------------

_worker_params: IndexParams | None = None

WorkItem = tuple[str, str, str, RecordPayload | None]
"""``(nik, view, shard, payload of that view)``; no payload: derive only (a canary)."""


def _init_worker(params: IndexParams) -> None:
    global _worker_params
    _worker_params = params


def _derive_and_seal(params: IndexParams, items: Sequence[WorkItem]) -> list[tuple[bytes, bytes]]:
    results = []
    for nik, view, shard, payload in items:
        root = params.root_key(nik, view, shard)
        if payload is None:
            results.append((root, b""))
            continue
        sealed = seal_payload(payload, key=IndexKey.from_root(root), shard=shard)
        results.append((root, sealed.blob))
    return results


def _derive_and_seal_chunk(items: Sequence[WorkItem]) -> list[tuple[bytes, bytes]]:
    assert _worker_params is not None
    return _derive_and_seal(_worker_params, items)


def _chunks(items: Sequence[WorkItem], size: int) -> list[Sequence[WorkItem]]:
    return [items[start:start + size] for start in range(0, len(items), size)]


def derive_keys(params: IndexParams, items: Sequence[WorkItem], *, workers: int | None,
                progress: Progress | None) -> list[tuple[bytes, bytes]]:
    """Argon2id + seal each item; over a process pool when worth it. Order is preserved."""
    total = len(items)
    workers = max(1, workers or os.cpu_count() or 1)
    if progress:
        progress("sealing", 0, total)
    if workers == 1 or total < _MIN_PARALLEL_ITEMS:
        results: list[tuple[bytes, bytes]] = []
        for chunk in _chunks(items, 256):
            results.extend(_derive_and_seal(params, chunk))
            if progress:
                progress("sealing", len(results), total)
        return results
    # Small enough chunks for even load and steady progress, big enough to amortise pickling.
    size = max(16, min(2000, total // (workers * 8) or 1))
    results = []
    with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker,
                             initargs=(params,)) as pool:
        for chunk_result in pool.map(_derive_and_seal_chunk, _chunks(items, size)):
            results.extend(chunk_result)
            if progress:
                progress("sealing", len(results), total)
    return results


# -- the version builder ----------------------------------------------------------------------


def _view_payload(payload: RecordPayload, view: str) -> RecordPayload:
    return payload if view == "officer" else payload.for_recipient()


def _previous_targets(store: CentralStore, version: int) -> dict[str, TargetFile]:
    if version == 0:
        return {}
    path = store.metadata_dir / f"{version}.targets.json"
    return dict(Metadata[Targets].from_file(str(path)).signed.targets)


def _merge_state(previous: StoreState, epoch: Epoch,
                 records: Mapping[str, tuple[str, RecordPayload]]) -> tuple[
                     dict[str, StateRecord], set[str]]:
    """New state records carrying over what is still valid; and the changed kecamatan."""
    same_epoch = previous.epoch_id == epoch.id
    merged: dict[str, StateRecord] = {}
    dirty: set[str] = set()
    for nik, (shard, payload) in records.items():
        if payload.view != "officer":
            raise ValueError("publish expects officer-view payloads")
        record = StateRecord(shard, payload, key_shard=shard)
        old = previous.records.get(nik) if same_epoch else None
        if old is not None:
            if "recipient" in old.keys:
                record.keys["recipient"] = old.keys["recipient"]
            if "officer" in old.keys and old.key_shard == shard:
                record.keys["officer"] = old.keys["officer"]
            if old.payload == payload and old.shard == shard:
                record.blobs = {view: blob for view, blob in old.blobs.items()
                                if view in record.keys}
        if old is None or old.shard != shard or old.payload != payload:
            dirty.add(shard)
            if old is not None:
                dirty.add(old.shard)
        merged[nik] = record
    for nik, old in previous.records.items():
        if nik not in records:
            dirty.add(old.shard)
    if not same_epoch:
        dirty.update(record.shard for record in merged.values())
    return merged, dirty


def _sealed(view: str, kecamatan: str, records: Iterable[StateRecord],
            ) -> Iterator[SealedRecord]:
    for record in records:
        yield SealedRecord(IndexKey.from_root(record.keys[view]).tag, kecamatan,
                           record.blobs[view])


def publish_records(store: CentralStore, records: Mapping[str, tuple[str, RecordPayload]], *,
                    program: Program, aggregate: Aggregator,
                    inputs: Mapping[str, str] | None = None,
                    distribution: Callable[[Path], list[Path]] | None = None,
                    workers: int | None = None, progress: Progress | None = None,
                    now: dt.datetime | None = None,
                    previous: StoreState | None = None) -> VersionResult:
    """Publish ``records`` (NIK -> (kecamatan of residence, officer payload)) as the next version.

    All or nothing: on any error nothing under ``public/`` changes and the private state stays
    at the previous version.
    """
    with store.lock():
        return _publish_records(store, records, program=program, aggregate=aggregate,
                                inputs=inputs, distribution=distribution, workers=workers,
                                progress=progress, now=now, previous=previous)


def _publish_records(store: CentralStore, records: Mapping[str, tuple[str, RecordPayload]], *,
                     program: Program, aggregate: Aggregator, inputs: Mapping[str, str] | None,
                     distribution: Callable[[Path], list[Path]] | None, workers: int | None,
                     progress: Progress | None, now: dt.datetime | None,
                     previous: StoreState | None) -> VersionResult:
    now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
    store.settle_keys()
    previous = previous if previous is not None else store.load_state()
    epoch, new_epoch = store.epoch_for_program(program.id)
    params = store.index_params(epoch)
    version = previous.version + 1
    merged, dirty = _merge_state(previous, epoch, records)
    kecamatan = sorted({record.shard for record in merged.values()})
    previous_targets = _previous_targets(store, previous.version)
    for kec in kecamatan:  # anything not carried over intact is rebuilt
        if kec not in previous.objects or any(
                shard_target(view, kec) not in previous_targets for view in VIEWS):
            dirty.add(kec)

    # Keys and sealing.
    work: list[WorkItem] = []
    work_refs: list[tuple[StateRecord, str]] = []
    reseal: list[tuple[StateRecord, str]] = []
    keys_reused = 0
    for nik, record in merged.items():
        for view in VIEWS:
            if view not in record.keys:
                work.append((nik, view, record.shard, _view_payload(record.payload, view)))
                work_refs.append((record, view))
            else:
                keys_reused += 1
                if view not in record.blobs:
                    reseal.append((record, view))
    # The canaries (one Argon2id per kecamatan and view) go to the same workers.
    cached_canaries = previous.canaries if previous.epoch_id == epoch.id else {}
    canary_work: list[WorkItem] = [
        (CANARY_INPUT, "officer", kec, None) for kec in kecamatan
        if kec not in cached_canaries.get("officer", {})]
    if "*" not in cached_canaries.get("recipient", {}):
        canary_work.append((CANARY_INPUT, "recipient", "", None))
    results = derive_keys(params, [*work, *canary_work], workers=workers, progress=progress)
    for (record, view), (root, blob) in zip(work_refs, results[:len(work)], strict=True):
        record.keys[view] = root
        record.blobs[view] = blob
    present = set(kecamatan)
    canaries = {"officer": {kec: tag for kec, tag in cached_canaries.get("officer", {}).items()
                            if kec in present},
                "recipient": dict(cached_canaries.get("recipient", {}))}
    for (_, view, shard, _), (root, _) in zip(canary_work, results[len(work):], strict=True):
        canaries[view][shard if view == "officer" else "*"] = IndexKey.from_root(root).tag.hex()
    canaries["officer"] = dict(sorted(canaries["officer"].items()))
    for done, (record, view) in enumerate(reseal, 1):
        record.blobs[view] = seal_payload(_view_payload(record.payload, view),
                                          key=IndexKey.from_root(record.keys[view]),
                                          shard=record.shard).blob
        if progress and (done % 1000 == 0 or done == len(reseal)):
            progress("resealing", done, len(reseal))

    transaction = RepoTransaction(store.public_dir, version)
    new_state = StoreState(version, epoch.id, records=merged,
                           inputs=dict(inputs or previous.inputs), program=program)
    written_objects: list[str] = []
    distribution_dir = store.private_dir / "distribution" / str(version)
    distribution_lists: list[Path] = []
    shards_written = shards_unchanged = 0
    committed = False
    try:
        by_shard: dict[str, dict[str, StateRecord]] = {}
        for nik, record in merged.items():
            by_shard.setdefault(record.shard, {})[nik] = record
        dirty_present = sorted(kec for kec in dirty if kec in by_shard)
        aggregates = dict(aggregate((record.shard, record.payload)
                                    for kec in dirty_present
                                    for record in by_shard[kec].values()))
        for done, kec in enumerate(kecamatan, 1):
            if kec not in dirty:
                for name in (*(shard_target(view, kec) for view in VIEWS),
                             aggregates_target(kec)):
                    if name in previous_targets:
                        transaction.keep_target(previous_targets[name])
                shards_unchanged += len(VIEWS)
                new_state.objects[kec] = previous.objects[kec]
                continue
            for view in VIEWS:
                data, custom = shard_file(view, kec, _sealed(view, kec, by_shard[kec].values()),
                                          epoch=epoch.id)
                _, wrote = transaction.add_target(shard_target(view, kec), data, custom)
                if wrote:
                    shards_written += 1
                else:
                    shards_unchanged += 1
            if kec in aggregates:
                transaction.add_target(aggregates_target(kec),
                                       *aggregates_file(kec, aggregates[kec]))
            object_id = store.write_state_object(kec, by_shard[kec])
            written_objects.append(object_id)
            new_state.objects[kec] = object_id
            if progress:
                progress("shards", done, len(kecamatan))

        new_state.canaries = canaries
        transaction.add_target(PARAMS_TARGET, *params_document(
            epoch=epoch.id, epoch_salt=epoch.salt, kdf=params.kdf, program=program,
            canaries={view: {region: bytes.fromhex(tag) for region, tag in tags.items()}
                      for view, tags in canaries.items()},
            data_as_of=now))

        if distribution is not None:
            shutil.rmtree(distribution_dir, ignore_errors=True)  # an aborted earlier attempt
            make_private_dir(distribution_dir)
            distribution_lists = distribution(distribution_dir)
            for path in distribution_dir.rglob("*"):
                os.chmod(path, 0o700 if path.is_dir() else 0o600)

        if new_epoch:
            store.save_epoch(epoch)
        sync_paths(store.object_path(object_id) for object_id in written_objects)
        store.write_manifest(new_state)
        expires = {role: store.config.expiry(role, now)
                   for role in ("targets", "snapshot", "timestamp")}
        timestamp = transaction.write_metadata(
            targets_signer=store.signer("targets"), snapshot_signer=store.signer("snapshot"),
            timestamp_signer=store.signer("timestamp"), expires=expires)
        transaction.commit(timestamp)
        committed = True
    finally:
        if not committed:
            transaction.rollback()
            for object_id in written_objects:
                store.object_path(object_id).unlink(missing_ok=True)
            store.manifest_path(version).unlink(missing_ok=True)
            shutil.rmtree(distribution_dir, ignore_errors=True)
    store.prune_state({version, version - 1})
    prune_targets(store, keep_versions=KEEP_TARGET_VERSIONS)
    if distribution is not None:
        prune_distribution_lists(store, keep=KEEP_DISTRIBUTION_LISTS)
    return VersionResult(version, len(merged), shards_written, shards_unchanged, len(work),
                         keys_reused, kecamatan, epoch.id, now, distribution_lists)


def prune_targets(store: CentralStore, *, keep_versions: int) -> int:
    """Delete target files no longer named by the newest ``keep_versions`` versions.

    Runs only after a commit; old ``<v>.targets.json``/``<v>.snapshot.json`` stay (small, and
    a client that asks for them gets a consistent answer). Returns the number of files removed.
    """
    current = store.published_version()
    referenced: set[Path] = set()
    for version in range(max(1, current - keep_versions + 1), current + 1):
        path = store.metadata_dir / f"{version}.targets.json"
        if not path.exists():
            continue
        try:
            targets = Metadata[Targets].from_file(str(path)).signed.targets
        except Exception:
            return 0  # never delete on a doubt
        referenced.update(target_path_on_disk(store.targets_dir, target)
                          for target in targets.values())
    if not referenced:
        return 0
    removed = 0
    for path in store.targets_dir.rglob("*"):
        if path.is_file() and path not in referenced:
            path.unlink()
            removed += 1
    return removed


def prune_distribution_lists(store: CentralStore, *, keep: int) -> None:
    """Keep only the newest ``keep`` distribution list folders (they hold names)."""
    folder = store.private_dir / "distribution"
    versions = sorted((int(path.name), path) for path in folder.iterdir()
                      if path.is_dir() and path.name.isdigit())
    for _, path in versions[:-keep]:
        shutil.rmtree(path, ignore_errors=True)


def refresh(store: CentralStore, *, now: dt.datetime | None = None) -> VersionResult:
    """Re-sign the current content as the next version (new expiry dates, no new shards)."""
    from blt_status.central.plan import compute_aggregates

    with store.lock():
        return _refresh(store, now, compute_aggregates)


def _refresh(store: CentralStore, now: dt.datetime | None,
             compute_aggregates: Callable[..., Any]) -> VersionResult:
    state = store.load_state()
    if state.version == 0 or state.program is None:
        raise CentralError("nothing_published",
                           "Belum ada versi yang diterbitkan: jalankan `central publish` dulu.",
                           "Nothing is published yet: run `central publish` first.")
    program = state.program
    records = {nik: (record.shard, record.payload) for nik, record in state.records.items()}
    return publish_records(store, records, program=program,
                           aggregate=lambda items: compute_aggregates(items, program),
                           now=now, previous=state)


def rotate_keys(store: CentralStore, roles: Sequence[str], *,
                now: dt.datetime | None = None) -> tuple[int, VersionResult | None]:
    """Replace the keys of ``roles`` (root N -> N+1), then re-sign the data with them.

    The new root is signed by every old root key (and every new one when the root keys
    change), so devices pinned to root N follow to N+1 on their next sync. Returns the new
    root version and the re-signed data version.
    """
    from securesystemslib.signer import CryptoSigner

    from blt_status.central.repo import make_next_root

    chosen = sorted(set(roles))
    if not chosen:
        raise CentralError("role_unknown", "Sebutkan peran yang kuncinya diganti.",
                           "Name the roles whose keys to replace.")
    with store.lock():
        store.settle_keys()
        current = store.root()
        new_keys = {role: [CryptoSigner.generate_ed25519() for _ in store.key_names(role)]
                    for role in chosen}
        now = (now or dt.datetime.now(dt.UTC)).replace(microsecond=0)
        old_root_signers = [store.signer(name) for name in store.key_names("root")]
        root = make_next_root(current, new_keys=new_keys, old_root_signers=old_root_signers,
                              expires=store.config.expiry("root", now))
        version = root.signed.version
        for role, signers in new_keys.items():
            for name, signer in zip(store.key_names(role), signers, strict=True):
                store.stage_key(name, signer)
        # The commit point of the rotation: the new root names the staged keys.
        atomic_write_bytes(store.metadata_dir / f"{version}.root.json", root.to_bytes(),
                           mode=0o644)
        store.settle_keys()
        result = refresh(store, now=now) if store.published_version() else None
    return version, result


# -- the two entry points ---------------------------------------------------------------------


def publish_files(store: CentralStore, recipients_csv: Path, payout_points_csv: Path,
                  program_toml: Path, *, workers: int | None = None,
                  progress: Progress | None = None, now: dt.datetime | None = None,
                  ) -> PublishReport:
    """Validate, plan and publish the next version from the three input files."""
    from blt_status.central.plan import (
        compute_aggregates,
        plan_publication,
        write_distribution_lists,
    )

    def row_progress(done: int, total: int) -> None:
        if progress is not None:
            progress("checking", done, total)

    plan = plan_publication(Path(recipients_csv), Path(payout_points_csv), Path(program_toml),
                            progress=row_progress)
    program = plan.program.program
    records = {recipient.nik_digits: (recipient.shard, recipient.payload)
               for recipient in plan.recipients}
    inputs = {"program": store.save_input(Path(program_toml), ".toml"),
              "payout_points": store.save_input(Path(payout_points_csv), ".csv")}
    result = publish_records(
        store, records, program=program,
        aggregate=lambda items: compute_aggregates(items, program),
        inputs=inputs, distribution=lambda out_dir: write_distribution_lists(plan, out_dir),
        workers=workers, progress=progress, now=now)
    rejected = [rejection.to_dict() for rejection in plan.rejected]
    if result.published + len(rejected) != plan.input_rows:
        raise CentralError("count_mismatch", "Jumlah baris tidak cocok.",
                           "Published and rejected rows do not add up to the input rows.")
    return PublishReport(result.version, result.published, rejected, plan.input_rows,
                         result.shards_written, result.shards_unchanged, result.keys_derived,
                         result.keys_reused, result.kecamatan, store.config.kdf.label,
                         [str(path) for path in result.distribution_lists],
                         [warning.to_dict() for warning in plan.warnings])


def ingest_payouts(store: CentralStore, report_csv: Path, *, progress: Progress | None = None,
                   now: dt.datetime | None = None, workers: int | None = None) -> IngestReport:
    """Apply a Kantor Pos payout report and publish the next version (only changed shards)."""
    with store.lock():
        return _ingest_payouts(store, Path(report_csv), progress=progress, now=now,
                               workers=workers)


def _ingest_payouts(store: CentralStore, report_csv: Path, *, progress: Progress | None,
                    now: dt.datetime | None, workers: int | None) -> IngestReport:
    from blt_status.central.inputs import load_payout_points, load_program
    from blt_status.central.payouts import apply_payouts, read_payout_report
    from blt_status.central.plan import compute_aggregates

    state = store.load_state()
    if state.version == 0:
        raise CentralError("nothing_published",
                           "Belum ada versi yang diterbitkan: jalankan `central publish` dulu.",
                           "Nothing is published yet: run `central publish` first.")
    events, rejections, input_rows = read_payout_report(Path(report_csv))
    program_config = load_program(store.input_path(state.inputs["program"]))
    payout_points = load_payout_points(store.input_path(state.inputs["payout_points"]))
    current = {nik: record.payload for nik, record in state.records.items()}
    changed, apply_rejections = apply_payouts(current, events, payout_points, program_config)
    rejected = [rejection.to_dict() for rejection in sorted(
        [*rejections, *apply_rejections], key=lambda rejection: rejection.line)]
    records = {nik: (record.shard, changed.get(nik, record.payload))
               for nik, record in state.records.items()}
    program = program_config.program
    result = publish_records(
        store, records, program=program,
        aggregate=lambda items: compute_aggregates(items, program),
        workers=workers, progress=progress, now=now, previous=state)
    applied = input_rows - len(rejected)
    changed_kec = sorted({state.records[nik].shard for nik in changed})
    return IngestReport(result.version, applied, rejected, input_rows, result.shards_written,
                        result.shards_unchanged, len(changed), changed_kec)


