"""Keys for the private index: keyed Argon2id per NIK, record sealing, pepper wrapping.

As docs/design.md ("Keys and views") describes it:

    k       = Argon2id(NIK, salt=epoch_salt, secret=view_pepper, ad="blt-idx-v1|" + view)
    tag     = HMAC-SHA256(k, "tag")[:16]        the lookup key in the index
    enc_key = HMAC-SHA256(k, "enc")             AES-256-GCM key of the record
    aad     = "blt-rec-v1|" + tag + "|" + shard + "|" + view

KDF parameters are data (:class:`KdfProfile`): they travel in the signed metadata. The cheap
profiles are named ``*-test-insecure`` and must be labelled as such wherever they are shown.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from dataclasses import asdict, dataclass
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id

from blt_status.errors import FileFormatError, IndexCorrupt, WrongPassphrase
from blt_status.i18n import N_

__all__ = [
    "PRODUCTION_INDEX_KDF",
    "PRODUCTION_WRAP_KDF",
    "TEST_INDEX_KDF",
    "TEST_WRAP_KDF",
    "IndexKey",
    "KdfProfile",
    "b64d",
    "b64e",
    "derive_index_key",
    "lookup_tag",
    "new_secret",
    "open_record",
    "record_aad",
    "seal_record",
    "unwrap_secret",
    "view_pepper",
    "wrap_secret",
]

VIEWS = ("officer", "recipient")
_NONCE = 12
_MAX_MEMORY_KIB = 4 * 1024 * 1024  # refuse absurd parameters from metadata (4 GiB)


def b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64d(text: str) -> bytes:
    return base64.b64decode(text.encode("ascii"), validate=True)


def new_secret(size: int = 32) -> bytes:
    """Fresh random bytes for a pepper, salt or key."""
    return os.urandom(size)


@dataclass(frozen=True, slots=True)
class KdfProfile:
    """Argon2id parameters: memory in KiB, passes, lanes; ``name`` says what they are for."""

    name: str
    memory_kib: int
    iterations: int
    lanes: int

    @property
    def insecure(self) -> bool:
        return self.name.endswith("test-insecure")

    @property
    def label(self) -> str:
        """How to show the profile: cheap profiles are labelled loudly."""
        text = (f"{self.name} (Argon2id m={self.memory_kib} KiB, t={self.iterations}, "
                f"p={self.lanes})")
        return text + " — NOT FOR REAL DATA" if self.insecure else text

    def to_dict(self) -> dict[str, object]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: object) -> KdfProfile:
        """Parse and sanity-check parameters read from metadata or a file."""
        try:
            assert isinstance(data, dict)
            profile = cls(
                str(data["name"]), int(data["memory_kib"]), int(data["iterations"]),
                int(data["lanes"]),
            )
        except (AssertionError, KeyError, TypeError, ValueError):
            raise FileFormatError("kdf_params") from None
        if not (1 <= profile.lanes <= 64 and 1 <= profile.iterations <= 64
                and 8 * profile.lanes <= profile.memory_kib <= _MAX_MEMORY_KIB):
            raise FileFormatError("kdf_params")
        return profile

    def derive(self, secret_input: bytes, *, salt: bytes, pepper: bytes | None, ad: bytes,
               length: int = 32) -> bytes:
        kdf = Argon2id(salt=salt, length=length, iterations=self.iterations, lanes=self.lanes,
                       memory_cost=self.memory_kib, ad=ad, secret=pepper)
        return kdf.derive(secret_input)


# OWASP minimum for Argon2id: m=19 MiB, t=2, p=1.
PRODUCTION_INDEX_KDF = KdfProfile("index-production", 19 * 1024, 2, 1)
TEST_INDEX_KDF = KdfProfile("index-test-insecure", 256, 1, 1)
# Unlocking a device's pepper happens once a session, so it can afford much more.
PRODUCTION_WRAP_KDF = KdfProfile("wrap-production", 64 * 1024, 3, 1)
TEST_WRAP_KDF = KdfProfile("wrap-test-insecure", 256, 1, 1)


@dataclass(frozen=True, slots=True)
class IndexKey:
    """The two keys derived from one NIK under one view/pepper/epoch."""

    tag: bytes
    enc_key: bytes = b""

    def __repr__(self) -> str:  # never print key material
        return f"IndexKey(tag={self.tag.hex()})"

    @classmethod
    def from_root(cls, root: bytes) -> IndexKey:
        return cls(lookup_tag(root), hmac.digest(root, b"enc", "sha256"))


def lookup_tag(root: bytes) -> bytes:
    """The lookup tag of a root key (``IndexKey.from_root(root).tag``, without the enc key)."""
    return hmac.digest(root, b"tag", "sha256")[:16]


def derive_index_key(nik_digits: str, *, epoch_salt: bytes, pepper: bytes, view: str,
                     profile: KdfProfile) -> bytes:
    """The Argon2id root key ``k`` of one NIK (the publisher caches it per epoch)."""
    if view not in VIEWS:
        raise ValueError(f"unknown view {view!r}")
    return profile.derive(nik_digits.encode("ascii"), salt=epoch_salt, pepper=pepper,
                          ad=b"blt-idx-v1|" + view.encode("ascii"))


def view_pepper(master: bytes, view: str, region: str | None = None) -> bytes:
    """A view's pepper from the central master pepper: one per kecamatan for officers."""
    if view == "officer":
        if not region:
            raise ValueError("the officer view needs a kecamatan")
        label = f"blt-pepper-v1|officer|{region}"
    elif view == "recipient":
        label = "blt-pepper-v1|recipient"
    else:
        raise ValueError(f"unknown view {view!r}")
    return hmac.new(master, label.encode("ascii"), hashlib.sha256).digest()


