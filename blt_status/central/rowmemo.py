"""The plan the last publish made, kept so that a re-publish checks only the rows that changed.

A publish that commits keeps its plan's scratch file (:class:`~blt_status.central.plan
.StreamedPlan`) as ``private/plan-memo.db`` (SQLite, mode 0600): each valid row with a keyed
hash of its raw CSV fields (``raw_h``), what the checks made of it (its NIK and KK as keyed
hashes, its store subject, desa, desil and active flag, its masked NIK and, sealed, the rest)
and where the schedule placed it (``point``, ``sched``, and ``grp``, the key of its group of
kecamatan). The next publish hashes every row it reads the same way: a row whose hash the memo
holds is copied from it instead of being named, validated, hashed and sealed again, and a
group whose key the memo holds keeps the memo's places (``StreamedPlan._schedule_from_memo``).
The duplicate rules and eligibility run on every row as before.

What makes a memo usable by a publish, and why its rows are the rows it would check:

- The keys. The scratch file's keys are derived from the store's subject key and a salt the
  memo keeps (:func:`plan_keys`): a memo is only readable by its own store, and a publish that
  uses it seals and hashes its new rows under the same keys as the rows it takes over.
- The context (:func:`memo_context`): the header of the file (a column order that changed
  names the same fields differently) and a fingerprint of the code and data that check and
  schedule a row (:data:`CHECK_SOURCES`, the region tables included). A memo made by other
  code, or of a file with another header, is not used at all.
- The day. A row's check depends on the day only through the birth date in its NIK: a
  two-digit year is read as 20YY unless that is after today, else as 19YY, and a NIK is
  rejected only when neither is a date. Whether it is a date does not depend on the day
  (for any day after 29 February 2000), so a check made yesterday is today's.
- Rows rejected by the checks are not looked up (their reasons are in the language of the
  day's publish): they are checked again, as is any row with a ``\\x1f`` in a field.

The memo is a cache: deleting it costs the next publish only time, and a memo that cannot be
read is ignored. Nothing in it is in clear: the NIK is masked to its last four digits, as in
the rejection log, and names and addresses are sealed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import shutil
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

__all__ = [
    "CHECK_SOURCES",
    "MEMO_FILE",
    "PlanKeys",
    "attach_memo",
    "memo_context",
    "memo_salt",
    "plan_keys",
    "raw_hasher",
    "save_memo",
]

MEMO_FILE = "plan-memo.db"
MEMO_FORMAT = b"blt-plan-memo-v1"

CHECK_SOURCES = ("central/rowmemo.py", "central/plan.py", "central/inputs.py", "central/db.py",
                 "central/entitlement.py", "central/schedule.py", "nik.py", "regions.py",
                 "records.py", "data/wilayah.csv", "data/wilayah_historical.csv")
"""The package files that decide what a checked row is and where it is scheduled (relative
to the package): a change to any of them makes every memo unusable."""

_code_fingerprint: bytes | None = None


@dataclass(frozen=True)
class PlanKeys:
    """The keys of one publish's scratch file (and of the memo it saves)."""

    salt: bytes
    seal: bytes  # AES-256-GCM, for the sealed part of each row
    hash: bytes  # keyed hashes of NIK, KK and what the schedule and warnings compare
    raw: bytes  # keyed hashes of raw rows, of groups and of the context


def plan_keys(subject_key: bytes, salt: bytes | None = None) -> PlanKeys:
    """The keys made from the store's subject key and ``salt`` (a new one when None)."""
    salt = salt if salt is not None else os.urandom(16)

    def derive(label: bytes) -> bytes:
        return hmac.digest(subject_key, b"blt-plan-keys-v1|" + label + b"|" + salt, "sha256")

    return PlanKeys(salt, derive(b"seal"), derive(b"hash"), derive(b"raw"))


def _fingerprint() -> bytes:
    global _code_fingerprint
    if _code_fingerprint is None:
        from blt_status import __version__

        root = Path(__file__).resolve().parent.parent
        digest = hashlib.sha256(MEMO_FORMAT + b"|" + __version__.encode())
        for name in CHECK_SOURCES:
            digest.update(name.encode() + b"\0" + (root / name).read_bytes())
        _code_fingerprint = digest.digest()
    return _code_fingerprint


