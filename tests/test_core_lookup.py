"""Crypto, device and the lookup service, on real index files built by the core's own API."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace

import pytest
from conftest import AS_OF, NOT_LISTED_NIK, PASSPHRASE, PEOPLE

from blt_status.crypto import (
    TEST_INDEX_KDF,
    TEST_WRAP_KDF,
    IndexKey,
    KdfProfile,
    derive_index_key,
    open_record,
    seal_record,
    unwrap_secret,
    view_pepper,
    wrap_secret,
)
from blt_status.device import Device
from blt_status.errors import (
    IndexCorrupt,
    IndexKeyMismatch,
    IndexMissing,
    NikError,
    NotInstalled,
    WrongPassphrase,
)
from blt_status.lookup import LookupService


def open_service(device: Device, passphrase: str = PASSPHRASE) -> LookupService:
    return LookupService.open(Device.load(device.data_dir), device.unlock(passphrase))


# -- crypto ---------------------------------------------------------------------------------

def test_derivation_depends_on_every_input() -> None:
    base = dict(epoch_salt=b"s" * 16, pepper=b"p" * 32, view="officer", profile=TEST_INDEX_KDF)
    reference = derive_index_key("3201014505900001", **base)
    assert derive_index_key("3201014505900001", **base) == reference
    variants = [
        derive_index_key("3201014505900002", **base),
        derive_index_key("3201014505900001", **{**base, "epoch_salt": b"t" * 16}),
        derive_index_key("3201014505900001", **{**base, "pepper": b"q" * 32}),
        derive_index_key("3201014505900001", **{**base, "view": "recipient"}),
        derive_index_key("3201014505900001",
                         **{**base, "profile": KdfProfile("index-test-insecure", 512, 1, 1)}),
    ]
    assert len({reference, *variants}) == 6


def test_sealed_record_is_bound_to_tag_shard_and_view() -> None:
    key = IndexKey.from_root(b"k" * 32)
    blob = seal_record(key, b"payload", shard="32.01.01", view="officer")
    assert open_record(key, blob, shard="32.01.01", view="officer") == b"payload"
    for shard, view in (("32.01.02", "officer"), ("32.01.01", "recipient")):
        with pytest.raises(IndexCorrupt):
            open_record(key, blob, shard=shard, view=view)
    with pytest.raises(IndexCorrupt):
        open_record(IndexKey.from_root(b"x" * 32), blob, shard="32.01.01", view="officer")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(IndexCorrupt):
        open_record(key, tampered, shard="32.01.01", view="officer")


def test_peppers_differ_per_view_and_kecamatan() -> None:
    master = b"m" * 32
    peppers = {view_pepper(master, "officer", "32.01.01"), view_pepper(master, "officer",
               "32.01.02"), view_pepper(master, "recipient")}
    assert len(peppers) == 3
    with pytest.raises(ValueError):
        view_pepper(master, "officer")


def test_wrap_and_unwrap_pepper() -> None:
    wrapped = wrap_secret(b"secret pepper", "benar", TEST_WRAP_KDF)
    assert b"secret pepper" not in json.dumps(wrapped).encode()
    assert unwrap_secret(wrapped, "benar") == b"secret pepper"
    with pytest.raises(WrongPassphrase) as caught:
        unwrap_secret(wrapped, "salah")
    assert caught.value.code == "wrong_passphrase"


def test_production_profile_meets_owasp() -> None:
    from blt_status.crypto import PRODUCTION_INDEX_KDF, PRODUCTION_WRAP_KDF

    assert PRODUCTION_INDEX_KDF.memory_kib >= 19 * 1024 and PRODUCTION_INDEX_KDF.iterations >= 2
    assert not PRODUCTION_INDEX_KDF.insecure and TEST_INDEX_KDF.insecure
    assert PRODUCTION_WRAP_KDF.memory_kib > PRODUCTION_INDEX_KDF.memory_kib
    assert "NOT FOR REAL DATA" in TEST_INDEX_KDF.label


# -- lookup -----------------------------------------------------------------------------------

@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
def test_officer_lookup_finds_own_region_only(make_device, backend: str) -> None:
    service = open_service(make_device(view="officer", backend=backend, regions=("32.01.01",)))
    for person in PEOPLE:
        result = service.lookup(person.nik)
        if person.shard == "32.01.01":
            assert result.found and result.record == person.payload
        else:
            assert not result.found and result.record is None and result.status is None
    assert service.meta.record_count == 3


def test_officer_with_two_kecamatan(make_device) -> None:
    service = open_service(make_device(regions=("32.01.01", "32.01.02")))
    assert all(service.lookup(p.nik).found for p in PEOPLE)


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
def test_recipient_view_is_masked(make_device, backend: str) -> None:
    service = open_service(make_device(view="recipient", backend=backend))
    for person in PEOPLE:
        record = service.lookup(person.nik).record
        assert record is not None and record.view == "recipient"
        assert record.name != person.name and record.name[0] == person.name[0]
        assert record.address is None and record.household_size is None
        assert record.schedule == person.payload.schedule
    assert service.lookup("3201 0145 0590 0001").record.name == "S*** A*****"


def test_result_json_follows_the_contract(make_device) -> None:
    result = open_service(make_device()).lookup(PEOPLE[0].nik)
    data = result.to_dict()
    assert data["found"] is True and data["status"] == "scheduled"
    assert data["amount"] == 600_000 and data["program"]["id"] == "BLT-PANGAN-2025"
    assert data["schedule"] == {"date": "2025-11-24", "start": "08:00", "end": "09:00",
                                "mode": "kantor_pos", "window_end": None}
    assert data["payout_point"]["id"] == "KP-CIBINONG"
    assert data["data_version"] == 1 and data["data_as_of"] == AS_OF.isoformat()
    assert PEOPLE[0].nik not in json.dumps(data)
    missing = open_service(make_device()).lookup(NOT_LISTED_NIK).to_dict()
    assert missing["found"] is False and missing["status"] is None


def test_invalid_input_is_an_error_not_not_found(make_device) -> None:
    service = open_service(make_device())
    with pytest.raises(NikError) as caught:
        service.lookup("3201 0145 0590 000")
    assert caught.value.code == "length"


def test_stale_after_expiry(make_device) -> None:
    expires = dt.datetime(2025, 11, 27, tzinfo=dt.UTC)
    service = open_service(make_device(expires=expires))
    assert not service.lookup(PEOPLE[0].nik, now=expires - dt.timedelta(hours=1)).stale
    late = service.lookup(PEOPLE[0].nik, now=expires + dt.timedelta(hours=1))
    assert late.stale and late.found  # still answers from the last good index


def test_wrong_passphrase_and_missing_device(make_device, tmp_path) -> None:
    device = make_device()
    with pytest.raises(WrongPassphrase):
        device.unlock("salah")
    with pytest.raises(NotInstalled):
        Device.load(tmp_path / "nowhere")


@pytest.mark.parametrize("backend", ["tinydb", "sqlite"])
@pytest.mark.parametrize("change", ["kdf", "epoch_salt"])
def test_index_written_with_other_key_parameters_is_refused(make_device, backend: str,
                                                            change: str) -> None:
    """Records and canaries made with one KDF/salt, metadata claiming another: refused."""
    device = make_device(backend=backend)
    keyring = device.unlock(PASSPHRASE)
    with device.open_index() as index:
        records = [r for shard in index.meta.shards for r in index.iter_shard(shard)]
        altered = {"kdf": KdfProfile("index-test-insecure", 512, 1, 1),
                   "epoch_salt": b"another-salt-123"}[change]
        meta = index.meta.with_changes(version=2, **{change: altered})
    device.write_index(meta, records)
    with pytest.raises(IndexKeyMismatch) as caught:
        LookupService.open(device, keyring)
    assert caught.value.code == "index_key_mismatch"
    assert "32.01.01" in caught.value.message("en")


def test_index_for_another_pepper_is_refused(make_device, index_params) -> None:
    from blt_status.device import Keyring

    device = make_device()
    stranger = Keyring({"32.01.01": b"x" * 32})
    with pytest.raises(IndexKeyMismatch):
        LookupService.open(device, stranger)


def test_missing_and_corrupt_index(make_device) -> None:
    device = make_device()
    keyring = device.unlock(PASSPHRASE)
    path = device.current_index_path()
    path.write_bytes(b"{not json")
    with pytest.raises(IndexCorrupt):
        LookupService.open(device, keyring)
    path.unlink()
    with pytest.raises(IndexMissing):
        LookupService.open(device, keyring)


def test_switch_keeps_one_previous_version_and_refresh_picks_up_new(make_device) -> None:
    device = make_device(version=1)
    service = open_service(device)
    assert service.lookup(PEOPLE[0].nik).status == "scheduled"
    collected = replace(PEOPLE[0], payload=replace(PEOPLE[0].payload, status="collected"))
    make_device(version=2, people=[collected, *PEOPLE[1:]], data_dir=device.data_dir)
    make_device(version=3, people=[collected, *PEOPLE[1:]], data_dir=device.data_dir)
    files = sorted(p.name for p in device.index_dir.glob("v*"))
    assert [name[:9] for name in files] == ["v00000002", "v00000003"]
    assert device.previous_index_path().name.startswith("v00000002")
    assert service.lookup(PEOPLE[0].nik).data_version == 1  # old version until refreshed
    assert service.refresh() is True
    result = service.lookup(PEOPLE[0].nik)
    assert (result.data_version, result.status) == (3, "collected")
    assert service.refresh() is False


def test_switching_keeps_the_files_both_live_versions_need(make_device) -> None:
    """SQLite versions derived from a base keep that base until no kept version needs it."""
    from blt_status.store import BACKENDS

    device = make_device(backend="sqlite", regions=("32.01.01", "32.01.02"))
    backend = BACKENDS["sqlite"]
    collected = replace(PEOPLE[0], payload=replace(PEOPLE[0].payload, status="collected"))
    for version in (2, 3, 4):
        with device.open_index() as base:
            path = device.new_index_path(version)
            changed = make_device(backend="sqlite", regions=("32.01.01", "32.01.02"),
                                  people=[collected, *PEOPLE[1:]], version=version)
            with changed.open_index() as source:
                backend.derive(base, path, source.meta,
                               {"32.01.01": list(source.iter_shard("32.01.01"))})
        device.switch_index(path)
        needed = {p.name for p in backend.files(device.current_index_path())}
        needed |= {p.name for p in backend.files(device.previous_index_path())}
        assert {p.name for p in device.index_dir.glob("v*")} == needed
        service = open_service(device)
        assert service.lookup(PEOPLE[0].nik).status == "collected"
        assert service.lookup(PEOPLE[3].nik).status == "held"
        service.close()