def record_aad(tag: bytes, shard: str, view: str) -> bytes:
    return b"blt-rec-v1|" + tag + b"|" + shard.encode("ascii") + b"|" + view.encode("ascii")


def seal_record(key: IndexKey, plaintext: bytes, *, shard: str, view: str) -> bytes:
    """AES-256-GCM: 12-byte random nonce followed by ciphertext and tag."""
    nonce = os.urandom(_NONCE)
    return nonce + AESGCM(key.enc_key).encrypt(nonce, plaintext, record_aad(key.tag, shard, view))


def open_record(key: IndexKey, blob: bytes, *, shard: str, view: str) -> bytes:
    try:
        return AESGCM(key.enc_key).decrypt(blob[:_NONCE], blob[_NONCE:],
                                           record_aad(key.tag, shard, view))
    except (InvalidTag, ValueError):
        raise IndexCorrupt(None, N_("it fails authentication")) from None


_WRAP_FORMAT = "blt-wrap-v1"


def wrap_secret(secret: bytes, passphrase: str,
                profile: KdfProfile = PRODUCTION_WRAP_KDF) -> dict[str, Any]:
    """Encrypt ``secret`` under a passphrase; the result is JSON-safe and names its KDF."""
    salt = os.urandom(16)
    key = profile.derive(passphrase.encode("utf-8"), salt=salt, pepper=None,
                         ad=_WRAP_FORMAT.encode("ascii"))
    nonce = os.urandom(_NONCE)
    sealed = AESGCM(key).encrypt(nonce, secret, _WRAP_FORMAT.encode("ascii"))
    return {"format": _WRAP_FORMAT, "kdf": profile.to_dict(), "salt": b64e(salt),
            "nonce": b64e(nonce), "ciphertext": b64e(sealed)}


def unwrap_secret(wrapped: dict[str, Any], passphrase: str) -> bytes:
    """The secret back, or :class:`WrongPassphrase`."""
    try:
        if wrapped.get("format") != _WRAP_FORMAT:
            raise ValueError("format")
        profile = KdfProfile.from_dict(wrapped["kdf"])
        salt, nonce = b64d(wrapped["salt"]), b64d(wrapped["nonce"])
        sealed = b64d(wrapped["ciphertext"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise FileFormatError("keyring_corrupt") from None
    key = profile.derive(passphrase.encode("utf-8"), salt=salt, pepper=None,
                         ad=_WRAP_FORMAT.encode("ascii"))
    try:
        return AESGCM(key).decrypt(nonce, sealed, _WRAP_FORMAT.encode("ascii"))
    except InvalidTag:
        raise WrongPassphrase() from None


def canonical_json(data: object) -> bytes:
    """Stable JSON bytes (sorted keys, no spaces) for hashing and sealing."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
