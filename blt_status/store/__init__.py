"""IndexStore: one small interface over the local index, with TinyDB and SQLite backends."""

from __future__ import annotations

from pathlib import Path

from blt_status.errors import IndexMissing
from blt_status.store._base import (
    IndexBackend,
    IndexMeta,
    IndexStore,
    atomic_replace,
    atomic_write_bytes,
    fsync_dir,
    locked,
    temp_path_for,
    utcnow,
)
from blt_status.store._sqlite import SqliteBackend
from blt_status.store._tinydb import AtomicJSONStorage, TinyDbBackend

__all__ = [
    "BACKENDS",
    "AtomicJSONStorage",
    "IndexBackend",
    "IndexMeta",
    "IndexStore",
    "SqliteBackend",
    "TinyDbBackend",
    "atomic_replace",
    "atomic_write_bytes",
    "backend_for",
    "fsync_dir",
    "locked",
    "open_index",
    "temp_path_for",
    "utcnow",
]

BACKENDS: dict[str, IndexBackend] = {"tinydb": TinyDbBackend(), "sqlite": SqliteBackend()}


def backend_for(path: Path) -> IndexBackend:
    """The backend that owns a store file, by its suffix."""
    for backend in BACKENDS.values():
        if path.suffix == backend.suffix:
            return backend
    raise IndexMissing(str(path))


def open_index(path: Path) -> IndexStore:
    """Open any store file (raises IndexMissing / IndexCorrupt)."""
    return backend_for(path).open(path)
