"""``central pos pull``: ask the payer (DSBT-005) about every transaction with open references.

``GET {endpoint}/disburse/search/{transaction_id}/false`` answers synchronously with a signed
envelope whose ``message.disburse_response[]`` holds the current status of each reference. The
answer is checked exactly like a callback (schema, sender, signature) and goes through the same
:class:`FeedbackProcessor`, so polling and callbacks can be mixed: a fact already recorded is a
duplicate, not a second payout.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from blt_status.central.pos.config import PosConfig
from blt_status.central.pos.feedback import FeedbackProcessor, FeedbackResult
from blt_status.central.pos.http import PayerUnreachable, RetryPolicy, call_payer
from blt_status.central.pos.journal import Journal
from blt_status.central.pos.models import SpecError, parse_callback
from blt_status.central.pos.oauth import payer_auth
from blt_status.central.pos.signing import SignatureInvalid, verify
from blt_status.central.store import CentralStore
from blt_status.errors import CentralError

__all__ = ["PullReport", "pull"]


@dataclass
class PullReport:
    transactions: int = 0
    asked: int = 0
    feedback: FeedbackResult = field(default_factory=FeedbackResult)
    refused: dict[str, str] = field(default_factory=dict)  # transaction -> error code
    open_after: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {"transactions": self.transactions, "asked": self.asked,
                **self.feedback.to_dict(), "refused": dict(self.refused),
                "open_after": self.open_after}


def pull(store: CentralStore, config: PosConfig, *, endpoint: str,
         policy: RetryPolicy | None = None, client: httpx.Client | None = None) -> PullReport:
    """Poll each open transaction once; ``pos_unreachable`` if the payer cannot be reached."""
    policy = policy or RetryPolicy()
    journal = Journal.of(store)
    try:
        open_transactions = journal.open_transactions()
    finally:
        journal.close()
    report = PullReport(transactions=len(open_transactions))
    if not open_transactions:
        return report
    auth = payer_auth(config, policy)
    processor = FeedbackProcessor(store)
    payer_key = config.payer_key
    own_client = client is None
    http = client or httpx.Client()
    base = endpoint.rstrip("/")
    try:
        for transaction_id in open_transactions:
            url = f"{base}/disburse/search/{quote(transaction_id, safe='')}/false"
            try:
                response = call_payer(http, "GET", url, policy=policy, auth=auth,
                                      headers={"Accept-Language": "id"})
            except PayerUnreachable as error:
                raise CentralError("pos_unreachable", endpoint=base, reason=str(error),
                                   delivered=report.asked,
                                   pending=len(open_transactions) - report.asked) from None
            report.asked += 1
            if response.status_code != 200:
                report.refused[transaction_id] = f"HTTP_{response.status_code}"
                continue
            try:
                callback = parse_callback(response.json(), action="search",
                                          items_key="disburse_response")
                if callback.header["sender_id"] != config.payer_id:
                    raise SignatureInvalid("unknown sender")
                verify(callback.signature, callback.header, callback.message, payer_key,
                       sender_id=config.payer_id)
            except (ValueError, RecursionError):  # not JSON, or nested beyond any envelope
                report.refused[transaction_id] = "ERR_INVALID_REQUEST"
                continue
            except SpecError as error:
                report.refused[transaction_id] = error.code
                continue
            except SignatureInvalid:
                report.refused[transaction_id] = "ERR_INVALID_SIGNATURE"
                continue
            if callback.transaction_id != transaction_id:
                report.refused[transaction_id] = "ERR_INVALID_MESSAGE"
                continue
            report.feedback.add(processor.process(callback))
    finally:
        if own_client:
            http.close()
    journal = Journal.of(store)
    try:
        report.open_after = sum(journal.open_transactions().values())
    finally:
        journal.close()
    return report
