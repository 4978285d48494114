"""Invitation tokens (the QR code of a surat undangan): compact, signed, checked offline.

A token carries a reference (not the NIK: a keyed hash of it), the data version, the payout
point, the payout date and the amount, signed with the central store's TUF ``targets`` key
(binary parts in base64url without padding)::

    BLT1|ref|version|point|yyyymmdd|amount|field tags|signature|signature of the tags

No new key reaches the devices: every device already holds the ``targets`` public key in the
TUF root metadata it verified when it synced (``tuf/metadata/root.json``), so a token is checked
against that, offline. The signed text starts with ``blt-invitation-v1`` so a token signature
can never be mistaken for TUF metadata. The second signature covers a 4-byte hash per field:
when the first does not verify but the second does, the fields whose hash differs from the
signed one are the ones that were altered (a wholly forged token fails both). After a rotation
of the ``targets`` key, invitations printed before it no longer verify: print them again.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Key, Signature, Signer

__all__ = ["FIELDS", "Invitation", "InvitationCheck", "check_token", "make_token"]

PREFIX = "BLT1"
FIELDS = ("ref", "version", "point", "date", "amount")
_DOMAIN = b"blt-invitation-v1\n"
_TAGS = b"blt-invitation-tags-v1\n"
_POINT = re.compile(r"[A-Za-z0-9_.-]{1,64}")


@dataclass(frozen=True)
class Invitation:
    ref: str
    version: int
    point: str
    date: dt.date
    amount: int

    def values(self) -> tuple[str, ...]:
        return (self.ref, str(self.version), self.point, self.date.strftime("%Y%m%d"),
                str(self.amount))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _tags(values: Sequence[str]) -> bytes:
    """A 4-byte hash per field (diagnostics only: genuineness rests on the full signature)."""
    return b"".join(hashlib.sha256(f"{name}={value}".encode()).digest()[:4]
                    for name, value in zip(FIELDS, values, strict=True))


def make_token(invitation: Invitation, signer: Signer) -> str:
    values = invitation.values()
    body = "|".join(values).encode()
    tags = _tags(values)
    first = bytes.fromhex(signer.sign(_DOMAIN + body).signature)
    second = bytes.fromhex(signer.sign(_TAGS + tags).signature)
    return "|".join((PREFIX, *values, _b64(tags), _b64(first), _b64(second)))


@dataclass(frozen=True)
class InvitationCheck:
    genuine: bool
    invitation: Invitation | None  # the fields as read (also when not genuine)
    altered: tuple[str, ...] = ()  # names of FIELDS found altered
    problem: str = ""  # English: why not genuine


def _parse(values: Sequence[str]) -> Invitation | None:
    ref, version, point, date, amount = values
    if not (re.fullmatch(r"[A-Z2-7]{4,32}", ref) and version.isdigit() and amount.isdigit()
            and _POINT.fullmatch(point) and re.fullmatch(r"\d{8}", date)):
        return None
    try:
        day = dt.datetime.strptime(date, "%Y%m%d").date()
    except ValueError:
        return None
    return Invitation(ref, int(version), point, day, int(amount))


def _verifies(keys: Sequence[Key], signature: bytes, data: bytes) -> bool:
    for key in keys:
        try:
            key.verify_signature(Signature(key.keyid, signature.hex()), data)
            return True
        except UnverifiedSignatureError:
            continue
    return False


def check_token(token: str, keys: Sequence[Key]) -> InvitationCheck | None:
    """Check a token against trusted keys; None when the text is not a token at all."""
    parts = token.strip().split("|")
    if len(parts) != 1 + len(FIELDS) + 3 or parts[0] != PREFIX:
        return None
    values = parts[1:1 + len(FIELDS)]
    try:
        tags, first, second = (_unb64(part) for part in parts[-3:])
    except ValueError:
        return None
    invitation = _parse(values)
    body = "|".join(values).encode()
    if invitation is not None and _verifies(keys, first, _DOMAIN + body):
        return InvitationCheck(True, invitation)
    if len(tags) != 4 * len(FIELDS) or not _verifies(keys, second, _TAGS + tags):
        return InvitationCheck(False, invitation, (),
                               "not signed with the programme's key (forged)")
    now = _tags(values)
    altered = tuple(name for index, name in enumerate(FIELDS)
                    if now[4 * index:4 * index + 4] != tags[4 * index:4 * index + 4])
    if not altered:
        return InvitationCheck(False, invitation, ("signature",), "the signature was altered")
    return InvitationCheck(False, invitation, altered, "altered after signing")
