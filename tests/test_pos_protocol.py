"""The interoperability profile on its own: canonical JSON, the Ed25519 signature, ids, mapping."""

from __future__ import annotations

import base64
import hashlib
import time

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from blt_status.central.pos.mapping import (
    ledger_status,
    reason_code,
    reference_id,
    transaction_id,
)
from blt_status.central.pos.models import SpecError, canonical_json, format_amount, parse_callback
from blt_status.central.pos.signing import SignatureInvalid, key_id, sign, signing_string, verify

HEADER = {"message_id": "m1", "message_ts": "2025-11-24T08:00:00+07:00", "action": "on-disburse",
          "status": "SUCC", "sender_id": "PAYER"}
MESSAGE = {"transaction_id": "T1", "disburse_response": [
    {"reference_id": "Rabc", "timestamp": "2025-11-24T08:15:00+07:00", "status": "SUCC",
     "instruction": "{\"id_titik\":\"KP-CIBINONG\"}", "amount": "600000.00"}]}


def test_canonical_json_is_sorted_compact_utf8() -> None:
    assert canonical_json({"b": 1, "a": {"é": "ñ", "c": [1, 2]}}) == \
        '{"a":{"c":[1,2],"é":"ñ"},"b":1}'.encode()
    assert format_amount(600000) == "600000.00"


def test_signature_follows_the_profile_byte_for_byte() -> None:
    key = Ed25519PrivateKey.generate()
    text = sign(HEADER, MESSAGE, key, sender_id="PAYER", now=1_700_000_000, ttl=300)
    assert text.startswith(f'Signature: keyId="PAYER|{key_id(key)}|ed25519",algorithm="ed25519",'
                           'created="1700000000",expires="1700000300",'
                           'headers="(created) (expires) digest",signature="')
    # Rebuild the signing string independently of the module and verify the raw signature.
    body = canonical_json({"header": HEADER, "message": MESSAGE})
    digest = base64.b64encode(hashlib.blake2b(body, digest_size=64).digest()).decode()
    expected = (f"(created): 1700000000\n(expires): 1700000300\n"
                f"digest: BLAKE-512={digest}").encode()
    assert signing_string(1_700_000_000, 1_700_000_300, HEADER, MESSAGE) == expected
    raw = base64.b64decode(text.rsplit('signature="', 1)[1].rstrip('"'))
    key.public_key().verify(raw, expected)
    info = verify(text, HEADER, MESSAGE, key.public_key(), sender_id="PAYER",
                  now=1_700_000_100)
    assert info.created == 1_700_000_000


@pytest.mark.parametrize("case", ["expired", "future", "tampered", "other_key", "sender",
                                  "garbage"])
def test_bad_signatures_are_refused(case: str) -> None:
    key = Ed25519PrivateKey.generate()
    now = time.time()
    text = sign(HEADER, MESSAGE, key, sender_id="PAYER", now=now)
    public = key.public_key()
    message = MESSAGE
    sender = "PAYER"
    if case == "expired":
        now += 301
    elif case == "future":
        now -= 3600
    elif case == "tampered":
        message = {**MESSAGE, "transaction_id": "T2"}
    elif case == "other_key":
        public = Ed25519PrivateKey.generate().public_key()
    elif case == "sender":
        sender = "SOMEONE"
    else:
        text = "Signature: nonsense"
    with pytest.raises(SignatureInvalid):
        verify(text, HEADER, message, public, sender_id=sender, now=now)


def test_ids_are_stable_and_reveal_no_nik() -> None:
    key = b"k" * 32
    nik = "3201014505900001"
    ref = reference_id(key, "e1", nik)
    assert ref == reference_id(key, "e1", nik) and ref != reference_id(key, "e2", nik)
    assert nik not in ref and nik[-4:] not in ref[1:5] and len(ref) == 33
    assert transaction_id("BLT-PANGAN-2025", 3, "KP CIBINONG") == "BLT-PANGAN-2025.v3.KP-CIBINONG"


@pytest.mark.parametrize(("status", "reason", "ledger", "code"), [
    ("SUCC", None, "salur", None),
    ("RJCT", "RTRN_NOT_COLLECTED", "kembali", "tidak_diambil"),
    ("RJCT", "RTRN_PAYEE_DECEASED", "kembali", "penerima_meninggal"),
    ("RJCT", "RJCT_PAYEE_NAME_MISMATCH", "gagal", "nama_tidak_sesuai"),
    ("RJCT", "RJCT_SOMETHING_NEW", "gagal", "lainnya"),
    ("RJCT", None, "gagal", "lainnya"),
    ("RCVD", None, None, None),
    ("PDNG", None, None, None),
])
def test_status_mapping(status: str, reason: str | None, ledger: str | None,
                        code: str | None) -> None:
    assert ledger_status(status, reason) == ledger
    if ledger is not None:
        assert reason_code(ledger, reason) == code


@pytest.mark.parametrize(("mutate", "code"), [
    (lambda b: b.pop("header"), "ERR_INVALID_REQUEST"),
    (lambda b: b["header"].pop("message_id"), "ERR_MANDATORY_HEADER_MISSING"),
    (lambda b: b["header"].update(action="disburse"), "ERR_INVALID_ACTION"),
    (lambda b: b["header"].update(message_ts="the day before yesterday"), "ERR_INVALID_TIMESTAMP"),
    (lambda b: b["message"]["disburse_response"][0].update(status="PAID"), "ERR_INVALID_MESSAGE"),
    (lambda b: b["message"]["disburse_response"][0].update(amount="600000"),
     "ERR_INVALID_MESSAGE"),
    (lambda b: b["message"]["disburse_response"][0].update(timestamp="2025-11-24T08:15:00"),
     "ERR_INVALID_TIMESTAMP"),
])
def test_spec_violations_get_the_spec_error_code(mutate, code: str) -> None:
    import copy

    body = {"signature": "x", "header": copy.deepcopy(HEADER), "message": copy.deepcopy(MESSAGE)}
    parse_callback(copy.deepcopy(body), action="on-disburse", items_key="disburse_response")
    mutate(body)
    with pytest.raises(SpecError) as caught:
        parse_callback(body, action="on-disburse", items_key="disburse_response")
    assert caught.value.code == code and caught.value.http_status == 400
