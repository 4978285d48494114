"""What a record in the index says (per view), and how one is built, sealed and opened.

The publisher and the tests build records with :func:`seal_payload`; devices open them with
:func:`open_payload`. A record's plaintext is canonical JSON of a :class:`RecordPayload`;
the *officer* view carries full name, address and household, the *recipient* view only a
masked name.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass, field, replace
from typing import Any

from blt_status.crypto import (
    IndexKey,
    KdfProfile,
    derive_index_key,
    open_record,
    seal_record,
)
from blt_status.errors import IndexCorrupt
from blt_status.i18n import N_

__all__ = [
    "MODES",
    "STATUSES",
    "PayoutPoint",
    "Program",
    "RecordPayload",
    "Schedule",
    "SealedRecord",
    "mask_name",
    "open_payload",
    "seal_payload",
]

STATUSES = ("scheduled", "collected", "held", "returned")
MODES = ("kantor_pos", "komunitas", "antar")


def mask_name(name: str) -> str:
    """``Siti Aminah`` -> ``S*** A*****``: first letter of each word, the rest hidden."""
    return " ".join(word[0] + "*" * (len(word) - 1) for word in name.split())


@dataclass(frozen=True, slots=True)
class Program:
    id: str
    name: str
    period: str
    # The last day of the programme's payout window: after a missed slot, recipients can still
    # come until then. None in records of publishers before it was carried.
    end: dt.date | None = None

    def to_dict(self) -> dict[str, str]:
        data = {"id": self.id, "name": self.name, "period": self.period}
        if self.end is not None:  # only when set: older records keep their bytes
            data["end"] = self.end.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Program:
        end = data.get("end")
        return cls(str(data["id"]), str(data["name"]), str(data["period"]),
                   dt.date.fromisoformat(end) if end else None)


@dataclass(frozen=True, slots=True)
class PayoutPoint:
    """Where the aid is paid: a Kantor Pos or a community point (balai desa)."""

    id: str
    name: str
    address: str
    kind: str  # kantor_pos | komunitas

    def to_dict(self) -> dict[str, str]:
        return {"id": self.id, "name": self.name, "address": self.address, "kind": self.kind}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PayoutPoint:
        return cls(str(data["id"]), str(data["name"]), str(data["address"]), str(data["kind"]))


@dataclass(frozen=True, slots=True)
class Schedule:
    """When: a date and time slot, or for ``antar`` (served at home) a window of dates."""

    date: dt.date
    start: dt.time | None
    end: dt.time | None
    mode: str  # kantor_pos | komunitas | antar
    window_end: dt.date | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "date": self.date.isoformat(),
            "start": self.start.strftime("%H:%M") if self.start else None,
            "end": self.end.strftime("%H:%M") if self.end else None,
            "mode": self.mode,
            "window_end": self.window_end.isoformat() if self.window_end else None,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Schedule:
        def time_or_none(text: str | None) -> dt.time | None:
            return dt.time.fromisoformat(text) if text else None

        window_end = data.get("window_end")
        return cls(
            dt.date.fromisoformat(data["date"]), time_or_none(data.get("start")),
            time_or_none(data.get("end")), str(data["mode"]),
            dt.date.fromisoformat(window_end) if window_end else None,
        )


@dataclass(frozen=True, slots=True)
class RecordPayload:
    """The decrypted content of one index record."""

    view: str  # officer | recipient
    status: str  # scheduled | collected | held | returned
    amount: int  # rupiah
    program: Program
    schedule: Schedule
    payout_point: PayoutPoint | None
    name: str = field(repr=False)  # full (officer) or masked (recipient)
    kode_wilayah: str = ""  # desa of residence, dotted
    address: str | None = field(default=None, repr=False)  # officer view only
    household_size: int | None = None  # officer view only
    special_needs: str | None = None  # lansia | disabilitas
    collected_at: dt.datetime | None = None
    collected_point_id: str | None = None
    status_note: str | None = None  # legacy free text; never written by the publisher now
    reason_code: str | None = None  # why held / returned: a code of blt_status.reasons

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "view": self.view,
            "status": self.status,
            "amount": self.amount,
            "program": self.program.to_dict(),
            "schedule": self.schedule.to_dict(),
            "payout_point": self.payout_point.to_dict() if self.payout_point else None,
            "name": self.name,
            "kode_wilayah": self.kode_wilayah,
            "address": self.address,
            "household_size": self.household_size,
            "special_needs": self.special_needs,
            "collected_at": self.collected_at.isoformat() if self.collected_at else None,
            "collected_point_id": self.collected_point_id,
            "status_note": self.status_note,
        }
        if self.reason_code is not None:  # only when set: older records keep their bytes
            data["reason_code"] = self.reason_code
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordPayload:
        point = data.get("payout_point")
        collected = data.get("collected_at")
        return cls(
            view=str(data["view"]),
            status=str(data["status"]),
            amount=int(data["amount"]),
            program=Program.from_dict(data["program"]),
            schedule=Schedule.from_dict(data["schedule"]),
            payout_point=PayoutPoint.from_dict(point) if point else None,
            name=str(data["name"]),
            kode_wilayah=str(data.get("kode_wilayah", "")),
            address=data.get("address"),
            household_size=data.get("household_size"),
            special_needs=data.get("special_needs"),
            collected_at=dt.datetime.fromisoformat(collected) if collected else None,
            collected_point_id=data.get("collected_point_id"),
            status_note=data.get("status_note"),
            reason_code=data.get("reason_code"),
        )

    def to_bytes(self) -> bytes:
        """``canonical_json(self.to_dict())``, byte for byte (a test checks it), composed from
        the fields in sorted key order with the program, schedule and payout point encoded once
        each: a publish hashes every recipient's payload, and ``json.dumps`` with sorted keys
        of the nested dicts was a tenth of a re-publish."""
        parts = ['{"address":', _json(self.address), ',"amount":', _json(self.amount),
                 ',"collected_at":',
                 _json(self.collected_at.isoformat() if self.collected_at else None),
                 ',"collected_point_id":', _json(self.collected_point_id),
                 ',"household_size":', _json(self.household_size),
                 ',"kode_wilayah":', _json(self.kode_wilayah), ',"name":', _json(self.name),
                 ',"payout_point":',
                 _fragment(self.payout_point) if self.payout_point else "null",
                 ',"program":', _fragment(self.program)]
        if self.reason_code is not None:
            parts += (',"reason_code":', _json(self.reason_code))
        parts += (',"schedule":', _fragment(self.schedule),
                  ',"special_needs":', _json(self.special_needs),
                  ',"status":', _json(self.status), ',"status_note":', _json(self.status_note),
                  ',"view":', _json(self.view), "}")
        return "".join(parts).encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> RecordPayload:
        try:
            return cls.from_dict(json.loads(data))
        except (ValueError, KeyError, TypeError):
            raise IndexCorrupt(None, N_("its content cannot be read")) from None

    def for_recipient(self) -> RecordPayload:
        """The recipient-view copy of an officer record: masked name, no address/household."""
        return replace(self, view="recipient", name=mask_name(self.name), address=None,
                       household_size=None)


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
_STRING: Any = getattr(json.encoder, "c_encode_basestring", None) \
    or json.encoder.py_encode_basestring  # what the encoder above uses for a str


def _json(value: object) -> str:
    """One value as :func:`canonical_json` writes it."""
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return str(_STRING(value))
    if kind is int:
        return int.__repr__(value)
    return _CANONICAL.encode(value)


@functools.lru_cache(maxsize=4096)
def _fragment(value: Program | Schedule | PayoutPoint) -> str:
    """The canonical JSON of a program, schedule or payout point (shared by many records)."""
    return _CANONICAL.encode(value.to_dict())


@dataclass(frozen=True, slots=True)
class SealedRecord:
    """One index entry as stored: lookup tag, shard (kecamatan of residence), sealed blob."""

    tag: bytes
    shard: str
    blob: bytes = field(repr=False)


def seal_payload(payload: RecordPayload, *, key: IndexKey, shard: str) -> SealedRecord:
    """Encrypt a payload under the key derived from its NIK."""
    return SealedRecord(key.tag, shard,
                        seal_record(key, payload.to_bytes(), shard=shard, view=payload.view))


def open_payload(record: SealedRecord, *, key: IndexKey, view: str) -> RecordPayload:
    payload = RecordPayload.from_bytes(open_record(key, record.blob, shard=record.shard, view=view))
    if payload.view != view:
        raise IndexCorrupt(None, N_("it is of another view"))
    return payload


def key_for(nik_digits: str, *, epoch_salt: bytes, pepper: bytes, view: str,
            profile: KdfProfile) -> IndexKey:
    """Derive the tag and record key of one NIK (one Argon2id call)."""
    return IndexKey.from_root(derive_index_key(nik_digits, epoch_salt=epoch_salt, pepper=pepper,
                                               view=view, profile=profile))


CANARY_INPUT = "blt-canary-v1"


def canary_tag(*, epoch_salt: bytes, pepper: bytes, view: str, profile: KdfProfile) -> bytes:
    """The tag a region's index carries to prove which salt, pepper and KDF built it."""
    return key_for(CANARY_INPUT, epoch_salt=epoch_salt, pepper=pepper, view=view,
                   profile=profile).tag
