"""Build index records for a view from plaintext entries: the one record-building API.

The publisher (``blt_status.central``) calls this for each shard; tests and the demo call it
to make a device index directly. Peppers come from the central master pepper: one per
kecamatan for the officer view, one for the recipient view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from blt_status.crypto import IndexKey, KdfProfile, derive_index_key, view_pepper
from blt_status.device import ALL_REGIONS, Keyring
from blt_status.records import Program, RecordPayload, SealedRecord, canary_tag, seal_payload
from blt_status.store import IndexMeta

__all__ = ["IndexEntry", "IndexParams", "device_keyring", "make_meta", "seal_entries"]


@dataclass(frozen=True)
class IndexEntry:
    """One recipient to index: NIK digits, shard (kecamatan of residence), officer payload."""

    nik_digits: str = field(repr=False)
    shard: str
    payload: RecordPayload = field(repr=False)


@dataclass(frozen=True)
class IndexParams:
    """The key parameters of one epoch: what a device needs (besides its pepper)."""

    epoch_salt: bytes = field(repr=False)
    kdf: KdfProfile
    master_pepper: bytes = field(repr=False)

    def pepper(self, view: str, shard: str) -> bytes:
        return view_pepper(self.master_pepper, view, shard if view == "officer" else None)

    def pepper_region(self, view: str, shard: str) -> str:
        """The keyring key for a shard: the kecamatan (officer) or ``*`` (recipient)."""
        return shard if view == "officer" else ALL_REGIONS

    def root_key(self, nik_digits: str, view: str, shard: str) -> bytes:
        """Argon2id ``k`` (expensive; the publisher caches it)."""
        return derive_index_key(nik_digits, epoch_salt=self.epoch_salt,
                                pepper=self.pepper(view, shard), view=view, profile=self.kdf)


def seal_entries(entries: Iterable[IndexEntry], *, view: str, params: IndexParams,
                 root_keys: Mapping[tuple[str, str], bytes] | None = None,
                 ) -> Iterator[SealedRecord]:
    """Seal each entry for ``view``; ``root_keys[(nik, view)]`` skips the KDF when cached."""
    for entry in entries:
        payload = entry.payload if view == "officer" else entry.payload.for_recipient()
        cached = root_keys.get((entry.nik_digits, view)) if root_keys else None
        root = cached or params.root_key(entry.nik_digits, view, entry.shard)
        yield seal_payload(payload, key=IndexKey.from_root(root), shard=entry.shard)


def make_meta(*, view: str, version: int, program: Program, params: IndexParams,
              shards: Iterable[str], data_as_of: dt.datetime,
              expires: dt.datetime | None = None) -> IndexMeta:
    """Index metadata with the canary of every pepper the shards need."""
    shard_list = sorted(set(shards))
    regions = {params.pepper_region(view, shard): shard for shard in shard_list}
    canaries = {
        region: canary_tag(epoch_salt=params.epoch_salt, pepper=params.pepper(view, shard),
                           view=view, profile=params.kdf)
        for region, shard in regions.items()
    }
    return IndexMeta(view=view, version=version, data_as_of=data_as_of, expires=expires,
                     program=program, kdf=params.kdf, epoch_salt=params.epoch_salt,
                     shards=dict.fromkeys(shard_list, 0), canaries=canaries)


def device_keyring(params: IndexParams, view: str, regions: Iterable[str]) -> Keyring:
    """The peppers a device of ``view`` over ``regions`` holds."""
    if view == "recipient":
        return Keyring({ALL_REGIONS: params.pepper("recipient", "")})
    return Keyring({region: params.pepper("officer", region) for region in regions})
