"""Key derivation and sealing on a Dask cluster: ``central publish --scheduler ADDRESS``.

A national first publish is about 37.6 M Argon2id derivations (18.8 M KPM, two views), far
too many for one machine. With ``--scheduler`` the publisher sends them to an existing Dask
cluster, each batch cut into about :data:`TASKS_PER_THREAD` tasks per worker thread so that
every worker has work; without it the local process pool does the work.
Everything else in the publisher is unchanged: :func:`use_scheduler` makes
:func:`~blt_status.central.publish.derive_keys` hand its items to :class:`ClusterExecutor`.

Each task carries the epoch salt and the master pepper, so the connection must be private:

- ``tls://HOST:PORT`` uses Dask's TLS settings (``Security``; certificates from the Dask
  configuration or ``DASK_DISTRIBUTED__COMM__TLS__*``), with encryption required;
- ``tcp://`` is accepted only on this machine's loopback (``127.0.0.0/8``, ``::1``,
  ``localhost``): anything else is refused with ``scheduler_insecure`` before connecting.

A worker that dies mid-publish has its tasks run again elsewhere by Dask (the scheduler
retries tasks of lost workers); a task that fails is retried :data:`TASK_RETRIES` times. If the
cluster cannot finish (scheduler gone, no worker left for :data:`STALL_SECONDS`), the publish
fails with ``cluster_failed`` before anything is written, so ``public/`` stays as it was.
Docs: docs/cluster.md.
"""

from __future__ import annotations

import contextlib
import contextvars
import ipaddress
import time
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from blt_status.errors import CentralError

if TYPE_CHECKING:
    from blt_status.central.publish import Progress, WorkItem
    from blt_status.indexer import IndexParams

__all__ = ["STALL_SECONDS", "TASK_RETRIES", "ClusterBatch", "ClusterExecutor", "active_executor",
           "check_address", "task_slices", "use_scheduler"]

TASK_RETRIES = 3
STALL_SECONDS = 60.0  # no task finished and no worker connected for this long: give up
CONNECT_SECONDS = 10.0
POLL_SECONDS = 0.02
TASKS_PER_THREAD = 4  # tasks per worker thread and batch: even load, few round trips
MAX_TASK_ITEMS = 2000  # items per task at most: bounds what one task (and its retry) carries
_ACTIVE: contextvars.ContextVar[ClusterExecutor | None] = contextvars.ContextVar(
    "blt_key_executor", default=None)


def active_executor() -> ClusterExecutor | None:
    """The executor set by :func:`use_scheduler` in this context, if any."""
    return _ACTIVE.get()


def check_address(address: str) -> tuple[str, str]:
    """``(scheme, host)`` of a scheduler address we may send secrets to; else a CentralError.

    ``scheduler_address`` for something that is not ``tcp://HOST:PORT``/``tls://HOST:PORT``;
    ``scheduler_insecure`` for ``tcp://`` to a host that is not this machine's loopback.
    """
    parsed = urllib.parse.urlsplit(address.strip())
    try:
        port = parsed.port
    except ValueError:
        port = None
    host = parsed.hostname or ""
    if parsed.scheme not in ("tcp", "tls") or not host or port is None or parsed.path:
        raise CentralError("scheduler_address", address=address[:200])
    if parsed.scheme == "tcp" and not _is_loopback(host):
        raise CentralError("scheduler_insecure", address=address[:200])
    return parsed.scheme, host


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _derive_and_seal_task(params: IndexParams, items: Sequence[WorkItem],
                          ) -> list[tuple[bytes, bytes]]:
    """One task: the Argon2id root key (and sealed blob) of each of its items."""
    from blt_status.central.publish import _derive_and_seal

    return _derive_and_seal(params, items)


