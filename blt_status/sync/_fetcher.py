"""The sync's network layer: a python-tuf ``FetcherInterface`` built on httpx (and local files).

``HttpxFetcher`` streams each response as the bytes arrive (TUF enforces the length cap as it
reads) and maps every failure to python-tuf's download exceptions: an HTTP status >= 400 is
``DownloadHTTPError``, anything else on the wire (refused connection, dropped connection, body
shorter than its Content-Length) a ``DownloadError``. Three limits keep a slow or hostile
server from holding a sync (and its lock) for ever:

- a **deadline** for the whole sync (a monotonic time): every connect and read waits at most
  until then, and a body still arriving then is cut off (:class:`DeadlineExceeded`) by a
  watchdog that shuts the connection's socket down at that moment, so even a server that
  drips a byte just often enough to beat the read timeout is cut off on time;
- a **byte-rate floor** for every file: over each ``rate_window`` seconds at least
  ``min_rate`` bytes per second must arrive, or the file is cut off (:class:`TooSlow`), so a
  server dripping one byte a second cannot keep a file open until the deadline;
- **redirects** are followed only on the same scheme, host and port, or to hosts the device is
  configured to trust (:class:`CrossHostRedirect`).

``file://`` URLs are read from disk, so a copy of ``DIR/public`` on a USB stick syncs the same
way, with the same checks.
"""

from __future__ import annotations

import contextlib
import errno
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Collection, Iterator
from pathlib import Path

import httpx
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

from blt_status import __version__

__all__ = ["CHUNK_SIZE", "CrossHostRedirect", "DeadlineExceeded", "HttpxFetcher",
           "MissingFile", "NetworkFailure", "TooSlow"]

CHUNK_SIZE = 256 * 1024
MIN_RATE = 2048  # bytes per second every file must keep up, measured over RATE_WINDOW
RATE_WINDOW = 10.0
MAX_REDIRECTS = 5


class DeadlineExceeded(exceptions.SlowRetrievalError):
    """The sync's overall deadline passed while a file was being fetched."""


class TooSlow(exceptions.SlowRetrievalError):
    """A file arrived slower than the byte-rate floor (or stalled past the read timeout)."""

    def __init__(self, url: str, rate: float, stall: float) -> None:
        super().__init__(f"{url} arrived slower than {rate:g} bytes/s")
        self.url, self.rate, self.stall = url, rate, stall


class CrossHostRedirect(exceptions.DownloadError):
    """The server redirected to another host that the device does not trust."""

    def __init__(self, url: str, location: str) -> None:
        super().__init__(f"{url} redirects to another host")
        self.url = url
        self.host = urllib.parse.urlsplit(location).netloc or location


class MissingFile(exceptions.DownloadHTTPError):
    """HTTP 404 (or a missing local file): carries the URL so the caller can name it."""

    def __init__(self, url: str) -> None:
        # No English words: this text is the detail of a translated sentence (sync_not_found).
        super().__init__(f"HTTP 404: {url}", 404)
        self.url = url


class NetworkFailure(exceptions.DownloadError):
    """The server could not be reached or the connection broke, by kind (a translated
    sentence per kind: ``sync_network:<kind>``; the exception's own text is English).

    Kinds: ``refused`` (nothing listens there), ``dns`` (the host name is unknown), ``tls``
    (the secure connection failed), ``timeout`` (no answer to the connect), ``lost`` (the
    connection broke off during a download), ``unreachable`` (anything else).
    """

    def __init__(self, url: str, kind: str, error: BaseException) -> None:
        super().__init__(f"cannot reach {url} ({kind}): {type(error).__name__}")
        self.url = url
        self.kind = kind
        # host[:port] only (the name alone when it is the name that is unknown): never a user
        # name or password written into the URL
        parts = urllib.parse.urlsplit(url)
        self.host = (parts.hostname if kind == "dns" else None) \
            or parts.netloc.rpartition("@")[2] or "?"


