"""Private file-system helpers: atomic writes, fsync, private folders and file locks.

One place for what the local index store, the sync client, the audit log and the central
store all need: a file is replaced whole (readers see the old or the new bytes, never half),
made durable with fsync (the file, then its folder), and one writer at a time holds a lock.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = [
    "atomic_replace",
    "atomic_write_bytes",
    "fsync_dir",
    "locked",
    "make_private_dir",
    "sync_paths",
    "temp_path_for",
    "try_lock",
    "write_file_unsynced",
]


def fsync_dir(directory: Path) -> None:
    """fsync a folder (so a rename or a new file in it survives a crash)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def temp_path_for(path: Path) -> Path:
    """A unique scratch name beside ``path`` (same filesystem, so rename is atomic)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}-{os.urandom(4).hex()}")


def atomic_replace(temp: Path, path: Path) -> None:
    """fsync ``temp``, rename it over ``path``, fsync the directory."""
    with open(temp, "rb+") as handle:
        os.fsync(handle.fileno())
    os.replace(temp, path)
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write a whole small file so that readers see the old or the new content, never half."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = temp_path_for(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def write_file_unsynced(path: Path, data: bytes, mode: int) -> None:
    """Write a whole file under a temporary name and rename it, without fsync.

    For the many files of one publish: the caller makes them durable together
    (:func:`sync_paths`) before the metadata that names them is written.
    """
    temp = temp_path_for(path)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def sync_paths(paths: Iterable[Path]) -> None:
    """fsync many files (concurrently, so the journal can batch them), then their folders."""
    files = list(paths)
    if not files:
        return

    def fsync_file(path: Path) -> None:
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(files))) as pool:
        list(pool.map(fsync_file, files))
    for directory in sorted({path.parent for path in files}):
        fsync_dir(directory)


def make_private_dir(directory: Path) -> None:
    """Create ``directory`` and any missing parents with mode 0700."""
    missing: list[Path] = []
    current = directory
    while not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir(mode=0o700)
        os.chmod(path, 0o700)


@contextlib.contextmanager
def try_lock(path: Path, *, wait: float = 0,
             cancelled: threading.Event | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on the file ``path`` (created 0600) if it can be had within
    ``wait`` seconds (and before ``cancelled`` is set); yields whether it is held.

    A lock file that exists but cannot be opened for writing (a read-only folder or file
    system) is locked through a read-only descriptor: ``flock`` needs none, and a reader of a
    read-only store still waits for a writer that can write it."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS) or not path.is_file():
            raise
        fd = os.open(path, os.O_RDONLY)
    try:
        if not _flock_within(fd, wait, cancelled):
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _flock_within(fd: int, wait: float, cancelled: threading.Event | None) -> bool:
    """Lock ``fd`` exclusively: at once if nobody holds it (tenacity, whose import costs more
    than a short command's work, is loaded only to wait), else retried every 50 ms for up to
    ``wait`` seconds or until ``cancelled`` is set."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        if wait <= 0 or (cancelled is not None and cancelled.is_set()):
            return False
    import tenacity

    stop: tenacity.stop.stop_base = tenacity.stop_after_delay(wait)
    if cancelled is not None:
        stop = stop | tenacity.stop_when_event_set(cancelled)
    try:
        for attempt in tenacity.Retrying(
                stop=stop, wait=tenacity.wait_fixed(0.05),
                retry=tenacity.retry_if_exception_type(BlockingIOError), reraise=True):
            with attempt:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``directory/.lock`` (created 0700/0600), waiting for it."""
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
