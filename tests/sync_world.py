"""Shared helpers of the sync tests: the conftest world published as a signed repository.

``SyncWorld`` seals ``PEOPLE`` per view and kecamatan (re-sealing only kecamatan whose records
changed, so unchanged shards keep their bytes and hash, as the publisher does), publishes them
with :class:`SignedRepository`, and installs devices from its bundles.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from pathlib import Path
from typing import Any

from conftest import PASSPHRASE, PEOPLE, PROGRAM, Person
from support.repository import TEST_EPOCH, SignedRepository, world_files

from blt_status.bundle import Bundle
from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF
from blt_status.device import Device
from blt_status.indexer import IndexEntry, IndexParams, device_keyring, seal_entries
from blt_status.layout import params_document
from blt_status.lookup import LookupService
from blt_status.records import SealedRecord, canary_tag
from blt_status.sync import install_bundle

PARAMS = IndexParams(epoch_salt=b"test-epoch-salt-", kdf=TEST_INDEX_KDF, master_pepper=b"m" * 32)
AS_OF = dt.datetime(2025, 11, 20, 6, 0, tzinfo=dt.UTC)
VIEWS = ("officer", "recipient")
ALL_NIKS = [person.nik for person in PEOPLE] + ["3201014101010009"]


def collected(person: Person) -> Person:
    """The same person after a Kantor Pos ``salur`` event."""
    payload = dataclasses.replace(
        person.payload, status="collected",
        collected_at=dt.datetime(2025, 11, 24, 8, 30, tzinfo=dt.UTC),
        collected_point_id=person.payload.payout_point.id if person.payload.payout_point
        else None)
    return dataclasses.replace(person, payload=payload)


class SyncWorld:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.public_dir = root / "public"
        self.repo = SignedRepository(self.public_dir)
        self._sealed: dict[tuple[str, str], tuple[Any, list[SealedRecord]]] = {}
        self.people = list(PEOPLE)
        self.devices = 0

    def canaries(self) -> dict[str, dict[str, bytes]]:
        regions = sorted({person.shard for person in self.people})
        tag = {view: {region: canary_tag(epoch_salt=PARAMS.epoch_salt,
                                         pepper=PARAMS.pepper(view, region), view=view,
                                         profile=PARAMS.kdf) for region in regions}
               for view in VIEWS}
        return {"officer": tag["officer"], "recipient": {"*": tag["recipient"][regions[0]]}}

    def files(self, people: list[Person] | None = None) -> dict[str, tuple[bytes, dict]]:
        """Target files for ``people`` (sealing again only the kecamatan that changed)."""
        if people is not None:
            self.people = people
        view_records: dict[tuple[str, str], list[SealedRecord]] = {}
        for view in VIEWS:
            for region in sorted({person.shard for person in self.people}):
                chosen = [p for p in self.people if p.shard == region]
                fingerprint = tuple((p.nik, p.payload) for p in chosen)
                cached = self._sealed.get((view, region))
                if cached is None or cached[0] != fingerprint:
                    entries = [IndexEntry(p.nik, p.shard, p.payload) for p in chosen]
                    cached = (fingerprint, list(seal_entries(entries, view=view, params=PARAMS)))
                    self._sealed[(view, region)] = cached
                view_records[(view, region)] = cached[1]
        params = params_document(epoch=TEST_EPOCH, epoch_salt=PARAMS.epoch_salt, kdf=PARAMS.kdf,
                                 program=PROGRAM, canaries=self.canaries(), data_as_of=AS_OF)
        aggregates = {region: {"desa": {}, "recipients": sum(p.shard == region
                                                              for p in self.people)}
                      for region in {p.shard for p in self.people}}
        return world_files(view_records=view_records, params=params, aggregates=aggregates)

    def publish(self, people: list[Person] | None = None, **kwargs: Any) -> int:
        return self.repo.publish(self.files(people), **kwargs)

    def bundle(self, view: str = "officer", regions: tuple[str, ...] = ("32.01.01",),
               central_url: str | None = None) -> Bundle:
        return self.repo.bundle(view=view, regions=regions if view == "officer" else (),
                                keyring=device_keyring(PARAMS, view, regions),
                                central_url=central_url)

    def install(self, view: str = "officer", regions: tuple[str, ...] = ("32.01.01",), *,
                backend: str | None = None, central_url: str | None = None) -> Device:
        self.devices += 1
        bundle_path = self.root / f"bundle-{self.devices}.json"
        self.bundle(view, regions, central_url).write(bundle_path)
        return install_bundle(self.root / f"device-{self.devices}", bundle_path, PASSPHRASE,
                              backend=backend, wrap_profile=TEST_WRAP_KDF)


def answers(device: Device) -> dict[str, dict[str, Any]]:
    """Every known NIK's lookup answer on this device, as ``lookup --json`` would print it."""
    service = LookupService.open(device, device.unlock(PASSPHRASE))
    try:
        return {nik: service.lookup(nik).to_dict() for nik in ALL_NIKS}
    finally:
        service.close()
