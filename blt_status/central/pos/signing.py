"""The Ed25519 message signature of the Kantor Pos exchange (the spec's ``MsgSignature``).

Profile (documented in docs/pos.md)::

    Signature: keyId="{sender_id}|{key_id}|ed25519",algorithm="ed25519",created="{unix}",
               expires="{unix}",headers="(created) (expires) digest",signature="{base64}"

The signature is Ed25519 over the signing string::

    (created): {created}
    (expires): {expires}
    digest: BLAKE-512={base64 of BLAKE2b-512 of canonical_json({"header": h, "message": m})}

The central store's own key lives in ``DIR/private/pos/signing.pem`` (PKCS#8, 0600).
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from blt_status.central.pos.models import canonical_json
from blt_status.central.store import CentralStore, write_private
from blt_status.errors import CentralError

__all__ = [
    "DEFAULT_TTL",
    "MAX_SKEW",
    "SignatureInvalid",
    "key_id",
    "load_public_key",
    "public_pem",
    "sign",
    "signing_key",
    "verify",
]

DEFAULT_TTL = 300  # seconds a signature stays valid
MAX_SKEW = 30  # seconds a `created` may lie in the future (clock drift)
_PARAM = re.compile(r'([A-Za-z]+)="([^"]*)"')


class SignatureInvalid(Exception):
    """The signature is missing, malformed, expired, from the future or does not verify."""


def signing_key_path(store: CentralStore) -> Path:
    return store.private_dir / "pos" / "signing.pem"


def signing_key(store: CentralStore) -> Ed25519PrivateKey:
    """The central store's exchange key: created (0600) on first use, then read."""
    path = signing_key_path(store)
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
        write_private(path, pem)
        return key
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError, TypeError):
        raise CentralError("pos_key_unreadable", path=str(path)) from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise CentralError("pos_key_unreadable", path=str(path))
    return loaded


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return public.public_bytes(serialization.Encoding.PEM,
                               serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def load_public_key(pem: str | bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; ``pos_payer_key`` if it is not one."""
    try:
        key = serialization.load_pem_public_key(pem.encode() if isinstance(pem, str) else pem)
    except (ValueError, TypeError):
        raise CentralError("pos_payer_key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise CentralError("pos_payer_key")
    return key


def key_id(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    """A short stable id of a key: the first 16 hex digits of SHA-256 of the raw public key."""
    public = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def digest(header: Mapping[str, Any], message: Any) -> str:
    body = canonical_json({"header": header, "message": message})
    return base64.b64encode(hashlib.blake2b(body, digest_size=64).digest()).decode()


def signing_string(created: int, expires: int, header: Mapping[str, Any], message: Any) -> bytes:
    return (f"(created): {created}\n(expires): {expires}\n"
            f"digest: BLAKE-512={digest(header, message)}").encode()


def sign(header: Mapping[str, Any], message: Any, key: Ed25519PrivateKey, *, sender_id: str,
         now: float | None = None, ttl: int = DEFAULT_TTL) -> str:
    """The ``signature`` field for a body with this header and message."""
    created = int(time.time() if now is None else now)
    expires = created + ttl
    raw = key.sign(signing_string(created, expires, header, message))
    return (f'Signature: keyId="{sender_id}|{key_id(key)}|ed25519",algorithm="ed25519",'
            f'created="{created}",expires="{expires}",headers="(created) (expires) digest",'
            f'signature="{base64.b64encode(raw).decode()}"')


@dataclass(frozen=True)
class SignatureInfo:
    sender_id: str
    key_id: str
    created: int
    expires: int


def verify(signature: str, header: Mapping[str, Any], message: Any, key: Ed25519PublicKey, *,
           sender_id: str | None = None, now: float | None = None) -> SignatureInfo:
    """Check ``signature`` over this header and message; raise :class:`SignatureInvalid`."""
    text = signature.removeprefix("Signature:").strip()
    params = dict(_PARAM.findall(text))
    try:
        key_sender, kid, algorithm = params["keyId"].split("|")
        created = int(params["created"])
        expires = int(params["expires"])
        raw = base64.b64decode(params["signature"], validate=True)
    except (KeyError, ValueError):
        raise SignatureInvalid("malformed signature") from None
    if algorithm != "ed25519" or params.get("algorithm") != "ed25519":
        raise SignatureInvalid("algorithm must be ed25519")
    if params.get("headers") != "(created) (expires) digest":
        raise SignatureInvalid('headers must be "(created) (expires) digest"')
    if sender_id is not None and key_sender != sender_id:
        raise SignatureInvalid("keyId names another sender")
    if kid != key_id(key):
        raise SignatureInvalid("keyId names another key")
    moment = time.time() if now is None else now
    if created > moment + MAX_SKEW:
        raise SignatureInvalid("created lies in the future")
    if expires < moment or expires <= created:
        raise SignatureInvalid("signature expired")
    try:
        key.verify(raw, signing_string(created, expires, header, message))
    except InvalidSignature:
        raise SignatureInvalid("signature does not verify") from None
    return SignatureInfo(key_sender, kid, created, expires)


def utc_timestamp(now: dt.datetime | None = None) -> str:
    """RFC 3339 ``message_ts`` of now (UTC, seconds)."""
    return (now or dt.datetime.now(dt.UTC)).replace(microsecond=0).isoformat()