def memo_context(keys: PlanKeys, header: list[str]) -> bytes:
    """What a memo must have been made under to be used for a file with ``header`` (the
    delimiter does not matter: rows are hashed as the fields it splits them into)."""
    text = "\x1f".join(header).encode()
    return hmac.digest(keys.raw, _fingerprint() + b"|" + text, "sha256")


def raw_hasher(keys: PlanKeys) -> Callable[[list[str]], bytes | None]:
    """The keyed hash of one row's raw fields; None for a row with a ``\\x1f`` in a field (its
    fields could not be told apart once joined: such a row is always checked). The keyed
    state is made once and copied for each row (a new keyed BLAKE2b per row costs more than
    the hashing)."""
    keyed = hashlib.blake2b(key=keys.raw[:32], digest_size=16)

    def raw_hash(fields: list[str]) -> bytes | None:
        text = "\x1f".join(fields)
        if text.count("\x1f") != len(fields) - 1:
            return None
        digest = keyed.copy()
        digest.update(text.encode())
        return digest.digest()

    return raw_hash


def read_only(path: Path) -> str:
    """``path`` as an SQLite URI that opens it read-only (and never creates it); the
    connection or the ``ATTACH`` needs URIs enabled."""
    return f"file:{quote(str(path.resolve()))}?mode=ro"


def memo_salt(path: Path) -> bytes | None:
    """The salt of the memo at ``path``; None when there is none or it cannot be read."""
    if not path.is_file():
        return None
    try:
        db = sqlite3.connect(read_only(path), uri=True)
    except sqlite3.Error:
        return None
    try:
        row = db.execute("SELECT salt FROM meta").fetchone()
    except sqlite3.Error:
        return None
    finally:
        db.close()
    return bytes(row[0]) if row and isinstance(row[0], bytes) else None


def attach_memo(db: sqlite3.Connection, path: Path, context: bytes) -> bool:
    """Attach the memo at ``path`` to ``db`` as ``memo`` if it was made under ``context``
    (outside any transaction); False, and nothing attached, otherwise."""
    if not path.is_file():
        return False
    try:
        db.execute("ATTACH DATABASE ? AS memo", (read_only(path),))
    except sqlite3.Error:
        return False
    try:
        # Checked on the attached file itself: another publish may have replaced the memo
        # since its salt was read, and a memo under other keys must not be used.
        row = db.execute("SELECT context FROM memo.meta").fetchone()
        usable = row is not None and hmac.compare_digest(bytes(row[0]), context)
        if usable:
            db.execute("SELECT raw_h, grp, sched_h FROM memo.rows LIMIT 1").fetchall()
    except (sqlite3.Error, TypeError):
        usable = False
    if not usable:
        db.execute("DETACH DATABASE memo")
    return usable


def save_memo(db: sqlite3.Connection, scratch: Path, path: Path, keys: PlanKeys,
              context: bytes) -> None:
    """Keep the scratch file ``scratch`` (open as ``db``, no transaction running) as the memo
    at ``path``: indexed for the next publish's lookups, its keys' salt and context added,
    then copied whole (the memo is replaced at once, never half-written)."""
    db.execute("CREATE INDEX IF NOT EXISTS rows_raw ON rows (raw_h) WHERE raw_h IS NOT NULL")
    # Where each group of kecamatan placed its recipients (point NULL: unserved), by the
    # group's key (StreamedPlan._group_key) and each recipient's sched_h.
    db.execute("CREATE INDEX IF NOT EXISTS rows_placed ON rows (grp, sched_h)"
               " WHERE grp IS NOT NULL")
    db.execute("DROP TABLE IF EXISTS meta")
    db.execute("CREATE TABLE meta (salt BLOB, context BLOB)")
    db.execute("INSERT INTO meta VALUES (?, ?)", (keys.salt, context))
    partial = path.with_name(path.name + ".partial")
    try:
        shutil.copyfile(scratch, partial)
        os.chmod(partial, 0o600)
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def memo_row_count(path: Path) -> int:  # for tests
    """How many rows the memo at ``path`` holds."""
    db = sqlite3.connect(read_only(path), uri=True)
    try:
        count: Any = db.execute("SELECT count(*) FROM rows WHERE raw_h IS NOT NULL").fetchone()[0]
    finally:
        db.close()
    return int(count)
