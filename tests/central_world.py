"""Input files for the central tests: conftest people as recipients.csv, points, program, report.

Besides the five ``PEOPLE`` (all eligible), the recipients file has rows that must be rejected:
a duplicate NIK, a malformed NIK, a desil above the program's maximum and a ``nonaktif`` row.
"""

from __future__ import annotations

import contextlib
import csv
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import PEOPLE

from blt_status.central.demodata import DEMO_PROGRAM_TOML as PROGRAM_TOML

EXTRA_NIK = "3201016606990007"  # valid, Cibinong; used only in rejected rows
POINTS = [
    ["KP-CIBINONG", "kantor_pos", "Kantor Pos Cibinong", "Jl. Raya Bogor No. 12, Cibinong",
     "32.01.01", "40", "08:00", "12:00"],
    ["KP-GUNUNGPUTRI", "kantor_pos", "Kantor Pos Gunung Putri",
     "Jl. Raya Gunung Putri No. 5, Gunung Putri", "32.01.02", "40", "08:00", "12:00"],
]


@dataclass(frozen=True)
class WorldFiles:
    recipients: Path
    payout_points: Path
    program: Path
    report: Path


def recipient_rows(people=PEOPLE) -> list[list[str]]:
    rows = []
    for index, person in enumerate(people):
        special = person.payload.special_needs or ""
        rows.append([person.nik, person.kk, person.name, person.payload.address or "",
                     person.payload.kode_wilayah, "4", str(1 + index % 4), "aktif", special])
    return rows


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_world(directory: Path, *, people=PEOPLE, report_rows: list[list[str]] | None = None,
                extra_rows: bool = True) -> WorldFiles:
    directory.mkdir(parents=True, exist_ok=True)
    rows = recipient_rows(people)
    if extra_rows:
        first = rows[0]
        rows += [
            first,  # the same NIK again: duplicate
            ["3201-01", "3201010101100091", "Rina Kurnia", "Jl. Mawar 1", "32.01.01.1001", "3",
             "2", "aktif", ""],  # malformed NIK
            [EXTRA_NIK, "3201010101100092", "Rina Kurnia", "Jl. Mawar 2", "32.01.01.1001", "3",
             "9", "aktif", ""],  # desil above max_desil
            [EXTRA_NIK[:-1] + "8", "3201010101100093", "Rina Kurnia", "Jl. Mawar 3",
             "32.01.01.1001", "3", "2", "nonaktif", ""],
        ]
    recipients = write_csv(directory / "recipients.csv",
                           ["nik", "no_kk", "nama", "alamat", "kode_wilayah", "jumlah_anggota",
                            "desil", "status", "kebutuhan_khusus"], rows)
    points = write_csv(directory / "payout_points.csv",
                       ["id", "jenis", "nama", "alamat", "kode_wilayah", "kapasitas_per_hari",
                        "jam_buka", "jam_tutup"], POINTS)
    program = directory / "program.toml"
    program.write_text(PROGRAM_TOML, encoding="utf-8")
    if report_rows is None:
        report_rows = [
            [PEOPLE[0].nik, "salur", "2025-11-24T08:30:00+07:00", "KP-CIBINONG", ""],
            [PEOPLE[3].nik, "gagal", "2025-11-26T10:10:00+07:00", "KP-GUNUNGPUTRI",
             "nama tidak sesuai KTP"],
            [PEOPLE[0].nik, "salur", "2025-11-24T09:00:00+07:00", "KP-CIBINONG", ""],  # dup
            [EXTRA_NIK, "salur", "2025-11-24T09:00:00+07:00", "KP-CIBINONG", ""],  # unknown
            [PEOPLE[4].nik, "salur", "2025-11-24T09:00:00+07:00", "KP-NOWHERE", ""],
        ]
    report = write_csv(directory / "payout_report.csv",
                       ["nik", "status", "waktu", "id_titik", "keterangan"], report_rows)
    return WorldFiles(recipients, points, program, report)


# -- database backends: every central test that touches state runs on SQLite and PostgreSQL ----

POSTGRES_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def postgres_available() -> str | None:
    """None when a PostgreSQL server answers on 127.0.0.1:5432; else why not (one line)."""
    import psycopg

    try:
        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=postgres",
                             connect_timeout=3):
            return None
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0] if str(error).strip() else "no answer"


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    """A new, uniquely named PostgreSQL database for one test; dropped afterwards."""
    import psycopg

    reason = postgres_available()
    if reason is not None:
        if os.environ.get("BLT_TEST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required (BLT_TEST_REQUIRE_POSTGRES=1) but: {reason}")
        pytest.skip(f"no PostgreSQL server on 127.0.0.1:5432 ({reason})")
    name = f"blt_test_{os.getpid()}_{secrets.token_hex(4)}"
    admin = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"
    finally:
        from blt_status.central.db import dispose_engines

        dispose_engines()
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The database a test's store uses: None (the SQLite default) or a fresh PostgreSQL one."""
    if request.param == "sqlite":
        yield None
        from blt_status.central.db import dispose_engines

        dispose_engines()
        return
    with postgres_database() as url:
        yield url


def db_dump(store) -> dict[str, list[tuple]]:
    """Every row of every table of the store's database (sealed columns as they are)."""
    import sqlalchemy as sa

    from blt_status.central import db as central_db

    with central_db.open_engine(store).connect() as connection:
        return {table.name: sorted(tuple(row) for row in connection.execute(sa.select(table)))
                for table in central_db.metadata.sorted_tables}


def published_payloads(store, people: dict[str, str], view: str = "officer") -> dict:
    """What devices get: each NIK's payload opened from the published shards (``people``:
    NIK -> kecamatan of residence; a NIK not in its shard is left out)."""
    from tuf.api.metadata import Metadata, Targets

    from blt_status.central.repo import target_path_on_disk
    from blt_status.crypto import IndexKey
    from blt_status.layout import read_shard, shard_target
    from blt_status.records import open_payload

    version = store.published_version()
    targets = Metadata[Targets].from_file(
        str(store.metadata_dir / f"{version}.targets.json")).signed.targets
    epoch = targets["params.json"].unrecognized_fields["custom"]["blt"]["epoch"]
    params = store.index_params(store.epoch(epoch))
    shards: dict[str, dict] = {}
    found = {}
    for nik, kecamatan in people.items():
        name = shard_target(view, kecamatan)
        if name not in targets:
            continue
        if name not in shards:
            lines = target_path_on_disk(store.targets_dir, targets[name]).read_bytes()
            shards[name] = {record.tag: record for record in
                            read_shard(lines.splitlines(), view=view, region=kecamatan)}
        key = IndexKey.from_root(params.root_key(nik, view, kecamatan))
        if key.tag in shards[name]:
            found[nik] = open_payload(shards[name][key.tag], key=key, view=view)
    return found
