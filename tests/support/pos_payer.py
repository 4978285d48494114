"""A payer (Kantor Pos) simulator speaking G2P Connect Disburse, for tests and benchmarks.

A real tornado HTTP server on 127.0.0.1 in its own thread. It implements the payer's side:

- ``POST /disburse``: bearer token (401), JSON envelope, the sender's Ed25519 signature over the
  canonical body (403), each DisburseRequest's fields; answers the spec's Ack and keeps the
  instructions by transaction (a message id seen before is acknowledged again, not re-added);
- ``GET /disburse/search/{transaction_id}/{summary_only}`` (DSBT-005): a signed envelope with
  the current ``disburse_response[]`` of the transaction;
- :meth:`PosPayer.send_callbacks`: signed ``/on-disburse`` (or ``/disburse/txn/on-status``)
  POSTs to the ``sender_uri`` of the push, with its own key and the callback token;
- ``POST /oauth2/client/token`` (G2P Connect AUTHZ-TOKN): OAuth2 client credentials, the
  client authenticated by HTTP Basic or in the form body; it issues bearer tokens that live
  ``token_lifetime`` seconds, which the API then accepts besides the fixed ``token``
  (:meth:`PosPayer.revoke_tokens` makes it refuse the issued ones early, as after a restart).

Outcomes are chosen per payee (``outcomes[nik] = ("RJCT", "RTRN_NOT_COLLECTED")``; default
``SUCC``). Faults: ``disburse_faults`` (a queue of ``"500"``, ``"429"``, ``"timeout"``,
``"503_retry_after_garbage"``), ``down``
(every call 503), ``poll_faults`` (``"429"``, ``"500"``, ``"bad_signature"``, ``"deep"``),
``token_faults`` (``"500"``, ``"garbage"``, ``"no_token"``),
and the callback modes ``duplicate``, ``out_of_order``, ``bad_signature``,
``unknown_reference``, ``oversize``, ``bad_token``.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import datetime as dt
import json
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote_plus

import httpx
import tornado.httpserver
import tornado.netutil
import tornado.web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from blt_status.central.pos.models import canonical_json
from blt_status.central.pos.signing import (
    SignatureInvalid,
    load_public_key,
    public_pem,
    sign,
    verify,
)

AMOUNT = re.compile(r"^\d{1,13}\.\d{1,2}$")
FA = re.compile(r"^[a-zA-Z0-9.-]+@[a-zA-Z0-9.-]+$")


@dataclass
class Instruction:
    transaction_id: str
    reference_id: str
    payee_fa: str = field(repr=False)
    amount: str
    scheduled: dt.datetime
    instruction: dict[str, Any]
    message_id: str

    @property
    def nik(self) -> str:
        return self.payee_fa.split("@", 1)[0]


class _ServerThread:
    """A tornado HTTP server on 127.0.0.1 (a free port), on its own event loop in a thread."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: tornado.httpserver.HTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _serve(self, make_server: Callable[[], tornado.httpserver.HTTPServer],
               name: str) -> None:
        """Start the loop thread; ``make_server`` runs on that loop. Returns once listening."""
        started = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            self._loop = loop

            async def boot() -> None:
                server = make_server()
                sockets = tornado.netutil.bind_sockets(0, "127.0.0.1")
                self.port = sockets[0].getsockname()[1]
                server.add_sockets(sockets)
                self._server = server
                started.set()

            loop.run_until_complete(boot())
            loop.run_forever()
            loop.close()

        self._thread = threading.Thread(target=run, daemon=True, name=name)
        self._thread.start()
        started.wait(10)

    def _shutdown(self) -> None:
        """Close the server and its connections, stop the loop, join the thread."""
        if self._loop is None:
            return
        loop, server = self._loop, self._server

        async def shutdown() -> None:
            if server is not None:
                server.stop()
                await server.close_all_connections()

        asyncio.run_coroutine_threadsafe(shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = None


class PosPayer(_ServerThread):
    """The simulator; use as a context manager (``with PosPayer(central_pem) as payer``)."""

    def __init__(self, central_public_pem: str, *, payer_id: str = "KANTORPOS-SIM",
                 central_id: str = "blt-status-central", token: str = "payer-token-123",
                 callback_token: str = "callback-token-456",
                 key: Ed25519PrivateKey | None = None, client_id: str = "blt-central",
                 client_secret: str | None = None, token_lifetime: float = 3600.0) -> None:
        super().__init__()
        self.central_key = load_public_key(central_public_pem)
        self.key = key or Ed25519PrivateKey.generate()
        self.payer_id = payer_id
        self.central_id = central_id
        self.token = token
        self.callback_token = callback_token
        self.outcomes: dict[str, tuple[str, str | None]] = {}
        self.disburse_faults: list[str] = []
        self.poll_faults: list[str] = []
        self.down = False
        self.timeout_seconds = 2.0
        self.instructions: dict[str, dict[str, Instruction]] = {}
        self.messages: dict[str, int] = {}  # message_id -> times received
        self.refused: list[tuple[int, str]] = []  # (status, error code) of refused pushes
        self.disburse_calls = 0
        self.poll_calls = 0
        self.callback_uri: str | None = None
        self.auto_callback = False
        self.callback_results: list[int] = []
        self.client_id = client_id
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.token_faults: list[str] = []
        self.token_requests: list[dict[str, Any]] = []  # how each token request authenticated
        self.issued: dict[str, float] = {}  # access token -> monotonic expiry
        self.honour_tokens = True  # False: refuse every issued token (401), as if revoked
        self.api_authorizations: list[str] = []  # Authorization header of each API call
        self._counter = 0
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def public_pem(self) -> str:
        return public_pem(self.key)

    def start(self) -> PosPayer:
        def make_server() -> tornado.httpserver.HTTPServer:
            return tornado.httpserver.HTTPServer(tornado.web.Application([
                (r"/disburse", _DisburseHandler, {"payer": self}),
                (r"/disburse/search/([^/]+)/([^/]+)", _PollHandler, {"payer": self}),
                (r"/oauth2/client/token", _TokenHandler, {"payer": self}),
            ]))

        self._serve(make_server, "pos-payer")
        return self

    def stop(self) -> None:
        self._shutdown()

    def __enter__(self) -> PosPayer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- the payer's side of the protocol --------------------------------------------------

    def next_id(self, prefix: str) -> str:
        with self._lock:
            self._counter += 1
            return f"{prefix}-{self._counter:06d}"

    def authorized(self, authorization: str | None) -> bool:
        """The fixed token, or an issued access token that has not expired."""
        self.api_authorizations.append(authorization or "")
        if authorization == f"Bearer {self.token}":
            return True
        if not authorization or not authorization.startswith("Bearer "):
            return False
        with self._lock:
            expiry = self.issued.get(authorization[7:])
        return self.honour_tokens and expiry is not None and time.monotonic() < expiry

    def revoke_tokens(self) -> None:
        with self._lock:
            self.issued.clear()

    def issue_token(self, body: bytes, authorization: str | None
                    ) -> tuple[int, dict[str, Any] | str]:
        """AUTHZ-TOKN: OAuth2 client credentials (RFC 6749 4.4, client auth per 2.3.1)."""
        form = {name: values[0] for name, values in parse_qs(body.decode()).items()}
        method, client_id, secret = "none", form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            try:
                pair = base64.b64decode(authorization[6:], validate=True).decode()
            except (binascii.Error, UnicodeDecodeError):
                pair = ""
            user, _, password = pair.partition(":")
            method, client_id, secret = "basic", unquote_plus(user), unquote_plus(password)
        elif secret is not None:
            method = "post"
        self.token_requests.append({"method": method, "grant_type": form.get("grant_type"),
                                    "scope": form.get("scope")})
        if self.token_faults:
            fault = self.token_faults.pop(0)
            if fault == "500":
                return 500, {"error": "server_error"}
            if fault == "garbage":
                return 200, "<html>not a token</html>"
            if fault == "no_token":
                return 200, {"token_type": "Bearer", "expires_in": 60}
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type"}
        if client_id != self.client_id or secret is None or secret != self.client_secret:
            return 401, {"error": "invalid_client",
                         "error_description": f"bad secret {secret}"}  # echoed: must not leak
        token = secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = time.monotonic() + self.token_lifetime
        return 200, {"access_token": token, "token_type": "Bearer",
                     "expires_in": self.token_lifetime}

    def accept(self, body: Any, authorization: str | None) -> tuple[int, dict[str, Any]]:
        """Check one /disburse body; keep its instructions. Returns (HTTP status, answer)."""
        self.disburse_calls += 1
        if not self.authorized(authorization):
            return self._refuse(401, "ERR_ACCESS_DENIED")
        if not isinstance(body, dict) or not {"signature", "header", "message"} <= set(body):
            return self._refuse(400, "ERR_INVALID_REQUEST")
        header, message = body["header"], body["message"]
        for name in ("version", "message_id", "message_ts", "action", "sender_id",
                     "receiver_id", "total_count"):
            if name not in header:
                return self._refuse(400, "ERR_MANDATORY_HEADER_MISSING")
        if header["action"] != "disburse":
            return self._refuse(400, "ERR_INVALID_ACTION")
        if header["sender_id"] != self.central_id or header["receiver_id"] != self.payer_id:
            return self._refuse(403, "ERR_INVALID_SENDER")
        try:
            verify(body["signature"], header, message, self.central_key,
                   sender_id=self.central_id)
        except SignatureInvalid:
            return self._refuse(403, "ERR_INVALID_SIGNATURE")
        requests = message.get("disburse_request")
        if not isinstance(requests, list) or header["total_count"] != len(requests):
            return self._refuse(400, "ERR_INVALID_MESSAGE")
        for item in requests:
            if not (AMOUNT.match(item.get("amount", "")) and FA.match(item.get("payee_fa", ""))
                    and item.get("currency_code") == "IDR" and item.get("locale") == "ind"
                    and item.get("reference_id")):
                return self._refuse(400, "ERR_INVALID_MESSAGE")
            scheduled = dt.datetime.fromisoformat(item["scheduled_timestamp"])
            if scheduled.tzinfo is None:
                return self._refuse(400, "ERR_INVALID_MESSAGE")
        message_id = header["message_id"]
        with self._lock:
            self.messages[message_id] = self.messages.get(message_id, 0) + 1
            if self.messages[message_id] == 1:
                book = self.instructions.setdefault(message["transaction_id"], {})
                for item in requests:
                    book[item["reference_id"]] = Instruction(
                        message["transaction_id"], item["reference_id"], item["payee_fa"],
                        item["amount"], dt.datetime.fromisoformat(item["scheduled_timestamp"]),
                        json.loads(item["instruction"]), message_id)
            if header.get("sender_uri"):
                self.callback_uri = header["sender_uri"]
        if self.auto_callback:
            threading.Thread(target=self._auto_callback, args=(message["transaction_id"],),
                             daemon=True).start()
        return 200, {"message": {"ack": {"status": "ACK", "correlation_id": message_id}}}

    def _auto_callback(self, transaction_id: str) -> None:
        time.sleep(0.05)
        for response in self.send_callbacks(transaction_id):
            self.callback_results.append(response.status_code)

    def _refuse(self, status: int, code: str) -> tuple[int, dict[str, Any]]:
        self.refused.append((status, code))
        return status, {"message": {"ack": {"status": "NACK"}},
                        "error": {"code": code, "message": code.lower()}}

    def all_instructions(self) -> Iterator[Instruction]:
        for book in self.instructions.values():
            yield from book.values()

    def response_for(self, item: Instruction, status: str | None = None,
                     reason: str | None = None) -> dict[str, Any]:
        """The DisburseResponse of one instruction under the current (or given) outcome."""
        if status is None:
            status, reason = self.outcomes.get(item.nik, ("SUCC", None))
        moment = item.scheduled + dt.timedelta(minutes=15)
        data: dict[str, Any] = {
            "reference_id": item.reference_id, "timestamp": moment.isoformat(),
            "status": status, "instruction": json.dumps(
                {"id_titik": item.instruction["id_titik"]}, separators=(",", ":")),
            "amount": item.amount, "currency_code": "IDR", "locale": "ind"}
        if reason:
            data["status_reason_code"] = reason
            data["status_reason_message"] = "catatan petugas: " + reason.lower()
        return data

    def envelope(self, transaction_id: str, responses: list[dict[str, Any]], *,
                 action: str = "on-disburse", items_key: str = "disburse_response",
                 message_id: str | None = None, key: Ed25519PrivateKey | None = None
                 ) -> dict[str, Any]:
        header = {"version": "1.0.0", "message_id": message_id or self.next_id("cb"),
                  "message_ts": dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat(),
                  "action": action, "status": "SUCC", "sender_id": self.payer_id,
                  "receiver_id": self.central_id, "total_count": len(responses),
                  "completed_count": len(responses)}
        message = {"transaction_id": transaction_id, items_key: responses}
        return {"signature": sign(header, message, key or self.key, sender_id=self.payer_id),
                "header": header, "message": message}

    def send_callbacks(self, transaction_id: str | None = None, *, mode: str = "normal",
                       url: str | None = None, path: str = "/on-disburse") -> list[httpx.Response]:
        """POST one signed callback per transaction (``mode`` injects a fault)."""
        base = url or self.callback_uri
        assert base, "no sender_uri seen yet"
        target = base if path == "/on-disburse" else base.rsplit("/", 1)[0] + path
        action, items_key = (("on-disburse", "disburse_response") if path == "/on-disburse"
                             else ("on-status", "txnstatus_response"))
        transactions = [transaction_id] if transaction_id else sorted(self.instructions)
        results: list[httpx.Response] = []
        token = "wrong-token" if mode == "bad_token" else self.callback_token
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        with httpx.Client(timeout=30) as client:
            for txid in transactions:
                items = list(self.instructions.get(txid, {}).values())
                responses = [self.response_for(item) for item in items]
                if mode == "unknown_reference":
                    responses.append({"reference_id": "R" + "0" * 32,
                                      "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                                      "status": "SUCC"})
                bodies: list[dict[str, Any]]
                if mode == "out_of_order":
                    # The final outcome first, then an older "pending" message about the same
                    # references, then the final one again under another message id.
                    pending = [self.response_for(item, "PDNG") for item in items]
                    bodies = [self.envelope(txid, responses, action=action, items_key=items_key),
                              self.envelope(txid, pending, action=action, items_key=items_key),
                              self.envelope(txid, responses, action=action,
                                            items_key=items_key)]
                else:
                    key = Ed25519PrivateKey.generate() if mode == "bad_signature" else None
                    bodies = [self.envelope(txid, responses, action=action, items_key=items_key,
                                            key=key)]
                    if mode == "tampered":  # changed after signing: a different payout time
                        first = bodies[0]["message"][items_key][0]
                        first["timestamp"] = first["timestamp"].replace(":15:", ":45:")
                    if mode == "duplicate":
                        bodies.append(bodies[0])
                    if mode == "oversize":
                        bodies[0]["header"]["padding"] = "x" * (9 * 1024 * 1024)
                for body in bodies:
                    results.append(client.post(target, content=canonical_json(body),
                                               headers=headers))
        return results

    def poll_answer(self, transaction_id: str, authorization: str | None
                    ) -> tuple[int, dict[str, Any] | str, dict[str, str]]:
        self.poll_calls += 1
        if self.poll_faults:
            fault = self.poll_faults.pop(0)
            if fault == "429":
                return 429, {"error": {"code": "ERR_SERVICE_UNAVAILABLE"}}, {"Retry-After": "0"}
            if fault == "500":
                return 500, {"error": {"code": "ERR_SERVICE_UNAVAILABLE"}}, {}
            if fault == "deep":  # JSON nested far deeper than any envelope
                return 200, "[" * 100_000 + "]" * 100_000, {}
            if fault == "bad_signature":
                items = list(self.instructions.get(transaction_id, {}).values())
                body = self.envelope(transaction_id, [self.response_for(i) for i in items],
                                     action="search", key=Ed25519PrivateKey.generate())
                return 200, body, {}
        if not self.authorized(authorization):
            return 401, {"error": {"code": "ERR_ACCESS_DENIED"}}, {}
        if transaction_id not in self.instructions:
            return 404, {"error": {"code": "ERR_INVALID_REQUEST",
                                   "message": "UKWN_TRANSACTION_ID_NOT_FOUND"}}, {}
        items = list(self.instructions[transaction_id].values())
        body = self.envelope(transaction_id, [self.response_for(item) for item in items],
                             action="search", message_id=self.next_id("poll"))
        return 200, body, {}


class _DisburseHandler(tornado.web.RequestHandler):
    def initialize(self, payer: PosPayer) -> None:
        self.payer = payer

    async def post(self) -> None:
        payer = self.payer
        if payer.down:
            self.set_status(503)
            self.finish({"error": {"code": "ERR_SERVICE_UNAVAILABLE"}})
            return
        if payer.disburse_faults:
            fault = payer.disburse_faults.pop(0)
            payer.disburse_calls += 1
            if fault == "500":
                self.set_status(500)
                self.finish({"error": {"code": "ERR_SERVICE_UNAVAILABLE"}})
                return
            if fault == "429":
                self.set_status(429)
                self.set_header("Retry-After", "1")
                self.finish({"error": {"code": "ERR_SERVICE_UNAVAILABLE"}})
                return
            if fault == "503_retry_after_garbage":  # neither seconds nor an HTTP date
                self.set_status(503)
                self.set_header("Retry-After", "soon")
                self.finish({"error": {"code": "ERR_SERVICE_UNAVAILABLE"}})
                return
            if fault == "timeout":
                await asyncio.sleep(payer.timeout_seconds)
                self.set_status(504)
                self.finish({})
                return
        try:
            body = json.loads(self.request.body)
        except ValueError:
            body = None
        status, answer = payer.accept(body, self.request.headers.get("Authorization"))
        self.set_status(status)
        self.finish(answer)


class _TokenHandler(tornado.web.RequestHandler):
    def initialize(self, payer: PosPayer) -> None:
        self.payer = payer

    def post(self) -> None:
        status, answer = self.payer.issue_token(self.request.body,
                                                self.request.headers.get("Authorization"))
        self.set_status(status)
        self.set_header("Cache-Control", "no-store")
        if isinstance(answer, str):
            self.set_header("Content-Type", "text/html")
            self.finish(answer)
        else:
            self.set_header("Content-Type", "application/json")
            self.finish(json.dumps(answer))


class _PollHandler(tornado.web.RequestHandler):
    def initialize(self, payer: PosPayer) -> None:
        self.payer = payer

    def get(self, transaction_id: str, summary_only: str) -> None:
        status, body, headers = self.payer.poll_answer(
            transaction_id, self.request.headers.get("Authorization"))
        self.set_status(status)
        for name, value in headers.items():
            self.set_header(name, value)
        self.set_header("Content-Type", "application/json")
        self.finish(body if isinstance(body, str) else json.dumps(body))


class ReceiverThread(_ServerThread):
    """Our receiver (``pos listen``'s tornado app) on 127.0.0.1 in a thread, for fault tests."""

    def __init__(self, store_dir: Any, **settings: Any) -> None:
        from blt_status.central import CentralStore
        from blt_status.central.pos.config import load_config
        from blt_status.central.pos.receiver import ListenSettings, Receiver

        store = CentralStore.open(store_dir)
        self.receiver = Receiver(store, load_config(store), ListenSettings(**settings))
        super().__init__()

    def __enter__(self) -> ReceiverThread:
        from blt_status.central.pos.receiver import make_app

        self._serve(lambda: tornado.httpserver.HTTPServer(
            make_app(self.receiver), max_body_size=self.receiver.settings.max_body + 1),
            "pos-receiver")
        return self

    def __exit__(self, *exc: object) -> None:
        self._shutdown()
        self.receiver.executor.shutdown(wait=True)
