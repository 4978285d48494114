"""Signed invitations: the PDF's content, its QR code, and ASLI/PALSU on a synced device."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import segno
from central_world import write_world
from conftest import PASSPHRASE, PEOPLE
from PIL import Image
from pypdf import PdfReader
from securesystemslib.signer import CryptoSigner

from blt_status.central.enroll import enroll
from blt_status.central.publish import publish_files
from blt_status.central.store import CentralStore
from blt_status.cli import main
from blt_status.crypto import TEST_INDEX_KDF, TEST_WRAP_KDF
from blt_status.invitation import FIELDS, Invitation, make_token
from blt_status.sync import install_bundle, sync_device


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("invitations")
    files = write_world(root / "inputs", extra_rows=False)
    store = CentralStore.init(root / "central", kdf=TEST_INDEX_KDF)
    publish_files(store, files.recipients, files.payout_points, files.program, workers=1)
    bundle = root / "officer.json"
    enroll(store, regions=(PEOPLE[0].shard,)).write(bundle)
    device = install_bundle(root / "device", bundle, PASSPHRASE, backend="tinydb",
                            wrap_profile=TEST_WRAP_KDF)
    bundle.unlink()
    sync_device(device, str(store.public_dir))
    desa = PEOPLE[0].payload.kode_wilayah
    pdf = root / "undangan.pdf"
    assert main(["central", "invitations", str(store.directory), "--desa", desa, "--out",
                 str(pdf), "--json"]) == 0
    return store, root / "device", pdf, desa


def tokens_of(pdf: Path) -> list[str]:
    text = "".join(page.extract_text() for page in PdfReader(str(pdf)).pages)
    compact = re.sub(r"\s+", "", text)
    return re.findall(r"Kode:(BLT1\|[A-Za-z0-9|_.-]+?)(?=Pindai|SURAT|$)", compact)


def verify(capsys, device: Path, token: str, *extra: str) -> tuple[int, str, str]:
    code = main(["--lang", "en", "verify-invitation", token, "--data-dir", str(device), *extra])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_pdf_has_one_invitation_per_waiting_recipient_with_the_content(world):
    _, _, pdf, desa = world
    reader = PdfReader(str(pdf))
    text = "\n".join(page.extract_text() for page in reader.pages)
    members = [p for p in PEOPLE if p.payload.kode_wilayah == desa]
    assert len(tokens_of(pdf)) == len(members) >= 1
    assert len(reader.pages) == (len(members) + 1) // 2
    for person in members:
        assert person.name in text and f"************{person.nik[-4:]}" in text
        assert person.nik not in re.sub(r"\s+", "", text)
    for words in ("wajib diterima utuh, tanpa potongan", "Yang dibawa", "KTP-el asli",
                  "Petugas tidak pernah meminta PIN/OTP/uang", "Rp600.000", "SURAT UNDANGAN"):
        assert words in text, words
    for token in tokens_of(pdf):
        assert all(person.nik not in token and person.name not in token for person in PEOPLE)


def test_the_qr_code_carries_the_printed_token(world):
    _, _, pdf, _ = world
    page = PdfReader(str(pdf)).pages[0]
    image = page.images[0]  # the first invitation of the page
    picture = Image.open(__import__("io").BytesIO(image.data)).convert("1")
    token = tokens_of(pdf)[0]
    qr = segno.make(token, error="m")
    size = qr.symbol_size(scale=1, border=2)[0]
    module = picture.width // size
    matrix = [[picture.getpixel((x * module + module // 2, y * module + module // 2)) == 0
               for x in range(size)] for y in range(size)]
    expected = [[bool(cell) for cell in row] for row in qr.matrix_iter(scale=1, border=2)]
    assert matrix == expected


def test_a_genuine_invitation_is_asli(world, capsys):
    _, device, pdf, _ = world
    for token in tokens_of(pdf):
        code, out, err = verify(capsys, device, token)
        assert code == 0, err
        assert out.startswith("GENUINE (ASLI)")
        assert out.endswith(", Friday, 21 November 2025, Rp600,000.\n")  # all in English
    code, out, _ = verify(capsys, device, tokens_of(pdf)[0], "--json")
    data = json.loads(out)
    assert (code, data["verdict"], data["amount"], data["version"]) == (0, "ASLI", 600_000, 1)


@pytest.mark.parametrize(("field", "value"), [
    ("amount", "6000000"), ("date", "20251201"), ("point", "KP-GUNUNGPUTRI"),
    ("version", "9"), ("ref", "AAAAAAAAAA"),
])
def test_an_altered_field_is_palsu_and_named(world, capsys, field, value):
    _, device, pdf, _ = world
    parts = tokens_of(pdf)[0].split("|")
    parts[1 + FIELDS.index(field)] = value
    code, out, err = verify(capsys, device, "|".join(parts), "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "PALSU" and data["altered"] == [field]
    code, _, err = verify(capsys, device, "|".join(parts))
    assert code == 1 and err.startswith("error [invitation_forged]: FORGED (PALSU)")
    named = {"point": "payout point", "ref": "reference"}.get(field, field)
    assert f"the {named}" in err


def test_a_token_signed_with_another_key_is_palsu(world, capsys):
    _, device, pdf, _ = world
    genuine = tokens_of(pdf)[0].split("|")
    invitation = Invitation(genuine[1], int(genuine[2]), genuine[3],
                            __import__("datetime").date(2025, 11, 24), 900_000)
    forged = make_token(invitation, CryptoSigner.generate_ed25519())
    code, out, _ = verify(capsys, device, forged, "--json")
    data = json.loads(out)
    assert code == 1 and data["verdict"] == "PALSU" and data["altered"] == []
    assert "forged" in data["problem"]
    code, _, err = verify(capsys, device, forged)
    assert code == 1 and "not signed with the programme's key" in err


def test_not_a_token_and_no_device_are_one_line_errors(world, capsys, tmp_path):
    _, device, _, _ = world
    code, _, err = verify(capsys, device, "https://example.org/undangan")
    assert code == 1 and err.startswith("error [invitation_token_invalid]")
    code, _, err = verify(capsys, tmp_path / "empty", "BLT1|x")
    assert code == 1 and err.startswith("error [invitation_no_keys]")
    assert main(["central", "invitations", str(world[0].directory), "--desa", "99.99",
                 "--out", str(tmp_path / "x.pdf")]) == 1
    assert "error [invitation_desa_unknown]" in capsys.readouterr().err
    assert main(["--lang", "id", "central", "invitations", str(world[0].directory), "--desa",
                 "32.01.02.2003", "--out", str(tmp_path / "kosong.pdf")]) == 0
    out, err = capsys.readouterr()
    assert "0 surat undangan untuk desa 32.01.02.2003" in out and "Tidak ada warga" in err
