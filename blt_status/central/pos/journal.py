"""The exchange journal: what was planned, delivered and answered (``DIR/private/pos/journal.db``).

A small SQLite file of its own (0600) that holds no personal data — only reference ids,
transaction and message ids, fingerprints and states:

- ``batches``: every message of a push (``pending`` -> ``delivered`` | ``refused``), so a second
  push of a version is a no-op and an interrupted push resumes with the same message ids;
- ``batch_refs``: the references planned into each message (with the instruction fingerprint);
- ``sent``: per reference, the instruction last delivered and its outcome (``salur``, ``gagal``,
  ``kembali`` once a final response came: what ``pos pull`` still asks about).

The payout facts themselves live in the store's payout ledger, not here.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from blt_status._fs import make_private_dir
from blt_status.central.store import CentralStore

__all__ = ["Batch", "Journal"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    message_id TEXT PRIMARY KEY, transaction_id TEXT NOT NULL, version INTEGER NOT NULL,
    point_id TEXT NOT NULL, seq INTEGER NOT NULL, state TEXT NOT NULL, error TEXT,
    count INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS batches_version ON batches(version, state);
CREATE TABLE IF NOT EXISTS batch_refs (
    message_id TEXT NOT NULL, ref TEXT NOT NULL, fingerprint TEXT NOT NULL,
    PRIMARY KEY (message_id, ref));
CREATE TABLE IF NOT EXISTS sent (
    ref TEXT PRIMARY KEY, fingerprint TEXT NOT NULL, transaction_id TEXT NOT NULL,
    message_id TEXT NOT NULL, version INTEGER NOT NULL, outcome TEXT);
CREATE INDEX IF NOT EXISTS sent_open ON sent(transaction_id, outcome);
"""


@dataclass(frozen=True)
class Batch:
    message_id: str
    transaction_id: str
    version: int
    point_id: str
    seq: int
    state: str
    error: str | None
    count: int


class Journal:
    """The exchange journal of one central store (open per use; safe across processes)."""

    def __init__(self, path: Path) -> None:
        make_private_dir(path.parent)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        os.chmod(path, 0o600)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None,
                                  check_same_thread=False)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)

    @classmethod
    def of(cls, store: CentralStore) -> Journal:
        return cls(store.private_dir / "pos" / "journal.db")

    def close(self) -> None:
        self.db.close()

    # -- push ------------------------------------------------------------------------------

    def batches(self, version: int | None = None) -> list[Batch]:
        sql = "SELECT message_id, transaction_id, version, point_id, seq, state, error, count " \
              "FROM batches"
        rows = self.db.execute(sql + (" WHERE version = ?" if version is not None else "")
                               + " ORDER BY transaction_id, seq",
                               (version,) if version is not None else ()).fetchall()
        return [Batch(*row) for row in rows]

    def plan(self, batches: Sequence[tuple[Batch, Sequence[tuple[str, str]]]]) -> None:
        """Record the messages of a push before sending any (one transaction)."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            for batch, refs in batches:
                self.db.execute("INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                (batch.message_id, batch.transaction_id, batch.version,
                                 batch.point_id, batch.seq, batch.state, batch.error,
                                 batch.count))
                self.db.executemany("INSERT INTO batch_refs VALUES (?, ?, ?)",
                                    [(batch.message_id, ref, fp) for ref, fp in refs])

    def batch_refs(self, message_id: str) -> list[tuple[str, str]]:
        return self.db.execute("SELECT ref, fingerprint FROM batch_refs WHERE message_id = ? "
                               "ORDER BY rowid", (message_id,)).fetchall()

    def mark_delivered(self, batch: Batch) -> None:
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.execute("UPDATE batches SET state = 'delivered', error = NULL "
                            "WHERE message_id = ?", (batch.message_id,))
            self.db.execute(
                "INSERT INTO sent (ref, fingerprint, transaction_id, message_id, version) "
                "SELECT ref, fingerprint, ?, message_id, ? FROM batch_refs WHERE message_id = ? "
                "ON CONFLICT(ref) DO UPDATE SET fingerprint = excluded.fingerprint, "
                "transaction_id = excluded.transaction_id, message_id = excluded.message_id, "
                "version = excluded.version",
                (batch.transaction_id, batch.version, batch.message_id))

    def mark_refused(self, batch: Batch, error: str) -> None:
        self.db.execute("UPDATE batches SET state = 'refused', error = ? WHERE message_id = ?",
                        (error, batch.message_id))

    def delivered_fingerprints(self) -> dict[str, tuple[str, str | None, int]]:
        """reference -> (fingerprint last delivered, outcome, the version it went with)."""
        return {ref: (fp, outcome, version) for ref, fp, outcome, version in
                self.db.execute("SELECT ref, fingerprint, outcome, version FROM sent")}

    # -- feedback --------------------------------------------------------------------------

    def record_outcomes(self, outcomes: Iterable[tuple[str, str]]) -> None:
        """Remember final answers (reference -> ledger status); a final one is kept."""
        with self.db:
            self.db.execute("BEGIN IMMEDIATE")
            self.db.executemany(
                "UPDATE sent SET outcome = ? WHERE ref = ? AND (outcome IS NULL OR "
                "outcome = 'gagal')", [(status, ref) for ref, status in outcomes])

    def outcomes(self, refs: Iterable[str]) -> dict[str, str]:
        """The recorded answers of these references (those without one are left out)."""
        return self._by_ref("outcome", "outcome IS NOT NULL AND", refs)

    def delivered_versions(self, refs: Iterable[str]) -> dict[str, int]:
        """The version each of these references was last delivered in (unknown ones left out)."""
        return self._by_ref("version", "", refs)

    def _by_ref(self, column: str, condition: str, refs: Iterable[str]) -> dict[str, Any]:
        """``ref -> column`` of the ``sent`` rows of ``refs``, 500 references a query."""
        found: dict[str, Any] = {}
        wanted = list(dict.fromkeys(refs))
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(self.db.execute(
                f"SELECT ref, {column} FROM sent WHERE {condition} ref IN ({marks})",
                chunk).fetchall())
        return found

    def open_transactions(self) -> dict[str, int]:
        """Transactions with delivered references still without a final answer -> count."""
        return dict(self.db.execute(
            "SELECT transaction_id, COUNT(*) FROM sent WHERE outcome IS NULL "
            "GROUP BY transaction_id ORDER BY transaction_id").fetchall())

    def outcome_counts(self) -> dict[str, int]:
        return {str(outcome or "open"): count for outcome, count in self.db.execute(
            "SELECT outcome, COUNT(*) FROM sent GROUP BY outcome")}
