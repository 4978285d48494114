"""``central pos push``: send a published version's payout instructions to the payer (DSBT-001).

One ``transaction_id`` per payout point and version; each message carries at most
``batch_size`` DisburseRequests. The plan (which reference goes into which message) is written
to the journal before anything is sent, with deterministic message ids, so:

- pushing the same version again sends nothing (every message is already ``delivered``) but the
  messages the payer refused, which go again with the same ids;
- a push the payer's outage interrupted resumes with the same message ids and contents;
- recipients served at home (``antar``, no payout point) go in one transaction per kecamatan,
  ``ANTAR-<kecamatan>``; the payer reports in the feedback ``instruction`` where it paid;
- a later version sends only the references whose instruction changed (new slot, point or
  amount) or that are new; recipients whose payout is final (collected/returned) are skipped;
  an older version (``--version``) never replaces what a newer one delivered;
  recipients that left the roster are reported as ``removed`` (the spec has no cancel message).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from blt_status.central.pos.bridge import RosterInfo, RosterItem, published_roster
from blt_status.central.pos.config import PosConfig
from blt_status.central.pos.http import PayerUnreachable, RetryPolicy, call_payer
from blt_status.central.pos.journal import Batch, Journal
from blt_status.central.pos.mapping import reference_id, reference_key, transaction_id
from blt_status.central.pos.models import SPEC_VERSION, DisburseRequest, format_amount
from blt_status.central.pos.oauth import payer_auth
from blt_status.central.pos.signing import sign, signing_key, utc_timestamp
from blt_status.central.store import CentralStore
from blt_status.records import RecordPayload

__all__ = ["PushReport", "local_offset", "push", "push_instruction"]

_OFFSETS = {8: ("51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"),
            9: ("81", "82", "91", "92", "93", "94", "95", "96", "97")}


def local_offset(kode_wilayah: str) -> dt.timezone:
    """WIB (+07:00), WITA (+08:00) or WIT (+09:00) from the province code."""
    province = kode_wilayah[:2]
    for hours, provinces in _OFFSETS.items():
        if province in provinces:
            return dt.timezone(dt.timedelta(hours=hours))
    return dt.timezone(dt.timedelta(hours=7))


def push_instruction(payload: RecordPayload) -> str:
    """The compact ``instruction`` JSON: ``{id_titik, tanggal, mulai, selesai, mode}``."""
    schedule = payload.schedule
    data = {"id_titik": payload.payout_point.id if payload.payout_point else None,
            "tanggal": schedule.date.isoformat(),
            "mulai": schedule.start.strftime("%H:%M") if schedule.start else None,
            "selesai": schedule.end.strftime("%H:%M") if schedule.end else None,
            "mode": schedule.mode}
    return json.dumps(data, separators=(",", ":"), sort_keys=True)


def _scheduled(payload: RecordPayload) -> str:
    start = payload.schedule.start or dt.time(0, 0)
    moment = dt.datetime.combine(payload.schedule.date, start,
                                 tzinfo=local_offset(payload.kode_wilayah))
    return moment.isoformat()


@dataclass
class PushReport:
    version: int
    transactions: int = 0
    messages_planned: int = 0
    messages_sent: int = 0
    messages_already_delivered: int = 0
    sent: int = 0
    skipped_unchanged: int = 0
    skipped_final: int = 0
    skipped_newer: int = 0  # --version V older than what the payer already has
    refused: int = 0
    refused_by_code: dict[str, int] = field(default_factory=dict)
    removed: int = 0
    not_delivered: int = 0
    complete: bool = False
    unreachable_reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "transactions": self.transactions,
                "messages_planned": self.messages_planned, "messages_sent": self.messages_sent,
                "messages_already_delivered": self.messages_already_delivered,
                "sent": self.sent, "skipped_unchanged": self.skipped_unchanged,
                "skipped_final": self.skipped_final, "skipped_newer": self.skipped_newer,
                "refused": self.refused, "refused_by_code": dict(self.refused_by_code),
                "removed": self.removed, "not_delivered": self.not_delivered,
                "complete": self.complete, "unreachable_reason": self.unreachable_reason}


def _fingerprint(request: DisburseRequest) -> str:
    data = f"{request.amount}|{request.scheduled_timestamp}|{request.instruction}"
    return hashlib.sha256(data.encode()).hexdigest()[:32]


def _request(config: PosConfig, ref: str, item: RosterItem) -> DisburseRequest:
    payload = item.payload
    return DisburseRequest(
        reference_id=ref, payer_fa=config.payer_fa, payee_fa=f"{item.nik_digits}@dukcapil",
        amount=format_amount(payload.amount), scheduled_timestamp=_scheduled(payload),
        payee_name=payload.name, instruction=push_instruction(payload),
        payer_name=config.payer_name)


def _point_key(item: RosterItem) -> str:
    """The payout point, or ``ANTAR-<kecamatan>`` for aid delivered at home (no point)."""
    point = item.payload.payout_point
    return point.id if point is not None else f"ANTAR-{item.kecamatan}"


def _is_final(item: RosterItem) -> bool:
    return item.payload.status in ("collected", "returned")


def _plan(journal: Journal, config: PosConfig, info: RosterInfo,
          roster: Iterable[tuple[str, RosterItem]], batch_size: int,
          report: PushReport) -> None:
    """Write the messages of this version to the journal (the roster is streamed, not kept)."""
    delivered = journal.delivered_fingerprints()
    present: set[str] = set()
    by_point: dict[str, list[tuple[str, str]]] = {}
    for ref, item in roster:
        present.add(ref)
        if _is_final(item):
            report.skipped_final += 1
            continue
        previous = delivered.get(ref)
        if previous is not None and previous[2] > info.version:
            # A newer version's instruction is at the payer already; this older one would
            # replace it there (the payer keeps the last it got) with a stale slot or point.
            report.skipped_newer += 1
            continue
        fingerprint = _fingerprint(_request(config, ref, item))
        if previous is not None and previous[0] == fingerprint:
            report.skipped_unchanged += 1
            continue
        by_point.setdefault(_point_key(item), []).append((ref, fingerprint))
    report.removed = sum(1 for ref, (_, outcome, _) in delivered.items()
                         if ref not in present and outcome is None)
    planned: list[tuple[Batch, list[tuple[str, str]]]] = []
    for point_id, refs in sorted(by_point.items()):
        txid = transaction_id(info.program.id, info.version, point_id)
        for seq, start in enumerate(range(0, len(refs), batch_size)):
            chunk = refs[start:start + batch_size]
            planned.append((Batch(f"{txid}.m{seq:05d}", txid, info.version, point_id, seq,
                                  "pending", None, len(chunk)), chunk))
    journal.plan(planned)


def _roster(store: CentralStore, version: int | None) -> tuple[RosterInfo,
                                                               Iterator[tuple[str, RosterItem]]]:
    info, items = published_roster(store, version)
    key = reference_key(store.master_pepper)
    return info, ((reference_id(key, info.epoch_id, item.nik_digits), item) for item in items)


def push(store: CentralStore, config: PosConfig, *, endpoint: str,
         callback_url: str | None = None, version: int | None = None,
         batch_size: int | None = None, policy: RetryPolicy | None = None,
         client: httpx.Client | None = None,
         progress: Callable[[str, int, int], None] | None = None) -> PushReport:
    """Deliver every message of ``version`` not delivered yet (see the module text)."""
    policy = policy or RetryPolicy()
    batch_size = batch_size or config.batch_size
    info, roster = _roster(store, version)
    report = PushReport(info.version)
    journal = Journal.of(store)
    try:
        batches = journal.batches(info.version)
        if not batches:
            _plan(journal, config, info, roster, batch_size, report)
            batches = journal.batches(info.version)
        else:
            _count_existing(journal, roster, report)
        report.messages_planned = len(batches)
        report.transactions = len({batch.transaction_id for batch in batches})
        report.messages_already_delivered = sum(1 for b in batches if b.state == "delivered")
        # A message the payer refused (a wrong token or endpoint, a field it did not accept)
        # goes again, under the same id, once the operator has fixed the cause and runs the
        # same command: otherwise nothing but a new version could ever deliver it.
        pending = [batch for batch in batches if batch.state in ("pending", "refused")]
        if pending:
            _, roster = _roster(store, info.version)
            _send(store, config, journal, pending, roster, endpoint=endpoint.rstrip("/"),
                  callback_url=callback_url or config.callback_url, policy=policy,
                  client=client, report=report, progress=progress)
        else:
            report.complete = True
    finally:
        journal.close()
    return report


def _count_refusal(report: PushReport, code: str, count: int) -> None:
    report.refused += count
    report.refused_by_code[code] = report.refused_by_code.get(code, 0) + count


def _count_existing(journal: Journal, roster: Iterable[tuple[str, RosterItem]],
                    report: PushReport) -> None:
    """For a version already planned: count what a fresh plan would have skipped."""
    planned = {ref for batch in journal.batches(report.version)
               for ref, _ in journal.batch_refs(batch.message_id)}
    for ref, item in roster:
        if ref in planned:
            continue
        if _is_final(item):
            report.skipped_final += 1
        else:
            report.skipped_unchanged += 1


def _send(store: CentralStore, config: PosConfig, journal: Journal, pending: list[Batch],
          roster: Iterator[tuple[str, RosterItem]], *, endpoint: str,
          callback_url: str | None, policy: RetryPolicy, client: httpx.Client | None,
          report: PushReport, progress: Callable[[str, int, int], None] | None) -> None:
    """Stream the roster once more, sending each message as soon as its requests are built."""
    key = signing_key(store)
    auth = payer_auth(config, policy)  # a bad token source fails here, before any message
    message_of: dict[str, int] = {}
    for index, batch in enumerate(pending):
        for ref, _ in journal.batch_refs(batch.message_id):
            message_of[ref] = index
    buffers: dict[int, list[dict[str, str]]] = {}
    left = {index: batch.count for index, batch in enumerate(pending)}
    own_client = client is None
    http = client or httpx.Client()
    done = 0

    def deliver(index: int) -> bool:
        nonlocal done
        batch = pending[index]
        requests = buffers.pop(index, [])
        left.pop(index, None)
        header: dict[str, Any] = {
            "version": SPEC_VERSION, "message_id": batch.message_id,
            "message_ts": utc_timestamp(), "action": "disburse",
            "sender_id": config.sender_id, "receiver_id": config.payer_id,
            "total_count": len(requests)}
        if callback_url:
            header["sender_uri"] = callback_url
        message = {"transaction_id": batch.transaction_id, "disburse_request": requests}
        body = {"signature": sign(header, message, key, sender_id=config.sender_id),
                "header": header, "message": message}
        try:
            response = call_payer(http, "POST", f"{endpoint}/disburse", policy=policy,
                                  json_body=body, auth=auth,
                                  headers={"X-Request-Id": str(uuid.uuid4())})
        except PayerUnreachable as error:
            report.unreachable_reason = str(error)
            report.not_delivered = batch.count + sum(pending[i].count for i in left)
            return False
        code = _refusal(response)
        if code is None:
            journal.mark_delivered(batch)
            report.messages_sent += 1
            report.sent += batch.count
        else:
            journal.mark_refused(batch, code)
            _count_refusal(report, code, batch.count)
        done += 1
        if progress is not None:
            progress("push", done, len(pending))
        return True

    try:
        for ref, item in roster:
            slot = message_of.get(ref)
            if slot is None or slot not in left:
                continue
            buffers.setdefault(slot, []).append(_request(config, ref, item).to_dict())
            left[slot] -= 1
            if left[slot] == 0 and not deliver(slot):
                return
        for index in sorted(left):  # references that left the roster since the plan
            if not deliver(index):
                return
        report.complete = True
    finally:
        if hasattr(roster, "close"):
            roster.close()
        if own_client:
            http.close()


def _refusal(response: httpx.Response) -> str | None:
    """None for an ACK; else the spec's error code (or ``HTTP_<status>``)."""
    try:
        data = response.json()
    except ValueError:
        data = None
    ack = data.get("message", {}).get("ack", {}) if isinstance(data, dict) else {}
    status = ack.get("status") if isinstance(ack, dict) else None
    if response.status_code < 300 and status == "ACK":
        return None
    error = data.get("error") if isinstance(data, dict) else None
    code = error.get("code") if isinstance(error, dict) else None
    return str(code)[:60] if code else f"HTTP_{response.status_code}"
