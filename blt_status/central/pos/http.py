"""Calls to the payer over HTTP with retries: tenacity, exponential backoff with jitter.

Timeouts, connection failures, 5xx and 429 are retried (a 429's or 503's ``Retry-After`` is
honoured, capped at ``max_wait``); any other answer is returned to the caller as it is. When
the attempts run out, :class:`PayerUnreachable` says why (no token or body in the text).
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import tenacity
from tenacity.wait import wait_base

__all__ = ["PayerUnreachable", "RetryPolicy", "call_payer"]


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 6
    initial_wait: float = 0.5
    max_wait: float = 30.0
    timeout: float = 30.0


class PayerUnreachable(Exception):
    """Every attempt failed with a timeout, a network error, a 5xx or a 429."""


class _Retryable(Exception):
    def __init__(self, reason: str, retry_after: float | None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        parsed = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):  # neither seconds nor an HTTP date: our own backoff
        return None
    return max(0.0, parsed.timestamp() - time.time())


class _RetryAfterOrBackoff(wait_base):
    """``Retry-After`` when the payer sent one, else random exponential backoff."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self.backoff = tenacity.wait_random_exponential(multiplier=policy.initial_wait,
                                                        max=policy.max_wait)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        outcome = retry_state.outcome
        error = outcome.exception() if outcome is not None else None
        if isinstance(error, _Retryable) and error.retry_after is not None:
            return min(error.retry_after, self.policy.max_wait)
        return float(self.backoff(retry_state))


def call_payer(client: httpx.Client, method: str, url: str, *, policy: RetryPolicy,
               json_body: Any = None, data: Mapping[str, str] | None = None,
               headers: dict[str, str] | None = None, auth: httpx.Auth | None = None,
               on_retry: Callable[[str], None] | None = None) -> httpx.Response:
    """One request with retries; the final non-retryable response is returned.

    ``auth`` (a token source of :mod:`blt_status.central.pos.oauth`) sets the bearer token of
    each attempt; ``data`` is sent form-encoded.
    """

    def before_sleep(state: tenacity.RetryCallState) -> None:
        if on_retry is not None and state.outcome is not None:
            on_retry(str(state.outcome.exception()))

    @tenacity.retry(stop=tenacity.stop_after_attempt(policy.attempts),
                    wait=_RetryAfterOrBackoff(policy),
                    retry=tenacity.retry_if_exception_type(_Retryable),
                    before_sleep=before_sleep, reraise=True)
    def attempt() -> httpx.Response:
        try:
            response = client.request(method, url, json=json_body, data=data,
                                      headers=headers, auth=auth, timeout=policy.timeout)
        except httpx.TimeoutException:
            raise _Retryable("timeout", None) from None
        except httpx.TransportError as error:
            raise _Retryable(f"network: {type(error).__name__}", None) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise _Retryable(f"HTTP {response.status_code}",
                             _retry_after(response.headers.get("Retry-After")))
        return response

    try:
        return attempt()
    except _Retryable as error:
        raise PayerUnreachable(str(error)) from None
