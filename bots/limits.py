"""Lookup rate limits: a token bucket per user, a daily cap per user and a global bucket.

Checked before any key derivation, so a flood costs no Argon2id work. Time is passed in
(``now`` in seconds, monotonic or wall clock) so tests drive it without sleeping. Memory stays
bounded: idle users' buckets are dropped once they would be full again.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Decision", "LimitSettings", "LookupLimiter"]


@dataclass(frozen=True)
class LimitSettings:
    """``user_lookups`` per ``user_window`` seconds, ``user_daily`` per day, ``global_per_minute``.

    A value of 0 lifts that limit (the benchmark and the console use this).
    """

    user_lookups: int = 5
    user_window: float = 600.0
    user_daily: int = 20
    global_per_minute: int = 600

    @classmethod
    def lifted(cls) -> LimitSettings:
        return cls(user_lookups=0, user_daily=0, global_per_minute=0)


@dataclass(frozen=True)
class Decision:
    """``allowed``, or the moment (epoch seconds) to try again and whether the cap is global."""

    allowed: bool
    retry_at: float = 0.0
    global_cap: bool = False


class _Bucket:
    __slots__ = ("stamp", "tokens")

    def __init__(self, tokens: float, stamp: float) -> None:
        self.tokens = tokens
        self.stamp = stamp


class LookupLimiter:
    """Decides whether a user may run one more lookup now; consumes a token if so."""

    MAX_TRACKED = 50_000  # users tracked before idle ones are swept

    def __init__(self, settings: LimitSettings, tz: dt.tzinfo = dt.UTC) -> None:
        self.settings = settings
        self._tz = tz
        self._users: dict[int, _Bucket] = {}
        self._daily: dict[int, int] = {}
        self._day: dt.date | None = None
        self._global = _Bucket(float(settings.global_per_minute), 0.0)

    def _refill(self, bucket: _Bucket, capacity: float, rate: float, now: float) -> None:
        if now > bucket.stamp:
            bucket.tokens = min(capacity, bucket.tokens + (now - bucket.stamp) * rate)
            bucket.stamp = now

    def _next_midnight(self, now: float) -> float:
        local = dt.datetime.fromtimestamp(now, self._tz)
        midnight = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(),
                                       tzinfo=self._tz)
        return midnight.timestamp()

    def check(self, user_id: int, now: float) -> Decision:
        """Allow and consume, or say when to retry. Nothing is consumed when refused."""
        s = self.settings
        today = dt.datetime.fromtimestamp(now, self._tz).date()
        if today != self._day:
            self._day, self._daily = today, {}
        if s.user_daily and self._daily.get(user_id, 0) >= s.user_daily:
            return Decision(False, self._next_midnight(now))
        bucket = None
        if s.user_lookups:
            rate = s.user_lookups / s.user_window
            bucket = self._users.get(user_id)
            if bucket is None:
                if len(self._users) >= self.MAX_TRACKED:
                    self._sweep(now)
                bucket = self._users[user_id] = _Bucket(float(s.user_lookups), now)
            self._refill(bucket, s.user_lookups, rate, now)
            if bucket.tokens < 1:
                return Decision(False, now + (1 - bucket.tokens) / rate)
        if s.global_per_minute:
            global_rate = s.global_per_minute / 60.0
            self._refill(self._global, s.global_per_minute, global_rate, now)
            if self._global.tokens < 1:
                return Decision(False, now + (1 - self._global.tokens) / global_rate,
                                global_cap=True)
            self._global.tokens -= 1
        if bucket is not None:
            bucket.tokens -= 1
        if s.user_daily:
            self._daily[user_id] = self._daily.get(user_id, 0) + 1
        return Decision(True)

    def _sweep(self, now: float) -> None:
        """Forget users whose bucket has refilled (they are indistinguishable from new ones)."""
        s = self.settings
        rate = s.user_lookups / s.user_window
        for user_id in [uid for uid, b in self._users.items()
                        if b.tokens + (now - b.stamp) * rate >= s.user_lookups]:
            del self._users[user_id]

    @property
    def tracked_users(self) -> int:
        return len(self._users)