def _causes(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def network_kind(error: BaseException) -> str:
    """Which kind of :class:`NetworkFailure` an httpx error (and what it wraps) is."""
    for cause in _causes(error):
        if isinstance(cause, httpx.ConnectTimeout | TimeoutError):
            return "timeout"
        if isinstance(cause, ssl.SSLError):
            return "tls"
        if isinstance(cause, socket.gaierror):
            return "dns"
        if isinstance(cause, ConnectionRefusedError) or (
                isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED):
            return "refused"
    text = str(error).lower()  # httpcore keeps some causes only as text
    if "ssl" in text or "certificate" in text:
        return "tls"
    if "name or service not known" in text or "nodename nor servname" in text \
            or "name resolution" in text:
        return "dns"
    if "connection refused" in text:
        return "refused"
    return "unreachable"


def _origin(url: str) -> tuple[str, str]:
    parts = urllib.parse.urlsplit(url)
    return parts.scheme.lower(), parts.netloc.lower()


class HttpxFetcher(FetcherInterface):
    """Streams ``http(s)://`` with httpx and ``file://`` from disk; counts the bytes received."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 chunk_size: int = CHUNK_SIZE,
                 on_bytes: Callable[[int], None] | None = None,
                 deadline: float | None = None, min_rate: float = MIN_RATE,
                 rate_window: float = RATE_WINDOW,
                 redirect_hosts: Collection[str] = ()) -> None:
        """``deadline``: a ``time.monotonic()`` value; ``redirect_hosts``: hosts (``host`` or
        ``host:port``, ``*`` for any) that a redirect may lead to."""
        self.chunk_size = chunk_size
        self.bytes_received = 0
        self.deadline = deadline
        self.min_rate = min_rate
        self.rate_window = rate_window
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.redirect_hosts = frozenset(host.lower() for host in redirect_hosts)
        self._on_bytes = on_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            # identity: every byte read is a byte of the file (the rate floor counts them)
            headers={"User-Agent": f"blt-status/{__version__}", "Accept-Encoding": "identity"},
            follow_redirects=False,  # followed by hand: only to trusted hosts
            trust_env=True,  # HTTPS_PROXY / NO_PROXY / SSL_CERT_FILE, like other tools
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpxFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _count(self, chunk: bytes) -> bytes:
        self.bytes_received += len(chunk)
        if self._on_bytes is not None:
            self._on_bytes(len(chunk))
        return chunk

    def _remaining(self) -> float | None:
        return None if self.deadline is None else self.deadline - time.monotonic()

    def _timeout(self) -> httpx.Timeout:
        """Connect and read timeouts, never past the deadline."""
        remaining = self._remaining()
        if remaining is not None and remaining <= 0:
            raise DeadlineExceeded("the sync's deadline has passed")
        read = self.read_timeout if remaining is None else min(self.read_timeout, remaining)
        connect = self.connect_timeout if remaining is None else min(self.connect_timeout,
                                                                     remaining)
        return httpx.Timeout(read, connect=connect)

    def _redirect_allowed(self, url: str, location: str) -> bool:
        if _origin(location) == _origin(url):
            return True
        host = urllib.parse.urlsplit(location)
        return bool({"*", (host.netloc or "").lower(), (host.hostname or "").lower()}
                    & self.redirect_hosts)

    def _timed_out(self, url: str) -> exceptions.SlowRetrievalError:
        remaining = self._remaining()
        if remaining is not None and remaining <= 0.05:
            return DeadlineExceeded(f"the sync's deadline passed while fetching {url}")
        return TooSlow(url, self.min_rate, self.read_timeout)

    def _fetch(self, url: str) -> Iterator[bytes]:
        if url.startswith("file:"):
            return self._file_chunks(url)
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            try:
                request = self._client.build_request("GET", current, timeout=self._timeout())
                response = self._client.send(request, stream=True)
            except httpx.ConnectTimeout as error:
                timed_out = self._timed_out(current)
                if isinstance(timed_out, DeadlineExceeded):
                    raise timed_out from error
                raise NetworkFailure(current, "timeout", error) from error
            except httpx.TimeoutException as error:
                raise self._timed_out(current) from error
            except httpx.HTTPError as error:
                raise NetworkFailure(current, network_kind(error), error) from error
            if not response.is_redirect:
                break
            location = urllib.parse.urljoin(current, response.headers.get("location", ""))
            response.close()
            if not self._redirect_allowed(current, location):
                raise CrossHostRedirect(current, location)
            current = location
        else:
            raise exceptions.DownloadError(f"too many redirects for {url}")
        if response.status_code == 404:
            response.close()
            raise MissingFile(url)
        if response.status_code >= 400:
            response.close()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status_code} for {url}",
                                               response.status_code)
        return self._http_chunks(url, response)

    def _watchdog(self, response: httpx.Response, expired: threading.Event,
                  ) -> threading.Timer | None:
        """At the deadline, shut the response's socket down: a blocked read returns at once."""
        remaining = self._remaining()
        stream = response.extensions.get("network_stream")
        sock = stream.get_extra_info("socket") if stream is not None else None
        if remaining is None or not isinstance(sock, socket.socket):
            return None

        def expire() -> None:
            expired.set()
            with contextlib.suppress(OSError):  # the plain socket under any TLS wrapper
                socket.socket.shutdown(sock, socket.SHUT_RDWR)

        timer = threading.Timer(max(0.0, remaining), expire)
        timer.daemon = True
        timer.start()
        return timer

    def _http_chunks(self, url: str, response: httpx.Response) -> Iterator[bytes]:
        # A generator: errors while streaming are raised here, so map them here too (tuf's
        # fetch() only wraps errors raised when the request starts). Chunks are taken as they
        # arrive (no re-chunking), so the deadline and the rate floor are checked per read.
        window_start = time.monotonic()
        window_bytes = 0
        expired = threading.Event()
        watchdog = self._watchdog(response, expired)
        try:
            for chunk in response.iter_raw():
                now = time.monotonic()
                if self.deadline is not None and now > self.deadline:
                    raise DeadlineExceeded(f"the sync's deadline passed while reading {url}")
                window_bytes += len(chunk)
                if now - window_start >= self.rate_window:
                    if window_bytes < self.min_rate * (now - window_start):
                        raise TooSlow(url, self.min_rate, self.read_timeout)
                    window_start, window_bytes = now, 0
                yield self._count(chunk)
        except httpx.TimeoutException as error:
            raise self._timed_out(url) from error
        except (httpx.HTTPError, OSError) as error:
            if expired.is_set():
                raise DeadlineExceeded(
                    f"the sync's deadline passed while reading {url}") from error
            raise NetworkFailure(url, "lost", error) from error
        finally:
            if watchdog is not None:
                watchdog.cancel()
            response.close()

    def _file_chunks(self, url: str) -> Iterator[bytes]:
        path = file_url_to_path(url)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed in the generator
        except FileNotFoundError:
            raise MissingFile(url) from None
        except OSError as error:
            raise exceptions.DownloadError(f"cannot read {path}: {error.strerror}") from None

        def chunks() -> Iterator[bytes]:
            with handle:
                try:
                    while chunk := handle.read(self.chunk_size):
                        yield self._count(chunk)
                except OSError as error:
                    raise exceptions.DownloadError(
                        f"cannot read {path}: {error.strerror}") from None

        return chunks()


def file_url_to_path(url: str) -> Path:
    parsed = urllib.parse.urlsplit(url)
    return Path(urllib.parse.unquote(parsed.path))
