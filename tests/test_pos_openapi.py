"""schemathesis against the running receiver: docs/openapi-pos.yaml is what it really serves.

Generated bodies (a bounded number per operation) are sent to our receiver on 127.0.0.1: half
of them re-signed with the payer's key so they get past the signature check and reach the
ingest path. Every answer must be a documented status with a body matching the document, and
never a server error; nothing generated may change the published version.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from support.pos_payer import ReceiverThread
from test_pos_exchange import World

from blt_status.central.pos.signing import sign

SCHEMA = schemathesis.openapi.from_path(Path(__file__).parent.parent / "docs" / "openapi-pos.yaml")
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance,
          response_schema_conformance]


@pytest.fixture()
def world(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    world = World(tmp_path, capsys)
    yield world
    world.payer.stop()


@pytest.mark.parametrize("path", ["/on-disburse", "/disburse/txn/on-status"])
def test_receiver_conforms_to_its_openapi_document(world: World, path: str) -> None:
    operation = SCHEMA.find_operation_by_path("post", path)
    version = world.version()
    statuses: list[int] = []
    with ReceiverThread(world.dir, rate=10_000, burst=10_000) as receiver:
        auth = {"Authorization": f"Bearer {world.payer.callback_token}"}

        @settings(max_examples=25, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy(), resign=st.booleans())
        def check(case, resign: bool) -> None:
            body = case.body
            if resign and isinstance(body, dict) and isinstance(body.get("header"), dict):
                body["header"]["sender_id"] = world.payer.payer_id
                body["header"].pop("receiver_id", None)
                body["signature"] = sign(body["header"], body.get("message"), world.payer.key,
                                         sender_id=world.payer.payer_id)
            response = case.call(base_url=receiver.url, headers=auth)
            statuses.append(response.status_code)
            case.validate_response(response, checks=CHECKS)

        check()
    assert max(statuses) < 500 and 200 in statuses and 403 in statuses
    assert world.version() == version  # unknown references: nothing published
