"""Creating and opening a central store: keys, root metadata, private files, refusals."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest
from tuf.api.metadata import Metadata, Root

from blt_status.central import CentralStore
from blt_status.crypto import PRODUCTION_INDEX_KDF, TEST_INDEX_KDF
from blt_status.errors import CentralError


def test_init_writes_keys_secrets_and_a_signed_root(tmp_path: Path) -> None:
    store = CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF, central_url="https://cdn.example")
    assert sorted(p.name for p in (store.private_dir / "keys").iterdir()) == [
        "root-1.pem", "root-2.pem", "root-3.pem", "snapshot.pem", "targets.pem", "timestamp.pem"]
    root = Metadata[Root].from_file(str(store.public_dir / "metadata" / "1.root.json"))
    assert root.signed.consistent_snapshot is True
    assert root.signed.roles["root"].threshold == 2
    assert len(root.signed.roles["root"].keyids) == 3
    assert len(root.signatures) == 3
    root.signed.verify_delegate("root", root.signed_bytes, root.signatures)
    # The stored private keys are the ones the root names.
    for role in ("targets", "snapshot", "timestamp"):
        assert root.signed.roles[role].keyids == [store.signer(role).public_key.keyid]
    for index in (1, 2, 3):
        assert store.signer(f"root-{index}").public_key.keyid in root.signed.roles["root"].keyids
    assert sorted(p.name for p in store.public_dir.rglob("*") if p.is_file()) == ["1.root.json"]
    config = json.loads((store.private_dir / "config.json").read_bytes())
    assert config["central_url"] == "https://cdn.example/"
    assert config["kdf"]["name"] == "index-test-insecure"
    assert config["expiry_days"]["timestamp"] < config["expiry_days"]["targets"]
    secrets = json.loads((store.private_dir / "secrets.json").read_bytes())
    assert len(secrets["epochs"]) == 1 and secrets["epochs"][0]["program_id"] is None


def test_private_side_is_0700_and_0600(tmp_path: Path) -> None:
    store = CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF)
    assert stat.S_IMODE(store.private_dir.stat().st_mode) == 0o700
    for path in store.private_dir.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    for path in store.public_dir.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o044  # public files are readable


def test_init_refuses_a_non_empty_directory(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "note.txt").write_text("keep me")
    with pytest.raises(CentralError) as caught:
        CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF)
    assert caught.value.code == "store_exists"
    assert sorted(p.name for p in (tmp_path / "c").iterdir()) == ["note.txt"]
    CentralStore.init(tmp_path / "empty", kdf=TEST_INDEX_KDF)
    with pytest.raises(CentralError):
        CentralStore.init(tmp_path / "empty", kdf=TEST_INDEX_KDF)


def test_init_accepts_an_existing_empty_directory_and_other_thresholds(tmp_path: Path) -> None:
    (tmp_path / "c").mkdir()
    store = CentralStore.init(tmp_path / "c", root_keys=5, root_threshold=3)
    assert store.config.kdf == PRODUCTION_INDEX_KDF
    assert store.root().signed.roles["root"].threshold == 3
    with pytest.raises(CentralError) as caught:
        CentralStore.init(tmp_path / "d", root_keys=2, root_threshold=3)
    assert caught.value.code == "root_threshold"
    assert not (tmp_path / "d").exists()


def test_init_rejects_a_bad_url(tmp_path: Path) -> None:
    with pytest.raises(CentralError) as caught:
        CentralStore.init(tmp_path / "c", central_url="ftp://x")
    assert caught.value.code == "central_url"


def test_open_reads_back_and_reports_missing_or_corrupt_stores(tmp_path: Path) -> None:
    created = CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF)
    opened = CentralStore.open(tmp_path / "c")
    assert opened.config == created.config
    assert opened.master_pepper == created.master_pepper
    assert opened.published_version() == 0
    assert opened.load_state().version == 0
    with pytest.raises(CentralError) as caught:
        CentralStore.open(tmp_path / "nowhere")
    assert caught.value.code == "store_missing"
    (tmp_path / "c" / "private" / "config.json").write_text("{not json")
    with pytest.raises(CentralError) as caught:
        CentralStore.open(tmp_path / "c")
    assert caught.value.code == "store_corrupt"


def test_two_stores_have_different_secrets(tmp_path: Path) -> None:
    first = CentralStore.init(tmp_path / "a", kdf=TEST_INDEX_KDF)
    second = CentralStore.init(tmp_path / "b", kdf=TEST_INDEX_KDF)
    assert first.master_pepper != second.master_pepper
    assert first.epochs()[0].salt != second.epochs()[0].salt
    assert first.signer("targets").public_key.keyid != second.signer("targets").public_key.keyid


def test_damaged_private_state_is_a_clear_error(tmp_path: Path) -> None:
    from conftest import PROGRAM
    from test_central_publish import count_aggregates, people_records

    from blt_status.central import publish_records

    store = CentralStore.init(tmp_path / "c", kdf=TEST_INDEX_KDF)
    publish_records(store, people_records(), program=PROGRAM, aggregate=count_aggregates,
                    workers=1)
    import sqlalchemy as sa

    from blt_status.central import db as central_db

    engine = central_db.open_engine(store)
    with engine.begin() as connection:
        row = connection.execute(sa.select(central_db.roster).limit(1)).first()
        connection.execute(central_db.roster.update().where(central_db.roster.c.id == row.id)
                           .values(sealed=row.sealed[:-1] + bytes([row.sealed[-1] ^ 1])))
    with pytest.raises(CentralError) as caught:
        store.load_state()
    assert caught.value.code == "state_corrupt_db"
    with engine.begin() as connection:
        connection.execute(central_db.versions.delete())
    with pytest.raises(CentralError) as caught:
        store.load_state()
    assert caught.value.code == "db_store_mismatch"
    (store.private_dir / "keys" / "targets.pem").unlink()
    with pytest.raises(CentralError) as caught:
        store.signer("targets")
    assert caught.value.code == "key_missing"
