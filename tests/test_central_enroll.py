"""Enrollment bundles from a real central store, and a device that installs and syncs one."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from conftest import NOT_LISTED_NIK, PASSPHRASE, PEOPLE, PROGRAM
from support.repository import RepositoryServer
from test_central_publish import count_aggregates, people_records

from blt_status.bundle import Bundle
from blt_status.central import CentralStore, publish_records
from blt_status.central.enroll import enroll
from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF, view_pepper
from blt_status.errors import CentralError
from blt_status.lookup import LookupService
from blt_status.sync import install_bundle, sync_device


@pytest.fixture()
def store(tmp_path: Path) -> CentralStore:
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF,
                              central_url="http://127.0.0.1:9/")
    return store


def publish_people(store: CentralStore, records=None) -> int:
    return publish_records(store, records or people_records(), program=PROGRAM,
                           aggregate=count_aggregates, workers=1).version


def test_officer_bundle_holds_root_url_regions_and_their_peppers(store: CentralStore,
                                                                 tmp_path: Path) -> None:
    publish_people(store)
    bundle = enroll(store, regions=["32.01.02", "32.01.01"])
    assert bundle.view == "officer"
    assert bundle.regions == ("32.01.02", "32.01.01")
    assert bundle.central_url == "http://127.0.0.1:9/"
    assert bundle.root == json.loads((store.metadata_dir / "1.root.json").read_bytes())
    assert dict(bundle.keyring.peppers) == {
        region: view_pepper(store.master_pepper, "officer", region)
        for region in ("32.01.01", "32.01.02")}
    path = tmp_path / "officer.bundle"
    bundle.write(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Bundle.read(path) == bundle


def test_undotted_codes_are_accepted_and_duplicates_collapse(store: CentralStore) -> None:
    publish_people(store)
    assert enroll(store, regions=["320101", "32.01.01"]).regions == ("32.01.01",)


def test_bot_bundle_has_the_single_recipient_pepper(store: CentralStore) -> None:
    bundle = enroll(store, bot=True)  # possible before the first publish
    assert (bundle.view, bundle.regions) == ("recipient", ())
    assert dict(bundle.keyring.peppers) == {"*": view_pepper(store.master_pepper, "recipient")}


@pytest.mark.parametrize(("regions", "bot", "code"), [
    (["99.99.99"], False, "region_unknown"),
    (["32.01.01.1001"], False, "region_unknown"),  # a desa, not a kecamatan
    (["32.01.03"], False, "region_not_published"),  # real, but no records in this store
    ([], False, "enroll_view"),
    (["32.01.01"], True, "enroll_view"),
])
def test_bad_enrollments_are_refused(store: CentralStore, regions, bot, code) -> None:
    publish_people(store)
    with pytest.raises(CentralError) as caught:
        enroll(store, regions=regions, bot=bot)
    assert caught.value.code == code


def test_officer_enrollment_needs_a_published_version(store: CentralStore) -> None:
    with pytest.raises(CentralError) as caught:
        enroll(store, regions=["32.01.01"])
    assert caught.value.code == "nothing_published"


def test_enrolled_devices_sync_from_the_published_store(store: CentralStore,
                                                        tmp_path: Path) -> None:
    """Publisher and device agree: every record answers, on both views, after a real sync."""
    publish_people(store)
    officer_path, bot_path = tmp_path / "officer.bundle", tmp_path / "bot.bundle"
    enroll(store, regions=["32.01.01"]).write(officer_path)
    enroll(store, bot=True).write(bot_path)
    officer = install_bundle(tmp_path / "officer", officer_path, PASSPHRASE,
                             wrap_profile=TEST_WRAP_KDF)
    bot = install_bundle(tmp_path / "bot", bot_path, PASSPHRASE, wrap_profile=TEST_WRAP_KDF)
    with RepositoryServer(store.public_dir) as server:
        for device in (officer, bot):
            sync_device(device, server.url)
    for device, people in ((officer, [p for p in PEOPLE if p.shard == "32.01.01"]),
                           (bot, PEOPLE)):
        service = LookupService.open(device, device.unlock(PASSPHRASE))
        try:
            for person in people:
                result = service.lookup(person.nik)
                assert result.found and result.record is not None
                assert result.record.status == person.payload.status
                assert result.record.schedule == person.payload.schedule
            assert not service.lookup(NOT_LISTED_NIK).found
        finally:
            service.close()


def test_devices_follow_a_key_rotation(store: CentralStore, tmp_path: Path) -> None:
    """Root 1 -> 2 replacing the root and timestamp keys: python-tuf accepts the chain."""
    from tuf.api.metadata import Metadata, Root

    from blt_status.central.publish import rotate_keys

    publish_people(store)
    bundle_path = tmp_path / "bot.bundle"
    enroll(store, bot=True).write(bundle_path)
    device = install_bundle(tmp_path / "bot", bundle_path, PASSPHRASE, wrap_profile=TEST_WRAP_KDF)
    old_timestamp_key = store.signer("timestamp").public_key.keyid
    with RepositoryServer(store.public_dir) as server:
        sync_device(device, server.url)
        root_version, result = rotate_keys(store, ["root", "timestamp"])
        assert (root_version, result.version) == (2, 2)
        report = sync_device(device, server.url)
        assert (report.version_after, report.shards_downloaded) == (2, 0)
    first = Metadata[Root].from_file(str(store.metadata_dir / "1.root.json"))
    second = Metadata[Root].from_file(str(store.metadata_dir / "2.root.json"))
    first.signed.verify_delegate("root", second.signed_bytes, second.signatures)
    second.signed.verify_delegate("root", second.signed_bytes, second.signatures)
    assert set(first.signed.roles["root"].keyids).isdisjoint(second.signed.roles["root"].keyids)
    assert second.signed.roles["timestamp"].keyids == [store.signer("timestamp").public_key.keyid]
    assert store.signer("timestamp").public_key.keyid != old_timestamp_key
    assert second.signed.roles["targets"].keyids == first.signed.roles["targets"].keyids
    assert len(list((store.private_dir / "keys" / "retired").iterdir())) == 4
    assert enroll(store, bot=True).root["signed"]["version"] == 2
    service = LookupService.open(device, device.unlock(PASSPHRASE))
    try:
        assert service.lookup(PEOPLE[0].nik).found
    finally:
        service.close()


def test_an_interrupted_rotation_settles_on_next_use(store: CentralStore) -> None:
    from securesystemslib.signer import CryptoSigner

    publish_people(store)
    keyid = store.signer("timestamp").public_key.keyid
    store.stage_key("timestamp", CryptoSigner.generate_ed25519())  # crashed before the root
    store.settle_keys()
    assert store.signer("timestamp").public_key.keyid == keyid
    assert not list((store.private_dir / "keys").glob("*.next"))
    assert publish_people(store) == 2