def task_slices(total: int, threads: int) -> list[range]:
    """``total`` items cut into consecutive slices, about :data:`TASKS_PER_THREAD` per thread
    (each at most :data:`MAX_TASK_ITEMS`), so every worker thread has work."""
    size = max(1, min(MAX_TASK_ITEMS, -(-total // (max(1, threads) * TASKS_PER_THREAD))))
    return [range(start, min(start + size, total)) for start in range(0, total, size)]


class ClusterExecutor:
    """Runs derive-and-seal work on a Dask cluster: each batch in about
    :data:`TASKS_PER_THREAD` tasks per connected worker thread (:func:`task_slices`)."""

    def __init__(self, client: Any, address: str, *, stall_seconds: float = STALL_SECONDS,
                 ) -> None:
        self.client = client
        self.address = address
        self.stall_seconds = stall_seconds

    def threads(self) -> int:
        """Worker threads connected now (at least 1): how many tasks a batch needs."""
        return max(1, sum(int(count) for count in self.client.nthreads().values()))

    def submit(self, params: IndexParams, items: Sequence[WorkItem]) -> ClusterBatch:
        """Send ``items`` to the cluster now; :meth:`ClusterBatch.collect` waits for them (a
        publish sends the next kecamatan before it writes this one)."""
        try:
            # One task per kecamatan kept every other worker idle: the publisher sends one
            # kecamatan at a time, so a cluster of any size derived on one thread.
            futures = {self.client.submit(_derive_and_seal_task, params,
                                          items[part.start:part.stop],
                                          pure=False, retries=TASK_RETRIES): part
                       for part in task_slices(len(items), self.threads())}
        except Exception as error:  # CommClosedError, ...
            raise CentralError("cluster_failed", address=self.address,
                               reason=type(error).__name__) from None
        return ClusterBatch(self, futures, len(items))


class ClusterBatch:
    """One batch's tasks on the cluster, in flight until collected or cancelled."""

    def __init__(self, executor: ClusterExecutor, futures: dict[Any, range], total: int) -> None:
        self.executor = executor
        self.futures = futures
        self.total = total

    def collect(self, progress: Progress | None) -> list[tuple[bytes, bytes]]:
        """The results in item order, once every task is done (retried by Dask on a worker's
        death); ``cluster_failed`` when a task fails for good or no worker is left. Whatever
        stops the wait (that, Ctrl-C) cancels the batch's other tasks."""
        try:
            results = self._wait(progress)
        except BaseException:
            self.cancel()
            raise
        self.futures = {}
        return results

    def _wait(self, progress: Progress | None) -> list[tuple[bytes, bytes]]:
        executor, total = self.executor, self.total
        if progress:
            progress("sealing", 0, total)
        try:
            results: list[tuple[bytes, bytes] | None] = [None] * total
            pending, done_items, idle_since = set(self.futures), 0, time.monotonic()
            while pending:
                finished = {future for future in pending if future.done()}
                pending -= finished
                for future in finished:
                    part = self.futures[future]
                    results[part.start:part.stop] = future.result()
                    done_items += len(part)
                if finished:
                    idle_since = time.monotonic()
                    if progress:
                        progress("sealing", done_items, total)
                    continue
                time.sleep(POLL_SECONDS)
                if (time.monotonic() - idle_since > executor.stall_seconds
                      and not executor.client.scheduler_info().get("workers")):
                    raise CentralError("cluster_failed", address=executor.address,
                                       reason="no worker is connected")
        except CentralError:
            raise
        except Exception as error:  # KilledWorker, CommClosedError, CancelledError, ...
            raise CentralError("cluster_failed", address=executor.address,
                               reason=type(error).__name__) from None
        return [result for result in results if result is not None]

    def cancel(self) -> None:
        """Drop the tasks not collected (the publish stopped): the cluster forgets them."""
        if self.futures:
            with contextlib.suppress(Exception):
                self.executor.client.cancel(list(self.futures))
            self.futures = {}


def connect(address: str, *, timeout: float = CONNECT_SECONDS) -> Any:
    """A Dask ``Client`` for ``address`` (checked by :func:`check_address`), TLS if tls://."""
    scheme, _ = check_address(address)
    try:
        from distributed import Client, Security
    except ImportError:
        raise CentralError("cluster_unavailable") from None
    if scheme == "tls":
        security = Security(require_encryption=True)  # certificates: Dask's configuration
        if not security.get_tls_config_for_role("client").get("ca_file"):
            raise CentralError("scheduler_tls_config", address=address[:200])
    else:
        security = Security()
    try:
        return Client(address, security=security, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as error:
        raise CentralError("scheduler_unreachable", address=address[:200],
                           reason=type(error).__name__) from None


@contextlib.contextmanager
def use_scheduler(address: str, *, stall_seconds: float = STALL_SECONDS,
                  ) -> Iterator[ClusterExecutor]:
    """Within the block, every :func:`derive_keys` runs on the Dask cluster at ``address``."""
    client = connect(address)
    executor = ClusterExecutor(client, address, stall_seconds=stall_seconds)
    token = _ACTIVE.set(executor)
    try:
        yield executor
    finally:
        _ACTIVE.reset(token)
        with contextlib.suppress(Exception):
            client.close(timeout=5)
