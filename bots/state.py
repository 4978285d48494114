"""The bot's own persistent state: languages, reminder subscriptions, last valid data date.

One small JSON file, rewritten atomically on change. It holds chat/user ids, language codes,
lookup tags and, per subscription, a sealed blob — never a NIK, KK or name:

    {"format": "blt-bot-state-v1",
     "languages": {"<user id>": "en"},
     "subscriptions": [{"chat": 42, "tag": "<hex>", "sealed": "<base64>"}],
     "checked_version": 3, "last_valid": "2025-11-20T06:00:00+00:00"}

A subscription's sealed blob is AES-256-GCM under a key derived from the bot's pepper (which
lives outside the data directory) and holds what reminders need to re-open that one record in
a later index version: the record key, the last status seen, the NIK's last four digits and the
date already reminded about. Why the record key and not a blob comparison: records are
re-sealed with fresh nonces whenever a shard is republished, so comparing sealed blobs would
report changes that are not there; with the key, the bot opens the new record and compares the
status itself. The key opens only that record, and only while the epoch salt stays the same.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from blt_status.crypto import b64d, b64e
from blt_status.store import atomic_write_bytes

__all__ = ["BotState", "Subscription", "SubscriptionSecret", "state_key_from_pepper"]

STATE_FORMAT = "blt-bot-state-v1"
MAX_SUBSCRIPTIONS_PER_CHAT = 5
_LOG = logging.getLogger("bots.state")


def state_key_from_pepper(pepper: bytes) -> bytes:
    """The at-rest key of subscription blobs: derived from the pepper, never stored."""
    return hmac.new(pepper, b"blt-bot-state-v1|subscriptions", hashlib.sha256).digest()


@dataclass
class SubscriptionSecret:
    """The sealed part of a subscription."""

    record_key: bytes = field(repr=False)
    status: str
    last4: str = field(repr=False)
    reminded_for: str = ""  # ISO date of the payout already reminded about

    def to_json(self) -> bytes:
        return json.dumps({"key": b64e(self.record_key), "status": self.status,
                           "last4": self.last4, "reminded_for": self.reminded_for}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> SubscriptionSecret:
        raw = json.loads(data)
        return cls(b64d(raw["key"]), str(raw["status"]), str(raw["last4"]),
                   str(raw.get("reminded_for", "")))


@dataclass
class Subscription:
    chat_id: int
    tag_hex: str
    sealed: str  # base64 AES-GCM blob of a SubscriptionSecret


class BotState:
    """Loaded once at start; every change is written through (``path`` None: memory only)."""

    def __init__(self, path: Path | None, state_key: bytes) -> None:
        self.path = path
        self._aead = AESGCM(state_key)
        self.languages: dict[int, str] = {}
        self.subscriptions: list[Subscription] = []
        self.checked_version: int | None = None
        self.last_valid: dt.datetime | None = None
        if path is not None and path.exists():
            self._load(path)

    def _load(self, path: Path) -> None:
        try:
            data: Any = json.loads(path.read_bytes())
            if data.get("format") != STATE_FORMAT:
                raise ValueError("format")
            self.languages = {int(k): str(v) for k, v in data.get("languages", {}).items()}
            self.subscriptions = [Subscription(int(s["chat"]), str(s["tag"]), str(s["sealed"]))
                                  for s in data.get("subscriptions", [])]
            version = data.get("checked_version")
            self.checked_version = int(version) if version is not None else None
            last_valid = data.get("last_valid")
            self.last_valid = dt.datetime.fromisoformat(last_valid) if last_valid else None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            _LOG.warning("bot state file unreadable; starting with an empty state")
            self.languages, self.subscriptions = {}, []

    def save(self) -> None:
        if self.path is None:
            return
        data = {
            "format": STATE_FORMAT,
            "languages": {str(k): v for k, v in sorted(self.languages.items())},
            "subscriptions": [{"chat": s.chat_id, "tag": s.tag_hex, "sealed": s.sealed}
                              for s in self.subscriptions],
            "checked_version": self.checked_version,
            "last_valid": self.last_valid.isoformat() if self.last_valid else None,
        }
        atomic_write_bytes(self.path, json.dumps(data, indent=1).encode())

    # -- languages --------------------------------------------------------------------------

    def language(self, user_id: int, default: str) -> str:
        return self.languages.get(user_id, default)

    def set_language(self, user_id: int, lang: str) -> None:
        if self.languages.get(user_id) != lang:
            self.languages[user_id] = lang
            self.save()

    # -- subscriptions ----------------------------------------------------------------------

    def _aad(self, chat_id: int, tag_hex: str) -> bytes:
        return f"blt-bot-sub-v1|{chat_id}|{tag_hex}".encode()

    def seal(self, chat_id: int, tag_hex: str, secret: SubscriptionSecret) -> str:
        nonce = os.urandom(12)
        return b64e(nonce + self._aead.encrypt(nonce, secret.to_json(),
                                               self._aad(chat_id, tag_hex)))

    def open(self, subscription: Subscription) -> SubscriptionSecret | None:
        try:
            blob = b64d(subscription.sealed)
            plain = self._aead.decrypt(blob[:12], blob[12:],
                                       self._aad(subscription.chat_id, subscription.tag_hex))
            return SubscriptionSecret.from_json(plain)
        except (InvalidTag, ValueError, KeyError, TypeError):
            return None

    def subscribe(self, chat_id: int, tag_hex: str, secret: SubscriptionSecret) -> None:
        """Add (or replace) the subscription of ``chat_id`` to ``tag_hex``."""
        mine = [s for s in self.subscriptions if s.chat_id == chat_id and s.tag_hex != tag_hex]
        others = [s for s in self.subscriptions if s.chat_id != chat_id]
        mine = mine[-(MAX_SUBSCRIPTIONS_PER_CHAT - 1):]
        self.subscriptions = [*others, *mine,
                              Subscription(chat_id, tag_hex, self.seal(chat_id, tag_hex, secret))]
        self.save()

    def unsubscribe_chat(self, chat_id: int) -> int:
        before = len(self.subscriptions)
        self.subscriptions = [s for s in self.subscriptions if s.chat_id != chat_id]
        removed = before - len(self.subscriptions)
        if removed:
            self.save()
        return removed

    def update(self, subscription: Subscription, secret: SubscriptionSecret | None) -> None:
        """Reseal (or drop, when ``secret`` is None) one subscription; caller saves."""
        if secret is None:
            self.subscriptions = [s for s in self.subscriptions if s is not subscription]
        else:
            subscription.sealed = self.seal(subscription.chat_id, subscription.tag_hex, secret)
