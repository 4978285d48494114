"""A fake Telegram Bot API on loopback, for the tests, the benchmark and offline demos.

    with FakeBotApi() as api:                    # http://127.0.0.1:<port>/bot<TOKEN>/<method>
        application = Application.builder().token("123:x").base_url(api.base_url).build()
        api.push_update(update_dict)             # served to getUpdates (long polling)
        ...
        api.calls("sendMessage")                 # every request, parameters decoded

It answers like Telegram (``{"ok": true, "result": ...}``) for the methods the bot uses, and can
inject failures per method: ``api.fail("sendMessage", status=429, retry_after=1)``, ``status=500``
or ``delay=2.0`` (a timeout for a client with a shorter read timeout). It never touches the
network beyond 127.0.0.1.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.parse
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["PHOTO", "STICKER", "VOICE", "ApiCall", "FakeBotApi", "callback_update",
           "message_update"]

BOT_USER = {"id": 777000111, "is_bot": True, "first_name": "BLT Status",
            "username": "blt_status_bot",
            "can_join_groups": True, "can_read_all_group_messages": False,
            "supports_inline_queries": False}


class _Server(ThreadingHTTPServer):
    request_queue_size = 256  # the default backlog of 5 drops bursts of connections (1 s stalls)


@dataclass
class ApiCall:
    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Fault:
    status: int = 0
    retry_after: int = 0
    delay: float = 0.0
    description: str = ""


def _decode(value: str) -> Any:
    """Form values that carry JSON (reply_markup, allowed_updates) are decoded."""
    if value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


class FakeBotApi:
    """A threaded HTTP server answering Bot API methods; records every call."""

    def __init__(self, *, record: bool = True, max_calls: int = 100_000) -> None:
        self.record = record
        self._calls: deque[ApiCall] = deque(maxlen=max_calls)
        self._updates: list[dict[str, Any]] = []
        self._next_update_id = 1
        self._message_id = 1000
        self._faults: dict[str, list[_Fault]] = {}
        self._cond = threading.Condition()
        self.counts: dict[str, int] = {}
        self._server = _Server(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="fake-bot-api")

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    def start(self) -> FakeBotApi:
        self._thread.start()
        return self

    def stop(self) -> None:
        with self._cond:
            self._cond.notify_all()
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> FakeBotApi:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- test controls ----------------------------------------------------------------------

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update for getUpdates; ``update_id`` is assigned if missing."""
        with self._cond:
            if "update_id" not in update:
                update = {"update_id": self._next_update_id, **update}
            self._next_update_id = max(self._next_update_id, update["update_id"]) + 1
            self._updates.append(update)
            self._cond.notify_all()
            return int(update["update_id"])

    def fail(self, method: str, *, status: int = 0, retry_after: int = 0, delay: float = 0.0,
             description: str = "", times: int = 1) -> None:
        """The next ``times`` calls of ``method`` fail (or are delayed)."""
        with self._cond:
            self._faults.setdefault(method, []).extend(
                _Fault(status, retry_after, delay, description) for _ in range(times))

    def calls(self, method: str | None = None) -> list[ApiCall]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def sent_texts(self) -> list[str]:
        return [str(c.params.get("text", "")) for c in self.calls("sendMessage")]

    def clear(self) -> None:
        with self._cond:
            self._calls.clear()

    def wait_for(self, method: str, count: int, timeout: float = 10.0) -> list[ApiCall]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.calls(method)
            if len(found) >= count:
                return found
            time.sleep(0.01)
        raise TimeoutError(f"{method}: {len(self.calls(method))} calls, wanted {count}")

    # -- serving ----------------------------------------------------------------------------

    def _handle(self, method: str, params: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._cond:
            self.counts[method] = self.counts.get(method, 0) + 1
            if self.record:
                self._calls.append(ApiCall(method, params))
            faults = self._faults.get(method)
            fault = faults.pop(0) if faults else None
        if fault is not None:
            if fault.delay:
                time.sleep(fault.delay)
            if fault.status == 429:
                return 429, {"ok": False, "error_code": 429,
                             "description": f"Too Many Requests: retry after {fault.retry_after}",
                             "parameters": {"retry_after": fault.retry_after}}
            if fault.status:
                return fault.status, {"ok": False, "error_code": fault.status,
                                      "description": fault.description or "Internal Server Error"}
        return 200, {"ok": True, "result": self._result(method, params)}

    def _control(self, action: str, body: str) -> tuple[int, dict[str, Any]]:
        """Out-of-process control (the benchmark): push updates, read call counts."""
        if action == "push":
            for update in json.loads(body or "[]"):
                self.push_update(update)
            return 200, {"ok": True}
        if action == "counts":
            with self._cond:
                return 200, {"ok": True, "result": dict(self.counts)}
        return 404, {"ok": False}

    def _result(self, method: str, params: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "getUpdates":
            return self._get_updates(params)
        if method in ("sendMessage", "editMessageText"):
            with self._cond:
                self._message_id += 1
                message_id = self._message_id
            chat_id = int(params.get("chat_id", 0))
            message: dict[str, Any] = {
                "message_id": int(params.get("message_id", message_id)),
                "date": int(time.time()), "from": BOT_USER,
                "chat": {"id": chat_id, "type": "private" if chat_id > 0 else "group"},
                "text": params.get("text", ""),
            }
            if isinstance(params.get("reply_markup"), dict):
                message["reply_markup"] = params["reply_markup"]
            return message
        return True  # deleteMessage, answerCallbackQuery, setMyCommands, deleteWebhook, ...

    def _get_updates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        offset = int(params.get("offset", 0) or 0)
        wait = min(float(params.get("timeout", 0) or 0), 0.5)
        deadline = time.monotonic() + wait
        with self._cond:
            while True:
                self._updates = [u for u in self._updates if u["update_id"] >= offset]
                if self._updates:
                    return list(self._updates[:100])
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return []
                self._cond.wait(remaining)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def setup(self) -> None:
                super().setup()
                # headers and body go out in two writes: without this, Nagle plus the client's
                # delayed ACK would add ~40 ms to every answer
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                content_type = self.headers.get("Content-Type", "")
                params: dict[str, Any]
                if "json" in content_type and body:
                    params = json.loads(body)
                else:
                    params = {k: _decode(v[-1]) for k, v in
                              urllib.parse.parse_qs(body, keep_blank_values=True).items()}
                method = self.path.rsplit("/", 1)[-1]
                if self.path.startswith("/control/"):
                    status, payload = api._control(method, body)
                else:
                    status, payload = api._handle(method, params)
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (timeout test)
                    pass

            do_GET = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


# -- updates as Telegram sends them ---------------------------------------------------------------

_PEOPLE_USER = {"is_bot": False, "first_name": "Ibu", "language_code": "id"}


def chat_of(chat_id: int, chat_type: str = "private") -> dict[str, Any]:
    if chat_type == "private":
        return {"id": chat_id, "type": "private", "first_name": "Ibu"}
    return {"id": chat_id, "type": chat_type, "title": "Grup RT 03"}


def message_update(update_id: int, chat_id: int, text: str | None = None, *,
                   user_id: int | None = None, chat_type: str = "private",
                   message_id: int | None = None, edited: bool = False,
                   **content: Any) -> dict[str, Any]:
    """A ``message`` (or ``edited_message``) update; ``content`` adds sticker/photo/voice."""
    message: dict[str, Any] = {
        "message_id": message_id or update_id, "date": int(time.time()),
        "chat": chat_of(chat_id, chat_type),
        "from": {"id": user_id or abs(chat_id), **_PEOPLE_USER},
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"type": "bot_command", "offset": 0, "length": length}]
    if edited:
        message["edit_date"] = int(time.time())
    return {"update_id": update_id, "edited_message" if edited else "message": message}


def callback_update(update_id: int, chat_id: int, data: str, *,
                    message_id: int = 1) -> dict[str, Any]:
    """A button press on the bot's message ``message_id``."""
    return {"update_id": update_id, "callback_query": {
        "id": f"cb{update_id}", "chat_instance": "ci", "data": data,
        "from": {"id": chat_id, **_PEOPLE_USER},
        "message": {"message_id": message_id, "date": int(time.time()),
                    "chat": chat_of(chat_id), "from": BOT_USER, "text": "…"},
    }}


STICKER = {"sticker": {"file_id": "s1", "file_unique_id": "su1", "width": 512, "height": 512,
                       "is_animated": False, "is_video": False, "type": "regular"}}
PHOTO = {"photo": [{"file_id": "p1", "file_unique_id": "pu1", "width": 90, "height": 90}]}
VOICE = {"voice": {"file_id": "v1", "file_unique_id": "vu1", "duration": 3}}


def main() -> None:
    """``python -m support.fake_bot_api`` (run from tests/): serve until stdin closes.

    Prints the base URL first."""
    import sys

    with FakeBotApi(record=False) as api:
        print(api.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
