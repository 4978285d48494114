"""Reasons, not notes: a payer's free text never leaves private/ (files, replies, logs)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from pathlib import Path

import pytest
from central_world import write_csv, write_world
from conftest import PASSPHRASE, PEOPLE

from blt_status.central.enroll import enroll
from blt_status.central.publish import publish_files
from blt_status.central.store import CentralStore
from blt_status.cli import main
from blt_status.commands.lookup import render_text
from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF
from blt_status.lookup import LookupService
from blt_status.present import hold_reason, next_steps
from blt_status.reasons import OTHER, REASONS, reason_from_note, reason_label, valid_reason
from blt_status.sync import install_bundle, sync_device

OTHER_NIK = "3201014108790055"
OTHER_NAME = "Sukarni Wulandari"
NOTE = f"KTP a.n. {OTHER_NAME} NIK {OTHER_NIK} beda"
SECRETS = (OTHER_NIK, OTHER_NAME, "Sukarni", "Wulandari", NOTE)


@pytest.mark.parametrize(("note", "code"), [
    ("nama tidak sesuai KTP", "nama_tidak_sesuai"),
    ("Nama beda dengan KTP", "nama_tidak_sesuai"),
    ("KTP tidak dibawa", "ktp_tidak_dibawa"),
    ("lupa KTP", "ktp_tidak_dibawa"),
    ("KTP rusak", "ktp_rusak"),
    ("tidak hadir sampai sore", "tidak_hadir"),
    ("PBP meninggal dunia", "meninggal"),
    ("sudah pindah ke Bekasi", "pindah"),
    ("data tidak padan", "nik_tidak_sesuai"),
    ("gangguan jaringan", "gangguan_sistem"),
    ("menolak menerima", "menolak"),
    ("pindah", "pindah"),
    ("meninggal", "meninggal"),
    ("", OTHER),
    (None, OTHER),
    ("blah blah 12345", OTHER),
    ("ktp_rusak", "ktp_rusak"),
    (NOTE, OTHER),
])
def test_notes_map_to_closed_codes(note, code):
    assert reason_from_note(note) == code


def test_every_code_has_both_texts_and_unknown_codes_read_as_other():
    for code, reason in REASONS.items():
        assert reason.id_text and reason.en_text and reason.code == code
        assert reason_label(code, "en") == reason.en_text
    assert valid_reason("whatever the payer typed") == OTHER
    assert valid_reason(None) is None and reason_label(None) is None


def _files_outside_private(*roots: Path) -> dict[Path, bytes]:
    found = {}
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file() and "private" not in path.relative_to(root).parts:
                found[path] = path.read_bytes()
    return found


def test_a_note_with_a_nik_and_a_name_reaches_no_file_reply_or_log(tmp_path: Path, capsys,
                                                                     caplog):
    caplog.set_level(logging.DEBUG)
    person = PEOPLE[3]
    world = write_world(tmp_path / "inputs", extra_rows=False)
    store = CentralStore.init(tmp_path / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, world.recipients, world.payout_points, world.program, workers=1)
    report = write_csv(tmp_path / "inputs" / "laporan.csv",
                       ["nik", "status", "waktu", "id_titik", "keterangan"],
                       [[person.nik, "gagal", "2025-11-26T10:10:00+07:00", "KP-GUNUNGPUTRI",
                         NOTE]])
    assert main(["--lang", "en", "central", "ingest-payouts", str(store.directory), str(report),
                 "--json", "--workers", "1"]) == 0
    assert main(["central", "ingest-payouts", str(store.directory), str(report)]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out.split("\n}\n")[0] + "\n}")["applied"] == 1

    # The published record keeps a code, not the note (the note is sealed in the ledger).
    record = store.load_state().records[person.nik].payload
    assert (record.status, record.reason_code or record.status_note) == ("held", OTHER)
    from blt_status.central.ledger import Ledger

    ledger = Ledger(store)
    (event,) = [event for event in ledger.events() if event.status == "gagal"]
    assert event.reason_code == OTHER and ledger.note(event.id) == NOTE

    # A device syncs the published data; its answer and the bot's reply show the code's text.
    bundle = tmp_path / "officer.json"
    enroll(store, regions=(person.shard,)).write(bundle)
    device = install_bundle(tmp_path / "device", bundle, PASSPHRASE, backend="tinydb",
                            wrap_profile=TEST_WRAP_KDF)
    bundle.unlink()
    sync_device(device, str(store.public_dir))
    service = LookupService.open(device, device.unlock(PASSPHRASE))
    try:
        result = service.lookup(person.nik)
    finally:
        service.close()
    assert result.record is not None
    assert (result.record.reason_code or result.record.status_note) == OTHER
    assert hold_reason(result.record, "id") == REASONS[OTHER].id_text
    from bots.dialogue import answer_reply

    replies = [render_text(result, lang) for lang in ("id", "en")]
    replies += [json.dumps(result.to_dict(), default=str)]
    replies += [" ".join(next_steps(result.record, lang)) for lang in ("id", "en")]
    replies += [answer_reply(result, dt.UTC, lang).text for lang in ("id", "en")]
    assert any("alasan lain" in reply for reply in replies)
    texts = [out, err, caplog.text, *replies]
    for secret in SECRETS:
        for text in texts:
            assert secret not in text
        for path, data in _files_outside_private(store.directory, tmp_path / "device").items():
            assert secret.encode() not in data, path
