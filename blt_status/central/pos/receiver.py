"""``central pos listen``: the payer's callbacks (``/on-disburse``, ``/disburse/txn/on-status``).

A tornado application. Every request goes through, in order: the per-client rate limit (429
with ``Retry-After``), the bearer token (401 ``ERR_ACCESS_DENIED``), the body size (413), the
content type (415), JSON and the spec's schema (400 with the spec's ``Error`` code), the sender
and the message signature (403 ``ERR_INVALID_SENDER`` / ``ERR_INVALID_SIGNATURE``); only then
are the responses mapped and ingested (:class:`FeedbackProcessor`), and the spec's ``Ack``
returned. A refused request changes nothing. Log lines carry message ids and counts, never a
token, a NIK, a name or a payer's note.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import signal
import ssl
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import tornado.http1connection
import tornado.httpserver
import tornado.ioloop
import tornado.netutil
import tornado.web
from aiolimiter import AsyncLimiter

from blt_status.central.pos.config import PosConfig, read_token
from blt_status.central.pos.feedback import INGEST_WAIT, FeedbackProcessor, FeedbackResult
from blt_status.central.pos.models import (
    CALLBACK_ACTIONS,
    SpecError,
    ack_body,
    error_body,
    parse_callback,
)
from blt_status.central.pos.signing import SignatureInvalid, verify
from blt_status.central.store import CentralStore
from blt_status.errors import BltError, CentralError

__all__ = ["ListenSettings", "Receiver", "make_app", "serve"]

log = logging.getLogger("blt_status.pos")

# How long a stopping receiver lets the callbacks it has begun finish (one may wait up to
# INGEST_WAIT for another process's ingest, then be ingested) before it closes their
# connections anyway (the payer then sends them again).
DRAIN_WAIT = 2 * INGEST_WAIT


@dataclass(frozen=True)
class ListenSettings:
    host: str = "127.0.0.1"
    port: int = 8443
    max_body: int = 8 * 1024 * 1024
    rate: float = 20.0  # requests per second per client
    burst: int = 40
    tls_cert: Path | None = None
    tls_key: Path | None = None
    publish_every: float | None = None


class Receiver:
    """What the handlers share: the config, the processor, the limiters, the executor."""

    def __init__(self, store: CentralStore, config: PosConfig, settings: ListenSettings,
                 *, publish_now: Callable[[], Any] | None = None) -> None:
        self.store = store
        self.config = config
        self.settings = settings
        self.payer_key = config.payer_key
        self.processor = FeedbackProcessor(store, publish=False)
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pos-ingest")
        self.limiters: OrderedDict[str, AsyncLimiter] = OrderedDict()
        self.unpublished = 0
        self.publish_now = publish_now
        self.totals = FeedbackResult()
        self.stopping = False  # SIGINT/SIGTERM came: new callbacks get 503, begun ones finish
        self.in_flight = 0
        self._idle: asyncio.Event | None = None
        self.hurried = asyncio.Event()  # a second SIGINT/SIGTERM: stop now

    def hurry(self) -> None:
        """Stop now: messages not yet ingested are answered 503 (the payer sends them again)
        and the final publish is left to the next one (the facts are in the ledger)."""
        if self.hurried.is_set():
            return
        log.warning("stopping now: callbacks not yet ingested are refused (the payer sends "
                    "them again); the next publish takes the recorded facts along")
        self.hurried.set()
        self.processor.cancelled.set()

    def begin(self) -> None:
        self.in_flight += 1

    def end(self) -> None:
        self.in_flight -= 1
        if self.in_flight == 0 and self._idle is not None:
            self._idle.set()

    async def drain(self, timeout: float) -> None:
        """Wait (at most ``timeout`` seconds) until no callback is being handled; a second
        stop signal (:meth:`hurry`) ends the wait at once."""
        if not self.in_flight:
            return
        log.info("stopping: %d callback(s) in progress (stop again to stop now)",
                 self.in_flight)
        self._idle = asyncio.Event()
        idle = asyncio.ensure_future(self._idle.wait())
        hurried = asyncio.ensure_future(self.hurried.wait())
        try:
            done, _ = await asyncio.wait({idle, hurried}, timeout=timeout,
                                         return_when=asyncio.FIRST_COMPLETED)
        finally:
            idle.cancel()
            hurried.cancel()
        if not done:
            log.warning("stopping: %d callback(s) still in progress after %.0f s; their "
                        "connections are closed (the payer sends them again)",
                        self.in_flight, timeout)

    def limiter(self, client: str) -> AsyncLimiter:
        limiter = self.limiters.get(client)
        if limiter is None:
            burst = max(1, self.settings.burst)
            limiter = AsyncLimiter(burst, burst / max(self.settings.rate, 0.001))
            self.limiters[client] = limiter
            while len(self.limiters) > 10_000:
                self.limiters.popitem(last=False)
        else:
            self.limiters.move_to_end(client)
        return limiter

    def token_ok(self, header: str | None) -> bool:
        expected = read_token(Path(self.config.callback_token_file))
        scheme, _, token = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":  # the scheme is case-insensitive (RFC 9110 11.1)
            return False
        return hmac.compare_digest(token.strip().encode(), expected.encode())


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


@tornado.web.stream_request_body
class CallbackHandler(tornado.web.RequestHandler):
    """POST of a signed callback envelope."""

    def initialize(self, receiver: Receiver, action: str, items_key: str) -> None:
        self.receiver = receiver
        self.action = action
        self.items_key = items_key
        self.chunks: list[bytes] = []
        self.size = 0
        self.refused: _Refused | None = None
        self.counted = False  # in the receiver's in-flight count

    def on_finish(self) -> None:
        self._uncount()

    def on_connection_close(self) -> None:
        self._uncount()
        super().on_connection_close()

    def _uncount(self) -> None:
        if self.counted:
            self.counted = False
            self.receiver.end()

    def set_default_headers(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")

    def _answer(self, status: int, body: dict[str, Any],
                headers: dict[str, str] | None = None) -> None:
        self.set_status(status)
        for name, value in (headers or {}).items():
            self.set_header(name, value)
        self.finish(json.dumps(body))

    async def prepare(self) -> None:
        receiver = self.receiver
        try:
            if self.request.method != "POST":
                return
            if receiver.stopping:
                raise _Refused(503, "ERR_SERVICE_UNAVAILABLE",
                               "the receiver is stopping; retry later", {"Retry-After": "5"})
            receiver.begin()  # a stop lets this callback finish before closing connections
            self.counted = True
            limiter = receiver.limiter(self.request.remote_ip or "?")
            if not limiter.has_capacity():
                raise _Refused(429, "ERR_SERVICE_UNAVAILABLE", "too many requests",
                               {"Retry-After": "1"})
            await limiter.acquire()
            if not receiver.token_ok(self.request.headers.get("Authorization")):
                raise _Refused(401, "ERR_ACCESS_DENIED", "a valid bearer token is required",
                               {"WWW-Authenticate": 'Bearer realm="blt-status"'})
            length = self.request.headers.get("Content-Length")
            if length is not None and (not length.isdigit()
                                       or int(length) > receiver.settings.max_body):
                raise _Refused(413, "ERR_INVALID_REQUEST",
                               f"body larger than {receiver.settings.max_body} bytes")
            connection = self.request.connection
            if isinstance(connection, tornado.http1connection.HTTP1Connection):
                connection.set_max_body_size(receiver.settings.max_body + 1)
            if not _json_media_type(self.request.headers.get("Content-Type")):
                raise _Refused(415, "ERR_INVALID_REQUEST",
                               "Content-Type must be application/json")
        except _Refused as refused:
            # Answered once the (small) body is read, so the connection stays usable; an
            # oversize body is refused at once and the connection closed.
            self.refused = refused
            if refused.status == 413:
                self._refuse(refused)

    def _refuse(self, refused: _Refused) -> None:
        log.info("%s refused: %s %s", self.request.path, refused.status, refused.code)
        self._answer(refused.status, error_body(refused.code, refused.message), refused.headers)

    def data_received(self, chunk: bytes) -> None:
        if self._finished or self.refused is not None:
            return
        self.size += len(chunk)
        if self.size <= self.receiver.settings.max_body:
            self.chunks.append(chunk)

    async def post(self) -> None:
        if self._finished:
            return
        if self.refused is not None:
            self._refuse(self.refused)
            return
        receiver = self.receiver
        try:
            if self.size > receiver.settings.max_body:
                raise _Refused(413, "ERR_INVALID_REQUEST",
                               f"body larger than {receiver.settings.max_body} bytes")
            try:
                body = json.loads(b"".join(self.chunks))
            except (ValueError, UnicodeDecodeError):
                raise _Refused(400, "ERR_INVALID_REQUEST", "the body is not JSON") from None
            except RecursionError:  # thousands of nested brackets: no envelope is that deep
                raise _Refused(400, "ERR_INVALID_REQUEST", "the body is nested too deeply"
                               ) from None
            try:
                callback = parse_callback(body, action=self.action, items_key=self.items_key)
            except SpecError as error:
                raise _Refused(error.http_status, error.code, error.message) from None
            header = callback.header
            if header["sender_id"] != receiver.config.payer_id:
                raise _Refused(403, "ERR_INVALID_SENDER", "unknown sender_id")
            if header.get("receiver_id") not in (None, receiver.config.sender_id):
                raise _Refused(400, "ERR_INVALID_RECEIVER", "receiver_id is not this system")
            try:
                verify(callback.signature, header, callback.message, receiver.payer_key,
                       sender_id=receiver.config.payer_id)
            except SignatureInvalid as error:
                raise _Refused(403, "ERR_INVALID_SIGNATURE", str(error)) from None
            loop = asyncio.get_running_loop()
            try:
                result = await loop.run_in_executor(receiver.executor,
                                                    receiver.processor.process, callback)
            except BltError as error:
                log.warning("%s message=%s not ingested: [%s]", self.request.path,
                            callback.message_id, error.code)
                raise _Refused(503, "ERR_SERVICE_UNAVAILABLE",
                               f"not ingested ({error.code}); retry later",
                               {"Retry-After": "5"}) from None
            receiver.totals.add(result)
            receiver.unpublished += result.recorded
            log.info("%s message=%s transaction=%s responses=%d recorded=%d duplicates=%d "
                     "pending=%d unknown=%d rejected=%d", self.request.path,
                     callback.message_id, callback.transaction_id, result.responses,
                     result.recorded, result.duplicates, result.pending,
                     result.unknown_references, len(result.rejected))
            self._answer(200, ack_body(callback.message_id))
        except _Refused as refused:
            self._refuse(refused)

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        if status_code >= 500:
            # Something unexpected (the traceback went to the log): the documented, retryable
            # answer, so the payer sends the message again instead of dropping it.
            self.set_status(503)
            self.set_header("Retry-After", "5")
            self.finish(json.dumps(error_body("ERR_SERVICE_UNAVAILABLE",
                                              "not ingested; retry later")))
            return
        self.finish(json.dumps(error_body("ERR_INVALID_REQUEST", self._reason)))


def _json_media_type(value: str | None) -> bool:
    """No ``Content-Type`` (taken as JSON), ``application/json`` or a ``+json`` type."""
    if value is None:
        return True
    media = value.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/")
                                            and media.endswith("+json"))


class _NotFound(tornado.web.RequestHandler):
    def prepare(self) -> None:
        self.set_status(404)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(error_body("ERR_INVALID_REQUEST", "no such endpoint")))


def _log_request(handler: tornado.web.RequestHandler) -> None:
    request = handler.request
    log.debug("%s %s %d %.1f ms", request.method, request.path, handler.get_status(),
              1000 * request.request_time())


def make_app(receiver: Receiver) -> tornado.web.Application:
    routes: list[Any] = [(path, CallbackHandler, {"receiver": receiver, "action": action,
                                                  "items_key": items_key})
                         for path, (action, items_key) in CALLBACK_ACTIONS.items()]
    return tornado.web.Application(routes, default_handler_class=_NotFound,
                                   log_function=_log_request)


def _ssl_context(settings: ListenSettings) -> ssl.SSLContext | None:
    if settings.tls_cert is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(settings.tls_cert),
                                str(settings.tls_key) if settings.tls_key else None)
    except (OSError, ValueError) as error:  # ssl.SSLError is an OSError
        reason = getattr(error, "strerror", None) or getattr(error, "reason", None) \
            or type(error).__name__
        raise CentralError("pos_tls", reason=str(reason)[:100]) from None
    return context


def serve(store: CentralStore, config: PosConfig, settings: ListenSettings, *,
          publish: Callable[[], Any] | None = None,
          ready: Callable[[str], None] | None = None) -> FeedbackResult:
    """Run until SIGINT/SIGTERM; returns the totals of what was received."""
    read_token(Path(config.callback_token_file))  # refuse to start without a usable token
    receiver = Receiver(store, config, settings, publish_now=publish)
    tls = _ssl_context(settings)
    receiver.processor.warm()  # the reference index, before the first callback can arrive

    async def main() -> None:
        # The stop handlers first: from the ready line on, a supervisor may send SIGTERM at
        # once, and it must find them (before, the line came first and such a signal killed
        # the process without its shutdown and final lines).
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        server = tornado.httpserver.HTTPServer(make_app(receiver), ssl_options=tls,
                                               max_body_size=settings.max_body + 1,
                                               xheaders=False)
        sockets = tornado.netutil.bind_sockets(settings.port, settings.host)
        server.add_sockets(sockets)
        port = sockets[0].getsockname()[1]
        scheme = "https" if tls else "http"
        periodic = None
        if settings.publish_every and publish is not None:
            async def maybe_publish() -> None:
                if receiver.unpublished:
                    count, receiver.unpublished = receiver.unpublished, 0
                    version = await loop.run_in_executor(receiver.executor, publish)
                    log.info("published version %s with %d new payout facts", version, count)
            periodic = tornado.ioloop.PeriodicCallback(maybe_publish,
                                                       settings.publish_every * 1000)
            periodic.start()
        # Only now, with the socket listening (connections queue until the loop accepts
        # them) and the stop handlers in place, is the receiver ready.
        if ready is not None:
            ready(f"{scheme}://{settings.host}:{port}")
        await stop.wait()
        receiver.stopping = True
        for signum in (signal.SIGINT, signal.SIGTERM):  # told again: stop now
            loop.add_signal_handler(signum, receiver.hurry)
        if periodic is not None:
            periodic.stop()
        server.stop()  # no new connections
        await receiver.drain(DRAIN_WAIT)  # the callbacks begun are answered (and counted)
        await server.close_all_connections()
        if publish is not None and receiver.unpublished and settings.publish_every \
                and not receiver.hurried.is_set():
            await loop.run_in_executor(receiver.executor, publish)

    try:
        asyncio.run(main())
    finally:
        receiver.executor.shutdown(wait=True)
    return receiver.totals

