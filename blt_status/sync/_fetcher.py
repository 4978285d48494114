"""The sync's network layer: a python-tuf ``FetcherInterface`` built on httpx (and local files).

``HttpxFetcher`` streams each response in chunks (TUF enforces the length cap as it reads), uses
connect/read timeouts, and maps every failure to python-tuf's download exceptions: an HTTP
status >= 400 is ``DownloadHTTPError``, a timeout ``SlowRetrievalError``, anything else on the
wire (refused connection, dropped connection, body shorter than its Content-Length) a
``DownloadError``. ``file://`` URLs are read from disk, so a copy of ``DIR/public`` on a USB
stick syncs the same way, with the same checks.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
from tuf.api import exceptions
from tuf.ngclient.fetcher import FetcherInterface

from blt_status import __version__

__all__ = ["CHUNK_SIZE", "HttpxFetcher"]

CHUNK_SIZE = 256 * 1024


class HttpxFetcher(FetcherInterface):
    """Streams ``http(s)://`` with httpx and ``file://`` from disk; counts the bytes received."""

    def __init__(self, *, connect_timeout: float = 10.0, read_timeout: float = 30.0,
                 chunk_size: int = CHUNK_SIZE,
                 on_bytes: Callable[[int], None] | None = None) -> None:
        self.chunk_size = chunk_size
        self.bytes_received = 0
        self._on_bytes = on_bytes
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            headers={"User-Agent": f"blt-status/{__version__}"},
            follow_redirects=True,
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

    def _fetch(self, url: str) -> Iterator[bytes]:
        if url.startswith("file:"):
            return self._file_chunks(url)
        try:
            request = self._client.build_request("GET", url)
            response = self._client.send(request, stream=True)
        except httpx.TimeoutException as error:
            raise exceptions.SlowRetrievalError(f"timed out connecting for {url}") from error
        except httpx.HTTPError as error:
            raise exceptions.DownloadError(f"cannot reach {url}: {type(error).__name__}") \
                from error
        if response.status_code >= 400:
            response.close()
            raise exceptions.DownloadHTTPError(f"HTTP {response.status_code} for {url}",
                                               response.status_code)
        return self._http_chunks(url, response)

    def _http_chunks(self, url: str, response: httpx.Response) -> Iterator[bytes]:
        # A generator: errors while streaming are raised here, so map them here too (tuf's
        # fetch() only wraps errors raised when the request starts).
        try:
            for chunk in response.iter_bytes(self.chunk_size):
                yield self._count(chunk)
        except httpx.TimeoutException as error:
            raise exceptions.SlowRetrievalError(f"timed out reading {url}") from error
        except httpx.HTTPError as error:
            raise exceptions.DownloadError(
                f"connection lost while reading {url}: {type(error).__name__}") from error
        finally:
            response.close()

    def _file_chunks(self, url: str) -> Iterator[bytes]:
        path = file_url_to_path(url)
        try:
            handle = open(path, "rb")  # noqa: SIM115 - closed in the generator
        except FileNotFoundError:
            raise exceptions.DownloadHTTPError(f"{path} does not exist", 404) from None
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
