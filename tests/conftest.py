"""Shared fixtures: a small known world of recipients, and devices with an index built from it.

The NIKs and names here are synthetic. Tests that check privacy grep every file a run wrote
for ``KNOWN_SECRETS``.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF, KdfProfile
from blt_status.device import Device, DeviceConfig
from blt_status.i18n import set_lang
from blt_status.indexer import IndexEntry, IndexParams, device_keyring, make_meta, seal_entries
from blt_status.records import PayoutPoint, Program, RecordPayload, Schedule

PASSPHRASE = "kata sandi uji 123"
PROGRAM = Program("BLT-PANGAN-2025", "BLT Pangan 2025", "Oktober-Desember 2025")
KANTOR_POS = PayoutPoint("KP-CIBINONG", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12, Cibinong",
                         "kantor_pos")
BALAI_DESA = PayoutPoint("KOM-SUKAHATI", "Balai Desa Sukahati", "Jl. Sukahati No. 1, Cibinong",
                         "komunitas")
KANTOR_POS_GUNUNGPUTRI = PayoutPoint("KP-GUNUNGPUTRI", "Kantor Pos Gunung Putri",
                                   "Jl. Raya Gunung Putri No. 5, Gunung Putri", "kantor_pos")
AS_OF = dt.datetime(2025, 11, 20, 6, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Person:
    nik: str
    kk: str
    name: str
    shard: str
    payload: RecordPayload


def _person(nik: str, kk: str, name: str, shard: str, desa: str, status: str,
            schedule: Schedule, point: PayoutPoint | None, **extra: object) -> Person:
    payload = RecordPayload(
        view="officer", status=status, amount=600_000, program=PROGRAM, schedule=schedule,
        payout_point=point, name=name, kode_wilayah=desa,
        address=f"Kp. Pabuaran RT 003/RW 005, {desa}", household_size=4, **extra)
    return Person(nik, kk, name, shard, payload)


# Cibinong (32.01.01) and Gunung Putri (32.01.02); one NIK issued in another kecamatan.
PEOPLE = [
    _person("3201014505900001", "3201010101100001", "Siti Aminah", "32.01.01", "32.01.01.1001",
            "scheduled", Schedule(dt.date(2025, 11, 24), dt.time(8), dt.time(9), "kantor_pos"),
            KANTOR_POS),
    _person("3201011203850002", "3201010101100002", "Budi Santoso", "32.01.01", "32.01.01.1002",
            "collected", Schedule(dt.date(2025, 11, 21), dt.time(9), dt.time(10), "komunitas"),
            BALAI_DESA, collected_at=dt.datetime(2025, 11, 21, 9, 17, tzinfo=dt.UTC),
            collected_point_id="KOM-SUKAHATI"),
    _person("3271026708600003", "3201010101100003", "Maryam Lestari", "32.01.01",
            "32.01.01.1001", "scheduled",
            Schedule(dt.date(2025, 11, 25), None, None, "antar", dt.date(2025, 11, 29)),
            KANTOR_POS, special_needs="lansia"),
    _person("3201021010700004", "3201020202100004", "Agus Wijaya", "32.01.02", "32.01.02.2001",
            "held", Schedule(dt.date(2025, 11, 26), dt.time(10), dt.time(11), "kantor_pos"),
            KANTOR_POS_GUNUNGPUTRI, status_note="nama tidak sesuai KTP"),
    _person("3201025502950005", "3201020202100005", "Dewi Rahmawati", "32.01.02",
            "32.01.02.2001", "returned",
            Schedule(dt.date(2025, 11, 22), dt.time(13), dt.time(14), "kantor_pos"),
            KANTOR_POS_GUNUNGPUTRI),
]
NOT_LISTED_NIK = "3201014101010009"  # valid, not in any index
KNOWN_SECRETS = [p.nik for p in PEOPLE] + [p.kk for p in PEOPLE] + [p.name for p in PEOPLE] \
    + [part for p in PEOPLE for part in p.name.split()]


def secrets_found(data: bytes | str, secrets: Sequence[str] = KNOWN_SECRETS) -> list[str]:
    """Which of ``secrets`` appear in ``data``: digits (NIK, KK) anywhere, names and name parts
    as whole words in any case (``SITI AMINAH`` in a printout counts).

    Whole words, because a 4-letter name part such as ``Siti`` turns up by chance in a few
    kilobytes of base64 ciphertext about once in fifty runs, which no leak would explain.
    """
    text = data.decode("utf-8", errors="replace") if isinstance(data, bytes) else data
    found = []
    for secret in secrets:
        if secret.isdigit():
            hit = secret in text
        else:
            hit = re.search(rf"(?<![A-Za-z0-9]){re.escape(secret)}(?![A-Za-z0-9])", text,
                            re.IGNORECASE) is not None
        if hit:
            found.append(secret)
    return found


# Hypothesis: "ci" (the default) keeps Hypothesis's 100 examples for ordinary properties; the
# fuzz suite (tests/test_fuzz_*.py, `support.fuzz.FUZZ`) runs at least 2,000 per parser, and
# `pytest --hypothesis-profile=long` runs 25,000 everywhere. Failing examples are kept in
# tests/.hypothesis-examples (git-ignored: it grows with every run), so a failure found once
# replays first on the next run on that machine; CI prints the `@reproduce_failure` blob.
_EXAMPLES = DirectoryBasedExampleDatabase(Path(__file__).parent / ".hypothesis-examples")
settings.register_profile("ci", deadline=None, database=_EXAMPLES,
                          print_blob=True, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", parent=settings.get_profile("ci"), max_examples=25_000)
settings.load_profile("ci")

# Variables that steer the test run itself (e.g. CI turning a skip into a failure) keep these
# prefixes; every other BLT_* variable is the program's configuration and is cleared per test.
TEST_CONTROL_PREFIXES = ("BLT_CI_", "BLT_TEST_")


def _program_variables() -> list[str]:
    return [name for name in os.environ
            if name.startswith("BLT_") and not name.startswith(TEST_CONTROL_PREFIXES)]


@pytest.fixture(autouse=True)
def _clean_blt_environment() -> Iterator[None]:
    """No BLT_* setting of the shell or of an earlier test reaches a test, nor leaks out of it.

    monkeypatch.setenv inside a test still works (it runs after this fixture); a variable a
    test or the code under test sets directly is removed afterwards.
    """
    saved = {name: os.environ.pop(name) for name in _program_variables()}
    yield
    for name in _program_variables():
        del os.environ[name]
    os.environ.update(saved)


@pytest.fixture(scope="session")
def index_params() -> IndexParams:
    return IndexParams(epoch_salt=b"test-epoch-salt-", kdf=TEST_INDEX_KDF,
                       master_pepper=b"m" * 32)


@pytest.fixture()
def make_device(tmp_path: Path, index_params: IndexParams,
                ) -> Callable[..., Device]:
    """Install a device with an index of ``PEOPLE`` (or ``people``) built by the core API."""
    counter = iter(range(1000))

    def factory(*, view: str = "officer", backend: str = "tinydb",
                regions: tuple[str, ...] = ("32.01.01",), people: list[Person] | None = None,
                version: int = 1, expires: dt.datetime | None = None,
                kdf: KdfProfile | None = None, data_dir: Path | None = None,
                extra: dict | None = None) -> Device:
        params = index_params if kdf is None else IndexParams(
            index_params.epoch_salt, kdf, index_params.master_pepper)
        chosen = [p for p in (people or PEOPLE) if view == "recipient" or p.shard in regions]
        directory = data_dir or tmp_path / f"device-{next(counter)}"
        device = Device.create(
            directory, DeviceConfig(view, regions if view == "officer" else (), "device-test",
                                    officer="operator uji", backend=backend),
            device_keyring(params, view, regions), PASSPHRASE, wrap_profile=TEST_WRAP_KDF)
        meta = make_meta(view=view, version=version, program=PROGRAM, params=params,
                         shards=[p.shard for p in chosen] or list(regions), data_as_of=AS_OF,
                         expires=expires)
        if extra:
            meta = meta.with_changes(extra=extra)
        entries = [IndexEntry(p.nik, p.shard, p.payload) for p in chosen]
        device.write_index(meta, seal_entries(entries, view=view, params=params))
        return device

    return factory


@pytest.fixture(autouse=True)
def _language_back_to_default() -> Iterator[None]:
    """``set_lang`` (``--lang``, the TUI's F6) is per process: each test starts from none."""
    set_lang(None)
    yield
    set_lang(None)
