"""Fuzzing the file loaders a device trusts least: the enrollment bundle and the index files.

A damaged or hostile file gives a value or a coded one-line refusal (``bundle_invalid``,
``index_corrupt``, ...), never another exception. Examples per test: the Hypothesis profile.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support.fuzz import FUZZ, coded

from blt_status.bundle import BUNDLE_FORMAT, Bundle
from blt_status.crypto import TEST_INDEX_KDF
from blt_status.errors import BltError
from blt_status.records import Program, SealedRecord
from blt_status.store import BACKENDS, IndexMeta, open_index

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
    | st.text(max_size=12),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12)

GOOD_BUNDLE: dict[str, Any] = {
    "format": BUNDLE_FORMAT, "root": {"signed": {"_type": "root"}, "signatures": []},
    "view": "officer", "regions": ["32.01.01"],
    "peppers": {"32.01.01": base64.b64encode(b"p" * 32).decode()},
    "central_url": "http://127.0.0.1:8000", "label": "Kecamatan Cibinong",
}


@st.composite
def bundles(draw: st.DrawFn) -> bytes:
    document: Any = json.loads(json.dumps(GOOD_BUNDLE))
    for _ in range(draw(st.integers(0, 3))):
        key = draw(st.sampled_from([*GOOD_BUNDLE, "peppers.region", "extra"]))
        if key == "peppers.region":
            document["peppers"] = {draw(st.text(max_size=10)): draw(
                json_values | st.binary(max_size=40).map(lambda raw: base64.b64encode(raw)
                                                        .decode()))}
        elif draw(st.booleans()):
            document[key] = draw(json_values)
        else:
            document.pop(key, None)
    return json.dumps(document).encode()


@pytest.fixture(scope="module")
def folder() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="blt-fuzz-") as name:
        yield Path(name)


@FUZZ
@given(st.one_of(bundles(), bundles(), json_values.map(lambda value: json.dumps(value).encode()),
                 st.binary(max_size=200)))
def test_bundle_gives_a_bundle_or_a_coded_refusal(folder, data):
    path = folder / "device.bundle"
    path.write_bytes(data)
    outcome = coded(lambda: Bundle.read(path))
    if isinstance(outcome, Bundle):
        assert outcome.view in ("officer", "recipient") and outcome.keyring.peppers


# -- index files --------------------------------------------------------------------------------

META = IndexMeta(view="officer", version=3, data_as_of=dt.datetime(2025, 11, 20, tzinfo=dt.UTC),
                 expires=dt.datetime(2025, 11, 27, tzinfo=dt.UTC),
                 program=Program("P", "Program", "2025"), kdf=TEST_INDEX_KDF,
                 epoch_salt=b"salt" * 4, shards={}, canaries={"32.01.01": b"\x01" * 16})
RECORDS = [SealedRecord(bytes([number]) * 16, "32.01.01" if number % 2 else "32.01.02",
                        os.urandom(48)) for number in range(1, 7)]


_SCRATCH = Path(tempfile.mkdtemp(prefix="blt-fuzz-index-"))


@functools.cache
def original(backend: str) -> bytes:
    """A real, valid index file of ``backend`` (kept out of strategy reprs: it is big)."""
    path = _SCRATCH / f"good{BACKENDS[backend].suffix}"
    BACKENDS[backend].write(path, META, RECORDS)
    return path.read_bytes()


def _use(path: Path) -> None:
    """Open the index and read from it the way lookups and sync do."""
    with open_index(path) as store:
        len(store)
        for record in RECORDS[:2]:
            store.get(record.tag)
        list(store.iter_shard("32.01.01"))


def _json_mutation(path: list[str | int], value: Any) -> bytes:
    document = json.loads(original("tinydb"))
    node = document
    for step in path[:-1]:
        if (isinstance(node, dict) and step in node) or (
                isinstance(node, list) and isinstance(step, int) and step < len(node)):
            node = node[step]
        else:
            break
    else:
        if isinstance(node, dict) or (isinstance(node, list) and isinstance(path[-1], int)
                                      and path[-1] < len(node)):
            node[path[-1]] = value
    return json.dumps(document).encode()


json_paths = st.lists(st.one_of(st.sampled_from(["meta", "records", "1", "2", "t", "s", "b",
                                                 "view", "version", "kdf", "canaries",
                                                 "epoch_salt", "shards", "program", "expires"]),
                                st.integers(0, 3)), min_size=1, max_size=4)


@st.composite
def damaged(draw: st.DrawFn, backend: str) -> bytes:
    """The valid file with a few bytes flipped, cut short, or a piece replaced."""
    data = bytearray(original(backend))
    kind = draw(st.sampled_from(["flip", "truncate", "splice"]))
    if kind == "flip":
        for _ in range(draw(st.integers(1, 4))):
            index = draw(st.integers(0, len(data) - 1))
            data[index] ^= draw(st.integers(1, 255))
    elif kind == "truncate":
        del data[draw(st.integers(0, len(data))):]
    else:
        start = draw(st.integers(0, len(data)))
        data[start:start + draw(st.integers(0, 16))] = draw(st.binary(max_size=16))
    return bytes(data)


@FUZZ
@given(st.one_of(st.builds(_json_mutation, json_paths, json_values), damaged("tinydb"),
                 json_values.map(lambda value: json.dumps(value).encode())))
def test_tinydb_index_opens_or_is_index_corrupt(folder, content):
    path = folder / "fuzz.json"
    path.write_bytes(content)
    outcome = coded(lambda: _use(path))
    if isinstance(outcome, BltError):
        assert outcome.code in ("index_corrupt", "index_missing"), outcome.code


def _sqlite_mutation(table: str, column: str, value: Any) -> bytes:
    path = _SCRATCH / "mutating.sqlite"
    path.write_bytes(original("sqlite"))
    db = sqlite3.connect(path)
    try:
        with db:
            db.execute(f"UPDATE {table} SET {column} = ?", (value,))
    except sqlite3.IntegrityError:  # NOT NULL / UNIQUE: the file stays as it was
        pass
    finally:
        db.close()
    return path.read_bytes()


sql_values = st.one_of(st.none(), st.integers(-(2**63), 2**63 - 1), st.text(max_size=30),
                       st.binary(max_size=30), json_values.map(json.dumps))


@FUZZ
@given(st.one_of(
    st.builds(_sqlite_mutation, st.just("meta"), st.sampled_from(["key", "value"]), sql_values),
    st.builds(_sqlite_mutation, st.just("records"), st.sampled_from(["tag", "shard", "blob"]),
              sql_values),
    damaged("sqlite")))
def test_sqlite_index_opens_or_is_index_corrupt(folder, content):
    path = folder / "fuzz.sqlite"
    path.write_bytes(content)
    outcome = coded(lambda: _use(path))
    if isinstance(outcome, BltError):
        assert outcome.code in ("index_corrupt", "index_missing"), outcome.code
